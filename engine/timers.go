package engine

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/detectors"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/state"
)

// Timers of the overdue and deadline detectors.
//
// A journey (customer, detector, key attribute value such as an order_id)
// is a state.Journey record with at most one pending timer, its due time.
// The record lives in Pebble, written through the partition's batch at
// Stage with the cycle's other state and offsets; the committed due times
// are kept in memory (timerindex.go), so due timers are found without
// reading Pebble, and a timer has a key of its own only while its journey
// is parked. Within a cycle they are read through t.journeys and t.timers.
//
// Journey life:
//   - start (not late): the detector arms a timer (Open). A later start for
//     the same key re-arms it (the latest promise counts).
//   - until before the timer fell due: the journey is done; overdue learns
//     its duration; record and timer are deleted.
//   - until whose event time is past the timer, but before the watermark
//     passed it: the timer runs first, as it would have in event-time
//     order, told of the arrival (deadline alerts that the follow-up came
//     late, overdue fires nothing: it is no longer a prediction), then the
//     arrival is recorded (overdue learns its duration all the same).
//   - timer due (watermark passed it): the detector decides. An alert marks
//     the journey Alerted; it stays, with a clean-up timer at alert time +
//     state.retention, so that the follow-up's late arrival is recorded on
//     the customer's timeline (ArrivedLate, shown in /customers/{id}).
//   - parked (state.Parked: overdue with too few finished journeys to
//     predict from): no timer falls due. Once a matching event finds the
//     detector Ready, its parked journeys in the partition (a range scan of
//     the parked timers) move to a timer at the watermark, so that they run
//     at once: at most unparkChunk per journey event, the following events
//     of the detector taking the next ones, until a scan finds fewer; then
//     the scan is not repeated until a journey parks again. Every
//     over/PopulationBuckets of watermark (and first after open), a sweep
//     moves to the watermark the parked journeys older than their
//     detector's `over`, and those of a detector no longer configured, so
//     that they are given up (or dropped) even if it never becomes ready.
//   - until with no journey: nothing. A start older than the customer's
//     latest event (out of order) first looks in the customer's window for
//     its follow-up (same key, not earlier than the start); if it is there,
//     the start arms nothing.
//
// Out of order, within the allowed lateness, the outcome is the one of
// event-time order: whether a timer fires depends only on the event times
// of start, until and due, and timers fire only once the watermark is past
// them. A start later than the allowed lateness arms no timer: its
// follow-up may have come and gone already.

type jkey struct{ cust, det, key string }

// jrec is a journey as loaded in this cycle; j.Status 0 = none.
type jrec struct {
	j      state.Journey
	dirty  bool
	stored bool // in the store when the cycle loaded it
}

func (p *Partition) journey(k jkey) (*jrec, error) {
	t := &p.tm
	if jr, ok := t.journeys[k]; ok {
		return jr, nil
	}
	jr := &jrec{}
	found, err := p.loadJourney(k, &jr.j)
	if err != nil {
		return nil, err
	}
	jr.stored = found
	t.journeys[k] = jr
	return jr, nil
}

func (t *timeState) setTimer(k jkey, due int64) {
	tm := state.Timer{Due: due, Customer: k.cust, Detector: k.det, Key: k.key}
	if _, ok := t.timers[tm]; !ok {
		t.born[tm] = struct{}{}
	}
	t.timers[tm] = true
	if due == state.Parked {
		delete(t.settled, k.det)
	} else {
		t.pending.push(tm)
	}
	t.nextDue = min(t.nextDue, due)
}

func (t *timeState) dropTimer(k jkey, due int64) {
	if due != 0 {
		t.timers[state.Timer{Due: due, Customer: k.cust, Detector: k.det, Key: k.key}] = false
	}
}

// setJourney replaces jr's journey, moving its timer.
func (p *Partition) setJourney(k jkey, jr *jrec, j state.Journey) {
	if jr.j.Due != j.Due || j.Status == 0 {
		p.tm.dropTimer(k, jr.j.Due)
		if j.Status != 0 && j.Due != 0 {
			p.tm.setTimer(k, j.Due)
		}
	}
	jr.j, jr.dirty = j, true
}

