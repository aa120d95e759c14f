package engine

import (
	"errors"
	"math"
	"unsafe"

	"github.com/peakend/peakend/state"
)

// The journey cache: the partition's stored journeys, in memory.
//
// Every event of a timed detector's journey needs the journey's record: is
// this order's promise already open, when is its timer? Over a month of open
// orders, a Pebble Get of it walks the memtables and every L0 sublevel, and
// it was most of the cost of timers (docs/performance.md, timers). So the
// partition keeps the committed journey records in a state.HeaderCache of
// their own (off the Go heap, state.journey_cache_mib shared by all
// partitions), filled by one scan of the journeys when the partition opens
// and written through at Commit, as the header cache is. The partition
// keeps the ids of the journeys the cache lost (evicted for room, or two
// ids sharing an index entry): a miss of any other id means there is no
// such journey, so a new journey's start reads nothing at all. Past
// maxJourneysLost of them (the budget is too small for the open journeys),
// every miss reads Pebble.

// maxJourneysLost is the most lost journey ids a partition keeps.
const maxJourneysLost = 1 << 16

// jcStaged is a journey written by the cycle, for the cache after Commit.
type jcStaged struct {
	id, val [2]int // in Partition.jcArena; val[0] < 0: deleted
}

// openJourneys fills the journey cache (partitions of an engine with timed
// detectors only) and the timer index (timerindex.go) from one scan of the
// stored journeys, and looks for timer keys of journeys that are not
// parked (a store written when every timer had a key).
func (p *Partition) openJourneys() error {
	p.ti = timerIndex{}
	p.jc, p.jcLost, p.jcGaveUp = nil, nil, false
	if len(p.e.timed) > 0 && p.e.journeyCache != nil {
		p.jc = state.NewHeaderCache(p.e.journeyCache)
		p.jcLost = map[string]struct{}{}
		p.jc.OnLost(func(id []byte) {
			if p.jcGaveUp {
				return
			}
			if len(p.jcLost) >= maxJourneysLost {
				p.jcGaveUp, p.jcLost = true, nil
				return
			}
			p.jcLost[string(id)] = struct{}{}
		})
	}
	warm := p.jc != nil
	var j state.Journey
	var derr error
	err := p.e.store.JourneyRecords(p.id, func(id, enc []byte) bool {
		if warm {
			warm = p.jc.Warm(string(id), enc)
		}
		if derr = j.UnmarshalBinary(enc); derr != nil {
			return false
		}
		if j.Due != 0 && j.Due != state.Parked {
			p.ti.add(j.Due, id)
		}
		return true
	})
	if err = errors.Join(err, derr); err != nil {
		return err
	}
	p.oldTimers = false
	return p.e.store.Timers(p.id, math.MinInt64, state.Parked-1, func(state.Timer) bool {
		p.oldTimers = true
		return false
	})
}

// jcKey is k's journey id in p.jbuf, valid until the next call.
func (p *Partition) jcKey(k jkey) string {
	p.jbuf = state.JourneyID(p.jbuf[:0], k.cust, k.det, k.key)
	// A view of p.jbuf: the cache copies what it keeps.
	return unsafe.String(unsafe.SliceData(p.jbuf), len(p.jbuf))
}

// loadJourney reads k's committed journey into j; it reports false if there
// is none.
func (p *Partition) loadJourney(k jkey, j *state.Journey) (bool, error) {
	if p.jc != nil {
		id := p.jcKey(k)
		if b, ok := p.jc.Get(id); ok {
			return true, j.UnmarshalBinary(b)
		}
		if _, lost := p.jcLost[id]; !lost && !p.jcGaveUp {
			return false, nil // the cache holds every journey but the lost ones
		}
	}
	return p.e.store.Journey(p.id, k.cust, k.det, k.key, j)
}

// cacheJourney records a journey written into the batch (nil: deleted),
// for the cache once the batch is committed.
func (p *Partition) cacheJourney(cust, det, key string, j *state.Journey) {
	if p.jc == nil {
		return
	}
	var s jcStaged
	s.id[0] = len(p.jcArena)
	p.jcArena = state.JourneyID(p.jcArena, cust, det, key)
	s.id[1] = len(p.jcArena)
	s.val[0] = -1
	if j != nil {
		s.val[0] = len(p.jcArena)
		p.jcArena = j.AppendBinary(p.jcArena)
		s.val[1] = len(p.jcArena)
	}
	p.jcStaged = append(p.jcStaged, s)
}

// commitJourneys writes the committed cycle's journeys through to the cache.
func (p *Partition) commitJourneys() {
	for _, s := range p.jcStaged {
		id := unsafe.String(unsafe.SliceData(p.jcArena[s.id[0]:]), s.id[1]-s.id[0])
		delete(p.jcLost, id) // known again (or lost again by the call below)
		if s.val[0] < 0 {
			p.jc.Delete(id)
		} else {
			p.jc.Put(id, p.jcArena[s.val[0]:s.val[1]])
		}
	}
	p.discardJourneys()
}

// discardJourneys forgets the cycle's journeys (the cache keeps the
// committed ones).
func (p *Partition) discardJourneys() {
	p.jcStaged = p.jcStaged[:0]
	p.jcArena = p.jcArena[:0]
}
