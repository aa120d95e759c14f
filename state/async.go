package state

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2"
)

// Asynchronous commits let a single-threaded writer (replay) go on with its
// next batch while Pebble inserts the previous one into the memtable on
// another core. Reads stay consistent through fences: a read of one
// customer's keys waits only if the batch in flight wrote one of that
// customer's keys (Batch.touch); any other read of the partition waits for
// the batch.

// flight is one partition's commit in flight.
type flight struct {
	done chan struct{}
	err  error
	// custs holds the hashes of the customers the batch wrote, sorted;
	// opaque batches (Batch.Apply) may have written anyone.
	custs  []uint64
	opaque bool
	// timers are the batch's timer writes, for reads that lay them over
	// Pebble instead of waiting (Store.Timers).
	timers timerWrites
}

// touches reports whether the batch in flight may have written cust.
func (fl *flight) touches(cust string) bool {
	if fl.opaque {
		return true
	}
	_, found := slices.BinarySearch(fl.custs, xxhash.Sum64String(cust))
	return found
}

// fences tracks the partitions with a commit in flight. The counter keeps
// the common case (none) to one atomic load.
type fences struct {
	n  atomic.Int32
	mu sync.Mutex
	m  map[int32]*flight
}

func (f *fences) start(p int32, fl *flight) {
	f.mu.Lock()
	if f.m == nil {
		f.m = map[int32]*flight{}
	}
	f.m[p] = fl
	f.mu.Unlock()
	f.n.Add(1)
}

// wait waits for the commits in flight that may hold what a read needs:
// every partition's (all), partition p's, or partition p's only if it
// wrote customer cust (cust != ""). It returns the first commit error.
func (f *fences) wait(p int32, all bool, cust string) error {
	if f.n.Load() == 0 {
		return nil
	}
	f.mu.Lock()
	var wait []*flight
	for q, fl := range f.m {
		if all || q == p && (cust == "" || fl.touches(cust)) {
			wait = append(wait, fl)
		}
	}
	f.mu.Unlock()
	for _, fl := range wait {
		<-fl.done
		if fl.err != nil {
			return fl.err
		}
	}
	return nil
}

// finish ends partition p's flight fl. A failed flight stays: every later
// read of p reports the failed commit.
func (f *fences) finish(p int32, fl *flight, err error) {
	fl.err = err
	if err == nil {
		f.mu.Lock()
		if f.m[p] == fl {
			delete(f.m, p)
			f.n.Add(-1)
		}
		f.mu.Unlock()
	}
	close(fl.done)
}

// timerOverlay returns partition p's commit in flight if it is still
// running and its timer writes are known (timers), for a read that lays
// them over Pebble instead of waiting; it waits for an opaque one
// (Batch.Apply may have written any timer). It returns a failed commit's
// error.
func (f *fences) timerOverlay(p int32) (*flight, error) {
	if f.n.Load() == 0 {
		return nil, nil
	}
	f.mu.Lock()
	fl := f.m[p]
	f.mu.Unlock()
	if fl == nil {
		return nil, nil
	}
	if fl.opaque {
		<-fl.done
	}
	select {
	case <-fl.done:
		return nil, fl.err
	default:
		return fl, nil
	}
}

// fence waits for partition p's commit in flight (see CommitAsync).
func (s *Store) fence(p int32) error { return s.fences.wait(p, false, "") }

// fenceCustomer waits for partition p's commit in flight if it wrote cust.
func (s *Store) fenceCustomer(p int32, cust string) error { return s.fences.wait(p, false, cust) }

// fenceAll waits for every commit in flight.
func (s *Store) fenceAll() error { return s.fences.wait(0, true, "") }

// CommitAsync hands the batch's writes to Pebble without waiting for them:
// the memtable insert runs on its own goroutine while the caller fills the
// batch again. Reads through the Store wait for it where they need it (see
// the fences above); so do the next CommitAsync, Commit, Wait and Close,
// which also report its error. Writes are not synced: for stores rebuilt
// from scratch after a crash (replay), never for live state.
func (b *Batch) CommitAsync() error {
	if err := b.Wait(); err != nil {
		return err
	}
	full := b.b
	if b.spare != nil {
		b.b, b.spare = b.spare, nil
	} else {
		b.b = b.s.db.NewBatch()
	}
	slices.Sort(b.custs)
	fl := &flight{done: make(chan struct{}), custs: b.custs, opaque: b.opaque, timers: b.timers.sorted()}
	b.custs, b.opaque = b.spareCusts[:0], false
	b.timers = timerWrites{buf: make([]byte, 0, cap(b.timers.buf)), ops: make([]timerWrite, 0, cap(b.timers.ops))}
	b.s.fences.start(b.p, fl)
	b.flight = fl
	go func() {
		err := full.Commit(pebble.NoSync)
		if err != nil {
			err = fmt.Errorf("state: commit partition %d: %w", b.p, err)
		}
		full.Reset()
		b.spareCh <- full
		b.s.fences.finish(b.p, fl, err)
	}()
	return nil
}

// Wait waits for the batch's commit in flight, if any, and returns its error.
func (b *Batch) Wait() error {
	fl := b.flight
	if fl == nil {
		return nil
	}
	<-fl.done
	b.spare = <-b.spareCh
	b.spareCusts = fl.custs
	b.flight = nil
	return fl.err
}

// timerWrites are a batch's timer writes (Batch.PutTimer, DeleteTimer): the
// keys, one after another in buf, and each write's place in it.
type timerWrites struct {
	buf []byte
	ops []timerWrite
}

type timerWrite struct {
	off, end int32
	del      bool
}

func (w *timerWrites) add(key []byte, del bool) {
	off := int32(len(w.buf))
	w.buf = append(w.buf, key...)
	w.ops = append(w.ops, timerWrite{off: off, end: int32(len(w.buf)), del: del})
}

func (w *timerWrites) reset() { w.buf, w.ops = w.buf[:0], w.ops[:0] }

func (w timerWrites) len() int           { return len(w.ops) }
func (w timerWrites) key(i int) []byte   { return w.buf[w.ops[i].off:w.ops[i].end] }
func (w timerWrites) deleted(i int) bool { return w.ops[i].del }
func (w timerWrites) next() timerWrites  { return timerWrites{buf: w.buf, ops: w.ops[1:]} }

// sorted returns the writes in key order, the last write of each key only
// (the one the batch leaves).
func (w timerWrites) sorted() timerWrites {
	slices.SortStableFunc(w.ops, func(a, b timerWrite) int {
		return bytes.Compare(w.buf[a.off:a.end], w.buf[b.off:b.end])
	})
	out := w.ops[:0]
	for i, op := range w.ops {
		if i+1 < len(w.ops) && bytes.Equal(w.key(i), w.key(i+1)) {
			continue // a later write of the same key follows
		}
		out = append(out, op)
	}
	w.ops = out
	return w
}

// within returns the writes of keys in [lo, hi).
func (w timerWrites) within(lo, hi []byte) timerWrites {
	i, _ := slices.BinarySearchFunc(w.ops, lo, func(op timerWrite, k []byte) int {
		return bytes.Compare(w.buf[op.off:op.end], k)
	})
	j, _ := slices.BinarySearchFunc(w.ops, hi, func(op timerWrite, k []byte) int {
		return bytes.Compare(w.buf[op.off:op.end], k)
	})
	return timerWrites{buf: w.buf, ops: w.ops[i:max(i, j)]}
}
