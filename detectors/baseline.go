package detectors

import (
	"fmt"
	"slices"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/internal/human"
	"github.com/peakend/peakend/state"
)

// baseline fires when a metric is more than `factor` times this customer's
// usual (the median of their last state.MaxSeriesValues values of the same
// journey and metric), after min_history experiences, and above `floor`.
// Severity rises with the multiple: > factor minor, > 2·factor major,
// > 4·factor critical, where a usual below floor/factor counts as
// floor/factor (a customer whose usual is zero is judged against the floor,
// not infinitely). The score is 1 − usual/value on that same footing.
type baseline struct {
	base
	metric     string
	key        string // journey/metric: detectors on the same key share the customer's series
	series     uint32 // state.SeriesID(key)
	shared     bool   // an earlier baseline on the same key learns for this one
	factor     float64
	minHistory int
	floor      float64
}

func newBaseline(d *config.Detector, order int) (*baseline, error) {
	if d.Factor <= 1 {
		return nil, fmt.Errorf("factor must be above 1")
	}
	return &baseline{
		base:   base{name: d.Name, order: order, journey: d.Journey},
		metric: d.Metric, key: d.Journey + "/" + d.Metric, series: state.SeriesID(d.Journey + "/" + d.Metric),
		factor: d.Factor, minHistory: max(d.MinHistory, 1), floor: d.Floor,
	}, nil
}

func (b *baseline) Detect(ev *event.Event, c *state.Customer, _ *Population) (alerts.Finding, bool) {
	if !b.applies(ev) {
		return alerts.Finding{}, false
	}
	v, ok := ev.Metric(b.metric)
	if !ok || v <= b.floor {
		return alerts.Finding{}, false
	}
	hist := c.SeriesValues(b.series)
	if len(hist) < b.minHistory {
		return alerts.Finding{}, false
	}
	usual := median(hist)
	ref := max(usual, b.floor/b.factor, 0)
	if v <= b.factor*ref {
		return alerts.Finding{}, false
	}
	sev := alerts.Minor
	switch {
	case v > 4*b.factor*ref:
		sev = alerts.Critical
	case v > 2*b.factor*ref:
		sev = alerts.Major
	}
	var reason string
	if usual > 0 && v/usual < 1000 {
		reason = fmt.Sprintf("%s %s of %s — %s× this customer's usual %s", human.Journey(ev.Journey),
			human.Metric(b.metric), human.Value(b.metric, v), human.Number(v/usual), human.Value(b.metric, usual))
	} else {
		reason = fmt.Sprintf("%s %s of %s — this customer's usual is %s", human.Journey(ev.Journey),
			human.Metric(b.metric), human.Value(b.metric, v), human.Value(b.metric, max(usual, 0)))
	}
	return b.finding(sev, 1-ref/v, reason), true
}

func (b *baseline) Learn(ev *event.Event, c *state.Customer, _ *Population) {
	if b.shared || !b.applies(ev) {
		return
	}
	if v, ok := ev.Metric(b.metric); ok {
		c.PushSeries(b.series, v)
	}
}

func median(vs []float64) float64 {
	var buf [state.MaxSeriesValues]float64
	s := append(buf[:0], vs...)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
