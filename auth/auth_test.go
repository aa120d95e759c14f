package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/peakend/peakend/auth"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/internal/testkit"
)

// clock is a settable time for sessions and the sign-in limit.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var hashes sync.Map // password -> hash (MinCost, for speed)

func hash(t testing.TB, password string) string {
	if h, ok := hashes.Load(password); ok {
		return h.(string)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	require.NoError(t, err)
	hashes.Store(password, string(h))
	return string(h)
}

// desk is a configuration with two accounts: ana (agent) and sam (supervisor).
func desk(t testing.TB) config.Desk {
	d := config.Desk{Accounts: []config.Account{
		{User: "ana", PasswordHash: hash(t, "ana's secret"), Role: config.RoleAgent},
		{User: "sam", PasswordHash: hash(t, "sam's secret"), Role: config.RoleSupervisor},
		{User: "bo", PasswordHash: hash(t, "bo's secret"), Role: config.RoleAgent},
	}}
	c := config.Config{Desk: d}
	c.ApplyDefaults()
	return c.Desk
}

const testKey = "0123456789abcdef0123456789abcdef-test-key"

// site is a real HTTP server with the sign-in paths and two guarded
// handlers: GET /api/me (who and the token) and POST /api/write.
type site struct {
	*httptest.Server
	auth    *auth.Auth
	clock   *clock
	metrics *metrics.Metrics
	writes  int
}

func newSite(t *testing.T, d config.Desk, tls bool) *site {
	t.Helper()
	s := &site{clock: &clock{t: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}, metrics: metrics.New(nil, nil)}
	a, err := auth.New(d, auth.Options{Logger: testkit.Logger(t), Metrics: s.metrics, Secure: tls, Now: s.clock.Now,
		Getenv: func(name string) string {
			if name == "PEAKEND_SESSION_KEY" {
				return testKey
			}
			return ""
		}})
	require.NoError(t, err)
	s.auth = a
	mux := http.NewServeMux()
	a.Mount(mux)
	mux.Handle("GET /api/me", a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := auth.UserFrom(r.Context())
		require.True(t, ok)
		_ = json.NewEncoder(w).Encode(map[string]string{"user": u.Name, "role": u.Role, "csrf_token": auth.CSRFToken(r)})
	})))
	mux.Handle("POST /api/write", a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writes++
		fmt.Fprintln(w, "written")
	})))
	mux.Handle("GET /", a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "<p>the desk</p>")
	})))
	if tls {
		s.Server = httptest.NewTLSServer(mux)
	} else {
		s.Server = httptest.NewServer(mux)
	}
	t.Cleanup(s.Close)
	return s
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	t   *testing.T
	c   *http.Client
	s   *site
	hdr http.Header // added to every request
}

func (s *site) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := *s.Client() // a copy: the server's client is shared
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, c: &c, s: s, hdr: http.Header{}}
}

type reply struct {
	code int
	hdr  http.Header
	body string
}

func (b *browser) do(method, path string, body io.Reader, hdr ...string) reply {
	b.t.Helper()
	req, err := http.NewRequest(method, b.s.URL+path, body)
	require.NoError(b.t, err)
	for k, v := range b.hdr {
		req.Header[k] = v
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return reply{resp.StatusCode, resp.Header, string(out)}
}

func (b *browser) get(path string, hdr ...string) reply {
	return b.do(http.MethodGet, path, nil, hdr...)
}

func (b *browser) postForm(path string, form url.Values, hdr ...string) reply {
	return b.do(http.MethodPost, path, strings.NewReader(form.Encode()),
		append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)...)
}

var formToken = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signIn loads the form and posts it, as a person would.
func (b *browser) signIn(user, password string, hdr ...string) reply {
	b.t.Helper()
	page := b.get("/login", hdr...)
	require.Equal(b.t, http.StatusOK, page.code, page.body)
	m := formToken.FindStringSubmatch(page.body)
	require.NotNil(b.t, m, "no token in the form: %s", page.body)
	return b.postForm("/login", url.Values{"user": {user}, "password": {password}, "csrf_token": {m[1]}, "next": {"/queue?x=1"}}, hdr...)
}

