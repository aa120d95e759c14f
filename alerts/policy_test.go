package alerts_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/state"
)

const hour = int64(time.Hour)

func policy(cooldown, lookback time.Duration) *alerts.Policy {
	a := config.Default().Alerting
	a.Cooldown = config.Duration(cooldown)
	a.Lookback = config.Duration(lookback)
	return alerts.NewPolicy(a, "http://localhost:8080")
}

func TestDecide(t *testing.T) {
	const t0 = 1_000_000 * hour
	inCooldown := func(sev alerts.Severity, at int64) *state.Customer {
		return &state.Customer{ID: "c", Cooldown: state.AlertRef{ID: "a1", Detector: "d", Severity: uint8(sev), Time: at}}
	}
	for _, tc := range []struct {
		name     string
		cooldown time.Duration
		c        *state.Customer
		sev      alerts.Severity
		now      int64
		want     alerts.Decision
	}{
		{"first alert fires", 72 * time.Hour, &state.Customer{ID: "c"}, alerts.Minor, t0, alerts.Fire},
		{"first alert at time zero fires", 72 * time.Hour, &state.Customer{ID: "c"}, alerts.Minor, 0, alerts.Fire},
		{"same severity inside cooldown", 72 * time.Hour, inCooldown(alerts.Major, t0), alerts.Major, t0 + hour, alerts.Suppressed},
		{"same severity at the same time", 72 * time.Hour, inCooldown(alerts.Major, t0), alerts.Major, t0, alerts.Suppressed},
		{"lower severity inside cooldown", 72 * time.Hour, inCooldown(alerts.Major, t0), alerts.Minor, t0 + hour, alerts.Suppressed},
		{"higher severity escalates", 72 * time.Hour, inCooldown(alerts.Major, t0), alerts.Critical, t0 + hour, alerts.Escalate},
		{"minor to major escalates", 72 * time.Hour, inCooldown(alerts.Minor, t0), alerts.Major, t0 + 71*hour, alerts.Escalate},
		{"last nanosecond of the cooldown", 72 * time.Hour, inCooldown(alerts.Major, t0), alerts.Major, t0 + 72*hour - 1, alerts.Suppressed},
		{"cooldown over", 72 * time.Hour, inCooldown(alerts.Major, t0), alerts.Major, t0 + 72*hour, alerts.Fire},
		{"cooldown long over, lower severity", 72 * time.Hour, inCooldown(alerts.Critical, t0), alerts.Minor, t0 + 1000*hour, alerts.Fire},
		{"out of order inside cooldown", 72 * time.Hour, inCooldown(alerts.Major, t0), alerts.Major, t0 - hour, alerts.Suppressed},
		{"out of order lower severity", 72 * time.Hour, inCooldown(alerts.Major, t0), alerts.Minor, t0 - 71*hour, alerts.Suppressed},
		{"out of order higher severity", 72 * time.Hour, inCooldown(alerts.Minor, t0), alerts.Critical, t0 - hour, alerts.Escalate},
		{"out of order beyond the cooldown", 72 * time.Hour, inCooldown(alerts.Major, t0), alerts.Major, t0 - 72*hour, alerts.Fire},
		{"cooldown 0 always fires", 0, inCooldown(alerts.Critical, t0), alerts.Minor, t0, alerts.Fire},
		{"cooldown 0, later", 0, inCooldown(alerts.Critical, t0), alerts.Minor, t0 + 1, alerts.Fire},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := policy(tc.cooldown, 720*time.Hour)
			f := alerts.Finding{Detector: "d", Severity: tc.sev, Score: 1}
			require.Equal(t, tc.want, p.Decide(f, tc.c, tc.now))
		})
	}
}

func TestComplainedBefore(t *testing.T) {
	const now = 1_000_000 * hour
	const lookback = 720 * hour
	p := policy(72*time.Hour, 720*time.Hour)
	for _, tc := range []struct {
		name      string
		complaint int64
		want      bool
	}{
		{"never", 0, false},
		{"an hour ago", now - hour, true},
		{"at the same instant", now, true},
		{"exactly at the lookback's edge", now - lookback, true},
		{"just beyond the lookback", now - lookback - 1, false},
		{"long ago", now - 10*lookback, false},
		{"after the alert's event", now + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &state.Customer{ID: "c", Complaint: tc.complaint}
			require.Equal(t, tc.want, p.ComplainedBefore(c, now))
		})
	}
	zero := policy(72*time.Hour, 0)
	require.True(t, zero.ComplainedBefore(&state.Customer{Complaint: now}, now), "lookback 0: same instant only")
	require.False(t, zero.ComplainedBefore(&state.Customer{Complaint: now - 1}, now))
}

