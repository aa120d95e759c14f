package engine

import (
	"fmt"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/detectors"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/state"
)

// Judge takes the alert policy's place (Options.Judge): the engine hands it
// every judgement point, in the order the policy would have seen them, and
// makes no alert itself (Output.Alerts stays empty). `peakend tune` records
// the judgements of many detector settings in one pass and runs the cheap
// policy per setting afterwards (replay.Trace).
//
// Nothing the engine stores depends on the policy's decisions but the
// policy's own fields of the customer (Cooldown, Alerts, the peak-end
// memory), which a Judge must keep itself; the engine leaves them alone.
type Judge interface {
	// Experience is called for every experience after the detectors judged
	// it and it was folded into the customer's header, with every finding
	// (in detector order; none is possible), where the policy would have
	// felt the experience and raised at most one alert.
	Experience(j *Judgement) error
	// Timer is called for every finding of a timed detector's timer, where
	// the policy would have decided on a timer alert.
	Timer(j *Judgement) error
}

// Judgement is one judgement point. It and everything it points to are
// valid only during the Judge's call.
type Judgement struct {
	Customer *state.Customer // the header as the policy would read it (read only)
	// Experience: the event, its identity for alert ids (event_id, or the
	// record's bytes) and every detector's finding.
	Event    *event.Event
	Identity []byte
	Findings []alerts.Finding
	// Timer: the detector, its finding, the event time the timer fired at
	// (before the policy's max with the journey's start), the journey's
	// start and key.
	Timed   detectors.Timed
	Finding alerts.Finding
	At      int64
	Start   int64
	Key     string

	p  *Partition
	en *entry
}

// Evidence returns the experiences an alert of f at this point would carry,
// as the policy's alert would (Alert.Evidence).
func (j *Judgement) Evidence(f alerts.Finding) ([]alerts.Evidence, error) {
	if j.Timed != nil {
		return j.p.keyEvidence(j.en, j.Timed, j.Key)
	}
	return j.p.evidence(f, j.en, j.Event.Journey)
}

// judgeExperience hands an experience's findings to the Judge.
func (p *Partition) judgeExperience(en *entry, ev *event.Event, r *Record) error {
	identity := r.Value
	if ev.EventID != "" {
		identity = []byte(ev.EventID)
	}
	j := Judgement{Customer: &en.c, Event: ev, Identity: identity, Findings: p.findings, p: p, en: en}
	return p.e.judge.Experience(&j)
}

// judgeTimer hands a timer's finding to the Judge.
func (p *Partition) judgeTimer(en *entry, d detectors.Timed, f alerts.Finding, jr *state.Journey, key string, at int64) error {
	j := Judgement{Customer: &en.c, Timed: d, Finding: f, At: at, Start: jr.Start, Key: key, p: p, en: en}
	return p.e.judge.Timer(&j)
}

// quiet is a detector that judges but learns nothing (Options.NoLearn).
type quiet struct{ detectors.Detector }

func (quiet) Learn(*event.Event, *state.Customer, *detectors.Population) {}

// silence wraps the detectors named in noLearn so that they learn nothing:
// variants judged beside the detector that learns, reading the customer
// state it keeps. Only detectors without a population or timers can be.
func silence(dets []detectors.Detector, noLearn []string) error {
	for _, name := range noLearn {
		found := false
		for i, d := range dets {
			if d.Name() != name {
				continue
			}
			_, timed := d.(detectors.Timed)
			if timed || d.Population() != 0 {
				return fmt.Errorf("engine: detector %q keeps a population or timers: it cannot judge without learning", name)
			}
			dets[i], found = quiet{d}, true
		}
		if !found {
			return fmt.Errorf("engine: no detector %q to silence", name)
		}
	}
	return nil
}
