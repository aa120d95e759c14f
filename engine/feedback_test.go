package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/internal/metrics"
)

// feedback processes one feedback record at the next offset.
func (h *harness) feedback(v string) {
	h.t.Helper()
	require.NoError(h.t, h.pt.Feedback(&engine.Record{Topic: "peakend-feedback", Offset: h.off, Value: []byte(v)}))
	h.off++
}

func outcome(alert, cust string, at time.Time, action, outcome string) string {
	o := ""
	if outcome != "" {
		o = fmt.Sprintf(`,"outcome":%q`, outcome)
	}
	return fmt.Sprintf(`{"alert_id":%q,"customer_id":%q,"time":%q,"action":%q%s}`, alert, cust, at.Format(time.RFC3339Nano), action, o)
}

// Staff recovered customer c; c's next alert within the lookback says so,
// one after the lookback does not, and a claim, another outcome or a
// malformed record change nothing.
func TestRecoveredBefore(t *testing.T) {
	cfg := noPeakEnd(testConfig(t, "late_delivery"))
	cfg.Alerting.Cooldown = 0
	lookback := cfg.Alerting.Lookback.D()
	m := metrics.New(engine.MetricJourneys(cfg), nil)
	store := memStore(t, vfs.NewMem())
	eng, err := engine.New(cfg, store, engine.Options{Metrics: m})
	require.NoError(t, err)
	pt, err := eng.OpenPartition(0)
	require.NoError(t, err)
	h := &harness{t: t, cfg: cfg, store: store, eng: eng, pt: pt}
	t.Cleanup(func() { _ = pt.Close() })

	first := map[string]string{} // customer → their first alert's id
	for _, c := range []string{"rec", "claimed", "declined"} {
		h.send(delivery(c+"0", c, t0, 100))
	}
	for _, a := range h.commit() {
		first[a.CustomerID] = a.AlertID
	}
	require.Len(t, first, 3)
	at := t0.Add(time.Hour)
	h.feedback(outcome(first["rec"], "rec", at, "outcome", "recovered"))
	h.feedback(`{"action":"outcome","outcome":"recovered"}`) // malformed: skipped
	h.feedback(outcome(first["claimed"], "claimed", at, "claim", ""))
	h.feedback(outcome(first["declined"], "declined", at, "outcome", "declined"))
	h.feedback(outcome(first["rec"], "stranger", at, "outcome", "recovered"))                      // not the stranger's alert
	h.feedback(outcome(first["declined"], "declined", t0.Add(-time.Hour), "outcome", "recovered")) // before the alert
	fbNext := h.off                                                                                // the next feedback offset
	h.commit()                                                                                     // the mark is in the committed header, read back below
	h.send(delivery("e1", "rec", at.Add(time.Hour), 100))
	h.send(delivery("e2", "claimed", at.Add(time.Hour), 100))
	h.send(delivery("e3", "declined", at.Add(time.Hour), 100))
	h.send(delivery("e4", "rec", at.Add(-time.Minute), 100)) // before the recovery: not "before"
	h.send(delivery("e5", "rec", at.Add(lookback+time.Hour), 100))
	got := h.commit()
	require.Len(t, got, 5)
	for i, want := range []bool{true, false, false, false, false} {
		require.Equal(t, want, got[i].RecoveredBefore, "alert %d (%s)", i, got[i].CustomerID)
	}
	require.Empty(t, pt.Output().Dead, "malformed feedback is the desk's to send to the DLQ")
	_, stored := h.view("stranger")
	require.False(t, stored, "feedback for an unknown alert leaves no trace in state")
	require.Equal(t, 1.0, metricValue(t, m.FeedbackRead.WithLabelValues("recovered")))
	require.Equal(t, 2.0, metricValue(t, m.FeedbackRead.WithLabelValues("unknown")))
	require.Equal(t, 2.0, metricValue(t, m.FeedbackRead.WithLabelValues("other")))
	require.Equal(t, 1.0, metricValue(t, m.FeedbackRead.WithLabelValues("malformed")))
	// The feedback topic's offset is kept with the state, like the other inputs'.
	next, err := store.Offset(0, "peakend-feedback")
	require.NoError(t, err)
	require.Equal(t, fbNext, next)
}

// A complaint from a customer flagged twice within the lookback is
// observed with the lead time from the first of those alerts.
func TestComplaintLeadTime(t *testing.T) {
	cfg := noPeakEnd(testConfig(t, "late_delivery"))
	cfg.Alerting.Cooldown = 0
	m := metrics.New(engine.MetricJourneys(cfg), nil)
	eng, err := engine.New(cfg, memStore(t, vfs.NewMem()), engine.Options{Metrics: m})
	require.NoError(t, err)
	pt, err := eng.OpenPartition(0)
	require.NoError(t, err)
	h := &harness{t: t, cfg: cfg, eng: eng, pt: pt}
	t.Cleanup(func() { _ = pt.Close() })
	h.send(delivery("e1", "c", t0, 100))
	h.send(delivery("e2", "c", t0.Add(2*time.Hour), 100))
	h.send(delivery("e3", "quiet", t0, 0))
	require.Len(t, h.commit(), 2)
	h.complaint("c", t0.Add(26*time.Hour))
	h.complaint("quiet", t0.Add(26*time.Hour)) // not flagged: not observed
	h.commit()
	require.Equal(t, 2.0, metricValue(t, m.Complaints))
	require.Equal(t, 1.0, metricValue(t, m.FlaggedBefore))
	var d dto.Metric
	require.NoError(t, m.ComplaintLead.(prometheus.Metric).Write(&d))
	require.Equal(t, uint64(1), d.Histogram.GetSampleCount())
	require.Equal(t, float64(26*3600), d.Histogram.GetSampleSum(), "from the first alert within the lookback, not the second")
	for _, b := range d.Histogram.Bucket {
		want := uint64(0)
		if b.GetUpperBound() >= 26*3600 {
			want = 1
		}
		require.Equal(t, want, b.GetCumulativeCount(), "bucket le=%v", b.GetUpperBound())
	}
}

func metricValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	require.NoError(t, c.Write(&d))
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