func TestPriority(t *testing.T) {
	// Critical beats major whatever the customer's value; major beats minor.
	for _, v := range []float64{0, 1, 300, 1e6, 1e12, math.MaxFloat64, math.Inf(1)} {
		require.Greater(t, alerts.Priority(alerts.Critical, 0), alerts.Priority(alerts.Major, v), "value %g", v)
		require.Greater(t, alerts.Priority(alerts.Major, 0), alerts.Priority(alerts.Minor, v), "value %g", v)
	}
	// Within a severity, higher value wins.
	prev := alerts.Priority(alerts.Major, 0)
	for _, v := range []float64{1, 10, 100, 1000, 1e5} {
		p := alerts.Priority(alerts.Major, v)
		require.Greater(t, p, prev, "value %g", v)
		prev = p
	}
	// Zero, negative and NaN values are fine and rank like zero.
	require.Equal(t, 100.0, alerts.Priority(alerts.Minor, 0))
	require.Equal(t, 200.0, alerts.Priority(alerts.Major, -50))
	require.Equal(t, 300.0, alerts.Priority(alerts.Critical, math.NaN()))
	// A 10× more valuable customer ranks about 10 points higher; two decimals.
	require.InDelta(t, 10, alerts.Priority(alerts.Minor, 9999)-alerts.Priority(alerts.Minor, 999), 0.01)
	p := alerts.Priority(alerts.Minor, 123.456)
	require.Equal(t, math.Round(p*100)/100, p)
}

func TestAlertID(t *testing.T) {
	id := alerts.AlertID("late_delivery", "cust-1", []byte("ev-1"))
	require.Len(t, id, 32)
	require.Regexp(t, `^[0-9a-f]{32}$`, id)
	require.Equal(t, id, alerts.AlertID("late_delivery", "cust-1", []byte("ev-1")), "deterministic")

	seen := map[string]string{}
	add := func(what, id string) {
		t.Helper()
		if prev, ok := seen[id]; ok {
			t.Fatalf("alert_id collision: %s and %s", prev, what)
		}
		seen[id] = what
	}
	add("base", id)
	add("other detector", alerts.AlertID("rare_wait", "cust-1", []byte("ev-1")))
	add("other customer", alerts.AlertID("late_delivery", "cust-2", []byte("ev-1")))
	add("other identity", alerts.AlertID("late_delivery", "cust-1", []byte("ev-2")))
	add("empty identity", alerts.AlertID("late_delivery", "cust-1", nil))
	add("empty customer", alerts.AlertID("late_delivery", "", []byte("ev-1")))
	// Shifting bytes across the boundary between fields must not collide.
	add("shift detector/customer", alerts.AlertID("late_deliver", "ycust-1", []byte("ev-1")))
	add("shift customer/identity", alerts.AlertID("late_delivery", "cust-1e", []byte("v-1")))
}

func TestAlertIDSeparatorAmbiguity(t *testing.T) {
	// customer_id and event_id may hold NUL (JSON "\u0000"): the field
	// separator must not let two different inputs hash alike.
	pairs := [][2][3]string{
		{{"d", "b", "c\x00x"}, {"d", "b\x00c", "x"}},
		{{"d", "b\x00", "x"}, {"d", "b", "\x00x"}},
		{{"d", "", "\x00"}, {"d", "\x00", ""}},
	}
	for _, pair := range pairs {
		a := alerts.AlertID(pair[0][0], pair[0][1], []byte(pair[0][2]))
		b := alerts.AlertID(pair[1][0], pair[1][1], []byte(pair[1][2]))
		require.NotEqual(t, a, b, "AlertID(%q) == AlertID(%q): the field separator is ambiguous", pair[0], pair[1])
	}
}

