package app

import "net"

// BrowseURL is the URL a person on this machine opens to reach the HTTP
// server listening at addr (as net.Listener.Addr gives it): a wildcard
// host (":8080", "[::]:8080", "0.0.0.0:8080") is shown as localhost,
// which works in a browser, where "http://[::]:8080" does not.
func BrowseURL(addr string, tls bool) string {
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + net.JoinHostPort(host, port)
}
