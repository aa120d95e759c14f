package config

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// MinSessionKey is the least number of bytes of a session-signing key.
const MinSessionKey = 32

// DecodeSessionKey reads the value of desk.session_key_env: base64
// (standard or URL alphabet, padded or not) of at least MinSessionKey bytes,
// or else the raw value itself if it is that long. The key is never part of
// the error.
func DecodeSessionKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) >= MinSessionKey {
			return k, nil
		}
	}
	if len(s) >= MinSessionKey {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("the session key is %d bytes; it needs at least %d (e.g. `openssl rand -base64 32`)", len(s), MinSessionKey)
}

// desk checks the desk section: a way to sign in when the desk is on,
// accounts with bcrypt hashes and known roles, a proxy believed only from
// listed addresses, positive durations, a long enough session key.
func (v *validator) desk(d *Desk) {
	if d.DeskOn() && len(d.Accounts) == 0 && d.Proxy.Header == "" {
		v.add("desk", "the desk is enabled but nobody can sign in: add desk.accounts (passwords hashed with "+
			"`peakend hash-password`) or desk.proxy.header (a trusted reverse proxy), or set enabled: false")
	}
	users := map[string]string{} // user -> field of its account
	for i := range d.Accounts {
		a := &d.Accounts[i]
		p := fmt.Sprintf("desk.accounts[%d]", i)
		switch {
		case strings.TrimSpace(a.User) == "":
			v.add(p+".user", "is required: the sign-in name")
		case a.User != strings.TrimSpace(a.User) || strings.ContainsFunc(a.User, unicode.IsControl) || len(a.User) > 256:
			v.add(p+".user", "must not start or end with spaces, hold control characters or pass 256 bytes (got %q)", a.User)
		case users[a.User] != "":
			v.add(p+".user", "%q is already the user of %s; each account needs its own name", a.User, users[a.User])
		default:
			users[a.User] = p
		}
		if msg := checkBcrypt(a.PasswordHash); msg != "" {
			v.add(p+".password_hash", "%s", msg)
		}
		if a.Role != RoleAgent && a.Role != RoleSupervisor {
			v.add(p+".role", "must be agent or supervisor (got %q)", a.Role)
		}
	}

	x := &d.Proxy
	if x.Header != "" && !isHeaderName(x.Header) {
		v.add("desk.proxy.header", "must be an HTTP header name such as X-Forwarded-User (got %q)", x.Header)
	}
	if x.Header != "" && len(x.Trusted) == 0 {
		v.add("desk.proxy.trusted", "is required with desk.proxy.header: the proxy's addresses (CIDRs or IPs, e.g. [10.0.0.0/8]); "+
			"the header is believed only from them")
	}
	for i, s := range x.Trusted {
		if !isCIDROrIP(s) {
			v.add(fmt.Sprintf("desk.proxy.trusted[%d]", i), "must be a CIDR or an IP address, e.g. 10.0.0.0/8 or 10.1.2.3 (got %q)", s)
		}
	}
	if x.RoleHeader != "" {
		switch {
		case x.Header == "":
			v.add("desk.proxy.role_header", "does not apply without desk.proxy.header")
		case !isHeaderName(x.RoleHeader):
			v.add("desk.proxy.role_header", "must be an HTTP header name such as X-Forwarded-Groups (got %q)", x.RoleHeader)
		}
	}
	if len(x.Supervisors) > 0 && x.Header == "" {
		v.add("desk.proxy.supervisors", "does not apply without desk.proxy.header")
	}
	for i, s := range x.Supervisors {
		if strings.TrimSpace(s) == "" {
			v.add(fmt.Sprintf("desk.proxy.supervisors[%d]", i), "must not be empty")
		}
	}

	v.positive("desk.claim_ttl", d.ClaimTTL)
	v.positive("desk.keep", d.Keep)
	v.positive("desk.session_ttl", d.SessionTTL)
	if !envName.MatchString(d.SessionKeyEnv) {
		v.add("desk.session_key_env", "must be the name of an environment variable (got %q)", d.SessionKeyEnv)
	} else if key := v.getenv(d.SessionKeyEnv); key != "" {
		if _, err := DecodeSessionKey(key); err != nil {
			v.add("desk.session_key_env", "environment variable %s: %v", d.SessionKeyEnv, err)
		}
	}
}

// checkBcrypt returns what is wrong with a password_hash, or "". It never
// repeats the value: it may be a password written by mistake.
func checkBcrypt(h string) string {
	const how = "run `peakend hash-password` and put its output here, never the password itself"
	if h == "" {
		return "is required: a bcrypt hash (" + how + ")"
	}
	if !strings.HasPrefix(h, "$2a$") && !strings.HasPrefix(h, "$2b$") && !strings.HasPrefix(h, "$2y$") {
		return "is not a bcrypt hash (one starts with $2a$, $2b$ or $2y$): " + how
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil || len(h) != 60 {
		return "is not a valid bcrypt hash (a bcrypt hash is 60 characters, e.g. $2a$10$ and 53 more): " + how
	}
	return ""
}

// isHeaderName reports whether s is an HTTP header field name (an RFC 9110 token).
func isHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

func isCIDROrIP(s string) bool {
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// httpTLS checks http.tls: both files or neither, each readable, and a
// certificate and key that belong together.
func (v *validator) httpTLS(t *HTTPTLS) {
	if t.CertFile == "" && t.KeyFile == "" {
		return
	}
	ok := true
	for _, f := range []struct{ field, path, other string }{
		{"http.tls.cert_file", t.CertFile, "key_file"}, {"http.tls.key_file", t.KeyFile, "cert_file"}} {
		if f.path == "" {
			v.add(f.field, "is required with http.tls.%s (serve HTTPS with both, or set neither)", f.other)
			ok = false
			continue
		}
		if _, err := os.ReadFile(f.path); err != nil {
			v.add(f.field, "cannot be read: %v", err)
			ok = false
		}
	}
	if ok {
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			v.add("http.tls", "cert_file and key_file are not a PEM certificate and its private key: %v", err)
		}
	}
}