// journeyEvent lets the timed detectors see an experience that was just
// folded into en.
func (p *Partition) journeyEvent(en *entry, ev *event.Event, late bool) error {
	for _, i := range p.e.timed {
		d := p.e.dets[i].(detectors.Timed)
		start, until, key := d.Match(ev)
		if !start && !until {
			continue
		}
		k := jkey{cust: en.c.ID, det: d.Name(), key: key}
		jr, err := p.journey(k)
		if err != nil {
			return err
		}
		if start {
			err = p.started(en, i, d, k, jr, ev, late)
		} else {
			err = p.ended(en, i, d, k, jr, ev.Time)
		}
		if err != nil {
			return err
		}
		if !p.tm.settled[k.det] && d.Ready(p.pops[i]) {
			if err := p.unpark(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// unparkChunk is the most parked journeys one journey event unparks: a
// partition with many parked journeys moves them over several events, not
// in one giant batch (a variable for tests).
var unparkChunk = 1024

// unpark moves at most unparkChunk of the partition's journeys parked for d,
// the first ones in (customer, detector, key) order, to a timer at the
// watermark: fireDue runs them at once, and d times them now that it can.
// d is settled once a scan moves fewer than the chunk. The chunk is per
// event, so the outcome does not depend on cycle boundaries.
func (p *Partition) unpark(d detectors.Timed) error {
	t := &p.tm
	name := d.Name()
	keys, err := p.parkedKeys(name, unparkChunk)
	if err != nil {
		return err
	}
	for _, k := range keys {
		jr, err := p.journey(k)
		if err != nil {
			return err
		}
		if jr.j.Status != state.JourneyOpen || jr.j.Due != state.Parked {
			p.tm.dropTimer(k, state.Parked) // stale
			continue
		}
		j := jr.j
		j.Due = t.clock.Watermark
		p.setJourney(k, jr, j)
	}
	if len(keys) < unparkChunk {
		t.settled[name] = true
	}
	return nil
}

// parkedKeys lists the partition's parked journeys (of detector det; ""
// for all) as they stand in this cycle: the store's parked timers not
// touched this cycle, and those set parked in it, in (customer, detector,
// key) order. With limit > 0, at most limit, the first in that order among
// those the store scan reached (it stops after limit untouched ones).
func (p *Partition) parkedKeys(det string, limit int) ([]jkey, error) {
	t := &p.tm
	var keys []jkey
	err := p.e.store.Timers(p.id, state.Parked, state.Parked, func(tm state.Timer) bool {
		if det != "" && tm.Detector != det {
			return true
		}
		if _, ok := t.timers[tm]; ok {
			return true // handled this cycle, or set and listed below: not counted
		}
		keys = append(keys, jkey{cust: tm.Customer, det: tm.Detector, key: tm.Key})
		return limit <= 0 || len(keys) < limit
	})
	if err != nil {
		return nil, err
	}
	for tm, set := range t.timers {
		if set && tm.Due == state.Parked && (det == "" || tm.Detector == det) {
			keys = append(keys, jkey{cust: tm.Customer, det: tm.Detector, key: tm.Key})
		}
	}
	slices.SortFunc(keys, func(a, b jkey) int {
		return cmp.Or(cmp.Compare(a.cust, b.cust), cmp.Compare(a.det, b.det), cmp.Compare(a.key, b.key))
	})
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	return keys, nil
}

// sweepParked runs every sweepEvery of watermark (and first after open): it
// moves to the watermark the parked journeys its detector would give up
// anyway (open longer than its `over`), and those of detectors no longer
// configured, so that runTimer gives them up or drops them, as unpark would
// later. A detector that never becomes ready keeps no parked journey for
// ever. Only state changes: a journey older than `over` is given up either way.
func (p *Partition) sweepParked() error {
	t := &p.tm
	wm := t.clock.Watermark
	if wm == math.MinInt64 || (t.swept != math.MinInt64 && wm-t.swept < p.e.sweepEvery) {
		return nil
	}
	t.swept = wm
	keys, err := p.parkedKeys("", 0)
	if err != nil {
		return err
	}
	for _, k := range keys {
		i := slices.IndexFunc(p.e.timed, func(i int) bool { return p.e.dets[i].Name() == k.det })
		var over int64
		if i >= 0 {
			if over = int64(p.e.dets[p.e.timed[i]].Population()); over <= 0 {
				continue // never parks
			}
		}
		// Read without keeping it in the cycle unless it moves.
		var j state.Journey
		if jr, ok := t.journeys[k]; ok {
			j = jr.j
		} else if _, err := p.loadJourney(k, &j); err != nil {
			return err
		}
		if j.Status != state.JourneyOpen || j.Due != state.Parked {
			t.dropTimer(k, state.Parked) // stale
			continue
		}
		if i >= 0 && wm-j.Start <= over {
			continue
		}
		jr, err := p.journey(k)
		if err != nil {
			return err
		}
		j = jr.j
		j.Due = wm
		p.setJourney(k, jr, j)
	}
	return nil
}

func (p *Partition) started(en *entry, i int, d detectors.Timed, k jkey, jr *jrec, ev *event.Event, late bool) error {
	switch {
	case late:
		return nil
	case jr.j.Status != 0 && ev.Time < jr.j.Start:
		return nil // an older start of the journey in hand
	}
	if ev.Time <= p.tm.prevLast {
		// Out of order for this customer: its follow-up may have come first.
		ended, err := p.followedBy(en, d, k.key, ev.Time)
		if err != nil || ended {
			return err
		}
	}
	j, ok := d.Arm(ev, p.pops[i])
	if ok {
		p.setJourney(k, jr, j)
	}
	return nil
}

// followedBy reports whether the customer's window holds a follow-up of
// the detector's journey with this key at or after event time t.
func (p *Partition) followedBy(en *entry, d detectors.Timed, key string, t int64) (bool, error) {
	found := false
	err := p.eachWindow(en, func(ev *event.Event) bool {
		if _, until, k := d.Match(ev); until && k == key && ev.Time >= t {
			found = true
		}
		return !found
	})
	return found, err
}

func (p *Partition) ended(en *entry, i int, d detectors.Timed, k jkey, jr *jrec, at int64) error {
	j := jr.j
	switch j.Status {
	case state.JourneyOpen:
		// Timers that fell due before the follow-up run first, as they
		// would have in event-time order, but knowing that it has come:
		// deadline says it came late, overdue predicts nothing.
		for jr.j.Status == state.JourneyOpen && jr.j.Due != 0 && jr.j.Due < at {
			if err := p.runJourney(en, i, d, k, jr, at-1, at); err != nil {
				return err
			}
		}
		d.Finished(&j, at, p.pops[i]) // the journey as it was open
		if jr.j.Status == 0 {
			return nil
		}
		j = jr.j
		if j.Alerted == 0 {
			p.setJourney(k, jr, state.Journey{}) // done in time
			return nil
		}
		// No more escalation: keep it for the timeline, then clean up.
		j.Status, j.Until, j.Due = state.JourneyArrivedLate, at, j.Alerted+p.e.retention
		p.setJourney(k, jr, j)
	case state.JourneyAlerted:
		d.Finished(&j, at, p.pops[i])
		j.Status, j.Until = state.JourneyArrivedLate, at
		p.setJourney(k, jr, j)
	}
	return nil
}

// runJourney runs the journey's timer with the watermark at wm; arrived is
// the event time of its follow-up if it is already in hand (0 = not).
func (p *Partition) runJourney(en *entry, i int, d detectors.Timed, k jkey, jr *jrec, wm, arrived int64) error {
	j := jr.j
	if j.Status != state.JourneyOpen {
		p.setJourney(k, jr, state.Journey{}) // clean-up timer of a finished journey
		return nil
	}
	f, at, fire := d.Due(&j, k.key, wm, arrived, p.pops[i])
	if !fire && j.Due != 0 && j.Due <= wm {
		j.Due = wm + 1 // a detector must move a timer it does not fire; never loop
	}
	if fire {
		if err := p.countTimer(en, d, &f, k.key, j.Start, max(at, j.Start)); err != nil {
			return err
		}
		id, err := p.timerAlert(en, d, f, &j, k.key, at)
		if err != nil {
			return err
		}
		j.Alerted, j.AlertID = at, id
	}
	switch {
	case j.Due != 0:
	case j.Alerted != 0:
		j.Status, j.Due = state.JourneyAlerted, j.Alerted+p.e.retention
	default:
		j = state.Journey{} // gave up
	}
	p.setJourney(k, jr, j)
	return nil
}

// timerAlert turns a timed detector's finding into an alert at event time
// at. It returns the alert id ("" if the policy suppressed it).
func (p *Partition) timerAlert(en *entry, d detectors.Timed, f alerts.Finding, j *state.Journey, key string, at int64) (string, error) {
	if p.e.judge != nil { // tune: the judge keeps the policy (judge.go)
		return "", p.judgeTimer(en, d, f, j, key, at)
	}
	c := &en.c
	at = max(at, j.Start) // a promise already broken when it was made is detected when it is seen
	var perceived float64
	if d.Felt() {
		perceived = p.e.policy.Feel(c, at, time.Duration(p.e.halfLife), &f, true)
	} else {
		perceived = alerts.Perceived(c, at, time.Duration(p.e.halfLife))
	}
	if p.e.policy.Decide(f, c, at) == alerts.Suppressed {
		if m := p.e.metrics; m != nil {
			m.AlertsSuppressed.WithLabelValues(f.Detector).Inc()
		}
		return "", nil
	}
	evidence, err := p.keyEvidence(en, d, key)
	if err != nil {
		return "", err
	}
	// The same journey, detector and level give the same id anywhere.
	identity := make([]byte, 0, 64)
	identity = append(identity, "timer\x00"...)
	identity = append(identity, key...)
	identity = strconv.AppendInt(append(identity, 0), j.Start, 10)
	identity = strconv.AppendInt(append(identity, 0), int64(f.Severity), 10)
	detected := time.Unix(0, at)
	if p.e.live {
		// Processing time: when the record (or Tick) whose watermark
		// fired the timer was fetched.
		detected = p.tm.now
		if detected.IsZero() {
			detected = time.Now()
		}
	}
	a := p.e.policy.Build(f, c, d.JourneyName(), identity, time.Unix(0, j.Start), detected, evidence, perceived)
	a.HotspotID = p.hotspotOf(c.ID)
	// Complained before the alert, not before the journey started ("where
	// is my parcel?" comes after the promise).
	a.ComplainedBefore = p.e.policy.ComplainedBefore(c, at)
	a.RecoveredBefore = p.e.policy.RecoveredBefore(c, at)
	ref := state.AlertRef{ID: a.AlertID, Detector: a.Detector, Severity: uint8(a.Severity), Time: at, Reason: a.Reason}
	if d.Felt() {
		// A prediction (overdue) starts no cooldown: it must not hold back
		// the alert for the broken promise it predicts.
		c.Cooldown = ref
	}
	c.PushAlert(ref)
	p.out.Alerts = append(p.out.Alerts, a)
	fetched := p.tm.now
	if fetched.IsZero() && p.e.live {
		fetched = time.Now()
	}
	p.out.Fetched = append(p.out.Fetched, fetched)
	if m := p.e.metrics; m != nil {
		m.Alerts.WithLabelValues(a.Detector, a.Severity.String()).Inc()
	}
	return a.AlertID, nil
}

// keyEvidence returns the customer's experiences of the detector's journey
// with the same key attribute, newest first, at most MaxEvidence.
func (p *Partition) keyEvidence(en *entry, d detectors.Timed, key string) ([]alerts.Evidence, error) {
	attr := d.KeyAttribute()
	var out []alerts.Evidence
	err := p.eachWindow(en, func(ev *event.Event) bool {
		if v, _ := ev.Attr(attr); ev.Journey == d.JourneyName() && v == key {
			out = append(out, alerts.EvidenceOf(ev))
		}
		return len(out) < MaxEvidence
	})
	slices.SortStableFunc(out, func(a, b alerts.Evidence) int { return b.Time.Compare(a.Time) })
	return out, err
}

// eachWindow calls fn for the customer's window, this cycle's experiences
// first, newest first by arrival, until fn returns false.
func (p *Partition) eachWindow(en *entry, fn func(ev *event.Event) bool) error {
	c := &en.c
	var ev event.Event
	seen := make(map[uint64]bool, len(en.pending))
	take := func(seq uint64, b []byte) (bool, error) {
		if seen[seq] || seq+uint64(p.e.window) <= c.Seq {
			return true, nil
		}
		seen[seq] = true
		if err := state.DecodeExperience(b, c.ID, &ev); err != nil {
			return false, err
		}
		return fn(&ev), nil
	}
	for i := len(en.pending) - 1; i >= 0; i-- {
		pe := en.pending[i]
		if more, err := take(pe.seq, p.arena[pe.start:pe.end]); err != nil || !more {
			return err
		}
	}
	var derr error
	err := p.e.store.Window(p.id, c.ID, func(seq uint64, b []byte) bool {
		more, err := take(seq, b)
		derr = err
		return more && err == nil
	})
	if err == nil {
		err = derr
	}
	return err
}

// fireDue runs every timer the watermark has passed, in (due, customer,
// detector, key) order, until none is left.
func (p *Partition) fireDue() error {
	t := &p.tm
	if err := p.sweepParked(); err != nil {
		return err
	}
	for t.clock.Watermark >= t.nextDue {
		due, err := p.dueTimers(t.clock.Watermark)
		if err != nil {
			return err
		}
		if len(due) == 0 {
			return p.findNextDue()
		}
		for _, tm := range due {
			if err := p.runTimer(tm); err != nil {
				return err
			}
		}
	}
	return nil
}

// dueTimers lists the timers due at or before wm: the committed ones (from
// the timer index) not touched this cycle, and this cycle's (from the
// pending heap). Neither reads Pebble's timer keys: a scan of them walked
// the tombstones of every cancelled timer.
func (p *Partition) dueTimers(wm int64) ([]state.Timer, error) {
	t := &p.tm
	var due []state.Timer
	for {
		next, ok := p.ti.next()
		if !ok || next > wm {
			break
		}
		tm, ok := p.ti.timer(p.ti.take())
		if !ok {
			return nil, fmt.Errorf("%w: timer index entry", state.ErrCorrupt)
		}
		if _, ok := t.timers[tm]; ok {
			continue // deleted, or set and listed below
		}
		live, err := p.committedTimer(tm)
		if err != nil {
			return nil, err
		}
		if live {
			due = append(due, tm)
		}
	}
	for len(t.pending) > 0 && t.pending[0].Due <= wm {
		if tm := t.pending.pop(); t.timers[tm] {
			due = append(due, tm)
		}
	}
	slices.SortFunc(due, timerOrder)
	return slices.Compact(due), nil // a timer set, dropped and set again is in the heap twice
}

// committedTimer reports whether tm, untouched this cycle, is its journey's
// committed timer (the index keeps dropped timers until they come up).
func (p *Partition) committedTimer(tm state.Timer) (bool, error) {
	k := jkey{cust: tm.Customer, det: tm.Detector, key: tm.Key}
	if jr, ok := p.tm.journeys[k]; ok {
		return jr.j.Status != 0 && jr.j.Due == tm.Due, nil
	}
	var j state.Journey
	found, err := p.loadJourney(k, &j)
	return found && j.Status != 0 && j.Due == tm.Due, err
}

// findNextDue sets nextDue to the earliest pending timer (a lower bound:
// the index's earliest entry may be a dropped timer).
func (p *Partition) findNextDue() error {
	t := &p.tm
	next := int64(math.MaxInt64)
	if due, ok := p.ti.next(); ok {
		next = due
	}
	for len(t.pending) > 0 && !t.timers[t.pending[0]] {
		t.pending.pop() // dropped since it was set
	}
	if len(t.pending) > 0 {
		next = min(next, t.pending[0].Due)
	}
	t.nextDue = next
	return nil
}

// timerOrder is the order timers run in: due, customer, detector, key (the
// order of their Pebble keys).
func timerOrder(a, b state.Timer) int {
	return cmp.Or(cmp.Compare(a.Due, b.Due), cmp.Compare(a.Customer, b.Customer),
		cmp.Compare(a.Detector, b.Detector), cmp.Compare(a.Key, b.Key))
}

// timerHeap is a min-heap (timerOrder) of the timers set in this cycle. A
// timer dropped after it was set stays in the heap until it reaches the
// top, where t.timers says it is gone (lazy deletion): setting and
// dropping are O(log n) and O(1), and finding the due ones costs only
// what is due.
type timerHeap []state.Timer

func (h *timerHeap) push(tm state.Timer) {
	*h = append(*h, tm)
	a := *h
	for i := len(a) - 1; i > 0; {
		parent := (i - 1) / 2
		if timerOrder(a[i], a[parent]) >= 0 {
			break
		}
		a[i], a[parent] = a[parent], a[i]
		i = parent
	}
}

func (h *timerHeap) pop() state.Timer {
	a := *h
	top, n := a[0], len(a)-1
	a[0], a[n] = a[n], state.Timer{}
	a = a[:n]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < n && timerOrder(a[l], a[least]) < 0 {
			least = l
		}
		if r < n && timerOrder(a[r], a[least]) < 0 {
			least = r
		}
		if least == i {
			break
		}
		a[i], a[least] = a[least], a[i]
		i = least
	}
	*h = a
	return top
}

func (p *Partition) runTimer(tm state.Timer) error {
	i := slices.IndexFunc(p.e.timed, func(i int) bool { return p.e.dets[i].Name() == tm.Detector })
	k := jkey{cust: tm.Customer, det: tm.Detector, key: tm.Key}
	if i < 0 {
		// The detector is no longer configured: drop its journeys as they fall due.
		p.tm.dropTimer(k, tm.Due)
		jr, err := p.journey(k)
		if err != nil {
			return err
		}
		jr.j, jr.dirty = state.Journey{}, true
		return nil
	}
	idx := p.e.timed[i]
	jr, err := p.journey(k)
	if err != nil {
		return err
	}
	if jr.j.Status == 0 || jr.j.Due != tm.Due {
		p.tm.dropTimer(k, tm.Due) // stale
		return nil
	}
	en, err := p.customer(tm.Customer)
	if err != nil {
		return err
	}
	return p.runJourney(en, idx, p.e.dets[idx].(detectors.Timed), k, jr, p.tm.clock.Watermark, 0)
}

// stageJourneys writes the cycle's journeys and timers into the batch.
func (p *Partition) stageJourneys() error {
	t := &p.tm
	for k, jr := range t.journeys {
		if !jr.dirty {
			continue
		}
		var err error
		if jr.j.Status == 0 {
			if !jr.stored {
				continue // started and ended in this cycle: nothing to write
			}
			err = p.batch.DeleteJourney(k.cust, k.det, k.key)
			p.cacheJourney(k.cust, k.det, k.key, nil)
		} else {
			err = p.batch.PutJourney(k.cust, k.det, k.key, &jr.j)
			p.cacheJourney(k.cust, k.det, k.key, &jr.j)
		}
		if err != nil {
			return err
		}
	}
	for tm, set := range t.timers {
		// Only a parked journey has a timer key: the index (timerindex.go)
		// holds the others' due times, rebuilt from the journeys at open.
		if tm.Due != state.Parked && (set || !p.oldTimers) {
			continue
		}
		var err error
		if set {
			err = p.batch.PutTimer(&tm)
		} else if _, born := t.born[tm]; born {
			// Set and dropped in this cycle: never written (a stale copy
			// in the store, if any, is dropped when it falls due).
			continue
		} else {
			err = p.batch.DeleteTimer(&tm)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
