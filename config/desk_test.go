package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// TestDeskErrors: `peakend validate` on the desk section and http.tls: each
// problem names file, line and field; a password where its hash belongs is
// refused without being repeated.
func TestDeskErrors(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	require.NoError(t, err)
	hash := string(h)
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir)
	other, _ := writeTestCert(t, t.TempDir())
	missing := filepath.Join(dir, "missing.pem")
	q := func(s string) string { return `"` + s + `"` }

	for _, tc := range []struct {
		name string
		yaml string
		env  map[string]string
		want []string // nil: valid
	}{
		{"no desk", top(""), nil, nil},
		{"accounts", top("desk:\n  accounts:\n    - {user: ana, password_hash: " + q(hash) + "}\n    - {user: sam, password_hash: " + q(hash) + ", role: supervisor}\n"), nil, nil},
		{"proxy", top("desk:\n  proxy: {header: X-Forwarded-User, trusted: [10.0.0.0/8, 192.0.2.7, \"2001:db8::/32\"], role_header: X-Role, supervisors: [sam]}\n"), nil, nil},
		{"enabled without sign-in", top("desk:\n  enabled: true\n"), nil,
			[]string{"peakend.yaml:8: desk: the desk is enabled but nobody can sign in: add desk.accounts (passwords hashed with " +
				"`peakend hash-password`) or desk.proxy.header (a trusted reverse proxy), or set enabled: false"}},
		{"disabled without sign-in", top("desk:\n  enabled: false\n"), nil, nil},
		{"plain password", top("desk:\n  accounts:\n    - {user: ana, password_hash: hunter2}\n"), nil,
			[]string{"peakend.yaml:10: desk.accounts[0].password_hash: is not a bcrypt hash (one starts with $2a$, $2b$ or $2y$): " +
				"run `peakend hash-password` and put its output here, never the password itself"}},
		{"broken hash", top("desk:\n  accounts:\n    - {user: ana, password_hash: " + q(hash[:40]) + "}\n"), nil,
			[]string{"peakend.yaml:10: desk.accounts[0].password_hash: is not a valid bcrypt hash (a bcrypt hash is 60 characters, " +
				"e.g. $2a$10$ and 53 more): run `peakend hash-password` and put its output here, never the password itself"}},
		{"no hash", top("desk:\n  accounts:\n    - {user: ana}\n"), nil,
			[]string{"peakend.yaml:10: desk.accounts[0].password_hash: is required: a bcrypt hash " +
				"(run `peakend hash-password` and put its output here, never the password itself)"}},
		{"account fields", top("desk:\n  accounts:\n    - {password_hash: " + q(hash) + ", role: admin}\n"), nil,
			[]string{"peakend.yaml:10: desk.accounts[0].user: is required: the sign-in name",
				`peakend.yaml:10: desk.accounts[0].role: must be agent or supervisor (got "admin")`}},
		{"duplicate user", top("desk:\n  accounts:\n    - {user: ana, password_hash: " + q(hash) + "}\n    - {user: ana, password_hash: " + q(hash) + "}\n"), nil,
			[]string{`peakend.yaml:11: desk.accounts[1].user: "ana" is already the user of desk.accounts[0]; each account needs its own name`}},
		{"proxy without trusted", top("desk:\n  proxy:\n    header: X-Forwarded-User\n"), nil,
			[]string{"peakend.yaml:9: desk.proxy.trusted: is required with desk.proxy.header: the proxy's addresses " +
				"(CIDRs or IPs, e.g. [10.0.0.0/8]); the header is believed only from them"}},
		{"bad trusted", top("desk:\n  proxy:\n    header: X-Forwarded-User\n    trusted: [10.0.0.0/33, proxy.local]\n"), nil,
			[]string{`peakend.yaml:11: desk.proxy.trusted[0]: must be a CIDR or an IP address, e.g. 10.0.0.0/8 or 10.1.2.3 (got "10.0.0.0/33")`,
				`peakend.yaml:11: desk.proxy.trusted[1]: must be a CIDR or an IP address, e.g. 10.0.0.0/8 or 10.1.2.3 (got "proxy.local")`}},
		{"bad header", top("desk:\n  proxy: {header: \"X User\", trusted: [10.0.0.1]}\n"), nil,
			[]string{`peakend.yaml:9: desk.proxy.header: must be an HTTP header name such as X-Forwarded-User (got "X User")`}},
		{"role header without header", top("desk:\n  accounts: [{user: ana, password_hash: " + q(hash) + "}]\n  proxy: {role_header: X-Role, supervisors: [sam]}\n"), nil,
			[]string{"peakend.yaml:10: desk.proxy.role_header: does not apply without desk.proxy.header",
				"peakend.yaml:10: desk.proxy.supervisors: does not apply without desk.proxy.header"}},
		{"durations", top("desk:\n  claim_ttl: -1m\n  keep: 30d\n  session_ttl: 8h\n"), nil,
			[]string{`peakend.yaml:9: desk.claim_ttl: duration must not be negative (got "-1m")`}},
		{"short session key", top("desk:\n  session_key_env: DESK_KEY\n"), map[string]string{"DESK_KEY": "tooshort"},
			[]string{"peakend.yaml:9: desk.session_key_env: environment variable DESK_KEY: the session key is 8 bytes; " +
				"it needs at least 32 (e.g. `openssl rand -base64 32`)"}},
		{"session key", top("desk:\n  session_key_env: DESK_KEY\n"),
			map[string]string{"DESK_KEY": base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))}, nil},
		{"bad session key env", top("desk:\n  session_key_env: desk-key\n"), nil,
			[]string{`peakend.yaml:9: desk.session_key_env: must be the name of an environment variable (got "desk-key")`}},

		{"tls", top("http:\n  tls: {cert_file: " + q(cert) + ", key_file: " + q(key) + "}\n"), nil, nil},
		{"tls without key", top("http:\n  tls:\n    cert_file: " + q(cert) + "\n"), nil,
			[]string{"peakend.yaml:9: http.tls.key_file: is required with http.tls.cert_file (serve HTTPS with both, or set neither)"}},
		{"tls unreadable", top("http:\n  tls:\n    cert_file: " + q(cert) + "\n    key_file: " + q(missing) + "\n"), nil,
			[]string{"peakend.yaml:11: http.tls.key_file: cannot be read: open " + missing + ": no such file or directory"}},
		{"tls mismatched", top("http:\n  tls:\n    cert_file: " + q(other) + "\n    key_file: " + q(key) + "\n"), nil,
			[]string{"peakend.yaml:9: http.tls: cert_file and key_file are not a PEM certificate and its private key: " +
				"tls: private key does not match public key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parse(file, []byte(tc.yaml), envOf(tc.env))
			require.Equal(t, tc.want, errorLines(err), "config:\n%s", tc.yaml)
			require.NotContains(t, strings.Join(errorLines(err), "\n"), "hunter2", "a password is never repeated")
			if tc.want == nil {
				require.NotNil(t, cfg)
			}
		})
	}
}

// writeTestCert writes a self-signed certificate and its key (PEM) into dir.
func writeTestCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	pk, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600))
	return cert, key
}

// TestDeskInCode: a desk built in code with zero durations is refused.
func TestDeskInCode(t *testing.T) {
	c := Default()
	c.Desk.ClaimTTL, c.Desk.Keep, c.Desk.SessionTTL = 0, 0, Duration(-time.Hour)
	require.Equal(t, []string{"desk.claim_ttl: must be positive (got 0s)", "desk.keep: must be positive (got 0s)",
		"desk.session_ttl: must be positive (got -1h0m0s)"}, errorLines(c.Validate()))
}
