package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/state"
)

var (
	journeys  = []string{"delivery", "support_call", "checkout", "playback"}
	detectors = []string{"late_delivery", "rare_wait", "repeated_failures"}
)

// exercise gives every metric a sample, so that vectors are gathered too.
func exercise(m *metrics.Metrics) {
	m.Events.WithLabelValues("delivery", metrics.Processed).Inc()
	m.Alerts.WithLabelValues("late_delivery", "major").Inc()
	m.AlertsSuppressed.WithLabelValues("late_delivery").Inc()
	m.Deliveries.WithLabelValues("kafka", "delivered").Inc()
	m.OutboxBacklog.WithLabelValues("slack").Set(3)
	m.OutboxOldest.WithLabelValues("slack").Set(12.5)
	m.EventLag.Observe(0.3)
	m.DetectLatency.Observe(0.002)
	m.ConsumerLag.WithLabelValues("experiences", "0").Set(10)
	m.Customers.Set(5)
	m.Complaints.Inc()
	m.FlaggedBefore.Inc()
	m.Ready.Set(1)
	m.Partitions.Set(4)
	m.CycleSeconds.Observe(0.01)
	at := time.Now()
	m.Lap(metrics.StageProduce, &at)
	m.Restored.Add(2)
}

func memStore(t *testing.T) *state.Store {
	t.Helper()
	s, err := state.Open(state.Options{FS: vfs.NewMem(), CacheBytes: 1 << 20, MemtableBytes: 1 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	b := s.NewBatch(0)
	defer b.Close()
	c := state.Customer{ID: "c", Seq: 1}
	require.NoError(t, b.PutCustomer(&c))
	require.NoError(t, b.PutExperience("c", 1, 50, state.AppendExperience(nil, 1, &event.Event{Time: 1, Journey: "delivery"})))
	require.NoError(t, b.Commit(true))
	require.NoError(t, s.DB().Flush())
	return s
}

// gatherAndLint is testutil.GatherAndLint (testutil itself needs a module
// that go.mod does not list).
func gatherAndLint(g prometheus.Gatherer) ([]promlint.Problem, error) {
	mfs, err := g.Gather()
	if err != nil {
		return nil, err
	}
	return promlint.NewWithMetricFamilies(mfs).Lint()
}

func TestLint(t *testing.T) {
	m := metrics.New(journeys, detectors)
	problems, err := gatherAndLint(m.Registry)
	require.NoError(t, err)
	require.Empty(t, problems)

	exercise(m)
	problems, err = gatherAndLint(m.Registry)
	require.NoError(t, err)
	require.Empty(t, problems)

	m.Register(metrics.NewPebbleCollector(memStore(t).Metrics))
	problems, err = gatherAndLint(m.Registry)
	require.NoError(t, err)
	require.Empty(t, problems)
}

func TestNoCustomerLabels(t *testing.T) {
	m := metrics.New(journeys, detectors)
	exercise(m)
	m.Register(metrics.NewPebbleCollector(memStore(t).Metrics))
	mfs, err := m.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		name := mf.GetName()
		require.True(t, strings.HasPrefix(name, "peakend_") || strings.HasPrefix(name, "go_"), "namespace: %s", name)
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				n := strings.ToLower(l.GetName())
				require.NotContains(t, n, "customer", "%s has label %s", name, l.GetName())
				require.NotContains(t, n, "cust", "%s has label %s", name, l.GetName())
				require.NotEqual(t, "id", n, "%s has label %s", name, l.GetName())
				require.NotEqual(t, "user", n, "%s has label %s", name, l.GetName())
			}
		}
	}
}

func TestContractMetrics(t *testing.T) {
	m := metrics.New(journeys, detectors)
	m.Register(metrics.NewPebbleCollector(memStore(t).Metrics))
	exercise(m) // sinks are not known to New: deliveries appear with the first one
	gathered, err := m.Registry.Gather()
	require.NoError(t, err)
	mfs := map[string]int{}
	for i, mf := range gathered {
		mfs[mf.GetName()] = i
	}
	for name, typ := range map[string]string{
		"peakend_events_total":                    "COUNTER",
		"peakend_alerts_total":                    "COUNTER",
		"peakend_alert_deliveries_total":          "COUNTER",
		"peakend_event_lag_seconds":               "HISTOGRAM",
		"peakend_detect_latency_seconds":          "HISTOGRAM",
		"peakend_state_customers":                 "GAUGE",
		"peakend_complaints_total":                "COUNTER",
		"peakend_complaints_flagged_before_total": "COUNTER",
		"peakend_pebble_disk_bytes":               "GAUGE",
		"peakend_pebble_compactions_total":        "COUNTER",
		"peakend_pebble_read_amplification":       "GAUGE",
	} {
		i, ok := mfs[name]
		require.True(t, ok, "missing %s", name)
		require.Equal(t, typ, gathered[i].GetType().String(), name)
	}
	// Series exist at zero before the first event: every journey (and
	// "other") with every result, every detector with every severity.
	events := gathered[mfs["peakend_events_total"]]
	require.Len(t, events.GetMetric(), (len(journeys)+1)*4)
	results := map[string]bool{}
	for _, s := range events.GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == "result" {
				results[l.GetValue()] = true
			}
		}
	}
	require.Equal(t, map[string]bool{"processed": true, "invalid": true, "duplicate": true, "late": true}, results)
	require.Len(t, gathered[mfs["peakend_alerts_total"]].GetMetric(), len(detectors)*3)
	require.Positive(t, gathered[mfs["peakend_pebble_disk_bytes"]].GetMetric()[0].GetGauge().GetValue())
}

func TestNilMetricsRegister(t *testing.T) {
	var m *metrics.Metrics
	require.NotPanics(t, func() { m.Register(metrics.NewPebbleCollector(nil)) })
}
