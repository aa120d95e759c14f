//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/internal/testkit"
)

// The SASL user kafka.sh --sasl creates (PEAKEND_KAFKA_SASL_USER/_PASSWORD).
func saslUser() (user, password string) {
	user, password = os.Getenv("PEAKEND_KAFKA_SASL_USER"), os.Getenv("PEAKEND_KAFKA_SASL_PASSWORD")
	if user == "" {
		user = "peakend"
	}
	if password == "" {
		password = "peakend-secret"
	}
	return user, password
}

func saslBrokers(t *testing.T) []string {
	t.Helper()
	brokers(t)
	b := os.Getenv(envSASLBrokers)
	if b == "" {
		t.Skipf("%s is not set: the broker has no SASL listener (kafka.sh up --sasl)", envSASLBrokers)
	}
	return strings.Split(b, ",")
}

// TestSASL runs peakend over the SASL_PLAINTEXT listener with each
// mechanism, the password from an environment variable or from a file:
// every event is processed and the alerts reach the topic.
func TestSASL(t *testing.T) {
	plain := brokers(t)
	sasl := saslBrokers(t)
	user, password := saslUser()
	t.Setenv("PEAKEND_IT_KAFKA_PASSWORD", password)
	pwFile := filepath.Join(t.TempDir(), "kafka-password")
	require.NoError(t, os.WriteFile(pwFile, []byte(password+"\n"), 0o600))
	for _, c := range []struct{ mechanism, secret string }{
		{"PLAIN", "password_env: PEAKEND_IT_KAFKA_PASSWORD"},
		{"SCRAM-SHA-256", "password_env: PEAKEND_IT_KAFKA_PASSWORD"},
		{"SCRAM-SHA-512", "password_file: " + pwFile},
	} {
		t.Run(c.mechanism, func(t *testing.T) {
			n := newNames(t, "s")
			createTopics(t, plain, 4, n.Experiences)
			const events = 4_000
			recs := testkit.Generate(events, 100, 5, time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), 10*time.Second)
			testkit.Produce(t, testkit.Client(t, plain), n.Experiences, recs)
			cfgPath, cfg := writeConfig(t, sasl, n, fmt.Sprintf("  sasl: {mechanism: %s, username: %s, %s}\n", c.mechanism, user, c.secret))
			p := startPeakend(t, cfgPath)
			waitMetric(t, p, time.Minute, events, "peakend_events_total", "result", "processed")
			p.terminate(t, 10*time.Second)
			live, _ := readAlerts(t, plain, n.Alerts)
			sameAlertSet(t, testkit.Replay(t, cfg, recs), live)
			t.Logf("%s: %d events, %d alerts over SASL", c.mechanism, events, len(live))
		})
	}
}

// TestSASLWrongPassword: a wrong password ends `peakend run` with exit
// status 1 and one clear error line, rather than retrying forever.
func TestSASLWrongPassword(t *testing.T) {
	sasl := saslBrokers(t)
	user, _ := saslUser()
	t.Setenv("PEAKEND_IT_KAFKA_PASSWORD", "not-the-password")
	for _, mechanism := range []string{"PLAIN", "SCRAM-SHA-512"} {
		t.Run(mechanism, func(t *testing.T) {
			n := newNames(t, "w")
			cfgPath, _ := writeConfig(t, sasl, n, fmt.Sprintf("  sasl: {mechanism: %s, username: %s, password_env: PEAKEND_IT_KAFKA_PASSWORD}\n", mechanism, user))
			cmd := exec.Command(bin, "run", "--config", cfgPath)
			var stderr testkit.SyncBuffer
			cmd.Stderr, cmd.Stdout = &stderr, &stderr
			began := time.Now()
			require.NoError(t, cmd.Start())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var exit *exec.ExitError
				require.ErrorAs(t, err, &exit, "peakend run with a wrong password: %s", stderr.String())
				require.Equal(t, 1, exit.ExitCode(), "exit status; output:\n%s", stderr.String())
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				require.FailNowf(t, "peakend run kept going with a wrong password", "after 60s; output:\n%s", tail(stderr.String(), 20))
			}
			var errLines []string
			for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				if strings.Contains(l, "level=ERROR") || strings.HasPrefix(l, "peakend:") {
					errLines = append(errLines, l)
				}
			}
			t.Logf("exit 1 after %s; error: %s", time.Since(began).Round(time.Millisecond), strings.Join(errLines, " | "))
			require.Len(t, errLines, 1, "one error line; output:\n%s", stderr.String())
			require.Contains(t, strings.ToLower(errLines[0]), "authentication", "the error should say authentication failed")
		})
	}
}
