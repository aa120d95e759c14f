package engine

import (
	"math"
	"time"

	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/state"
)

// Watermark: a partition's event-time clock.
//
// The watermark is the highest event time the partition has seen minus
// events.allowed_lateness; it never goes back. An event older than the
// watermark when it arrives is late: it is still judged and folded into the
// customer's window and header, and counted as result="late"; it arms no
// timer (see timers.go). Timers fire when the watermark passes them.
//
// Idle partitions: a live partition that received no experience for
// events.idle_timeout (processing time) lets its watermark advance with
// processing time from there: after idle_timeout + d without records, the
// watermark is at least max event time − allowed_lateness + d. Event time
// is assumed to go on at the pace of the clock on the wall, from the last
// event seen, never from the wall clock itself, so a topic replayed from
// last year does not fire a year of timers at once. Replay has no idle
// partitions: at the end of the input the watermark moves to the last event
// time (Drain), so every timer due by then fires; timers due later stay
// pending in the store (nothing in the file says whether their follow-up
// would have come).

// timeState is a partition's event-time machinery: its clock, and this
// cycle's journeys and timers (written into the batch at Stage).
type timeState struct {
	clock     state.Clock // working
	committed state.Clock // as of the last Commit
	// lastRecord is the processing time of the last experience (live).
	lastRecord time.Time
	// now is the processing time of the work in hand (zero in replay).
	now time.Time
	// nextDue: no timer falls due before it (a lower bound; MinInt64 = unknown).
	nextDue int64
	// prevLast is the customer's latest event time before the experience in hand.
	prevLast int64
	journeys map[jkey]*jrec
	timers   map[state.Timer]bool // written this cycle: true = set, false = deleted
	// born: timers first set in this cycle (absent from timers until
	// then): one dropped again in the same cycle was never written, and
	// needs no tombstone.
	born    map[state.Timer]struct{}
	pending timerHeap // timers set this cycle, earliest first (some since dropped)
	expired int64     // customers expired in the committed batch (for the metric)
	// settled: timed detectors known to have no parked journey (absent:
	// there may be some, in the store or this cycle).
	settled map[string]bool
	// swept: the watermark of the last sweep of parked journeys since open
	// (MinInt64 = none yet; see sweepParked).
	swept int64
}

// openTime loads the partition's clock and its earliest timer.
func (p *Partition) openTime() error {
	t := &p.tm
	t.journeys = map[jkey]*jrec{}
	t.timers = map[state.Timer]bool{}
	t.born = map[state.Timer]struct{}{}
	t.settled = map[string]bool{}
	c, err := p.e.store.Clock(p.id)
	if err != nil {
		return err
	}
	if c == (state.Clock{}) {
		c.Watermark = math.MinInt64
		c.Swept = math.MinInt64
	}
	t.clock, t.committed = c, c
	t.nextDue = math.MinInt64
	t.swept = math.MinInt64
	return nil
}

// Watermark returns the partition's watermark (event time), and false if it
// has seen no event yet.
func (p *Partition) Watermark() (time.Time, bool) {
	if p.tm.clock.Watermark == math.MinInt64 {
		return time.Time{}, false
	}
	return time.Unix(0, p.tm.clock.Watermark).UTC(), true
}

// observe moves the clock with an experience and reports whether the
// experience is late (older than the watermark before it).
func (p *Partition) observe(en *entry, ev *event.Event, r *Record) (bool, error) {
	t := &p.tm
	if !r.Fetched.IsZero() {
		t.lastRecord, t.now = r.Fetched, r.Fetched
	}
	late := ev.Time < t.clock.Watermark
	t.prevLast = en.c.LastAt
	if en.c.Seq == 0 {
		t.prevLast = math.MinInt64
	}
	if t.clock.MaxTime == 0 || ev.Time > t.clock.MaxTime {
		t.clock.MaxTime = ev.Time
	}
	t.clock.Watermark = max(t.clock.Watermark, t.clock.MaxTime-p.e.lateness)
	return late, p.touch(en, ev.Time)
}

// Tick advances an idle live partition's watermark with processing time
// (see above) and fires the timers it passes. It reports whether it did
// work that must be staged and committed; a replay never ticks.
func (p *Partition) Tick(now time.Time) (bool, error) {
	t := &p.tm
	if !p.e.live || t.clock.MaxTime == 0 {
		return false, nil
	}
	if t.lastRecord.IsZero() {
		t.lastRecord = now // idle since the partition opened
		return false, nil
	}
	idle := now.Sub(t.lastRecord) - p.e.idle
	if idle <= 0 {
		return false, nil
	}
	wm := t.clock.MaxTime - p.e.lateness + int64(idle)
	if wm <= t.clock.Watermark {
		return false, nil
	}
	t.clock.Watermark, t.now = wm, now
	if wm < t.nextDue && t.swept != math.MinInt64 && wm-t.swept < p.e.sweepEvery {
		// Nothing due, no sweep of parked journeys due; live hotspots may
		// still need the watermark sent (a step's end passed).
		return p.hotspotsDue(wm), nil
	}
	return true, p.fireDue()
}

// Drain is the end of the input (replay): the watermark moves to the highest
// event time seen, and every timer due by then fires.
func (p *Partition) Drain() error {
	t := &p.tm
	if t.clock.MaxTime == 0 {
		return nil
	}
	t.clock.Watermark = max(t.clock.Watermark, t.clock.MaxTime)
	return p.fireDue()
}

// commitTime makes the cycle's clock the committed one.
func (p *Partition) commitTime() {
	t := &p.tm
	t.committed = t.clock
	clear(t.journeys)
	clear(t.timers)
	clear(t.born)
	clear(t.pending)
	t.pending = t.pending[:0]
	if m := p.e.metrics; m != nil && t.expired > 0 {
		m.CustomersExpired.Add(float64(t.expired))
	}
	t.expired = 0
}

// discardTime drops the cycle's event-time work.
func (p *Partition) discardTime() {
	t := &p.tm
	t.clock = t.committed
	clear(t.journeys)
	clear(t.timers)
	clear(t.born)
	clear(t.pending)
	t.pending = t.pending[:0]
	clear(t.settled)
	t.expired = 0
	t.nextDue = math.MinInt64
	t.swept = math.MinInt64
}
