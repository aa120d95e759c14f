package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/metrics"
)

// Cookie names. The session cookie is signed; the login cookie carries the
// random half of the sign-in form's double-submit token.
const (
	SessionCookie = "peakend_session"
	LoginCookie   = "peakend_login"
)

// Sources of a session.
const (
	srcAccount = "a" // signed in with a password
	srcProxy   = "p" // named by a trusted proxy; the cookie only carries the anti-forgery seed
)

// session is the signed content of the session cookie. Nothing is kept on
// the server: every instance holding the key can check it.
type session struct {
	User string `json:"u"`
	Role string `json:"r"`
	Src  string `json:"k"`
	Exp  int64  `json:"x"` // Unix seconds
	Seed string `json:"s"` // random; the anti-forgery token is derived from it
	// Pass ties an account's session to its password hash: a changed
	// password ends the sessions made with the old one.
	Pass string `json:"h,omitempty"`
}

// mac is HMAC-SHA256 of msg under the key, for one purpose (so that a value
// signed for one use is never accepted for another).
func (a *Auth) mac(purpose string, msg []byte) []byte {
	h := hmac.New(sha256.New, a.key)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write(msg)
	return h.Sum(nil)
}

var b64 = base64.RawURLEncoding

// encode signs s as a cookie value: payload.signature, both base64url.
func (a *Auth) encode(s *session) string {
	p, _ := json.Marshal(s)
	return b64.EncodeToString(p) + "." + b64.EncodeToString(a.mac("session", p))
}

// decode checks a cookie value's signature and expiry.
func (a *Auth) decode(v string) (*session, bool) {
	if len(v) > 4096 {
		return nil, false
	}
	ps, ss, ok := strings.Cut(v, ".")
	if !ok {
		return nil, false
	}
	p, err1 := b64.DecodeString(ps)
	sig, err2 := b64.DecodeString(ss)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, a.mac("session", p)) {
		return nil, false
	}
	var s session
	if json.Unmarshal(p, &s) != nil || s.User == "" || s.Seed == "" {
		return nil, false
	}
	if a.now().Unix() >= s.Exp {
		return nil, false
	}
	return &s, true
}

// passTag fingerprints an account's password hash for its sessions.
func (a *Auth) passTag(hash []byte) string {
	return b64.EncodeToString(a.mac("password", hash)[:12])
}

// csrfToken is the anti-forgery token of a session seed.
func (a *Auth) csrfToken(seed string) string {
	return b64.EncodeToString(a.mac("csrf", []byte(seed)))
}

// newSession makes a session for u that ends after the session TTL.
func (a *Auth) newSession(u User, src string) *session {
	s := &session{User: u.Name, Role: u.Role, Src: src, Exp: a.now().Add(a.ttl).Unix(), Seed: b64.EncodeToString(randomBytes(18))}
	if ac, ok := a.accounts[u.Name]; ok && src == srcAccount {
		s.Pass = a.passTag(ac.hash)
	}
	return s
}

func (a *Auth) setSession(w http.ResponseWriter, r *http.Request, s *session) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: a.encode(s), Path: "/",
		Expires: time.Unix(s.Exp, 0), MaxAge: int(time.Unix(s.Exp, 0).Sub(a.now()).Seconds()),
		HttpOnly: true, Secure: a.secure(r), SameSite: http.SameSiteLaxMode})
}

func (a *Auth) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.secure(r), SameSite: http.SameSiteLaxMode})
}

// identity is who made a request, and the seed of its anti-forgery token.
type identity struct {
	user User
	seed string
}

// identify finds the request's user: named by a trusted proxy, or signed in
// with a valid session cookie. A proxy user without a session cookie of
// their own gets one (it carries the anti-forgery seed only: the proxy's
// header decides who is signed in on every request).
func (a *Auth) identify(w http.ResponseWriter, r *http.Request) (identity, bool) {
	var s *session
	if c, err := r.Cookie(SessionCookie); err == nil {
		s, _ = a.decode(c.Value)
	}
	if name, ok := a.proxyUser(r); ok {
		u := User{Name: name, Role: a.proxyRole(r, name)}
		if s == nil || s.Src != srcProxy || s.User != name {
			s = a.newSession(u, srcProxy)
			if w != nil {
				a.setSession(w, r, s)
			}
		}
		a.sessions.seen("p:"+name, a.now().Add(a.ttl))
		return identity{user: u, seed: s.Seed}, true
	}
	if s == nil || s.Src != srcAccount {
		return identity{}, false
	}
	ac, ok := a.accounts[s.User]
	if !ok || !hmac.Equal([]byte(s.Pass), []byte(a.passTag(ac.hash))) {
		return identity{}, false // removed, or the password changed
	}
	a.sessions.seen("a:"+s.Seed, time.Unix(s.Exp, 0))
	// The role is the configuration's now, not the one at sign-in.
	return identity{user: User{Name: s.User, Role: ac.role}, seed: s.Seed}, true
}

// proxyUser is the user named by a trusted proxy, if the request came from one.
func (a *Auth) proxyUser(r *http.Request) (string, bool) {
	if a.proxyHeader == "" {
		return "", false
	}
	name := strings.TrimSpace(r.Header.Get(a.proxyHeader))
	if name == "" || len(name) > 256 || strings.ContainsFunc(name, isControl) || !a.fromTrustedProxy(r) {
		return "", false
	}
	return name, true
}

func (a *Auth) proxyRole(r *http.Request, name string) string {
	if a.supervisors[name] {
		return config.RoleSupervisor
	}
	if a.roleHeader != "" && strings.EqualFold(strings.TrimSpace(r.Header.Get(a.roleHeader)), config.RoleSupervisor) {
		return config.RoleSupervisor
	}
	return config.RoleAgent
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// tracker counts the sessions live on this instance for
// peakend_desk_sessions: password sessions signed in or used here and not
// yet expired or signed out, and proxy users seen within the session TTL.
// Sessions made on other instances count once they are used here.
type tracker struct {
	mu    sync.Mutex
	live  map[string]time.Time // key -> expiry
	swept time.Time
	now   func() time.Time
}

// maxTracked bounds the tracker's memory; beyond it new sessions are not
// counted (the gauge then reads low).
const maxTracked = 100_000

func newTracker(m *metrics.Metrics, now func() time.Time) *tracker {
	t := &tracker{live: map[string]time.Time{}, now: now}
	m.SetDeskSessions(func() float64 { return float64(t.count()) })
	return t
}

func (t *tracker) seen(key string, exp time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.live[key]; ok || len(t.live) < maxTracked {
		t.live[key] = exp
	}
	t.sweepLocked(false)
}

func (t *tracker) ended(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.live, key)
	t.sweepLocked(true)
}

// count is the number of live sessions.
func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweepLocked(true)
	return len(t.live)
}

func (t *tracker) sweepLocked(force bool) {
	now := t.now()
	if force || now.Sub(t.swept) >= 10*time.Second {
		t.swept = now
		for k, exp := range t.live {
			if !now.Before(exp) {
				delete(t.live, k)
			}
		}
	}
}
