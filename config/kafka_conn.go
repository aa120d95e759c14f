package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// TLS configures TLS to the brokers. Off by default; enabled with the
// system's trusted CAs and no client certificate is the usual setting for a
// managed Kafka service.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`              // default false
	CAFile             string `yaml:"ca_file"`              // PEM CA certificates to trust; default the system's pool
	CertFile           string `yaml:"cert_file"`            // PEM client certificate, for brokers that require one (with key_file)
	KeyFile            string `yaml:"key_file"`             // PEM private key of cert_file (unencrypted)
	ServerName         string `yaml:"server_name"`          // name to verify the brokers' certificates against; default the host of each broker address
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"` // do not verify the brokers' certificates; default false; for tests only
}

// SASL configures SASL authentication to the brokers. Off by default (no
// mechanism). Secrets come from the environment or a file, never from the
// configuration file itself.
type SASL struct {
	Mechanism    string `yaml:"mechanism"`     // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; "" (default) = no SASL
	Username     string `yaml:"username"`      // the user; or username_env
	UsernameEnv  string `yaml:"username_env"`  // environment variable holding the user
	PasswordEnv  string `yaml:"password_env"`  // environment variable holding the password; or password_file
	PasswordFile string `yaml:"password_file"` // file holding the password (a mounted secret); a final newline is ignored
	// Password is rejected by Validate: it exists so that the mistake gets a
	// message saying why, rather than "unknown field".
	Password string `yaml:"password"`
}

// SASL mechanisms.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

var saslMechanisms = []string{SASLPlain, SASLScramSHA256, SASLScramSHA512}

// Session timeout bounds: the broker's defaults for
// group.min.session.timeout.ms and group.max.session.timeout.ms.
const (
	minSessionTimeout = 6 * time.Second
	maxSessionTimeout = 30 * time.Minute
)

func (k *Kafka) applyConnDefaults() {
	setDuration(&k.SessionTimeout, 45*time.Second)
	setDuration(&k.StartupWait, 2*time.Minute)
}

// kafkaConn validates the connection settings: session timeout, TLS, SASL.
func (v *validator) kafkaConn(k *Kafka) {
	if st := k.SessionTimeout.D(); st < minSessionTimeout || st > maxSessionTimeout {
		v.add("kafka.session_timeout", "must be between %s and %s, the brokers' default limits (got %s)", minSessionTimeout, maxSessionTimeout, st)
	}
	v.notNegative("kafka.startup_wait", k.StartupWait)
	v.tls(&k.TLS)
	v.sasl(&k.SASL)
}

func (v *validator) tls(t *TLS) {
	if !t.Enabled {
		for _, f := range []struct {
			name string
			set  bool
		}{{"ca_file", t.CAFile != ""}, {"cert_file", t.CertFile != ""}, {"key_file", t.KeyFile != ""},
			{"server_name", t.ServerName != ""}, {"insecure_skip_verify", t.InsecureSkipVerify}} {
			if f.set {
				v.add("kafka.tls."+f.name, "is set but kafka.tls.enabled is false: set enabled: true to use TLS")
			}
		}
		return
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		if t.CertFile == "" {
			v.add("kafka.tls.cert_file", "is required with key_file (a client certificate needs both)")
		} else {
			v.add("kafka.tls.key_file", "is required with cert_file (a client certificate needs both)")
		}
		return
	}
	if t.InsecureSkipVerify && t.CAFile != "" {
		v.add("kafka.tls.insecure_skip_verify", "contradicts ca_file: certificates are either verified against ca_file or not at all")
	}
	if _, err := t.Config(); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			v.add(fe.field, "%s", fe.msg)
		} else {
			v.add("kafka.tls", "%v", err)
		}
	}
}

// fieldError is an error in one field of a section, for Validate.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// Config builds the crypto/tls configuration: nil if TLS is off. Errors
// name the field (kafka.tls.ca_file: ...).
func (t *TLS) Config() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in, documented as tests only
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, &fieldError{"kafka.tls.ca_file", fmt.Sprintf("cannot read: %v", err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &fieldError{"kafka.tls.ca_file", fmt.Sprintf("%s holds no PEM certificate", t.CAFile)}
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		for _, f := range []struct{ field, path string }{{"kafka.tls.cert_file", t.CertFile}, {"kafka.tls.key_file", t.KeyFile}} {
			if _, err := os.Stat(f.path); err != nil {
				return nil, &fieldError{f.field, fmt.Sprintf("cannot read: %v", err)}
			}
		}
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, &fieldError{"kafka.tls.cert_file", fmt.Sprintf("with key_file: %v", err)}
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

func (v *validator) sasl(s *SASL) {
	if s.Password != "" {
		v.add("kafka.sasl.password", "secrets are not read from the configuration file, which is often committed or shared: "+
			"put the password in an environment variable named by password_env, or in a file named by password_file (e.g. a mounted secret)")
	}
	if s.Mechanism == "" {
		if s.Username != "" || s.UsernameEnv != "" || s.PasswordEnv != "" || s.PasswordFile != "" {
			v.add("kafka.sasl.mechanism", "is required when kafka.sasl is set: one of %s", strings.Join(saslMechanisms, ", "))
		}
		return
	}
	if !slices.Contains(saslMechanisms, s.Mechanism) {
		v.add("kafka.sasl.mechanism", "unknown mechanism %q (want one of %s)", s.Mechanism, strings.Join(saslMechanisms, ", "))
	}
	switch {
	case s.Username != "" && s.UsernameEnv != "":
		v.add("kafka.sasl.username_env", "contradicts username: set one of them")
	case s.UsernameEnv != "":
		v.env("kafka.sasl.username_env", s.UsernameEnv)
	case strings.TrimSpace(s.Username) == "":
		v.add("kafka.sasl.username", "is required with a mechanism (or username_env)")
	}
	switch {
	case s.PasswordEnv != "" && s.PasswordFile != "":
		v.add("kafka.sasl.password_file", "contradicts password_env: set one of them")
	case s.PasswordEnv != "":
		v.env("kafka.sasl.password_env", s.PasswordEnv)
	case s.PasswordFile != "":
		if _, err := s.readPasswordFile(); err != nil {
			v.add("kafka.sasl.password_file", "%v", err)
		}
	case s.Password == "":
		v.add("kafka.sasl.password_env", "is required with a mechanism (or password_file): the environment variable holding the password")
	}
}

func (s *SASL) readPasswordFile() (string, error) {
	b, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("cannot read: %w", err)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return "", fmt.Errorf("%s is empty", s.PasswordFile)
	}
	return p, nil
}

// Credentials returns the user and password, read from the environment
// (getenv, os.Getenv if nil) or the password file now, so that a rotated
// secret is picked up by the next connection. Errors name the field.
func (s *SASL) Credentials(getenv func(string) string) (user, password string, err error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	user = s.Username
	if s.UsernameEnv != "" {
		if user = getenv(s.UsernameEnv); user == "" {
			return "", "", &fieldError{"kafka.sasl.username_env", fmt.Sprintf("environment variable %s is not set", s.UsernameEnv)}
		}
	}
	if s.PasswordEnv != "" {
		if password = getenv(s.PasswordEnv); password == "" {
			return "", "", &fieldError{"kafka.sasl.password_env", fmt.Sprintf("environment variable %s is not set", s.PasswordEnv)}
		}
		return user, password, nil
	}
	password, err = s.readPasswordFile()
	if err != nil {
		return "", "", &fieldError{"kafka.sasl.password_file", err.Error()}
	}
	return user, password, nil
}
