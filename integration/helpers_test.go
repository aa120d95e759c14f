//go:build integration

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/testkit"
)

// The suite's environment, set by scripts/test-integration.sh.
const (
	envBrokers     = "PEAKEND_IT_BROKERS"      // PLAINTEXT listener, host:port
	envSASLBrokers = "PEAKEND_IT_SASL_BROKERS" // SASL_PLAINTEXT listener (kafka.sh --sasl)
	envKafkaSh     = "PEAKEND_IT_KAFKA_SH"     // path of deploy/kafka-local/kafka.sh, to restart the broker
	envKafkaPort   = "PEAKEND_IT_KAFKA_PORT"   // the broker's --port for kafka.sh
	envBin         = "PEAKEND_IT_BIN"          // a built peakend binary; built by TestMain if unset
)

// bin is the peakend binary under test.
var bin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		if os.Getenv(envBrokers) != "" {
			bin = os.Getenv(envBin)
			if bin == "" {
				dir, err := os.MkdirTemp("", "peakend-it-bin")
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
				defer os.RemoveAll(dir)
				bin = filepath.Join(dir, "peakend")
				out, err := exec.Command("go", "build", "-o", bin, "github.com/peakend/peakend/cmd/peakend").CombinedOutput()
				if err != nil {
					fmt.Fprintf(os.Stderr, "go build ./cmd/peakend: %v\n%s", err, out)
					return 1
				}
			}
		}
		return m.Run()
	}())
}

// brokers returns the real broker's address, or skips the test.
func brokers(t testing.TB) []string {
	t.Helper()
	b := os.Getenv(envBrokers)
	if b == "" {
		t.Skipf("%s is not set: these tests need a real Kafka broker (run `make test-integration`)", envBrokers)
	}
	return strings.Split(b, ",")
}

// names are one test's topics, group and state directory: unique, so that
// tests sharing the broker never see each other's records.
type names struct {
	Experiences, Alerts, DLQ, Feedback, Group, State string
	// ClientID is the instance's kafka.client_id (default peakend-it): the
	// prefix of its group member id, to tell instances of one group apart.
	ClientID string
}

var nonTopic = regexp.MustCompile(`[^a-z0-9]+`)

func newNames(t testing.TB, tag string) names {
	base := fmt.Sprintf("it-%s-%s-%x", nonTopic.ReplaceAllString(strings.ToLower(t.Name()), "-"), tag, rand.Uint32())
	return names{
		Experiences: base + "-experiences",
		Alerts:      base + "-alerts",
		DLQ:         base + "-dlq",
		Feedback:    base + "-feedback",
		Group:       base,
		State:       t.TempDir(),
	}
}

// createTopics creates topics with partitions partitions on the broker.
func createTopics(t testing.TB, brokers []string, partitions int32, topics ...string) {
	t.Helper()
	adm := kadm.NewClient(testkit.Client(t, brokers))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopics(ctx, partitions, 1, nil, topics...)
	require.NoError(t, err)
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			require.NoError(t, r.Err, "create topic %s", r.Topic)
		}
	}
}

// perCustomerDetectors are the default detectors whose results depend only
// on each customer's own history, as YAML: any partitioning gives the same
// alerts as one replay.
// The detectors list comes last, so that a test can append detectors to it.
const perCustomerDetectors = `
journeys: [delivery, support_call, checkout, playback]
alerting:
  cooldown: 6h
  sinks: [{type: kafka}]
detectors:
  - {name: late_delivery, type: threshold, journey: delivery, metric: delay_hours,
     minor: 24, major: 72, critical: 168}
  - {name: failed_checkout, type: threshold, journey: checkout, outcome: [failed]}
  - {name: worse_than_usual, type: baseline, journey: delivery, metric: delay_hours,
     factor: 3, min_history: 3, floor: 12}
  - {name: repeated_failures, type: repeat, outcome: [failed, dropped],
     minor: 2, major: 3, critical: 5, within: 24h}
`

// writeConfig writes a peakend configuration for n on brokers, with kafka
// holding extra lines for the kafka: section (indented two spaces), and
// returns its path and the configuration as peakend loads it.
func writeConfig(t testing.TB, brokers []string, n names, kafka string) (string, *config.Config) {
	t.Helper()
	return writeConfigWith(t, brokers, n, kafka, extraYAML{})
}

// extraYAML is configuration added to writeConfig's.
type extraYAML struct {
	Top       string // top-level sections (e.g. "events: {...}\n")
	Detectors string // entries appended to the detectors list ("  - {...}\n")
}

