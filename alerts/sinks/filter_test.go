package sinks

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
)

func TestFilterAllows(t *testing.T) {
	alert := func(s alerts.Severity, journey, tier string) *alerts.Alert {
		a := testAlert()
		a.Severity, a.Journey, a.Customer.Tier = s, journey, tier
		return a
	}
	tests := []struct {
		name   string
		filter Filter
		alert  *alerts.Alert
		want   bool
	}{
		{"zero allows all", Filter{}, alert(alerts.Minor, "delivery", ""), true},
		{"nil alert", Filter{}, nil, false},
		{"severity equal", Filter{MinSeverity: alerts.Major}, alert(alerts.Major, "delivery", "gold"), true},
		{"severity above", Filter{MinSeverity: alerts.Major}, alert(alerts.Critical, "delivery", "gold"), true},
		{"severity below", Filter{MinSeverity: alerts.Major}, alert(alerts.Minor, "delivery", "gold"), false},
		{"journey listed", Filter{Journeys: []string{"checkout", "delivery"}}, alert(alerts.Minor, "delivery", ""), true},
		{"journey not listed", Filter{Journeys: []string{"checkout"}}, alert(alerts.Minor, "delivery", ""), false},
		{"tier listed", Filter{Tiers: []string{"gold", "platinum"}}, alert(alerts.Minor, "delivery", "gold"), true},
		{"tier not listed", Filter{Tiers: []string{"platinum"}}, alert(alerts.Minor, "delivery", "gold"), false},
		{"no tier with tier filter", Filter{Tiers: []string{"gold"}}, alert(alerts.Minor, "delivery", ""), false},
		{"all match", Filter{MinSeverity: alerts.Minor, Journeys: []string{"delivery"}, Tiers: []string{"gold"}},
			alert(alerts.Major, "delivery", "gold"), true},
		{"one fails", Filter{MinSeverity: alerts.Critical, Journeys: []string{"delivery"}, Tiers: []string{"gold"}},
			alert(alerts.Major, "delivery", "gold"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.filter.Allows(tt.alert))
		})
	}
}

type countingSink struct {
	n   atomic.Int32
	err error
}

func (c *countingSink) Name() string { return "counting" }
func (c *countingSink) Deliver(context.Context, *alerts.Alert) error {
	c.n.Add(1)
	return c.err
}

func TestFiltered(t *testing.T) {
	inner := &countingSink{err: errors.New("down")}
	require.Same(t, alerts.Sink(inner), Filtered(inner, Filter{}), "a zero filter adds nothing")

	s := Filtered(inner, Filter{MinSeverity: alerts.Critical})
	require.Equal(t, "counting", s.Name())
	minor := testAlert()
	require.NoError(t, s.Deliver(context.Background(), minor), "filtered out: nothing to do")
	require.Zero(t, inner.n.Load())
	crit := testAlert()
	crit.Severity = alerts.Critical
	require.EqualError(t, s.Deliver(context.Background(), crit), "down")
	require.EqualValues(t, 1, inner.n.Load())

	al, ok := s.(interface{ Allows(*alerts.Alert) bool })
	require.True(t, ok)
	require.False(t, al.Allows(minor))
	require.True(t, al.Allows(crit))
}

func TestFilterFor(t *testing.T) {
	tests := []struct {
		spec    config.Sink
		want    Filter
		wantErr bool
	}{
		{config.Sink{Type: "slack"}, Filter{MinSeverity: alerts.Minor}, false},
		{config.Sink{Type: "pagerduty"}, Filter{MinSeverity: alerts.Critical}, false},
		{config.Sink{Type: "pagerduty", MinSeverity: "major"}, Filter{MinSeverity: alerts.Major}, false},
		{config.Sink{Type: "webhook", MinSeverity: "critical", Journeys: []string{"delivery"}, Tiers: []string{"gold"}},
			Filter{MinSeverity: alerts.Critical, Journeys: []string{"delivery"}, Tiers: []string{"gold"}}, false},
		{config.Sink{Type: "webhook", MinSeverity: "urgent"}, Filter{}, true},
	}
	for _, tt := range tests {
		got, err := FilterFor(tt.spec)
		if tt.wantErr {
			require.Error(t, err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
	}
}
