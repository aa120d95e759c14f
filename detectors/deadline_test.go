package detectors_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/detectors"
	"github.com/peakend/peakend/event"
)

func timedDetector(t *testing.T, yml string) detectors.Timed {
	t.Helper()
	var cfg config.Config
	require.NoError(t, yaml.Unmarshal([]byte(yml), &cfg.Detectors))
	cfg.ApplyDefaults()
	dets, err := detectors.New(&cfg)
	require.NoError(t, err)
	d, ok := dets[0].(detectors.Timed)
	require.True(t, ok)
	return d
}

// A deadline falls due at the promise plus grace, not before and not at
// twice the grace; the alert is detected then and says how late the
// promise is at that time (the grace).
func TestDeadlineFallsDueAtPromisePlusGrace(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	promise := time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, yml string
		attrs     []event.Attr
		deadline  time.Time
		grace     time.Duration
		past      string
	}{
		{"promised_by + 2h", `[{name: broken_promise, type: deadline, journey: delivery, start: {outcome: promised},
			deadline_attribute: promised_by, grace: 2h, until: {outcome: delivered}}]`,
			[]event.Attr{{Key: "order_id", Value: "o1"}, {Key: "promised_by", Value: promise.Format(time.RFC3339)}},
			promise, 2 * time.Hour, " — 2 hours past the promise"},
		{"after 48h + 30m", `[{name: slow_refund, type: deadline, journey: delivery, start: {outcome: promised},
			after: 48h, grace: 30m, until: {outcome: delivered}}]`,
			[]event.Attr{{Key: "order_id", Value: "o1"}},
			start.Add(48 * time.Hour), 30 * time.Minute, " — 30 minutes past the promise"},
		{"no grace", `[{name: broken_promise, type: deadline, journey: delivery, start: {outcome: promised},
			deadline_attribute: promised_by, until: {outcome: delivered}}]`,
			[]event.Attr{{Key: "order_id", Value: "o1"}, {Key: "promised_by", Value: promise.Format(time.RFC3339)}},
			promise, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := timedDetector(t, tc.yml)
			ev := &event.Event{EventID: "p1", CustomerID: "ann", Time: start.UnixNano(), Journey: "delivery",
				Outcome: "promised", Attrs: tc.attrs}
			isStart, _, key := d.Match(ev)
			require.True(t, isStart)
			require.Equal(t, "o1", key)
			j, ok := d.Arm(ev, nil)
			require.True(t, ok)
			require.Equal(t, tc.deadline.UnixNano(), j.Deadline, "the promise")
			due := tc.deadline.Add(tc.grace)
			require.Equal(t, due.UnixNano(), j.Due, "due at the promise + grace")

			f, at, fire := d.Due(&j, key, due.UnixNano(), 0, nil)
			require.True(t, fire)
			require.Equal(t, due.UnixNano(), at, "detected at the promise + grace")
			require.Equal(t, alerts.Major, f.Severity)
			require.Contains(t, f.Reason, "has not arrived (order o1)"+tc.past)
			require.Zero(t, j.Due, "fires once")
		})
	}
}