// me is GET /api/me: the user, role and anti-forgery token.
func (b *browser) me() (code int, user, role, token string) {
	b.t.Helper()
	r := b.get("/api/me")
	if r.code != http.StatusOK {
		return r.code, "", "", ""
	}
	var v map[string]string
	require.NoError(b.t, json.Unmarshal([]byte(r.body), &v))
	return r.code, v["user"], v["role"], v["csrf_token"]
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.s.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func setCookieOf(t *testing.T, r reply, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.hdr}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestUnauthenticatedRefused: without signing in, a browser asking for a
// page is sent to the sign-in form (and back after), and everything else is
// refused with 401; nothing of the guarded handlers runs.
func TestUnauthenticatedRefused(t *testing.T) {
	s := newSite(t, desk(t), false)
	b := s.browser(t)

	r := b.get("/customers/c-1?full=1", "Accept", "text/html,application/xhtml+xml;q=0.9")
	require.Equal(t, http.StatusSeeOther, r.code)
	require.Equal(t, "/login?next="+url.QueryEscape("/customers/c-1?full=1"), r.hdr.Get("Location"))

	for _, req := range []struct{ method, path, accept string }{
		{"GET", "/api/me", "application/json"},
		{"GET", "/api/me", ""},
		{"GET", "/api/events", "text/event-stream"},
		{"POST", "/api/write", "text/html"},
	} {
		r := b.do(req.method, req.path, nil, "Accept", req.accept)
		require.Equal(t, http.StatusUnauthorized, r.code, "%s %s", req.method, req.path)
		require.JSONEq(t, `{"error":"sign in first"}`, r.body)
		require.Equal(t, "no-store", r.hdr.Get("Cache-Control"))
	}
	require.Zero(t, s.writes)
}

// TestSignIn: the right password signs in (303 to the page asked for, a
// session cookie with HttpOnly, SameSite, Path=/ and an expiry); a wrong
// one, or an unknown user, is refused with the same words.
func TestSignIn(t *testing.T) {
	s := newSite(t, desk(t), false)

	b := s.browser(t)
	r := b.signIn("ana", "wrong")
	require.Equal(t, http.StatusUnauthorized, r.code)
	require.Contains(t, r.body, "Wrong user name or password.")
	require.Nil(t, setCookieOf(t, r, auth.SessionCookie))
	code, _, _, _ := b.me()
	require.Equal(t, http.StatusUnauthorized, code)

	r = b.signIn("nobody", "ana's secret")
	require.Equal(t, http.StatusUnauthorized, r.code)
	require.Contains(t, r.body, "Wrong user name or password.")

	r = b.signIn("ana", "")
	require.Equal(t, http.StatusUnauthorized, r.code)

	r = b.signIn("ana", "ana's secret")
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, "/queue?x=1", r.hdr.Get("Location"), "back to the page asked for")
	c := setCookieOf(t, r, auth.SessionCookie)
	require.NotNil(t, c)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, c.SameSite)
	require.Equal(t, "/", c.Path)
	require.False(t, c.Secure, "plain HTTP")
	require.WithinDuration(t, s.clock.Now().Add(12*time.Hour), c.Expires, time.Second, "desk.session_ttl")
	require.NotContains(t, c.Value, "secret")

	code, user, role, token := b.me()
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ana", user)
	require.Equal(t, config.RoleAgent, role)
	require.NotEmpty(t, token)

	// Signed in, the form sends the user on.
	r = b.get("/login?next=/x")
	require.Equal(t, http.StatusSeeOther, r.code)
	require.Equal(t, "/x", r.hdr.Get("Location"))

	// Roles come from the configuration.
	sb := s.browser(t)
	require.Equal(t, http.StatusSeeOther, sb.signIn("sam", "sam's secret").code)
	_, user, role, _ = sb.me()
	require.Equal(t, "sam", user)
	require.Equal(t, config.RoleSupervisor, role)

	n, _ := testkit.Metric(gather(t, s.metrics), "peakend_desk_signin_failures_total", "reason", "password")
	require.EqualValues(t, 3, n)
	sessions, _ := testkit.Metric(gather(t, s.metrics), "peakend_desk_sessions")
	require.EqualValues(t, 2, sessions)
}