func TestBuild(t *testing.T) {
	p := policy(72*time.Hour, 720*time.Hour)
	playbook := config.Default().Alerting.Playbook
	et := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600))
	c := &state.Customer{ID: "Zoë a/b?c#d", Tier: "gold", Value: 999, Complaint: et.Add(-time.Hour).UnixNano()}
	evidence := []alerts.Evidence{{EventID: "ev-1", CustomerID: c.ID, Time: et.UTC(), Journey: "delivery"}}
	f := alerts.Finding{Detector: "late_delivery", Order: 0, Severity: alerts.Major, Score: 0.123456789,
		Reason: "Delivery arrived 4 days late"}
	a := p.Build(f, c, "delivery", []byte("ev-1"), et, et.Add(time.Second), evidence, 0.55555)

	require.Equal(t, &alerts.Alert{
		AlertID:          alerts.AlertID("late_delivery", c.ID, []byte("ev-1")),
		CustomerID:       c.ID,
		Detector:         "late_delivery",
		Journey:          "delivery",
		Severity:         alerts.Major,
		Score:            0.123457,
		Priority:         alerts.Priority(alerts.Major, 999),
		Reason:           "Delivery arrived 4 days late",
		EventTime:        et.UTC(),
		DetectedAt:       et.Add(time.Second).UTC(),
		Evidence:         evidence,
		Recovery:         playbook.Major,
		Customer:         alerts.Customer{Tier: "gold", Value: 999, Perceived: 0.556},
		ComplainedBefore: true,
		DeskURL:          "http://localhost:8080/customers/Zo%C3%AB%20a%2Fb%3Fc%23d",
		Kind:             alerts.KindCustomer,
	}, a)
	require.False(t, a.Recovery.RequiresApproval, "staff may act at once by default")
	require.Equal(t, time.UTC, a.EventTime.Location())

	// The recovery is a copy: changing one alert's does not change the next.
	a.Recovery.Action = "changed"
	a.Recovery.Budget = -1
	b := p.Build(f, c, "delivery", []byte("ev-1"), et, et, nil, 0)
	require.Equal(t, playbook.Major, b.Recovery)

	// Each severity gets its own playbook entry.
	for sev, want := range map[alerts.Severity]config.Recovery{
		alerts.Minor: playbook.Minor, alerts.Major: playbook.Major, alerts.Critical: playbook.Critical,
	} {
		f.Severity = sev
		require.Equal(t, want, p.Build(f, c, "delivery", nil, et, et, nil, 0).Recovery, "%s", sev)
		require.Equal(t, want, p.Recovery(sev))
	}
	require.Equal(t, playbook.Critical, p.Recovery(alerts.Critical+1), "beyond critical is critical")
	require.Equal(t, config.Recovery{}, p.Recovery(alerts.None))

	// No desk link without a URL.
	noDesk := alerts.NewPolicy(config.Default().Alerting, "")
	a = noDesk.Build(f, &state.Customer{ID: "c"}, "delivery", nil, et, et, nil, 0)
	require.Equal(t, "delivery", a.Journey)
	require.Empty(t, a.DeskURL)
	require.False(t, a.ComplainedBefore)

	// A complaint after the alert's event does not count.
	c.Complaint = et.Add(time.Hour).UnixNano()
	require.False(t, p.Build(f, c, "delivery", nil, et, et, nil, 0).ComplainedBefore)
}

func TestBuildRequiresApprovalFromPlaybook(t *testing.T) {
	a := config.Default().Alerting
	a.Playbook.Critical.RequiresApproval = true
	p := alerts.NewPolicy(a, "")
	et := time.Unix(0, 0)
	crit := p.Build(alerts.Finding{Detector: "d", Severity: alerts.Critical}, &state.Customer{ID: "c"}, "j", nil, et, et, nil, 0)
	require.True(t, crit.Recovery.RequiresApproval)
	minor := p.Build(alerts.Finding{Detector: "d", Severity: alerts.Minor}, &state.Customer{ID: "c"}, "j", nil, et, et, nil, 0)
	require.False(t, minor.Recovery.RequiresApproval)

	// The contract's JSON field names.
	b, err := json.Marshal(crit)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	require.Equal(t, map[string]any{"action": "Call today; full refund if wanted", "budget": 150.0, "currency": "EUR",
		"requires_approval": true}, m["recovery"])
	require.Equal(t, "critical", m["severity"])
	for _, k := range []string{"alert_id", "customer_id", "detector", "journey", "severity", "score", "reason",
		"event_time", "detected_at", "evidence", "recovery", "customer", "complained_before"} {
		require.Contains(t, m, k)
	}
}

func TestFindingBetter(t *testing.T) {
	f := func(sev alerts.Severity, score float64, order int) alerts.Finding {
		return alerts.Finding{Severity: sev, Score: score, Order: order}
	}
	for _, tc := range []struct {
		name string
		a, b alerts.Finding
	}{
		{"higher severity wins over score", f(alerts.Major, 0.1, 5), f(alerts.Minor, 1, 0)},
		{"critical over major", f(alerts.Critical, 0, 9), f(alerts.Major, 1, 0)},
		{"same severity: higher score", f(alerts.Major, 0.9, 5), f(alerts.Major, 0.8, 0)},
		{"same severity and score: earlier in config", f(alerts.Major, 0.5, 1), f(alerts.Major, 0.5, 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.True(t, tc.a.Better(tc.b))
			require.False(t, tc.b.Better(tc.a))
		})
	}
	same := f(alerts.Minor, 0.5, 3)
	require.False(t, same.Better(same), "a finding is not better than itself")
}

func TestSeverityText(t *testing.T) {
	for _, s := range []alerts.Severity{alerts.Minor, alerts.Major, alerts.Critical} {
		b, err := s.MarshalText()
		require.NoError(t, err)
		var got alerts.Severity
		require.NoError(t, got.UnmarshalText(b))
		require.Equal(t, s, got)
	}
	var s alerts.Severity
	require.Error(t, s.UnmarshalText([]byte("none")))
	require.Error(t, s.UnmarshalText([]byte("Major")))
	require.Equal(t, "severity(9)", alerts.Severity(9).String())
}
