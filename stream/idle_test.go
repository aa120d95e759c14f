package stream_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/testkit"
)

// A promise on a partition that then goes idle is reported broken once the
// idle timeout moves the watermark past it: with exactly_once on as well as
// off (under exactly-once an empty poll once skipped the idle tick).
func TestIdlePartitionTimersFire(t *testing.T) {
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprint("eos=", eos), func(t *testing.T) {
			_, brokers := testkit.FakeCluster(t)
			cfg := testkit.Config(t, brokers, "broken_promise")
			cfg.Kafka.ExactlyOnce = eos
			cfg.Events.IdleTimeout = config.Duration(time.Second)
			cfg.Events.AllowedLateness = config.Duration(time.Second)
			for i := range cfg.Detectors {
				cfg.Detectors[i].Grace = config.Duration(time.Second)
			}
			opts := testkit.FastCommits()
			if eos {
				opts = testkit.EOSClientOpts()
			}
			cfg.HTTP.Listen = "127.0.0.1:0"
			a := testkit.StartApp(t, app.Options{Config: cfg, ClientOpts: opts})
			testkit.Eventually(t, 30*time.Second, "ready", func() bool { c, _ := testkit.Get(t, a.Addr, "/readyz"); return c == 200 })
			T := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
			v := fmt.Sprintf(`{"event_id":"e1","customer_id":"c1","time":%q,"journey":"delivery","outcome":"promised","metrics":{"delay_hours":0},"attributes":{"order_id":"o1","promised_by":%q}}`,
				T.Format(time.RFC3339Nano), T.Add(time.Second).Format(time.RFC3339Nano))
			testkit.Produce(t, testkit.Client(t, brokers), "experiences", []testkit.Record{{Key: []byte("c1"), Value: []byte(v)}})
			deadline := time.Now().Add(20 * time.Second)
			var n int
			for time.Now().Before(deadline) {
				n = len(testkit.ReadCommitted(t, brokers, cfg.Kafka.Topics.Alerts))
				if n > 0 {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
			a.Stop(t, 10*time.Second)
			require.Equal(t, 1, n, "alerts after 20 s idle")
		})
	}
}
