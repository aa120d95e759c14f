//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/internal/testkit"
)

// envTLSPort is the port of the broker TestTLS starts for itself (it uses
// the next three too); default PEAKEND_IT_KAFKA_PORT + 10.
const envTLSPort = "PEAKEND_IT_TLS_PORT"

// TestTLS starts a second broker with an SSL listener that requires client
// certificates (PEM files generated here), and runs peakend over it with
// kafka.tls: every event is processed and the alerts reach the topic. A
// broker certificate from an untrusted CA ends `peakend run` with exit
// status 1 and one error line naming the certificate problem.
func TestTLS(t *testing.T) {
	brokers(t)
	kafkaSh, base := os.Getenv(envKafkaSh), os.Getenv(envKafkaPort)
	if kafkaSh == "" || base == "" {
		t.Skipf("%s and %s are not set: this test starts its own broker through kafka.sh", envKafkaSh, envKafkaPort)
	}
	port := os.Getenv(envTLSPort)
	if port == "" {
		b, err := strconv.Atoi(base)
		require.NoError(t, err)
		port = strconv.Itoa(b + 10)
	}
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	certs := testkit.WriteCerts(t, t.TempDir())
	env := append(os.Environ(), "PEAKEND_KAFKA_DATA="+t.TempDir(), "PEAKEND_KAFKA_SASL=0", "PEAKEND_KAFKA_TLS_DIR=")
	kafka := func(args ...string) {
		cmd := exec.Command(kafkaSh, append(args, "--port", port)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "kafka.sh %v: %s", args, out)
	}
	kafka("up", "--tls", certs.Dir)
	t.Cleanup(func() { kafka("down") })
	plain := []string{fmt.Sprintf("127.0.0.1:%d", p)}
	tlsAddr := []string{fmt.Sprintf("127.0.0.1:%d", p+3)}

	n := newNames(t, "t")
	createTopics(t, plain, 4, n.Experiences)
	const events = 4_000
	recs := testkit.Generate(events, 100, 9, time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), 10*time.Second)
	testkit.Produce(t, testkit.Client(t, plain), n.Experiences, recs)
	cfgPath, cfg := writeConfig(t, tlsAddr, n, fmt.Sprintf("  tls: {enabled: true, ca_file: %q, cert_file: %q, key_file: %q}\n",
		certs.CA, certs.ClientCert, certs.ClientKey))
	pe := startPeakend(t, cfgPath)
	waitMetric(t, pe, time.Minute, events, "peakend_events_total", "result", "processed")
	pe.terminate(t, 10*time.Second)
	live, _ := readAlerts(t, plain, n.Alerts)
	sameAlertSet(t, testkit.Replay(t, cfg, recs), live)
	t.Logf("%d events, %d alerts over mutual TLS", events, len(live))

	// The broker's certificate is not signed by the CA peakend trusts.
	bad := newNames(t, "u")
	badPath, _ := writeConfig(t, tlsAddr, bad, fmt.Sprintf("  tls: {enabled: true, ca_file: %q, cert_file: %q, key_file: %q}\n",
		certs.OtherCA, certs.ClientCert, certs.ClientKey))
	cmd := exec.Command(bin, "run", "--config", badPath)
	var stderr testkit.SyncBuffer
	cmd.Stderr, cmd.Stdout = &stderr, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "output: %s", stderr.String())
		require.Equal(t, 1, exit.ExitCode(), "exit status; output:\n%s", stderr.String())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		require.FailNowf(t, "peakend run kept going with an untrusted broker certificate", "after 60s; output:\n%s", tail(stderr.String(), 20))
	}
	var errLines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.Contains(l, "level=ERROR") || strings.HasPrefix(l, "peakend:") {
			errLines = append(errLines, l)
		}
	}
	t.Logf("untrusted broker certificate: %s", strings.Join(errLines, " | "))
	require.Len(t, errLines, 1, "one error line; output:\n%s", stderr.String())
	require.Contains(t, errLines[0], "certificate")
}