func gather(t *testing.T, m *metrics.Metrics) []byte {
	t.Helper()
	mfs, err := m.Registry.Gather()
	require.NoError(t, err)
	var b strings.Builder
	for _, mf := range mfs {
		for _, mm := range mf.Metric {
			var labels []string
			for _, l := range mm.Label {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := 0.0
			switch {
			case mm.Counter != nil:
				v = mm.Counter.GetValue()
			case mm.Gauge != nil:
				v = mm.Gauge.GetValue()
			default:
				continue
			}
			fmt.Fprintf(&b, "%s{%s} %g\n", mf.GetName(), strings.Join(labels, ","), v)
		}
	}
	return []byte(b.String())
}

// TestSignInLimit: after 5 failed sign-ins for one user (from any
// addresses), or from one address (for any users), the 6th attempt answers
// 429 with Retry-After, even with the right password; other users and
// addresses are not held back, and the limit lifts after 15 minutes.
func TestSignInLimit(t *testing.T) {
	d := desk(t)
	d.Proxy = config.Proxy{Trusted: []string{"127.0.0.1"}} // the test's load balancer: X-Forwarded-For names the client
	s := newSite(t, d, false)
	from := func(addr string) []string { return []string{"X-Forwarded-For", addr} }

	t.Run("per user", func(t *testing.T) {
		for i := range auth.MaxFailures {
			r := s.browser(t).signIn("ana", "guess", from(fmt.Sprintf("198.51.100.%d", i+1))...)
			require.Equal(t, http.StatusUnauthorized, r.code, "attempt %d", i+1)
		}
		r := s.browser(t).signIn("ana", "ana's secret", from("198.51.100.99")...)
		require.Equal(t, http.StatusTooManyRequests, r.code, "the 6th attempt, right password, new address")
		require.Contains(t, r.body, "Too many failed sign-ins")
		require.Equal(t, "900", r.hdr.Get("Retry-After"))
		require.Nil(t, setCookieOf(t, r, auth.SessionCookie))

		// Another user from one of those addresses is not held back.
		r = s.browser(t).signIn("sam", "sam's secret", from("198.51.100.1")...)
		require.Equal(t, http.StatusSeeOther, r.code)

		s.clock.Add(10 * time.Minute)
		r = s.browser(t).signIn("ana", "ana's secret", from("198.51.100.99")...)
		require.Equal(t, http.StatusTooManyRequests, r.code)
		require.Equal(t, "300", r.hdr.Get("Retry-After"))
		s.clock.Add(5 * time.Minute)
		r = s.browser(t).signIn("ana", "ana's secret", from("198.51.100.99")...)
		require.Equal(t, http.StatusSeeOther, r.code, "the limit lifts after 15 minutes: %s", r.body)
	})

	t.Run("per address", func(t *testing.T) {
		for i := range auth.MaxFailures {
			r := s.browser(t).signIn(fmt.Sprintf("user%d", i), "guess", from("203.0.113.7")...)
			require.Equal(t, http.StatusUnauthorized, r.code, "attempt %d", i+1)
		}
		r := s.browser(t).signIn("bo", "bo's secret", from("203.0.113.7")...)
		require.Equal(t, http.StatusTooManyRequests, r.code, "the 6th attempt from the address, right password")
		require.NotEmpty(t, r.hdr.Get("Retry-After"))
		r = s.browser(t).signIn("bo", "bo's secret", from("203.0.113.8")...)
		require.Equal(t, http.StatusSeeOther, r.code, "bo from elsewhere")
	})

	t.Run("direct peer", func(t *testing.T) {
		// Without a trusted proxy the peer's own address counts.
		s := newSite(t, desk(t), false)
		for i := range auth.MaxFailures {
			r := s.browser(t).signIn(fmt.Sprintf("user%d", i), "guess", from("192.0.2.1")...)
			require.Equal(t, http.StatusUnauthorized, r.code)
		}
		r := s.browser(t).signIn("bo", "bo's secret", from(fmt.Sprintf("192.0.2.%d", 2))...)
		require.Equal(t, http.StatusTooManyRequests, r.code, "X-Forwarded-For from an untrusted peer is not believed")
	})
	n, _ := testkit.Metric(gather(t, s.metrics), "peakend_desk_signin_failures_total", "reason", "rate_limited")
	require.EqualValues(t, 3, n)
}

// TestWritesNeedToken: a signed-in user's write without the session's
// anti-forgery token, or with a wrong one, or from another site, is refused
// with 403 and does nothing; with the token (header or form field) it goes
// through. Reads need no token.
func TestWritesNeedToken(t *testing.T) {
	s := newSite(t, desk(t), false)
	b := s.browser(t)
	require.Equal(t, http.StatusSeeOther, b.signIn("ana", "ana's secret").code)
	_, _, _, token := b.me()

	for _, tc := range []struct {
		name string
		hdr  []string
		form url.Values
	}{
		{"no token", nil, nil},
		{"wrong token", []string{auth.CSRFHeader, "x" + token[1:]}, nil},
		{"another session's token", []string{auth.CSRFHeader, otherToken(t, s)}, nil},
		{"wrong form field", nil, url.Values{auth.CSRFField: {"nope"}}},
		{"cross-site Origin", []string{auth.CSRFHeader, token, "Origin", "https://evil.example"}, nil},
		{"cross-site fetch", []string{auth.CSRFHeader, token, "Sec-Fetch-Site", "cross-site"}, nil},
		{"same-site fetch (a sibling host)", []string{auth.CSRFHeader, token, "Sec-Fetch-Site", "same-site"}, nil},
	} {
		var r reply
		if tc.form != nil {
			r = b.postForm("/api/write", tc.form, tc.hdr...)
		} else {
			r = b.do(http.MethodPost, "/api/write", strings.NewReader(`{}`), append([]string{"Content-Type", "application/json"}, tc.hdr...)...)
		}
		require.Equal(t, http.StatusForbidden, r.code, tc.name)
		require.Contains(t, r.body, `"error"`, tc.name)
	}
	require.Zero(t, s.writes, "a refused write ran")

	r := b.do(http.MethodPost, "/api/write", strings.NewReader(`{}`), "Content-Type", "application/json", auth.CSRFHeader, token,
		"Origin", s.URL, "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusOK, r.code, r.body)
	r = b.postForm("/api/write", url.Values{auth.CSRFField: {token}})
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Equal(t, 2, s.writes)
}

// otherToken signs bo in on a fresh browser and returns his token.
func otherToken(t *testing.T, s *site) string {
	b := s.browser(t)
	require.Equal(t, http.StatusSeeOther, b.signIn("bo", "bo's secret").code)
	_, _, _, token := b.me()
	return token
}

// TestLoginFormForgery: a sign-in posted without the form's own token (as a
// page on another site would: login CSRF), with a token made for another
// browser, or from another site, is refused.
func TestLoginFormForgery(t *testing.T) {
	s := newSite(t, desk(t), false)
	creds := url.Values{"user": {"ana"}, "password": {"ana's secret"}}

	b := s.browser(t)
	r := b.postForm("/login", creds)
	require.Equal(t, http.StatusForbidden, r.code, "no login cookie, no token")
	require.Contains(t, r.body, "expired")

	// A token from another browser's form does not match this one's cookie.
	other := s.browser(t)
	m := formToken.FindStringSubmatch(other.get("/login").body)
	b.get("/login")
	form := url.Values{"user": {"ana"}, "password": {"ana's secret"}, "csrf_token": {m[1]}}
	require.Equal(t, http.StatusForbidden, b.postForm("/login", form).code)

	// Its own token, but posted from another site.
	m = formToken.FindStringSubmatch(b.get("/login").body)
	form.Set("csrf_token", m[1])
	require.Equal(t, http.StatusForbidden, b.postForm("/login", form, "Sec-Fetch-Site", "cross-site").code)
	require.Equal(t, http.StatusSeeOther, b.postForm("/login", form).code)
	n, _ := testkit.Metric(gather(t, s.metrics), "peakend_desk_signin_failures_total", "reason", "token")
	require.EqualValues(t, 3, n)
}

// TestProxy: a trusted proxy's header names the user; the same header from
// any other address is ignored (signed out). Roles from
// desk.proxy.supervisors or the role header (believed only from the proxy).
func TestProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		believe bool
	}{
		{"untrusted peer", []string{"10.0.0.0/8", "192.0.2.7"}, false},
		{"trusted CIDR", []string{"10.0.0.0/8", "127.0.0.0/8"}, true},
		{"trusted IP", []string{"127.0.0.1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := desk(t)
			d.Accounts = nil
			d.Proxy = config.Proxy{Header: "X-Forwarded-User", Trusted: tc.trusted, RoleHeader: "X-Forwarded-Role",
				Supervisors: []string{"sam"}}
			s := newSite(t, d, false)
			b := s.browser(t)
			b.hdr.Set("X-Forwarded-User", "sam")
			code, user, role, token := b.me()
			if !tc.believe {
				require.Equal(t, http.StatusUnauthorized, code, "a spoofed header was believed")
				r := b.do(http.MethodPost, "/api/write", nil, auth.CSRFHeader, "x")
				require.Equal(t, http.StatusUnauthorized, r.code)
				require.Zero(t, s.writes)
				require.Equal(t, http.StatusSeeOther, b.get("/", "Accept", "text/html").code)
				return
			}
			require.Equal(t, http.StatusOK, code)
			require.Equal(t, "sam", user)
			require.Equal(t, config.RoleSupervisor, role, "desk.proxy.supervisors")
			require.NotEmpty(t, token)
			require.Equal(t, http.StatusForbidden, b.do(http.MethodPost, "/api/write", nil).code, "proxy users need the token too")
			require.Equal(t, http.StatusOK, b.do(http.MethodPost, "/api/write", nil, auth.CSRFHeader, token).code)

			b.hdr.Set("X-Forwarded-User", "ana")
			_, user, role, anaToken := b.me()
			require.Equal(t, "ana", user)
			require.Equal(t, config.RoleAgent, role)
			require.NotEqual(t, token, anaToken, "another user gets another token")
			require.Equal(t, http.StatusForbidden, b.do(http.MethodPost, "/api/write", nil, auth.CSRFHeader, token).code,
				"sam's token is not ana's")
			b.hdr.Set("X-Forwarded-Role", "supervisor")
			_, _, role, _ = b.me()
			require.Equal(t, config.RoleSupervisor, role, "desk.proxy.role_header")

			// The proxy decides on every request: no header, no user, even
			// with the cookie the proxy user was given.
			b.hdr.Del("X-Forwarded-User")
			code, _, _, _ = b.me()
			require.Equal(t, http.StatusUnauthorized, code)
			require.True(t, s.auth.Known("anyone"), "proxy users are always known")
		})
	}
}

