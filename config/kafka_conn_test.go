package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/testkit"
)

// withKafka is a valid file whose kafka section ends with the given lines;
// line 3 is the first of them.
func withKafka(lines string) string {
	return "kafka:\n  brokers: [localhost:9092]\n" + lines + `detectors:
  - {name: d, type: threshold, metric: m, minor: 1}
`
}

func TestKafkaConnValidate(t *testing.T) {
	certs := testkit.WriteCerts(t, t.TempDir())
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("s3cret\n"), 0o600))
	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	t.Setenv("PEAKEND_TEST_KAFKA_PW", "s3cret")
	t.Setenv("PEAKEND_TEST_KAFKA_USER", "peakend")

	for _, tc := range []struct {
		name, kafka string
		want        []string // nil: valid
	}{
		{"defaults", "", nil},
		{"session timeout", "  session_timeout: 1s\n",
			[]string{"peakend.yaml:3: kafka.session_timeout: must be between 6s and 30m0s, the brokers' default limits (got 1s)"}},
		{"sasl plain, password from env", "  sasl: {mechanism: PLAIN, username: u, password_env: PEAKEND_TEST_KAFKA_PW}\n", nil},
		{"sasl scram, user from env, password from file", "  sasl: {mechanism: SCRAM-SHA-512, username_env: PEAKEND_TEST_KAFKA_USER, password_file: " + pwFile + "}\n", nil},
		{"password in the file", "  sasl:\n    mechanism: PLAIN\n    username: u\n    password: hunter2\n",
			[]string{"peakend.yaml:6: kafka.sasl.password: secrets are not read from the configuration file, which is often committed or shared: " +
				"put the password in an environment variable named by password_env, or in a file named by password_file (e.g. a mounted secret)"}},
		{"unknown mechanism", "  sasl: {mechanism: GSSAPI, username: u, password_env: PEAKEND_TEST_KAFKA_PW}\n",
			[]string{`peakend.yaml:3: kafka.sasl.mechanism: unknown mechanism "GSSAPI" (want one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)`}},
		{"no mechanism", "  sasl: {username: u, password_env: PEAKEND_TEST_KAFKA_PW}\n",
			[]string{"peakend.yaml:3: kafka.sasl.mechanism: is required when kafka.sasl is set: one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"}},
		{"no user", "  sasl: {mechanism: PLAIN, password_env: PEAKEND_TEST_KAFKA_PW}\n",
			[]string{"peakend.yaml:3: kafka.sasl.username: is required with a mechanism (or username_env)"}},
		{"no password", "  sasl: {mechanism: PLAIN, username: u}\n",
			[]string{"peakend.yaml:3: kafka.sasl.password_env: is required with a mechanism (or password_file): the environment variable holding the password"}},
		{"password env unset", "  sasl: {mechanism: PLAIN, username: u, password_env: PEAKEND_TEST_UNSET}\n",
			[]string{"peakend.yaml:3: kafka.sasl.password_env: environment variable PEAKEND_TEST_UNSET is not set"}},
		{"password file empty", "  sasl: {mechanism: PLAIN, username: u, password_file: " + empty + "}\n",
			[]string{"peakend.yaml:3: kafka.sasl.password_file: " + empty + " is empty"}},
		{"both passwords", "  sasl: {mechanism: PLAIN, username: u, password_env: PEAKEND_TEST_KAFKA_PW, password_file: " + pwFile + "}\n",
			[]string{"peakend.yaml:3: kafka.sasl.password_file: contradicts password_env: set one of them"}},
		{"tls with system CAs", "  tls: {enabled: true}\n", nil},
		{"mutual tls", "  tls: {enabled: true, ca_file: " + certs.CA + ", cert_file: " + certs.ClientCert + ", key_file: " + certs.ClientKey + ", server_name: localhost}\n", nil},
		{"tls field without enabled", "  tls: {ca_file: " + certs.CA + "}\n",
			[]string{"peakend.yaml:3: kafka.tls.ca_file: is set but kafka.tls.enabled is false: set enabled: true to use TLS"}},
		{"tls ca missing", "  tls: {enabled: true, ca_file: /nonexistent/ca.pem}\n",
			[]string{"peakend.yaml:3: kafka.tls.ca_file: cannot read: open /nonexistent/ca.pem: no such file or directory"}},
		{"tls ca not PEM", "  tls: {enabled: true, ca_file: " + pwFile + "}\n",
			[]string{"peakend.yaml:3: kafka.tls.ca_file: " + pwFile + " holds no PEM certificate"}},
		{"tls cert without key", "  tls: {enabled: true, cert_file: " + certs.ClientCert + "}\n",
			[]string{"peakend.yaml:3: kafka.tls.key_file: is required with cert_file (a client certificate needs both)"}},
		{"tls key of another cert", "  tls: {enabled: true, cert_file: " + certs.ClientCert + ", key_file: " + certs.CA + "}\n",
			[]string{"peakend.yaml:3: kafka.tls.cert_file: with key_file: tls: found a certificate rather than a key in the PEM for the private key"}},
		{"insecure with a CA", "  tls: {enabled: true, ca_file: " + certs.CA + ", insecure_skip_verify: true}\n",
			[]string{"peakend.yaml:3: kafka.tls.insecure_skip_verify: contradicts ca_file: certificates are either verified against ca_file or not at all"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("peakend.yaml", []byte(withKafka(tc.kafka)))
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, tc.want, strings.Split(err.Error(), "\n"))
		})
	}
}

// TestSASLCredentials reads the password when a connection is made, from
// the environment or the file (without its final newline).
func TestSASLCredentials(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("from-file\n"), 0o600))
	env := map[string]string{"U": "user-from-env", "P": "from-env"}
	getenv := func(k string) string { return env[k] }

	u, p, err := (&config.SASL{Mechanism: "PLAIN", UsernameEnv: "U", PasswordEnv: "P"}).Credentials(getenv)
	require.NoError(t, err)
	require.Equal(t, []string{"user-from-env", "from-env"}, []string{u, p})
	u, p, err = (&config.SASL{Mechanism: "PLAIN", Username: "u", PasswordFile: pwFile}).Credentials(getenv)
	require.NoError(t, err)
	require.Equal(t, []string{"u", "from-file"}, []string{u, p})
	require.NoError(t, os.WriteFile(pwFile, []byte("rotated"), 0o600))
	_, p, err = (&config.SASL{Mechanism: "PLAIN", Username: "u", PasswordFile: pwFile}).Credentials(getenv)
	require.NoError(t, err)
	require.Equal(t, "rotated", p, "a rotated secret is read on the next connection")
	_, _, err = (&config.SASL{Mechanism: "PLAIN", Username: "u", PasswordEnv: "NOPE"}).Credentials(getenv)
	require.EqualError(t, err, "kafka.sasl.password_env: environment variable NOPE is not set")
}
