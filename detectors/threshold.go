package detectors

import (
	"fmt"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/internal/human"
	"github.com/peakend/peakend/state"
)

// threshold fires on a metric at or beyond fixed cut-offs, or on an outcome
// in a bad set (then with one configured severity and score 1).
type threshold struct {
	base
	metric   string
	levels   levels
	outcomes map[string]bool
	severity alerts.Severity
}

func newThreshold(d *config.Detector, order int) (*threshold, error) {
	t := &threshold{base: base{name: d.Name, order: order, journey: d.Journey}, metric: d.Metric}
	if len(d.Outcome) > 0 {
		t.outcomes = outcomeSet(d.Outcome)
		sev := d.Severity
		if sev == "" {
			sev = "minor"
		}
		s, err := alerts.ParseSeverity(sev)
		if err != nil {
			return nil, err
		}
		t.severity = s
		return t, nil
	}
	l, err := newLevels(d)
	if err != nil {
		return nil, err
	}
	t.levels = l
	return t, nil
}

func (t *threshold) Detect(ev *event.Event, _ *state.Customer, _ *Population) (alerts.Finding, bool) {
	if !t.applies(ev) {
		return alerts.Finding{}, false
	}
	if t.outcomes != nil {
		if !t.outcomes[ev.Outcome] {
			return alerts.Finding{}, false
		}
		return t.finding(t.severity, 1, human.Outcome(ev.Journey, ev.Outcome)), true
	}
	v, ok := ev.Metric(t.metric)
	if !ok {
		return alerts.Finding{}, false
	}
	sev, cut := t.levels.severity(v)
	if sev == alerts.None {
		return alerts.Finding{}, false
	}
	reason := fmt.Sprintf("%s %s of %s, beyond the %s limit of %s", human.Journey(ev.Journey),
		human.Metric(t.metric), human.Value(t.metric, v), sev, human.Value(t.metric, cut))
	// Score: how far along the scale to (twice) the top cut-off the value is.
	top := t.levels.highest()
	return t.finding(sev, 0.5+0.5*(v-t.levels.lowest())/(2*top-t.levels.lowest()+1e-12), reason), true
}

func (t *threshold) Learn(*event.Event, *state.Customer, *Population) {}