// TestBadCookies: a cookie whose content was changed, one signed with
// another key, an expired one, and one of a removed account or a changed
// password are all refused.
func TestBadCookies(t *testing.T) {
	d := desk(t)
	s := newSite(t, d, false)
	b := s.browser(t)
	require.Equal(t, http.StatusSeeOther, b.signIn("ana", "ana's secret").code)
	good := b.cookie(auth.SessionCookie)
	require.NotNil(t, good)

	with := func(value string) int {
		c := s.browser(t)
		u, _ := url.Parse(s.URL)
		c.c.Jar.SetCookies(u, []*http.Cookie{{Name: auth.SessionCookie, Value: value}})
		code, _, _, _ := c.me()
		return code
	}
	require.Equal(t, http.StatusOK, with(good.Value))

	payload, sig, ok := strings.Cut(good.Value, ".")
	require.True(t, ok)
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	require.NoError(t, err)
	for _, change := range [][2]string{{`"u":"ana"`, `"u":"sam"`}, {`"r":"agent"`, `"r":"supervisor"`}} {
		forged := strings.Replace(string(raw), change[0], change[1], 1)
		require.NotEqual(t, string(raw), forged)
		require.Equal(t, http.StatusUnauthorized, with(base64.RawURLEncoding.EncodeToString([]byte(forged))+"."+sig), change[1])
	}
	require.Equal(t, http.StatusUnauthorized, with(payload+"."+base64.RawURLEncoding.EncodeToString([]byte("not the signature"))))
	require.Equal(t, http.StatusUnauthorized, with(payload))
	require.Equal(t, http.StatusUnauthorized, with("garbage"))

	// Another instance with the same key accepts it; one with another key does not.
	other, err := auth.New(d, auth.Options{Now: s.clock.Now, Getenv: func(string) string { return testKey }})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(good)
	_, ok = other.User(req)
	require.True(t, ok, "a second instance with the shared key")
	stranger, err := auth.New(d, auth.Options{Now: s.clock.Now, Getenv: func(string) string { return "" }})
	require.NoError(t, err)
	_, ok = stranger.User(req)
	require.False(t, ok, "an instance with its own random key")

	// A removed account, a changed password.
	removed := d
	removed.Accounts = d.Accounts[1:]
	gone, err := auth.New(removed, auth.Options{Now: s.clock.Now, Getenv: func(string) string { return testKey }})
	require.NoError(t, err)
	_, ok = gone.User(req)
	require.False(t, ok, "the account was removed")
	require.False(t, gone.Known("ana"))
	require.True(t, gone.Known("sam"))
	changed := desk(t)
	changed.Accounts[0].PasswordHash = hash(t, "ana's new secret")
	moved, err := auth.New(changed, auth.Options{Now: s.clock.Now, Getenv: func(string) string { return testKey }})
	require.NoError(t, err)
	_, ok = moved.User(req)
	require.False(t, ok, "the password changed")

	s.clock.Add(12*time.Hour - time.Second)
	require.Equal(t, http.StatusOK, with(good.Value))
	s.clock.Add(time.Second)
	require.Equal(t, http.StatusUnauthorized, with(good.Value), "expired after desk.session_ttl")
	sessions, _ := testkit.Metric(gather(t, s.metrics), "peakend_desk_sessions")
	require.Zero(t, sessions, "expired sessions leave the gauge")
}

