// Package detectors holds peakend's detector types, one file each. A detector
// is a pure function of an event, the customer's header before it, and the
// partition's population; it never does I/O.
package detectors

import (
	"fmt"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/state"
)

// TailQuantiler is the optional interface of population detectors (rarity,
// overdue): the lowest quantile they fire at, which sets how much of the
// population's tail the engine must keep exact.
type TailQuantiler interface {
	TailQuantile() float64
}

// Detector judges one experience. Detect sees the customer as it was before
// ev; Learn then folds ev into what the detector remembers (the customer's
// header and, for population detectors, pop). Both run on the partition's
// goroutine; a Detector itself is immutable and shared by all partitions.
type Detector interface {
	Name() string
	// Detect returns a finding if ev is bad. pop is the detector's population
	// in this partition (nil for detectors without one).
	Detect(ev *event.Event, c *state.Customer, pop *Population) (alerts.Finding, bool)
	// Learn updates c and pop with ev, after every detector has judged it.
	Learn(ev *event.Event, c *state.Customer, pop *Population)
	// Population returns the sliding window for this detector's population,
	// or 0 if it keeps none.
	Population() time.Duration
}

// New builds the detectors of a validated configuration, in config order.
// Types that fire on event time (overdue, deadline) implement Timed too:
// the engine runs their timers.
func New(cfg *config.Config) ([]Detector, error) {
	var ds []Detector
	series := map[uint32]string{} // baseline series ids: distinct keys must not share one
	for i := range cfg.Detectors {
		d := &cfg.Detectors[i]
		var det Detector
		var err error
		switch d.Type {
		case "threshold":
			det, err = newThreshold(d, i)
		case "rarity":
			det, err = newRarity(d, i)
		case "baseline":
			det, err = newBaseline(d, i)
		case "repeat":
			det, err = newRepeat(d, i)
		case "overdue":
			det, err = newOverdue(d, i)
		case "deadline":
			det, err = newDeadline(d, i)
		default:
			err = fmt.Errorf("unknown type %q", d.Type)
		}
		if b, ok := det.(*baseline); ok && err == nil {
			other, dup := series[b.series]
			if dup && other != b.key {
				err = fmt.Errorf("series %q and %q hash alike: rename a metric", other, b.key)
			}
			// Baselines on one journey and metric read one series: the
			// first learns each value, so that it is remembered once.
			b.shared = dup
			series[b.series] = b.key
		}
		if err != nil {
			return nil, fmt.Errorf("detectors[%d] (%s): %w", i, d.Name, err)
		}
		ds = append(ds, det)
	}
	return ds, nil
}

// levels are a detector's cut-offs, lowest severity first; absent ones are NaN-free zeros with ok=false.
type levels struct {
	cut [3]float64 // minor, major, critical
	ok  [3]bool
}

func newLevels(d *config.Detector) (levels, error) {
	var l levels
	for i, p := range []*float64{d.Minor, d.Major, d.Critical} {
		if p != nil {
			l.cut[i], l.ok[i] = *p, true
		}
	}
	if !l.ok[0] && !l.ok[1] && !l.ok[2] {
		return l, fmt.Errorf("no cut-offs (minor, major, critical)")
	}
	return l, nil
}

// severity returns the highest level whose cut-off v reaches, and that cut-off.
func (l levels) severity(v float64) (alerts.Severity, float64) {
	for i := 2; i >= 0; i-- {
		if l.ok[i] && v >= l.cut[i] {
			return alerts.Severity(i + 1), l.cut[i]
		}
	}
	return alerts.None, 0
}

// lowest returns the smallest configured cut-off.
func (l levels) lowest() float64 {
	for i := range 3 {
		if l.ok[i] {
			return l.cut[i]
		}
	}
	return 0
}

// highest returns the largest configured cut-off.
func (l levels) highest() float64 {
	for i := 2; i >= 0; i-- {
		if l.ok[i] {
			return l.cut[i]
		}
	}
	return 0
}

func outcomeSet(outcomes []string) map[string]bool {
	m := make(map[string]bool, len(outcomes))
	for _, o := range outcomes {
		m[o] = true
	}
	return m
}

// base is what every detector has.
type base struct {
	name    string
	order   int
	journey string // "" = any
}

func (b *base) Name() string { return b.name }

func (b *base) applies(ev *event.Event) bool { return b.journey == "" || ev.Journey == b.journey }

func (b *base) Population() time.Duration { return 0 }

func (b *base) finding(sev alerts.Severity, score float64, reason string) alerts.Finding {
	return alerts.Finding{Detector: b.name, Order: b.order, Severity: sev, Score: clamp01(score), Reason: reason}
}

func clamp01(v float64) float64 {
	switch {
	case v < 0 || v != v:
		return 0
	case v > 1:
		return 1
	}
	return v
}
