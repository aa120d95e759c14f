package httpapi_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/peakend/peakend/auth"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/httpapi"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/state"
)

// customerPaths are the paths that show customer data: the customer view,
// and what a desk mounts through Options.Mount.
var customerPaths = []string{"/customers/cust-1", "/", "/api/queue", "/api/cases/cust-1", "/api/events", "/api/me"}

// deskCfg has an agent ana (password "ana's secret") and trusts a proxy
// header from 127.0.0.1.
func deskCfg(t *testing.T, proxy bool) config.Desk {
	h, err := bcrypt.GenerateFromPassword([]byte("ana's secret"), bcrypt.MinCost)
	require.NoError(t, err)
	c := config.Config{Desk: config.Desk{Accounts: []config.Account{{User: "ana", PasswordHash: string(h)}}}}
	if proxy {
		c.Desk.Proxy = config.Proxy{Header: "X-Forwarded-User", Trusted: []string{"127.0.0.1"}}
	}
	c.ApplyDefaults()
	return c.Desk
}

// start runs a server with a store holding customer cust-1 on partition 0
// and a stand-in desk mounted on the customer paths.
func start(t *testing.T, a *auth.Auth, tlsFiles config.HTTPTLS) *httpapi.Server {
	t.Helper()
	store, err := state.Open(state.Options{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	b := store.NewBatch(0)
	require.NoError(t, b.PutCustomer(&state.Customer{ID: "cust-1", Tier: "gold", Value: 900}))
	require.NoError(t, b.Commit(true))
	b.Close()

	srv, err := httpapi.New(httpapi.Options{Listen: "127.0.0.1:0", Metrics: metrics.New(nil, nil), Store: store, Window: 50,
		Partitions: func() []int32 { return []int32{0} }, Logger: testkit.Logger(t), Auth: a, TLS: tlsFiles,
		Mount: func(mux *http.ServeMux, require func(http.Handler) http.Handler) {
			desk := require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				u, _ := auth.UserFrom(r.Context())
				fmt.Fprintf(w, `{"user":%q,"csrf_token":%q}`, u.Name, auth.CSRFToken(r))
			}))
			mux.Handle("GET /", desk)
			mux.Handle("GET /api/", desk)
			mux.Handle("POST /api/", desk)
		}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return srv
}

type client struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newClient(t *testing.T, base string, rt http.RoundTripper) *client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &client{t: t, base: base, c: &http.Client{Jar: jar, Transport: rt, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	require.NoError(c.t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.c.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp, string(b)
}

var formToken = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (c *client) signIn(user, password string) *http.Response {
	c.t.Helper()
	_, page := c.do(http.MethodGet, "/login", nil)
	m := formToken.FindStringSubmatch(page)
	require.NotNil(c.t, m, page)
	form := url.Values{"user": {user}, "password": {password}, "csrf_token": {m[1]}}
	resp, _ := c.do(http.MethodPost, "/login", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	return resp
}

// TestCustomerDataNeedsSignIn: every customer-data path refuses a request
// without a signed-in user (401; 303 to /login for a browser page), a
// spoofed proxy header from an untrusted address included; /metrics,
// /healthz and /readyz stay open; signed in, the customer view answers.
func TestCustomerDataNeedsSignIn(t *testing.T) {
	d := deskCfg(t, true)
	d.Proxy.Trusted = []string{"10.0.0.0/8"} // the test is not the proxy
	a, err := auth.New(d, auth.Options{Logger: testkit.Logger(t)})
	require.NoError(t, err)
	srv := start(t, a, config.HTTPTLS{})
	c := newClient(t, "http://"+srv.Addr(), nil)

	for _, p := range customerPaths {
		for _, spoof := range []string{"", "ana"} {
			resp, body := c.do(http.MethodGet, p, nil, "Accept", "application/json", "X-Forwarded-User", spoof)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "GET %s (spoofed user %q): %s", p, spoof, body)
			require.JSONEq(t, `{"error":"sign in first"}`, body)
			require.NotContains(t, body, "gold")
		}
		resp, _ := c.do(http.MethodGet, p, nil, "Accept", "text/html")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, p)
		require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/login?next="), p)
	}
	resp, _ := c.do(http.MethodPost, "/api/cases/cust-1/claim", nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	for _, p := range []string{"/metrics", "/healthz", "/readyz", "/login"} {
		resp, _ := c.do(http.MethodGet, p, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s is open", p)
	}

	require.Equal(t, http.StatusSeeOther, c.signIn("ana", "ana's secret").StatusCode)
	resp, body := c.do(http.MethodGet, "/customers/cust-1", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var v httpapi.CustomerView
	require.NoError(t, json.Unmarshal([]byte(body), &v))
	require.Equal(t, "gold", v.Tier)
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))

	// Signed in, a desk write still needs the token.
	resp, body = c.do(http.MethodGet, "/api/me", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var me map[string]string
	require.NoError(t, json.Unmarshal([]byte(body), &me))
	require.Equal(t, "ana", me["user"])
	resp, _ = c.do(http.MethodPost, "/api/cases/cust-1/claim", nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = c.do(http.MethodPost, "/api/cases/cust-1/claim", nil, auth.CSRFHeader, me["csrf_token"])
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestTrustedProxy: the proxy's header is believed from the proxy's address.
func TestTrustedProxy(t *testing.T) {
	a, err := auth.New(deskCfg(t, true), auth.Options{Logger: testkit.Logger(t)})
	require.NoError(t, err)
	srv := start(t, a, config.HTTPTLS{})
	c := newClient(t, "http://"+srv.Addr(), nil)
	resp, body := c.do(http.MethodGet, "/customers/cust-1", nil, "X-Forwarded-User", "bo")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	resp, _ = c.do(http.MethodGet, "/customers/cust-1", nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no header, no user")
}

// TestSignInNotConfigured: with no accounts and no proxy (or no Auth at
// all), customer data is refused with a pointer to the docs; the open
// endpoints still answer.
func TestSignInNotConfigured(t *testing.T) {
	a, err := auth.New(config.Desk{}, auth.Options{Logger: testkit.Logger(t)})
	require.NoError(t, err)
	for _, a := range []*auth.Auth{a, nil} {
		srv := start(t, a, config.HTTPTLS{})
		c := newClient(t, "http://"+srv.Addr(), nil)
		for _, p := range customerPaths {
			resp, body := c.do(http.MethodGet, p, nil, "Accept", "text/html")
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, p)
			require.JSONEq(t, `{"error":"sign-in is not configured: see docs/desk.md"}`, body)
		}
		resp, _ := c.do(http.MethodGet, "/healthz", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
}

// TestHTTPS: with http.tls the server speaks HTTPS only (HTTP/2 offered),
// and the session cookie is Secure.
func TestHTTPS(t *testing.T) {
	certs := testkit.WriteCerts(t, t.TempDir())
	a, err := auth.New(deskCfg(t, false), auth.Options{Logger: testkit.Logger(t), Secure: true})
	require.NoError(t, err)
	srv := start(t, a, config.HTTPTLS{CertFile: certs.Broker, KeyFile: certs.Broker})

	pool := x509.NewCertPool()
	ca, err := os.ReadFile(certs.CA)
	require.NoError(t, err)
	require.True(t, pool.AppendCertsFromPEM(ca))
	rt := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(rt.CloseIdleConnections)
	c := newClient(t, "https://"+srv.Addr(), rt)

	resp, _ := c.do(http.MethodGet, "/healthz", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 2, resp.ProtoMajor, "HTTP/2 over TLS")
	resp = c.signIn("ana", "ana's secret")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == auth.SessionCookie {
			session = ck
		}
	}
	require.NotNil(t, session)
	require.True(t, session.Secure)
	resp, body := c.do(http.MethodGet, "/customers/cust-1", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)

	plain := &http.Client{Timeout: 5 * time.Second}
	resp2, err := plain.Get("http://" + srv.Addr() + "/healthz")
	if err == nil {
		resp2.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp2.StatusCode, "plain HTTP on the HTTPS port")
	}

	_, err = httpapi.New(httpapi.Options{Listen: "127.0.0.1:0", TLS: config.HTTPTLS{CertFile: certs.CA, KeyFile: certs.ClientKey}})
	require.ErrorContains(t, err, "http.tls")
}

// TestHTTPSReloadsRenewedCertificate: a renewed certificate written over
// the files is served without a restart.
func TestHTTPSReloadsRenewedCertificate(t *testing.T) {
	defer httpapi.SetCertCheckEvery(0)()
	dir := t.TempDir()
	pem := dir + "/tls.pem"
	first, second := testkit.WriteCerts(t, t.TempDir()), testkit.WriteCerts(t, t.TempDir())
	copyFile := func(from string) {
		b, err := os.ReadFile(from)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(pem+".tmp", b, 0o600))
		require.NoError(t, os.Rename(pem+".tmp", pem))
	}
	copyFile(first.Broker)
	srv := start(t, nil, config.HTTPTLS{CertFile: pem, KeyFile: pem})
	get := func(ca string) error {
		pool := x509.NewCertPool()
		b, err := os.ReadFile(ca)
		require.NoError(t, err)
		require.True(t, pool.AppendCertsFromPEM(b))
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
		resp, err := c.Get("https://" + srv.Addr() + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	require.NoError(t, get(first.CA))
	require.Error(t, get(second.CA))
	time.Sleep(10 * time.Millisecond) // a later modification time
	copyFile(second.Broker)
	require.NoError(t, get(second.CA), "the renewed certificate")
	require.Error(t, get(first.CA), "the old one is gone")
}
