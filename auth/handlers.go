package auth

import (
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// NotConfigured is the refusal of customer-data paths when nobody can sign in.
const NotConfigured = "sign-in is not configured: see docs/desk.md"

// Require wraps h so that only signed-in users reach it. Without a user, a
// browser asking for a page (GET or HEAD, Accept text/html) is sent to
// /login?next=<path> (303); anything else gets 401 {"error":"sign in first"}.
// Writes (any method but GET, HEAD and OPTIONS) must also come from the
// desk's own pages (no cross-site Origin or Sec-Fetch-Site) and carry the
// session's anti-forgery token in the X-CSRF-Token header or the csrf_token
// form field, else 403. h finds the user with UserFrom and the token with
// CSRFToken. A nil *Auth refuses everything as not configured.
func (a *Auth) Require(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Add("Vary", "Cookie")
		if !a.Configured() {
			writeError(w, http.StatusUnauthorized, NotConfigured)
			return
		}
		id, ok := a.identify(w, r)
		if !ok {
			if wantsPage(r) {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			writeError(w, http.StatusUnauthorized, "sign in first")
			return
		}
		if isWrite(r.Method) {
			if err := a.cop.Check(r); err != nil {
				writeError(w, http.StatusForbidden, "cross-site request refused")
				return
			}
			if !a.tokenOK(w, r, id.seed) {
				writeError(w, http.StatusForbidden, "missing or wrong anti-forgery token: send the X-CSRF-Token header from /api/me")
				return
			}
		}
		ctx := withCSRF(WithUser(r.Context(), id.user), a.csrfToken(id.seed))
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// RequireFunc is Require for a handler function.
func (a *Auth) RequireFunc(h http.HandlerFunc) http.Handler { return a.Require(h) }

// User returns the request's signed-in user, checking the session itself
// (for handlers not behind Require, such as the login page).
func (a *Auth) User(r *http.Request) (User, bool) {
	if !a.Configured() {
		return User{}, false
	}
	id, ok := a.identify(nil, r)
	return id.user, ok
}

func isWrite(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// wantsPage reports whether r is a browser asking for a page.
func wantsPage(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if t, _, _ := mime.ParseMediaType(strings.TrimSpace(part)); t == "text/html" {
			return true
		}
	}
	return false
}

// maxFormBytes bounds a form body read for its anti-forgery field.
const maxFormBytes = 1 << 20

// tokenOK checks the anti-forgery token of a write, in constant time.
func (a *Auth) tokenOK(w http.ResponseWriter, r *http.Request, seed string) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" && isForm(r) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		got = r.PostFormValue(CSRFField)
	}
	return got != "" && hmac.Equal([]byte(got), []byte(a.csrfToken(seed)))
}

func isForm(r *http.Request) bool {
	t, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return t == "application/x-www-form-urlencoded" || t == "multipart/form-data"
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// Mount adds the sign-in paths to mux: GET /login (the form), POST /login,
// POST /logout.
func (a *Auth) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
}

// safeNext returns next if it is a path on this site, else "/": the sign-in
// never sends anyone elsewhere.
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\") || strings.ContainsFunc(next, isControl) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Path == "/login" || u.Path == "/logout" {
		return "/"
	}
	return next
}

// loginToken is the sign-in form's half of the double-submit token: a MAC of
// the login cookie's random value, so that a cookie planted by someone else
// is useless without the key.
func (a *Auth) loginToken(nonce string) string {
	return b64.EncodeToString(a.mac("login", []byte(nonce)))
}

// loginNonce returns the request's login cookie value, setting a new one if
// it has none.
func (a *Auth) loginNonce(w http.ResponseWriter, r *http.Request, fresh bool) string {
	if c, err := r.Cookie(LoginCookie); err == nil && !fresh && len(c.Value) >= 22 && len(c.Value) <= 64 {
		return c.Value
	}
	n := b64.EncodeToString(randomBytes(18))
	http.SetCookie(w, &http.Cookie{Name: LoginCookie, Value: n, Path: "/", MaxAge: 12 * 3600,
		HttpOnly: true, Secure: a.secure(r), SameSite: http.SameSiteStrictMode})
	return n
}

