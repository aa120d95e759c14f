package detectors

import (
	"fmt"
	"strings"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/internal/human"
	"github.com/peakend/peakend/state"
)

// Timed is a detector that fires on event time (overdue, deadline): a
// journey starts (an event matching start), and unless the follow-up
// (until, same journey, same key attribute) arrives first, a timer falls due
// when the partition's watermark passes it. The engine keeps journeys and
// timers in Pebble and runs the timers; a Timed detector decides when a
// journey falls due and what its alert says. Its Detect and Learn do nothing.
type Timed interface {
	Detector
	// Match reports whether ev starts or ends one of the detector's
	// journeys, and the journey's key (the key attribute's value; "" = neither).
	Match(ev *event.Event) (start, until bool, key string)
	// Arm returns the journey started by ev with its first timer (Due), or
	// false if it arms none (a missing or unreadable deadline attribute).
	Arm(ev *event.Event, pop *Population) (state.Journey, bool)
	// Due runs the journey's timer, which fell due (j.Due <= wm). It
	// returns a finding to alert, if any, the event time the alert is
	// detected at, and sets j.Due to the next timer (0 = none) and j.Level.
	// The reason is phrased at that event time, never at processing time:
	// live and replay give the same alerts but for detected_at. arrived is
	// the event time of the follow-up if it is already in hand (it came
	// after the timer's time, but before the watermark passed it; 0 = not
	// arrived): the reason must not say it has not come, and a prediction
	// has nothing left to predict.
	Due(j *state.Journey, key string, wm, arrived int64, pop *Population) (f alerts.Finding, at int64, fire bool)
	// Finished tells the detector that the open journey j ended at t.
	Finished(j *state.Journey, t int64, pop *Population)
	// Ready reports whether journeys parked waiting for the detector
	// (j.Due == state.Parked, set by Arm or Due) can be scheduled now. The
	// engine then moves their timers to the watermark: Due runs at once.
	Ready(pop *Population) bool
	// Felt reports whether an alert is something the customer experienced
	// (a broken promise) rather than a prediction (overdue): only those
	// count in the customer's peak-end memory.
	Felt() bool
	// JourneyName is the journey the detector watches.
	JourneyName() string
	// KeyAttribute is the attribute pairing start and until (order_id).
	KeyAttribute() string
}

// ends is what overdue and deadline share: the start and until conditions.
type ends struct {
	base
	start, until string // outcomes
	keyAttr      string
}

func newEnds(d *config.Detector, order int) (ends, error) {
	if d.Start == nil || d.Until == nil || d.Start.Outcome == "" || d.Until.Outcome == "" {
		return ends{}, fmt.Errorf("start and until outcomes are required")
	}
	if d.Journey == "" {
		return ends{}, fmt.Errorf("journey is required")
	}
	key := d.KeyAttribute
	if key == "" {
		key = "order_id"
	}
	return ends{base: base{name: d.Name, order: order, journey: d.Journey}, start: d.Start.Outcome,
		until: d.Until.Outcome, keyAttr: key}, nil
}

func (e *ends) Match(ev *event.Event) (start, until bool, key string) {
	if ev.Journey != e.journey || (ev.Outcome != e.start && ev.Outcome != e.until) {
		return false, false, ""
	}
	key, _ = ev.Attr(e.keyAttr)
	if key == "" {
		return false, false, ""
	}
	return ev.Outcome == e.start, ev.Outcome == e.until, key
}

func (e *ends) JourneyName() string { return e.journey }

func (e *ends) KeyAttribute() string { return e.keyAttr }

func (e *ends) Detect(*event.Event, *state.Customer, *Population) (alerts.Finding, bool) {
	return alerts.Finding{}, false
}

func (e *ends) Learn(*event.Event, *state.Customer, *Population) {}

// Ready: a detector that never parks a journey is always ready.
func (e *ends) Ready(*Population) bool { return true }

// what names the journey's key for people: order_id o-17 → "order o-17".
func (e *ends) what(key string) string {
	name := strings.ReplaceAll(strings.TrimSuffix(e.keyAttr, "_id"), "_", " ")
	return name + " " + key
}

// deadline fires when the follow-up did not arrive by the promised time
// (an RFC 3339 attribute of the start event, or a fixed time after it) plus
// grace. It fires once per unmet promise.
type deadline struct {
	ends
	attr     string
	after    time.Duration
	grace    time.Duration
	severity alerts.Severity
}

