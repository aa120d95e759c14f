//go:build integration

package integration

import (
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/internal/testkit"
)

// TestBrokerRestart restarts the broker (kafka.sh restart: SIGTERM, then a
// new JVM on the same data) while events flow: /readyz reports not-ready
// during the outage, peakend reconnects by itself, and the alert set equals
// replay's (nothing lost; repeats counted and reported, at-least-once).
func TestBrokerRestart(t *testing.T) {
	bs := brokers(t)
	kafkaSh, port := os.Getenv(envKafkaSh), os.Getenv(envKafkaPort)
	if kafkaSh == "" || port == "" {
		t.Skipf("%s and %s are not set: this test restarts the broker through kafka.sh", envKafkaSh, envKafkaPort)
	}
	n := newNames(t, "d")
	createTopics(t, bs, 4, n.Experiences)
	cfgPath, cfg := writeConfig(t, bs, n, "")

	const events, customers = 40_000, 300
	recs := testkit.Generate(events, customers, 31, time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), 10*time.Second)
	wait := feed(t, bs, n.Experiences, recs, 500, 25*time.Millisecond)
	p := startPeakend(t, cfgPath)
	waitMetric(t, p, time.Minute, 5_000, "peakend_events_total", "result", "processed")
	testkit.Eventually(t, 30*time.Second, "/readyz 200 before the outage", func() bool { return readyz(p) == http.StatusOK })

	// Watch /readyz through the outage.
	var notReady atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if readyz(p) == http.StatusServiceUnavailable {
				notReady.Add(1)
			}
		}
	})
	began := time.Now()
	out, err := exec.Command(kafkaSh, "restart", "--port", port).CombinedOutput()
	require.NoError(t, err, "kafka.sh restart: %s", out)
	t.Logf("broker restarted in %s: %s", time.Since(began), out)
	testkit.Eventually(t, 2*time.Minute, "/readyz 200 after the broker restart", func() bool { return readyz(p) == http.StatusOK })
	close(stop)
	wg.Wait()
	t.Logf("/readyz answered 503 %d times (every 50ms) during the outage; ready again %s after the restart began", notReady.Load(), time.Since(began))
	require.Positive(t, notReady.Load(), "/readyz never reported the outage")

	wait()
	waitMetric(t, p, 2*time.Minute, events, "peakend_events_total", "result", "processed")
	p.terminate(t, 10*time.Second)
	live, dup := readAlerts(t, bs, n.Alerts)
	t.Logf("%d alert records, %d repeated alert_ids", len(live), dup)
	want := testkit.Replay(t, cfg, recs)
	everyDetector(t, cfg, want)
	sameAlertSet(t, want, live)
}

// readyz returns the status of GET /readyz, or 0 if the request failed.
func readyz(p *peakend) int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + p.Addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