func (a *Auth) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok := a.User(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	a.render(w, r, http.StatusOK, loginView{Next: next})
}

// login answers a sign-in form: 303 to next on success, else the form again
// with a reason (401 wrong name or password, 403 expired form or cross-site,
// 429 too many failures, with Retry-After).
func (a *Auth) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		a.render(w, r, http.StatusBadRequest, loginView{Next: "/", Error: "The sign-in form could not be read; please try again."})
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	name := strings.TrimSpace(r.PostForm.Get("user"))
	view := loginView{Next: next, User: name}
	if len(a.accounts) == 0 {
		view.Error = "Sign-in with a password is not set up here."
		a.render(w, r, http.StatusUnauthorized, view)
		return
	}
	if a.cop.Check(r) != nil {
		a.failed("token")
		view.Error = "This sign-in came from another site and was refused."
		a.render(w, r, http.StatusForbidden, view)
		return
	}
	c, err := r.Cookie(LoginCookie)
	if err != nil || !hmac.Equal([]byte(r.PostForm.Get(CSRFField)), []byte(a.loginToken(c.Value))) {
		a.failed("token")
		view.Error = "The sign-in form had expired. Please sign in again."
		a.render(w, r, http.StatusForbidden, view)
		return
	}
	userKey, addrKey := "user:"+truncate(name, 256), a.clientKey(r)
	wait, limited := a.limit.blocked(userKey)
	if w2, l2 := a.limit.blocked(addrKey); l2 {
		limited = true
		wait = max(wait, w2)
	}
	if limited {
		a.failed("rate_limited")
		mins := int(math.Ceil(wait.Minutes()))
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		view.Error = fmt.Sprintf("Too many failed sign-ins. Please wait %d minute%s and try again.", mins, plural(mins))
		a.render(w, r, http.StatusTooManyRequests, view)
		return
	}
	password := r.PostForm.Get("password")
	ac, known := a.accounts[name]
	hash := a.dummy
	if known {
		hash = ac.hash
	}
	// Unknown users are compared with a dummy hash of the same cost: the
	// answer takes as long, and says the same.
	err = bcrypt.CompareHashAndPassword(hash, []byte(password))
	if !known || err != nil || password == "" {
		if known && err != nil && !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			a.log.Warn("desk sign-in: password check failed", "user", name, "err", err)
		}
		a.limit.fail(userKey)
		a.limit.fail(addrKey)
		a.failed("password")
		// An unknown name is not logged: it is often a password typed in the wrong field.
		who := "(unknown user)"
		if known {
			who = name
		}
		a.log.Info("desk sign-in failed", "user", who, "addr", strings.TrimPrefix(addrKey, "addr:"))
		view.Error = "Wrong user name or password."
		a.render(w, r, http.StatusUnauthorized, view)
		return
	}
	a.limit.reset(userKey)
	s := a.newSession(User{Name: name, Role: ac.role}, srcAccount)
	a.setSession(w, r, s)
	a.clearCookie(w, r, LoginCookie)
	a.sessions.seen("a:"+s.Seed, time.Unix(s.Exp, 0))
	a.log.Info("desk sign-in", "user", name, "role", ac.role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session (its cookie; the proxy's users are signed out by
// the proxy). A signed-in user must send the anti-forgery token, so that
// another site cannot sign them out.
func (a *Auth) logout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if id, ok := a.identify(nil, r); ok {
		if a.cop.Check(r) != nil || !a.tokenOK(w, r, id.seed) {
			writeError(w, http.StatusForbidden, "missing or wrong anti-forgery token")
			return
		}
		a.sessions.ended("a:" + id.seed)
		a.log.Info("desk sign-out", "user", id.user.Name)
	}
	a.clearCookie(w, r, SessionCookie)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (a *Auth) failed(reason string) {
	if a.o.Metrics != nil {
		a.o.Metrics.DeskSignInFailures.WithLabelValues(reason).Inc()
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
