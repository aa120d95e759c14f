package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/metrics"
)

// Failed sign-ins allowed per user name and per client address within
// FailureWindow; the next attempt, even with the right password, answers
// 429 until the oldest failure is older than the window.
const (
	MaxFailures   = 5
	FailureWindow = 15 * time.Minute
)

// Options configures New. The zero value is valid.
type Options struct {
	Logger  *slog.Logger     // default slog.Default()
	Metrics *metrics.Metrics // peakend_desk_sessions and peakend_desk_signin_failures_total; nil records nothing
	// Secure marks cookies Secure: the server speaks TLS (http.tls). A
	// request that arrived over TLS, or from a trusted proxy with
	// X-Forwarded-Proto: https, gets Secure cookies either way.
	Secure bool
	Now    func() time.Time // default time.Now (tests)
	// Getenv reads desk.session_key_env; default os.Getenv (tests).
	Getenv func(string) string
}

// Auth signs desk users in and guards handlers (Require). It is safe for
// concurrent use.
type Auth struct {
	o        Options
	log      *slog.Logger
	now      func() time.Time
	ttl      time.Duration
	accounts map[string]account
	dummy    []byte // a bcrypt hash compared for unknown users, so they take as long as known ones

	proxyHeader string
	roleHeader  string
	supervisors map[string]bool
	trusted     []netip.Prefix

	key      []byte // HMAC-SHA256 key of session and form tokens
	cop      *http.CrossOriginProtection
	limit    *limiter
	sessions *tracker
}

type account struct {
	hash []byte
	role string
}

// New builds the sign-in of a desk configuration (validated: bcrypt hashes,
// trusted addresses). A configuration with neither accounts nor a proxy is
// accepted: Require then refuses every request ("sign-in is not
// configured"). The session key comes from the environment variable
// cfg.SessionKeyEnv; without one, a random key is made and the log says
// that sessions end with the process.
func New(cfg config.Desk, o Options) (*Auth, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	a := &Auth{o: o, log: o.Logger, now: o.Now, ttl: cfg.SessionTTL.D(), accounts: map[string]account{},
		proxyHeader: http.CanonicalHeaderKey(strings.TrimSpace(cfg.Proxy.Header)),
		roleHeader:  http.CanonicalHeaderKey(strings.TrimSpace(cfg.Proxy.RoleHeader)),
		supervisors: map[string]bool{}, cop: http.NewCrossOriginProtection(),
		limit: newLimiter(MaxFailures, FailureWindow, o.Now)}
	if a.ttl <= 0 {
		a.ttl = 12 * time.Hour
	}
	a.sessions = newTracker(o.Metrics, o.Now)
	cost := bcrypt.DefaultCost
	for i, ac := range cfg.Accounts {
		c, err := bcrypt.Cost([]byte(ac.PasswordHash))
		if err != nil {
			return nil, fmt.Errorf("auth: desk.accounts[%d] (%s): password_hash is not a bcrypt hash: %w", i, ac.User, err)
		}
		if _, dup := a.accounts[ac.User]; dup {
			return nil, fmt.Errorf("auth: desk.accounts[%d]: user %q is listed twice", i, ac.User)
		}
		role := ac.Role
		if role == "" {
			role = config.RoleAgent
		}
		if role != config.RoleAgent && role != config.RoleSupervisor {
			return nil, fmt.Errorf("auth: desk.accounts[%d] (%s): unknown role %q", i, ac.User, role)
		}
		a.accounts[ac.User] = account{hash: []byte(ac.PasswordHash), role: role}
		if i == 0 || c > cost {
			cost = c
		}
	}
	if len(a.accounts) > 0 {
		dummy, err := bcrypt.GenerateFromPassword(randomBytes(18), cost)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		a.dummy = dummy
	}
	for i, s := range cfg.Proxy.Trusted {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("auth: desk.proxy.trusted[%d]: %w", i, err)
		}
		a.trusted = append(a.trusted, p)
	}
	if a.proxyHeader != "" && len(a.trusted) == 0 {
		return nil, errors.New("auth: desk.proxy.header is set but desk.proxy.trusted is empty: the header would be believed from nobody")
	}
	for _, s := range cfg.Proxy.Supervisors {
		a.supervisors[s] = true
	}
	if v := o.Getenv(cfg.SessionKeyEnv); cfg.SessionKeyEnv != "" && v != "" {
		k, err := config.DecodeSessionKey(v)
		if err != nil {
			return nil, fmt.Errorf("auth: desk.session_key_env (%s): %w", cfg.SessionKeyEnv, err)
		}
		a.key = k
	} else {
		a.key = randomBytes(32)
		if a.Configured() {
			a.log.Warn("desk sessions are signed with a random key made at start: they end when this process stops and are not "+
				"accepted by other instances; set a shared key of at least 32 bytes in the environment variable named by desk.session_key_env",
				"session_key_env", cfg.SessionKeyEnv)
		}
	}
	return a, nil
}

// Configured reports whether anyone can sign in: accounts or a proxy.
func (a *Auth) Configured() bool {
	return a != nil && (len(a.accounts) > 0 || a.proxyHeader != "")
}

// Known reports whether user still exists: an account in the configuration,
// or anyone when a proxy signs users in (the proxy decides who exists).
func (a *Auth) Known(user string) bool {
	if a == nil || user == "" {
		return false
	}
	if _, ok := a.accounts[user]; ok {
		return true
	}
	return a.proxyHeader != ""
}

// Supervisors lists the users known to be supervisors: accounts with role
// supervisor and desk.proxy.supervisors, sorted. Proxy users made
// supervisors by desk.proxy.role_header are not known in advance.
func (a *Auth) Supervisors() []string {
	if a == nil {
		return nil
	}
	var out []string
	for u, ac := range a.accounts {
		if ac.role == config.RoleSupervisor {
			out = append(out, u)
		}
	}
	if a.proxyHeader != "" {
		for u := range a.supervisors {
			if !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	slices.Sort(out)
	return out
}

// parsePrefix reads a CIDR or a single IP address.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR: %w", s, err)
		}
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	ip = ip.Unmap()
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// remoteIP is the address of the request's peer.
func remoteIP(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap().WithZone(""), true
}

func (a *Auth) isTrusted(ip netip.Addr) bool {
	for _, p := range a.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// fromTrustedProxy reports whether the request's peer is a trusted proxy.
func (a *Auth) fromTrustedProxy(r *http.Request) bool {
	ip, ok := remoteIP(r)
	return ok && a.isTrusted(ip)
}

// clientKey names the client for the failed sign-in limit: its address
// (an IPv6 address by its /64, which one client usually holds whole). Behind
// a trusted proxy, the nearest untrusted address of X-Forwarded-For.
func (a *Auth) clientKey(r *http.Request) string {
	ip, ok := remoteIP(r)
	if !ok {
		return "addr:" + r.RemoteAddr
	}
	if a.isTrusted(ip) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			ip = h.Unmap().WithZone("")
			if !a.isTrusted(ip) {
				break
			}
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return "addr:" + p.String()
	}
	return "addr:" + ip.String()
}

// secure reports whether cookies set in answer to r get the Secure flag.
func (a *Auth) secure(r *http.Request) bool {
	if a.o.Secure || r.TLS != nil {
		return true
	}
	return a.fromTrustedProxy(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics on failure)
	return b
}