func newDeadline(d *config.Detector, order int) (*deadline, error) {
	e, err := newEnds(d, order)
	if err != nil {
		return nil, err
	}
	if d.DeadlineAttribute == "" && d.After <= 0 {
		return nil, fmt.Errorf("needs deadline_attribute or after")
	}
	sev := alerts.Major
	if d.Severity != "" {
		if sev, err = alerts.ParseSeverity(d.Severity); err != nil {
			return nil, err
		}
	}
	return &deadline{ends: e, attr: d.DeadlineAttribute, after: d.After.D(), grace: d.Grace.D(), severity: sev}, nil
}

func (d *deadline) Felt() bool { return true }

func (d *deadline) Arm(ev *event.Event, _ *Population) (state.Journey, bool) {
	j := state.Journey{Status: state.JourneyOpen, Start: ev.Time, Level: uint8(d.severity)}
	if d.attr == "" {
		j.Deadline = ev.Time + int64(d.after)
	} else {
		v, _ := ev.Attr(d.attr)
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return j, false
		}
		j.Deadline = t.UnixNano()
	}
	j.Due = j.Deadline + int64(d.grace)
	return j, true
}

func (d *deadline) Due(j *state.Journey, key string, _, arrived int64, _ *Population) (alerts.Finding, int64, bool) {
	at := j.Due
	j.Due = 0
	promise := human.Time(time.Unix(0, j.Deadline))
	if arrived != 0 {
		// A late follow-up is still a broken promise the customer felt;
		// say how late it came, not that it has not.
		late := time.Duration(arrived - j.Deadline).Round(time.Second)
		reason := fmt.Sprintf("%s promised by %s arrived %s late, at %s (%s)", human.Journey(d.journey),
			promise, human.Duration(late), human.Time(time.Unix(0, arrived)), d.what(key))
		return d.finding(d.severity, 1, reason), at, true
	}
	// How late it is at detection (event time), not the grace: a promise
	// already broken when it was made is detected when it is seen.
	late := time.Duration(max(at, j.Start) - j.Deadline).Round(time.Second)
	reason := fmt.Sprintf("%s promised by %s has not arrived (%s)", human.Journey(d.journey), promise, d.what(key))
	if late > 0 {
		reason += fmt.Sprintf(" — %s past the promise", human.Duration(late))
	}
	return d.finding(d.severity, 1, reason), at, true
}

func (d *deadline) Finished(*state.Journey, int64, *Population) {}

// overdue predicts a broken promise: it learns how long finished journeys
// took (start to until; a sliding DDSketch over `over`, per partition) and
// fires when an open journey has been open longer than a configured
// quantile of that. The timer is set at start + the quantile at arm time;
// when it falls due the quantile is read again, and the timer re-armed if it
// has moved later. After firing at one level, it is re-armed for the next
// (minor, then major, then critical).
//
// While the population has fewer than min_samples finished journeys (a
// fresh start), a journey has no quantile to be timed by: it is parked
// (state.Parked, a timer that never falls due) and costs nothing while it
// waits. When a finished journey makes the population ready, the engine
// moves the partition's parked journeys of the detector to a timer at the
// watermark (a range scan of the parked timers, a bounded chunk per journey
// event until none is left, not a scan per event once done): each is timed
// at start + quantile, and one already behind the
// watermark fires at once, detected at that watermark and phrased as of
// then ("shipped 31 hours ago"), not at the earlier time the quantile gives,
// when peakend could not have known. One open longer than `over` by then is
// given up; while the detector is not ready, the engine's periodic sweep of
// the parked journeys gives up those open longer than `over` all the same.
// The population can fall below min_samples again as its window slides (a
// quiet month): journeys then park again until it recovers, at the level
// they reached, so that no level alerts twice (one alert_id once).
type overdue struct {
	ends
	levels     levels
	over       time.Duration
	minSamples float64
}

func newOverdue(d *config.Detector, order int) (*overdue, error) {
	e, err := newEnds(d, order)
	if err != nil {
		return nil, err
	}
	l, err := newLevels(d)
	if err != nil {
		return nil, err
	}
	if d.Over <= 0 {
		return nil, fmt.Errorf("over must be positive")
	}
	return &overdue{ends: e, levels: l, over: d.Over.D(), minSamples: float64(max(d.MinSamples, 1))}, nil
}

func (o *overdue) Population() time.Duration { return o.over }

// TailQuantile is the lowest quantile the detector fires at.
func (o *overdue) TailQuantile() float64 { return o.levels.lowest() }

func (o *overdue) Felt() bool { return false }

