package demo

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/internal/human"
)

// orderAlert is what a reader checks in a broken_promise or running_late
// alert: the contract's JSON fields.
type orderAlert struct {
	Detector   string    `json:"detector"`
	Reason     string    `json:"reason"`
	EventTime  time.Time `json:"event_time"`
	DetectedAt time.Time `json:"detected_at"`
	Evidence   []struct {
		Time       time.Time         `json:"time"`
		Outcome    string            `json:"outcome"`
		Attributes map[string]string `json:"attributes"`
	} `json:"evidence"`
}

// evidence returns the evidence event with this outcome, if the
// customer's window still holds it.
func (a *orderAlert) evidence(outcome string) (time.Time, map[string]string, bool) {
	for _, e := range a.Evidence {
		if e.Outcome == outcome {
			return e.Time, e.Attributes, true
		}
	}
	return time.Time{}, nil, false
}

// parseHuman reads a duration as human.Duration writes it ("15 seconds",
// "2.1 minutes") and returns it with the rounding it may carry.
func parseHuman(t *testing.T, s string) (d, tolerance time.Duration) {
	num, unit, ok := strings.Cut(s, " ")
	require.True(t, ok, "duration %q", s)
	v, err := strconv.ParseFloat(num, 64)
	require.NoError(t, err, "duration %q", s)
	units := map[string]time.Duration{"ms": time.Millisecond, "seconds": time.Second, "minutes": time.Minute,
		"hours": time.Hour, "days": 24 * time.Hour}
	u, ok := units[unit]
	require.True(t, ok, "unit of %q", s)
	tol := u / 20 // one decimal
	if v >= 100 {
		tol = u / 2
	}
	return time.Duration(v * float64(u)), tol + time.Second
}

var (
	promiseReason = regexp.MustCompile(`^Delivery promised by (.+) has not arrived \(order (\S+)\) — (.+) past the promise( \(.*\))?$`)
	overdueReason = regexp.MustCompile(`^Delivery shipped (.+) ago and not delivered yet \(order (\S+)\) — `)
)

// TestDemoOrderAlertsTellTheTime runs the demo's traffic (history burst,
// then live ticks) through the demo's pipeline in process, on a simulated
// clock, and reads the order alerts as a frontline person would: a broken
// promise says when it was promised and how long ago, and that must agree
// with when it is detected (the time the demo prints); a running-late
// prediction says how long ago the order shipped. Broken promises show up
// within the demo's first minute and a half, as they break, not an hour
// after the fact, and overdue predicts before the promise breaks.
func TestDemoOrderAlertsTellTheTime(t *testing.T) {
	const run = 5 * time.Minute
	sim := simulate(t, Options{Rate: 200, Customers: 5000, Seed: 1}, run)
	start := sim.start
	var got []orderAlert
	for _, a := range append(sim.warm, sim.live...) {
		if a.Detector != "broken_promise" && a.Detector != "running_late" {
			continue
		}
		b, err := json.Marshal(a)
		require.NoError(t, err)
		var oa orderAlert
		require.NoError(t, json.Unmarshal(b, &oa))
		got = append(got, oa)
	}
	cfg := demoConfig()

	grace, lateness := 10*time.Second, cfg.Events.AllowedLateness.D()
	for _, d := range cfg.Detectors {
		if d.Name == "broken_promise" {
			grace = d.Grace.D()
		}
	}
	// A reason speaks of the event time its timer fell due at; the alert
	// is printed at detected_at (processing time), up to the allowed
	// lateness (and a fetch) later. For a reader the two must agree:
	// "15 seconds past the promise" printed 15 to 16 seconds after it.
	agrees := func(reason string, detected time.Time, actual, stated, rounding time.Duration) {
		t.Helper()
		require.True(t, actual >= stated-rounding && actual <= stated+rounding+lateness+100*time.Millisecond,
			"%q printed at %s, %s after the time it speaks of", reason, detected.Format(time.TimeOnly), actual)
	}
	predictedAt := map[string]time.Time{} // order → the first running_late's detected_at
	for _, a := range got {
		if m := overdueReason.FindStringSubmatch(a.Reason); m != nil && a.Detector == "running_late" {
			if p, ok := predictedAt[m[2]]; !ok || a.DetectedAt.Before(p) {
				predictedAt[m[2]] = a.DetectedAt
			}
		}
	}
	var broken, predicted, both, noEvidence int
	var firstBroken time.Duration
	for _, a := range got {
		require.False(t, a.DetectedAt.Before(start) || a.DetectedAt.After(start.Add(run)),
			"detected_at %s is on the demo's clock, %s to %s: %s", a.DetectedAt, start, start.Add(run), a.Reason)
		if len(a.Evidence) == 0 {
			noEvidence++ // the journey's events left the customer's window (a busy customer)
		}
		switch a.Detector {
		case "running_late":
			m := overdueReason.FindStringSubmatch(a.Reason)
			require.NotNil(t, m, "running_late reason: %q", a.Reason)
			shipped := a.EventTime // the journey's start
			if at, _, ok := a.evidence("shipped"); ok {
				require.Equal(t, at, shipped, "event_time is the shipping")
			}
			ago, tol := parseHuman(t, m[1])
			agrees(a.Reason, a.DetectedAt, a.DetectedAt.Sub(shipped), ago, tol)
			predicted++
		case "broken_promise":
			m := promiseReason.FindStringSubmatch(a.Reason)
			require.NotNil(t, m, "broken_promise reason: %q", a.Reason)
			// The demo promises delivery promiseIn after the order (event_time).
			promised := a.EventTime.Add(promiseIn)
			if _, attrs, ok := a.evidence("promised"); ok {
				require.Equal(t, promised.Format(time.RFC3339Nano), attrs["promised_by"])
				require.Equal(t, attrs["order_id"], m[2])
			}
			require.Equal(t, human.Time(promised), m[1], "the promise as the reason says it")
			late, tol := parseHuman(t, m[3])
			actual := a.DetectedAt.Sub(promised)
			agrees(a.Reason, a.DetectedAt, actual, late, tol)
			require.LessOrEqual(t, actual, grace+lateness+time.Second,
				"reported as the promise breaks (grace %s, allowed lateness %s): %q at %s", grace, lateness, a.Reason,
				a.DetectedAt.Format(time.TimeOnly))
			if p, ok := predictedAt[m[2]]; ok {
				require.True(t, p.Before(a.DetectedAt), "overdue predicted order %s before its promise broke", m[2])
				both++
			}
			if broken == 0 {
				firstBroken = a.DetectedAt.Sub(start)
			}
			broken++
		}
	}
	t.Logf("%d broken promises, the first %s after the start; %d running-late predictions, %d of them for promises that broke later",
		broken, firstBroken, predicted, both)
	t.Logf("%d of the %d alerts have no evidence left in the customer's window", noEvidence, len(got))
	require.NotZero(t, broken, "broken promises in the demo's first %s", run)
	require.Less(t, firstBroken, 90*time.Second, "the first broken promise, after the start")
	require.NotZero(t, predicted, "running-late predictions in the demo's first %s", run)
	require.NotZero(t, both, "broken promises that overdue predicted")
}