// writeConfigWith is writeConfig with extra sections and detectors.
func writeConfigWith(t testing.TB, brokers []string, n names, kafka string, extra extraYAML) (string, *config.Config) {
	t.Helper()
	q := func(s string) string { return strconv.Quote(s) }
	clientID := n.ClientID
	if clientID == "" {
		clientID = "peakend-it"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "kafka:\n  brokers: [%s]\n  group: %s\n  client_id: %s\n", strings.Join(brokers, ", "), q(n.Group), q(clientID))
	fmt.Fprintf(&b, "  topics: {experiences: %s, complaints: \"-\", feedback: %s, alerts: %s, dlq: %s}\n",
		q(n.Experiences), q(n.Feedback), q(n.Alerts), q(n.DLQ))
	b.WriteString("  partitions: 4\n  replication: 1\n  session_timeout: 6s\n")
	b.WriteString(kafka)
	fmt.Fprintf(&b, "state: {dir: %s}\nhttp: {listen: \"127.0.0.1:0\"}\n", q(n.State))
	// The customer view needs a signed-in user: the test is a trusted proxy
	// on this machine (httpGet names the user); the desk itself stays off.
	if !strings.Contains(extra.Top, "desk:") {
		fmt.Fprintf(&b, "desk: {enabled: false, proxy: {header: %s, trusted: [127.0.0.1]}}\n", testUserHeader)
	}
	b.WriteString(extra.Top)
	b.WriteString(perCustomerDetectors)
	b.WriteString(extra.Detectors)
	path := filepath.Join(t.TempDir(), "peakend.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	cfg, err := config.Load(path)
	require.NoError(t, err, "the test's configuration:\n%s", b.String())
	return path, cfg
}

// peakend is a `peakend run` process.
type peakend struct {
	cmd    *exec.Cmd
	Addr   string // its HTTP address
	stderr *testkit.SyncBuffer
	done   chan struct{}
	err    error // from Wait, once done is closed
}

var listening = regexp.MustCompile(`msg="http listening" addr=(\S+)`)

// startPeakend runs `peakend run --config cfgPath` and returns once its HTTP
// server listens. The process is killed if it still runs when the test ends.
func startPeakend(t testing.TB, cfgPath string, env ...string) *peakend {
	t.Helper()
	p := &peakend{stderr: &testkit.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "run", "--config", cfgPath)
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = p.stderr
	p.cmd.Env = append(os.Environ(), env...)
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			// The whole log to a file (a tail is often not enough to see
			// why), the tail in the test's output.
			dir := filepath.Join(os.TempDir(), "peakend-it-logs")
			file := filepath.Join(dir, fmt.Sprintf("%s-%d.log", strings.ReplaceAll(t.Name(), "/", "_"), p.cmd.Process.Pid))
			if os.MkdirAll(dir, 0o755) != nil || os.WriteFile(file, []byte(p.stderr.String()), 0o644) != nil {
				file = "(not saved)"
			}
			t.Logf("peakend (pid %d) log, whole in %s:\n%s", p.cmd.Process.Pid, file, tail(p.stderr.String(), 40))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := listening.FindStringSubmatch(p.stderr.String()); m != nil {
			p.Addr = m[1]
			return p
		}
		if p.exited() {
			require.FailNowf(t, "peakend exited before listening", "%v\n%s", p.err, p.stderr.String())
		}
		if time.Now().After(deadline) {
			require.FailNowf(t, "peakend did not start listening within 30s", "%s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *peakend) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to die.
func (p *peakend) kill(t testing.TB) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
}

// terminate sends SIGTERM and requires a zero exit within `within`; it
// returns how long the process took.
func (p *peakend) terminate(t testing.TB, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(within):
		require.FailNowf(t, "peakend did not exit after SIGTERM", "within %s; log:\n%s", within, tail(p.stderr.String(), 30))
	}
	took := time.Since(start)
	require.NoError(t, p.err, "peakend's exit after SIGTERM; log:\n%s", tail(p.stderr.String(), 30))
	return took
}

// metric scrapes one series sum from the process's /metrics (0 if absent or
// if the scrape fails: the process may be starting or dying).
func (p *peakend) metric(name string, labels ...string) float64 {
	body, err := httpGet(p.Addr, "/metrics")
	if err != nil {
		return 0
	}
	v, _ := testkit.Metric(body, name, labels...)
	return v
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// alertIDs reads the alerts topic to its end and returns its alerts and the
// number of alert_ids that appear more than once.
func readAlerts(t testing.TB, brokers []string, topic string) ([]*alerts.Alert, int) {
	t.Helper()
	as := testkit.Alerts(t, testkit.ReadTopic(t, brokers, topic))
	_, dup := testkit.ByID(as)
	return as, dup
}

// readJSONL decodes alerts written by `peakend replay --out`.
func readJSONL(t testing.TB, path string) []*alerts.Alert {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []*alerts.Alert
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		a := new(alerts.Alert)
		require.NoError(t, json.Unmarshal(sc.Bytes(), a))
		out = append(out, a)
	}
	require.NoError(t, sc.Err())
	return out
}

// sameAlertSet requires got to hold exactly want's alert_ids (repeats in got
// allowed: at-least-once), each alert equal in every field but detected_at.
func sameAlertSet(t testing.TB, want, got []*alerts.Alert) {
	t.Helper()
	wantByID, dup := testkit.ByID(want)
	require.Zero(t, dup, "the reference repeated an alert_id")
	gotByID, _ := testkit.ByID(got)
	var missing, extra []string
	for id := range wantByID {
		if gotByID[id] == nil {
			missing = append(missing, id)
		}
	}
	for id := range gotByID {
		if wantByID[id] == nil {
			extra = append(extra, id)
		}
	}
	require.Empty(t, append(missing, extra...), "alert_id sets differ: %d of the reference's %d alerts missing, %d alerts not in the reference",
		len(missing), len(wantByID), len(extra))
	for id, w := range wantByID {
		g, w := *gotByID[id], *w
		g.DetectedAt, w.DetectedAt = time.Time{}, time.Time{}
		require.Equal(t, w, g, "alert %s", id)
	}
}

// everyDetector requires alerts of every configured detector, so that a
// comparison cannot pass vacuously.
func everyDetector(t testing.TB, cfg *config.Config, as []*alerts.Alert) {
	t.Helper()
	n := map[string]int{}
	for _, a := range as {
		n[a.Detector]++
	}
	t.Logf("alerts by detector: %v", n)
	for _, d := range cfg.Detectors {
		require.Positive(t, n[d.Name], "no alert of detector %s: the test would pass vacuously", d.Name)
	}
}

// waitMetric waits until the process's metric reaches at least min. On
// timeout it reports the last value seen and makes the process dump its
// goroutines (SIGQUIT), so that a stall shows where it stopped.
func waitMetric(t testing.TB, p *peakend, timeout time.Duration, min float64, name string, labels ...string) {
	t.Helper()
	var last float64
	var lastErr error
	var lastBody []byte
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		body, err := httpGet(p.Addr, "/metrics")
		if err != nil {
			lastErr = err
			continue
		}
		lastBody = body
		if last, _ = testkit.Metric(body, name, labels...); last >= min {
			return
		}
	}
	var series []string
	for _, l := range strings.Split(string(lastBody), "\n") {
		if strings.HasPrefix(l, "peakend_") && !strings.HasPrefix(l, "peakend_pebble") && !strings.Contains(l, "_bucket") {
			series = append(series, l)
		}
	}
	t.Logf("peakend's metrics at the timeout:\n%s", strings.Join(series, "\n"))
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
	// The log first, then the dump of peakend's own goroutines (the runtime
	// and library goroutines would push the log out of any tail).
	logs, dump, _ := strings.Cut(p.stderr.String(), "SIGQUIT: quit")
	var ours []string
	for _, g := range strings.Split(dump, "\n\n") {
		if strings.Contains(g, "peakend/peakend") {
			ours = append(ours, g)
		}
	}
	require.FailNowf(t, "timed out", "waiting %s for %s%v >= %v: last value %v (last scrape error: %v); the process's log:\n%s\npeakend's goroutines:\n%s",
		timeout, name, labels, min, last, lastErr, tail(logs, 80), strings.Join(ours, "\n\n"))
}

// httpGet fetches http://addr+path; an error for a failed request or a
// status other than 200.
// testUserHeader names the user to peakend, as a trusted proxy would.
const testUserHeader = "X-Peakend-Test-User"

func httpGet(addr, path string) ([]byte, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(testUserHeader, "it-tester")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return b, nil
}

var partitionReady = regexp.MustCompile(`msg="partition ready" topic=\S+ partition=(\d+) offset=(-?\d+)`)

// resumedOffsets waits until the process has opened n partitions and returns
// the offset each resumes from, as its "partition ready" log lines say (-1:
// its state had none).
func resumedOffsets(t testing.TB, p *peakend, n int, timeout time.Duration) map[int32]int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := map[int32]int64{}
		for _, m := range partitionReady.FindAllStringSubmatch(p.stderr.String(), -1) {
			part, _ := strconv.ParseInt(m[1], 10, 32)
			off, _ := strconv.ParseInt(m[2], 10, 64)
			out[int32(part)] = off
		}
		if len(out) >= n {
			return out
		}
		if p.exited() || time.Now().After(deadline) {
			require.FailNowf(t, "partitions not ready", "%d of %d partitions ready within %s; log:\n%s",
				len(out), n, timeout, tail(p.stderr.String(), 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