// TestSecureCookiesUnderTLS: served over TLS, the session and login
// cookies are Secure.
func TestSecureCookiesUnderTLS(t *testing.T) {
	s := newSite(t, desk(t), true)
	b := s.browser(t)
	page := b.get("/login")
	lc := setCookieOf(t, page, auth.LoginCookie)
	require.NotNil(t, lc)
	require.True(t, lc.Secure)
	require.True(t, lc.HttpOnly)
	r := b.signIn("ana", "ana's secret")
	require.Equal(t, http.StatusSeeOther, r.code)
	c := setCookieOf(t, r, auth.SessionCookie)
	require.True(t, c.Secure, "session cookie over TLS")
	code, _, _, _ := b.me()
	require.Equal(t, http.StatusOK, code)
}

// TestLogout: signing out needs the token (no cross-site sign-out), clears
// the cookie and leaves the user signed out.
func TestLogout(t *testing.T) {
	s := newSite(t, desk(t), false)
	b := s.browser(t)
	require.Equal(t, http.StatusSeeOther, b.signIn("ana", "ana's secret").code)
	_, _, _, token := b.me()
	require.Equal(t, http.StatusForbidden, b.postForm("/logout", url.Values{}).code)
	code, _, _, _ := b.me()
	require.Equal(t, http.StatusOK, code, "still signed in")
	r := b.postForm("/logout", url.Values{auth.CSRFField: {token}})
	require.Equal(t, http.StatusSeeOther, r.code)
	require.Equal(t, "/login", r.hdr.Get("Location"))
	code, _, _, _ = b.me()
	require.Equal(t, http.StatusUnauthorized, code)
	sessions, _ := testkit.Metric(gather(t, s.metrics), "peakend_desk_sessions")
	require.Zero(t, sessions)
}