// took returns the duration at quantile q of finished journeys, if the
// population is large enough.
func (o *overdue) took(pop *Population, q float64) (int64, bool) {
	if pop == nil || pop.Count() < o.minSamples {
		return 0, false
	}
	v, ok := pop.Quantile(q)
	return int64(v * float64(time.Second)), ok
}

// firstLevel returns the index of the lowest configured level at or above i.
func (o *overdue) nextLevel(i int) (int, bool) {
	for ; i < 3; i++ {
		if o.levels.ok[i] {
			return i, true
		}
	}
	return 0, false
}

func (o *overdue) Arm(ev *event.Event, pop *Population) (state.Journey, bool) {
	j := state.Journey{Status: state.JourneyOpen, Start: ev.Time}
	o.schedule(&j, 0, pop)
	return j, true
}

// schedule sets j's timer for level index i (or the first one above it),
// or parks it if there are too few samples.
func (o *overdue) schedule(j *state.Journey, i int, pop *Population) {
	l, ok := o.nextLevel(i)
	if !ok {
		j.Due, j.Level = 0, 0
		return
	}
	if d, ok := o.took(pop, o.levels.cut[l]); ok {
		j.Level, j.Due, j.Deadline = uint8(l+1), j.Start+max(d, 1), j.Start+max(d, 1)
		return
	}
	j.Level, j.Due = 0, state.Parked // waiting for samples: see Ready
}

// Ready: the population has enough finished journeys to predict from.
func (o *overdue) Ready(pop *Population) bool { return pop != nil && pop.Count() >= o.minSamples }

func (o *overdue) Due(j *state.Journey, key string, wm, arrived int64, pop *Population) (alerts.Finding, int64, bool) {
	if arrived != 0 {
		j.Due = 0 // it has finished: predicting it now would be noise
		return alerts.Finding{}, 0, false
	}
	due := j.Due // the watermark passed it
	if j.Level == 0 {
		// Parked until now (the engine moved it to the watermark).
		if due-j.Start > int64(o.over) {
			j.Due = 0 // never enough samples while it was open: give up
			return alerts.Finding{}, 0, false
		}
		o.schedule(j, 0, pop)
		if j.Level == 0 || j.Due > wm {
			return alerts.Finding{}, 0, false
		}
	}
	l := int(j.Level) - 1
	d, ok := o.took(pop, o.levels.cut[l])
	if !ok {
		// Too few samples now (the population slid): wait parked at the
		// level it has reached, so that no level fires twice once it is
		// ready again; give up as a parked journey would.
		if due-j.Start > int64(o.over) {
			j.Due = 0
			return alerts.Finding{}, 0, false
		}
		j.Due = state.Parked
		return alerts.Finding{}, 0, false
	}
	if at := j.Start + max(d, 1); at > wm {
		j.Due, j.Deadline = at, at // the quantile moved later: re-arm
		return alerts.Finding{}, 0, false
	}
	// Fire at the highest level already passed.
	h, took := l, d
	for i := l + 1; i < 3; i++ {
		if !o.levels.ok[i] {
			continue
		}
		if d, ok := o.took(pop, o.levels.cut[i]); ok && j.Start+max(d, 1) <= wm {
			h, took = i, d
		}
	}
	// Detected when the timer fell due: if the quantile has moved earlier
	// since it was set, or the journey was parked, not at the earlier time
	// the quantile now gives.
	at := max(j.Start+max(took, 1), due)
	usual, _ := o.took(pop, 0.5)
	ago := time.Duration(at - j.Start).Round(time.Second)
	reason := fmt.Sprintf("%s %s %s ago and not %s yet (%s) — longer than %s of %s took in the last %s (usually %s)",
		human.Journey(o.journey), o.start, human.Duration(ago), o.until, o.what(key),
		strings.Replace(human.Percent(o.levels.cut[h]), ".0%", "%", 1), human.Journeys(o.journey), human.Duration(o.over), human.Duration(time.Duration(usual)))
	f := o.finding(alerts.Severity(h+1), o.levels.cut[h], reason)
	j.Due, j.Level = 0, uint8(h+1)
	if n, ok := o.nextLevel(h + 1); ok {
		if d, ok := o.took(pop, o.levels.cut[n]); ok && j.Start+max(d, 1) > at {
			j.Level, j.Due, j.Deadline = uint8(n+1), j.Start+max(d, 1), j.Start+max(d, 1)
		}
	}
	return f, at, true
}

func (o *overdue) Finished(j *state.Journey, t int64, pop *Population) {
	if pop != nil && t >= j.Start {
		pop.Add(t, float64(t-j.Start)/float64(time.Second))
	}
}
