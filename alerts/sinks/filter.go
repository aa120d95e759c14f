package sinks

import (
	"context"
	"fmt"
	"slices"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
)

// Filter selects the alerts a sink receives. The zero Filter allows all.
type Filter struct {
	MinSeverity alerts.Severity // at least this severity; None allows all
	Journeys    []string        // only these journeys; empty = all
	Tiers       []string        // only these customer tiers; empty = all (an alert without a tier then fails)
}

// Allows reports whether a passes the filter.
func (f Filter) Allows(a *alerts.Alert) bool {
	if a == nil || a.Severity < f.MinSeverity {
		return false
	}
	if len(f.Journeys) > 0 && !slices.Contains(f.Journeys, a.Journey) {
		return false
	}
	if len(f.Tiers) > 0 && !slices.Contains(f.Tiers, a.Customer.Tier) {
		return false
	}
	return true
}

func (f Filter) isZero() bool {
	return f.MinSeverity == alerts.None && len(f.Journeys) == 0 && len(f.Tiers) == 0
}

// FilterFor reads a sink spec's min_severity, journeys and tiers. An empty
// min_severity means minor, or critical for pagerduty (docs/configuration.md).
func FilterFor(spec config.Sink) (Filter, error) {
	f := Filter{MinSeverity: alerts.Minor, Journeys: spec.Journeys, Tiers: spec.Tiers}
	if spec.Type == "pagerduty" {
		f.MinSeverity = alerts.Critical
	}
	if spec.MinSeverity != "" {
		s, err := alerts.ParseSeverity(spec.MinSeverity)
		if err != nil {
			return Filter{}, fmt.Errorf("sink %q: min_severity: %w", spec.Name, err)
		}
		f.MinSeverity = s
	}
	return f, nil
}

// Filtered returns s receiving only the alerts f allows; Deliver returns nil
// (nothing to do) for the others. The result also has an
// Allows(*alerts.Alert) bool method, so an outbox can skip storing alerts
// the sink would drop. A zero f returns s itself.
func Filtered(s alerts.Sink, f Filter) alerts.Sink {
	if f.isZero() {
		return s
	}
	return &filtered{sink: s, filter: f}
}

type filtered struct {
	sink   alerts.Sink
	filter Filter
}

func (s *filtered) Name() string                { return s.sink.Name() }
func (s *filtered) Allows(a *alerts.Alert) bool { return s.filter.Allows(a) }
func (s *filtered) Unwrap() alerts.Sink         { return s.sink }

func (s *filtered) Deliver(ctx context.Context, a *alerts.Alert) error {
	if !s.filter.Allows(a) {
		return nil
	}
	return s.sink.Deliver(ctx, a)
}

// IsLocal reports whether s writes locally (stdout) rather than over the
// network: local sinks cannot be down, so they get alerts directly instead
// of through the durable outbox.
func IsLocal(s alerts.Sink) bool {
	for {
		switch v := s.(type) {
		case *Writer:
			return true
		case alerts.WrappingSink:
			s = v.Unwrap()
		default:
			return false
		}
	}
}
