package stream_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/internal/testkit"
)

// TestCycleStageSeconds: an operator reading peakend_cycle_stage_seconds
// finds every stage of every cycle that wrote something, at-least-once
// and exactly-once: process, produce, commit, apply and deliver counted
// once per committed cycle (as many as peakend_cycle_seconds), and the
// polls that brought records.
func TestCycleStageSeconds(t *testing.T) {
	for _, eos := range []bool{false, true} {
		t.Run(map[bool]string{false: "at_least_once", true: "exactly_once"}[eos], func(t *testing.T) {
			t.Parallel()
			_, brokers := testkit.FakeCluster(t)
			var cfg *config.Config
			if eos {
				cfg = testEOSConfig(t, brokers)
			} else {
				cfg = testkit.Config(t, brokers)
			}
			cfg.HTTP.Listen = "127.0.0.1:0"
			testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences,
				testkit.Generate(3_000, customers, seed+21, start, 10*time.Second))
			const n = 3_000
			testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences,
				testkit.Generate(n, customers, seed+21, start, 10*time.Second))
			a := testkit.StartApp(t, app.Options{Config: cfg})
			defer a.Stop(t, 10*time.Second)
			// Every event processed, and no cycle half-way through its
			// stages when /metrics is read.
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				_, body := testkit.Get(t, a.Addr, "/metrics")
				done, _ := testkit.Metric(body, "peakend_events_total")
				require.GreaterOrEqual(c, done, float64(n), "events processed")
				cycles, _ := testkit.Metric(body, "peakend_cycle_seconds_count")
				require.Positive(c, cycles, "peakend_cycle_seconds_count")
				for _, stage := range metrics.StageNames {
					got, found := testkit.Metric(body, "peakend_cycle_stage_seconds_count", "stage", stage)
					require.True(c, found, "peakend_cycle_stage_seconds{stage=%q} is not exported", stage)
					if stage == "poll" {
						require.Positive(c, got, "polls with records timed")
						continue
					}
					require.Equal(c, cycles, got, "cycles timed in stage %q", stage)
				}
			}, 60*time.Second, 50*time.Millisecond)
		})
	}
}
