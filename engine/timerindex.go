package engine

import (
	"encoding/binary"

	"github.com/peakend/peakend/state"
)

// The timer index: the partition's committed pending timers, in memory.
//
// Finding the due timers by scanning Pebble's timer keys walked the
// tombstones of every cancelled timer between the live ones (~160 µs a scan
// on a month of open orders; docs/performance.md, timers). So the partition
// keeps a min-heap by due time of its committed timers (every stored
// journey's due time but the parked ones, which never fall due), filled by
// the scan of the journeys at open (openJourneys) and given the cycle's new
// timers at Commit. So a timer needs no key of its own: only parked
// journeys have one (unpark and the sweep list them in key order). A store
// written before this still has a key per timer: the partition then deletes
// each as its journey moves on, as before (Partition.oldTimers). Dropping a
// timer does not touch it: a timer taken from the heap counts only if the
// committed journey still has that due time (lazy deletion; dueTimers
// checks), so the heap may hold stale entries until they come up. Entries
// are 16 bytes and their journey ids live in one arena, so the index holds
// no pointer for the garbage collector to follow (~50 bytes a timer). The
// entries a cycle takes are put back if it is discarded.

// tiEntry is one timer in the index: its due time and journey id
// (arena[off:off+n], a state.JourneyID).
type tiEntry struct {
	due    int64
	off, n uint32
}

type timerIndex struct {
	h       []tiEntry
	arena   []byte
	garbage int       // arena bytes no entry refers to
	taken   []tiEntry // popped this cycle (put back by discard)
}

// add puts a committed timer into the index.
func (x *timerIndex) add(due int64, id []byte) {
	e := tiEntry{due: due, off: uint32(len(x.arena)), n: uint32(len(id))}
	x.arena = append(x.arena, id...)
	x.push(e)
}

func (x *timerIndex) push(e tiEntry) {
	x.h = append(x.h, e)
	a := x.h
	for i := len(a) - 1; i > 0; {
		parent := (i - 1) / 2
		if a[i].due >= a[parent].due {
			break
		}
		a[i], a[parent] = a[parent], a[i]
		i = parent
	}
}

// next returns the earliest due time in the index (stale entries included).
func (x *timerIndex) next() (int64, bool) {
	if len(x.h) == 0 {
		return 0, false
	}
	return x.h[0].due, true
}

// take pops the earliest entry, keeping it for discard.
func (x *timerIndex) take() tiEntry {
	a := x.h
	top, n := a[0], len(a)-1
	a[0] = a[n]
	a = a[:n]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < n && a[l].due < a[least].due {
			least = l
		}
		if r < n && a[r].due < a[least].due {
			least = r
		}
		if least == i {
			break
		}
		a[i], a[least] = a[least], a[i]
		i = least
	}
	x.h = a
	x.taken = append(x.taken, top)
	return top
}

// timer decodes e.
func (x *timerIndex) timer(e tiEntry) (state.Timer, bool) {
	cust, det, key, ok := parseJourneyID(x.arena[e.off : e.off+e.n])
	return state.Timer{Due: e.due, Customer: cust, Detector: det, Key: key}, ok
}

// commit forgets the entries the cycle took; the cycle's new timers are
// added by the caller.
func (x *timerIndex) commit() {
	for _, e := range x.taken {
		x.garbage += int(e.n)
	}
	x.taken = x.taken[:0]
	if x.garbage > 1<<20 && x.garbage > len(x.arena)/2 {
		x.compact()
	}
}

// discard puts back the entries the cycle took.
func (x *timerIndex) discard() {
	for _, e := range x.taken {
		x.push(e)
	}
	x.taken = x.taken[:0]
}

// compact copies the live entries' ids into a new arena.
func (x *timerIndex) compact() {
	arena := make([]byte, 0, len(x.arena)-x.garbage+len(x.arena)/8)
	for i := range x.h {
		e := &x.h[i]
		off := len(arena)
		arena = append(arena, x.arena[e.off:e.off+e.n]...)
		e.off = uint32(off)
	}
	x.arena, x.garbage = arena, 0
}

// parseJourneyID splits a state.JourneyID.
func parseJourneyID(b []byte) (cust, det, key string, ok bool) {
	cut := func() (string, bool) {
		if len(b) < 2 {
			return "", false
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return "", false
		}
		s := string(b[2 : 2+n])
		b = b[2+n:]
		return s, true
	}
	if cust, ok = cut(); !ok {
		return
	}
	if det, ok = cut(); !ok {
		return
	}
	return cust, det, string(b), true
}

// commitTimers gives the index the committed cycle's new timers.
func (p *Partition) commitTimers() {
	x := &p.ti
	x.commit()
	for tm, set := range p.tm.timers {
		if set && tm.Due != state.Parked {
			p.jbuf = state.JourneyID(p.jbuf[:0], tm.Customer, tm.Detector, tm.Key)
			x.add(tm.Due, p.jbuf)
		}
	}
}
