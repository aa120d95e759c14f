package app

import "testing"

func TestBrowseURL(t *testing.T) {
	for _, c := range []struct {
		addr string
		tls  bool
		want string
	}{
		{"[::]:8080", false, "http://localhost:8080"},
		{":8080", false, "http://localhost:8080"},
		{"0.0.0.0:9090", false, "http://localhost:9090"},
		{"127.0.0.1:39461", false, "http://127.0.0.1:39461"},
		{"[::1]:8080", false, "http://[::1]:8080"},
		{"peakend.internal:8443", true, "https://peakend.internal:8443"},
		{"[::]:8443", true, "https://localhost:8443"},
	} {
		if got := BrowseURL(c.addr, c.tls); got != c.want {
			t.Errorf("BrowseURL(%q, %v) = %q, want %q", c.addr, c.tls, got, c.want)
		}
	}
}