// TestNoOpenRedirect: next may only name a path on this site.
func TestNoOpenRedirect(t *testing.T) {
	s := newSite(t, desk(t), false)
	for next, want := range map[string]string{
		"/cases/c-1?x=1":         "/cases/c-1?x=1",
		"https://evil.example/":  "/",
		"//evil.example/":        "/",
		"/\\evil.example":        "/",
		"\\\\evil.example":       "/",
		"javascript:alert(1)":    "/",
		"/%0d%0aSet-Cookie:x=1":  "/%0d%0aSet-Cookie:x=1",
		"/login?next=//evil.com": "/",
		"":                       "/",
	} {
		b := s.browser(t)
		m := formToken.FindStringSubmatch(b.get("/login").body)
		r := b.postForm("/login", url.Values{"user": {"sam"}, "password": {"sam's secret"}, "csrf_token": {m[1]}, "next": {next}})
		require.Equal(t, http.StatusSeeOther, r.code, next)
		require.Equal(t, want, r.hdr.Get("Location"), next)
	}
}

// TestNotConfigured: with neither accounts nor a proxy, customer-data paths
// say so (401) and nobody can sign in.
func TestNotConfigured(t *testing.T) {
	s := newSite(t, config.Desk{}, false)
	b := s.browser(t)
	for _, accept := range []string{"text/html", "application/json"} {
		r := b.get("/api/me", "Accept", accept)
		require.Equal(t, http.StatusUnauthorized, r.code)
		require.JSONEq(t, `{"error":"sign-in is not configured: see docs/desk.md"}`, r.body)
	}
	page := b.get("/login")
	require.Equal(t, http.StatusOK, page.code)
	require.Contains(t, page.body, "Sign-in is not configured")
	require.NotContains(t, page.body, "<form")
	var nilAuth *auth.Auth
	rec := httptest.NewRecorder()
	nilAuth.Require(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/customers/x", nil))
	require.Equal(t, http.StatusUnauthorized, rec.Code)
}

// TestLoginPage: the form is labelled for screen readers and password
// managers, works at phone width, and names the problem on failure.
func TestLoginPage(t *testing.T) {
	s := newSite(t, desk(t), false)
	b := s.browser(t)
	page := b.get("/login?next=/cases/c-1")
	require.Equal(t, "text/html; charset=utf-8", page.hdr.Get("Content-Type"))
	require.Contains(t, page.hdr.Get("Content-Security-Policy"), "default-src 'none'")
	for _, want := range []string{`<html lang="en">`, `name="viewport" content="width=device-width`,
		`<label for="user">`, `id="user" name="user"`, `autocomplete="username"`,
		`<label for="password">`, `id="password" name="password" autocomplete="current-password"`,
		`<button type="submit">Sign in</button>`, `name="next" value="/cases/c-1"`} {
		require.Contains(t, page.body, want)
	}
	require.NotContains(t, page.body, "http://", "nothing from elsewhere")
	require.NotContains(t, page.body, "https://")
	r := b.signIn("ana", "wrong")
	require.Contains(t, r.body, `role="alert"`)
	require.Contains(t, r.body, `aria-describedby="error"`)
	require.Contains(t, r.body, `value="ana"`, "the name is kept")
}

// TestSessionKey: a key in the environment must be at least 32 bytes;
// base64 is decoded.
func TestSessionKey(t *testing.T) {
	d := desk(t)
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{"short", false},
		{base64.StdEncoding.EncodeToString(make([]byte, 16)), false},
		{base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")), true},
		{strings.Repeat("k", 32), true},
	} {
		_, err := auth.New(d, auth.Options{Getenv: func(string) string { return tc.value }})
		if tc.ok {
			require.NoError(t, err, tc.value)
		} else {
			require.ErrorContains(t, err, "PEAKEND_SESSION_KEY")
			require.ErrorContains(t, err, "at least 32")
			require.NotContains(t, err.Error(), tc.value, "the key is never shown")
		}
	}
}

// TestUnknownUserTakesAsLong: a sign-in as a user who does not exist is
// checked against a dummy hash of the accounts' cost, so it takes about as
// long as a wrong password for a real user (no way to learn who has an
// account by timing). Without the dummy it would take microseconds.
func TestUnknownUserTakesAsLong(t *testing.T) {
	d := desk(t)
	h, err := bcrypt.GenerateFromPassword([]byte("ana's secret"), bcrypt.DefaultCost)
	require.NoError(t, err)
	d.Accounts[0].PasswordHash = string(h)
	d.Proxy = config.Proxy{Trusted: []string{"127.0.0.1"}}
	s := newSite(t, d, false)
	attempt := func(user string, i int) time.Duration {
		b := s.browser(t)
		m := formToken.FindStringSubmatch(b.get("/login").body)
		form := url.Values{"user": {user}, "password": {"guess"}, "csrf_token": {m[1]}}
		began := time.Now()
		r := b.postForm("/login", form, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		took := time.Since(began)
		require.Equal(t, http.StatusUnauthorized, r.code)
		return took
	}
	known, unknown := time.Hour, time.Hour
	for i := range 3 {
		known = min(known, attempt("ana", i))
		unknown = min(unknown, attempt(fmt.Sprintf("nobody%d", i), 10+i))
	}
	t.Logf("wrong password %s, unknown user %s", known, unknown)
	require.Greater(t, unknown, known/2, "an unknown user answers faster than a known one")
}
