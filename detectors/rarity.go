package detectors

import (
	"fmt"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/internal/human"
	"github.com/peakend/peakend/state"
)

// rarity fires when a metric is worse (higher) than a quantile of the same
// journey's recent population in this partition. The score is the
// estimated percentile rank; cut-offs are quantiles.
type rarity struct {
	base
	metric     string
	levels     levels
	over       time.Duration
	minSamples float64
}

func newRarity(d *config.Detector, order int) (*rarity, error) {
	l, err := newLevels(d)
	if err != nil {
		return nil, err
	}
	if d.Over <= 0 {
		return nil, fmt.Errorf("over must be positive")
	}
	return &rarity{
		base:   base{name: d.Name, order: order, journey: d.Journey},
		metric: d.Metric, levels: l, over: d.Over.D(), minSamples: float64(max(d.MinSamples, 1)),
	}, nil
}

func (r *rarity) Population() time.Duration { return r.over }

// TailQuantile is the lowest quantile the detector fires at.
func (r *rarity) TailQuantile() float64 { return r.levels.lowest() }

func (r *rarity) Detect(ev *event.Event, _ *state.Customer, pop *Population) (alerts.Finding, bool) {
	if !r.applies(ev) || pop == nil {
		return alerts.Finding{}, false
	}
	pop.Advance(ev.Time)
	if pop.Count() < r.minSamples {
		return alerts.Finding{}, false
	}
	v, ok := ev.Metric(r.metric)
	if !ok {
		return alerts.Finding{}, false
	}
	rank := pop.Rank(v)
	sev, _ := r.levels.severity(rank)
	if sev == alerts.None {
		return alerts.Finding{}, false
	}
	reason := fmt.Sprintf("%s %s of %s — worse than %s of %s in the last %s", human.Journey(ev.Journey),
		human.Metric(r.metric), human.Value(r.metric, v), human.Percent(rank), human.Journeys(ev.Journey),
		human.Duration(r.over))
	return r.finding(sev, rank, reason), true
}

func (r *rarity) Learn(ev *event.Event, _ *state.Customer, pop *Population) {
	if !r.applies(ev) || pop == nil {
		return
	}
	if v, ok := ev.Metric(r.metric); ok {
		pop.Add(ev.Time, v)
	}
}
