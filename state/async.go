package state

import (
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
	fl := &flight{done: make(chan struct{}), custs: b.custs, opaque: b.opaque}
	b.custs, b.opaque = b.spareCusts[:0], false
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
