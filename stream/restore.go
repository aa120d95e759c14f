package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/state"
)

// Restore brings a partition's Pebble state up to its changelog before the
// partition is processed: from the changelog offset the local state records
// (the tail only), or from the start after wiping the partition's keys when
// the local state is absent or from another changelog history. Each
// partition restores on its own goroutine, with its own client, retrying
// until it succeeds or the partition is revoked; a record it cannot restore
// is counted and skipped, never a reason to stop.

const (
	// restoreFlush is how many writes a restore batch collects before it is
	// committed to Pebble (with the changelog offset it reached).
	restoreFlush = 16 << 10
	// restorePending bounds the writes held back because no marker followed
	// them yet. A cycle writes at most about two records per input record
	// (a window slot and a header) plus a few population buckets, and a
	// cycle holds at most MaxPollRecords records, so a longer run without a
	// marker cannot be one unfinished cycle: it is history whose markers
	// compaction removed, and is restored.
	restorePendingMin = 64 << 10
)

// restoreTask is one partition's restore in flight.
type restoreTask struct {
	done   chan struct{} // closed when the restore ends
	err    error         // set before done is closed
	cancel context.CancelFunc
}

// restoreStats describes one restore.
type restoreStats struct {
	from, to int64 // changelog offsets read
	records  int64 // writes applied
	skipped  int64 // records that could not be restored
	rewrote  int   // writes of an unfinished cycle rewritten with the current values
	wiped    bool  // local state was discarded first
}

// startRestore begins restoring partition p unless it is open or already
// restoring. Call with r.mu held.
func (r *Runner) startRestore(p int32) {
	if r.parts[p] != nil || r.restores[p] != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.runCtx)
	t := &restoreTask{done: make(chan struct{}), cancel: cancel}
	r.restores[p] = t
	if m := r.o.Metrics; m != nil {
		m.Restoring.Inc()
	}
	r.restoring.Add(1)
	go func() {
		defer r.restoring.Done()
		defer close(t.done)
		defer cancel()
		t.err = r.restore(ctx, p)
		if m := r.o.Metrics; m != nil {
			m.Restoring.Dec()
		}
	}()
}

// stopRestore cancels partition p's restore, if any. Call with r.mu held.
func (r *Runner) stopRestore(p int32) {
	if t := r.restores[p]; t != nil {
		t.cancel()
		delete(r.restores, p)
	}
}

// awaitPartition waits until partition p is restored and opens its engine
// partition. committed is the input offset the group committed for p (-1 if
// none). Under exactly-once, local state must reach it: a restore that
// listed the changelog's end before the previous owner's last transaction
// ended is resumed once more.
func (r *Runner) awaitPartition(ctx context.Context, p int32, committed int64) error {
	r.mu.Lock()
	if r.parts[p] != nil {
		r.mu.Unlock()
		return nil
	}
	r.startRestore(p)
	t := r.restores[p]
	r.mu.Unlock()
	select {
	case <-t.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if t.err != nil {
		return t.err
	}
	exp, _ := r.topics()
	if r.o.Config.Kafka.ExactlyOnce && committed >= 0 {
		local, err := r.o.Store.Offset(p, exp)
		if err != nil {
			return err
		}
		if local < committed {
			r.log.Info("state behind the committed offset: reading the changelog's tail again", "partition", p,
				"state_offset", local, "committed_offset", committed)
			m := r.o.Metrics
			if m != nil {
				m.Restoring.Inc()
			}
			err := r.restore(ctx, p)
			if m != nil {
				m.Restoring.Dec()
			}
			if err != nil {
				return err
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.restores[p] == t {
		delete(r.restores, p)
	}
	if r.parts[p] == nil && r.assignedParts[p] {
		pt, err := r.o.Engine.OpenPartition(p)
		if err != nil {
			return fmt.Errorf("stream: open partition %d: %w", p, err)
		}
		r.parts[p] = pt
		// offset: where consuming resumes, the state's next offset (which a
		// restore may have rolled forward past local Pebble's); -1 when
		// state has none, and the group's committed offset or the reset
		// policy decides.
		next, err := r.o.Store.Offset(p, exp)
		if err != nil {
			return err
		}
		r.log.Info("partition ready", "topic", exp, "partition", p, "offset", next, "customers", pt.Customers())
	}
	r.updateGauges()
	r.refreshReady()
	return nil
}

// restore restores partition p, retrying on errors until it succeeds or ctx ends.
func (r *Runner) restore(ctx context.Context, p int32) error {
	began := time.Now()
	waited := false
	for wait := time.Second; ; wait = min(2*wait, 10*time.Second) {
		st, err := r.restoreOnce(ctx, p)
		if err == nil {
			secs := time.Since(began).Seconds()
			if st.records > 0 || st.skipped > 0 || st.wiped || st.rewrote > 0 {
				r.log.Info("partition restored", "partition", p, "from", st.from, "to", st.to, "records", st.records,
					"skipped", st.skipped, "rewrote", st.rewrote, "wiped", st.wiped, "seconds", round3(secs),
					"keys_per_second", int64(float64(st.records)/max(secs, 1e-9)))
			}
			if m := r.o.Metrics; m != nil {
				m.RestoreSeconds.Observe(secs)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errOpenTransaction) {
			// Short, steady retries: a transaction ends within its timeout.
			wait = 500 * time.Millisecond
			if !waited {
				r.log.Info("changelog has a transaction in flight; waiting for it to end before restoring", "partition", p, "err", err)
			}
			waited = true
		} else {
			r.log.Warn("restore failed; retrying", "partition", p, "err", err, "retry_in", wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// seed seeds partition p's empty changelog from local state (seedChangelog).
func (r *Runner) seed(ctx context.Context, p int32, why string) error {
	r.log.Warn("seeding the changelog from local state", "partition", p, "changelog", r.changelog, "why", why)
	began := time.Now()
	n, err := r.seedChangelog(ctx, p)
	if err != nil {
		return err
	}
	r.log.Info("changelog seeded", "partition", p, "records", n, "seconds", round3(time.Since(began).Seconds()))
	return nil
}

func round3(f float64) float64 { return float64(int64(f*1000)) / 1000 }

// restoreOnce reads partition p's changelog from the local changelog offset
// to the changelog's last stable offset and applies it to Pebble.
func (r *Runner) restoreOnce(ctx context.Context, p int32) (st restoreStats, err error) {
	topic, store, log := r.changelog, r.o.Store, r.log
	eos := r.o.Config.Kafka.ExactlyOnce
	cl, err := kgo.NewClient(append(r.connOpts(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(32<<20))...)
	if err != nil {
		return st, fmt.Errorf("stream: restore client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return st, fmt.Errorf("stream: changelog start offsets: %w", err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic) // the last stable offsets
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return st, fmt.Errorf("stream: changelog end offsets: %w", err)
	}
	so, ok1 := starts.Lookup(topic, p)
	eo, ok2 := ends.Lookup(topic, p)
	if !ok1 || !ok2 {
		return st, fmt.Errorf("stream: changelog %s has no partition %d", topic, p)
	}
	start, end := so.Offset, eo.Offset
	// A transaction still open on the changelog partition (a seed, or the
	// previous owner's last cycle) pins the last stable offset below it:
	// deciding now could take a changelog being written for an empty one.
	// Wait (the restore retries) until it commits or aborts.
	hwms, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = hwms.Error()
	}
	if err != nil {
		return st, fmt.Errorf("stream: changelog high watermarks: %w", err)
	}
	if hwm, ok := hwms.Lookup(topic, p); ok && hwm.Offset > end {
		return st, fmt.Errorf("%w: changelog partition %d, stable up to %d of %d", errOpenTransaction, p, end, hwm.Offset)
	}
	local, err := store.Offset(p, topic)
	if err != nil {
		return st, err
	}
	// empty reports whether the changelog partition holds no committed
	// state: no record at all, or only aborted ones and their markers (a
	// seed that failed). Offsets alone cannot tell.
	empty := func() (bool, error) {
		if start == end {
			return true, nil
		}
		return r.committedEmpty(ctx, p, start, end)
	}
	from := local
	switch {
	case local < 0:
		has, err := store.HasState(p)
		if err != nil {
			return st, err
		}
		if has {
			e, err := empty()
			if err != nil {
				return st, err
			}
			if e {
				// State from before this changelog existed, the only
				// copy: seed the changelog with it, so that it moves
				// with the partition.
				return st, r.seed(ctx, p, "local state predates the changelog")
			}
			log.Warn("local state of partition is not from this changelog: wiping it and restoring in full", "partition", p, "changelog", topic)
			if err := store.WipePartition(p); err != nil {
				return st, err
			}
			st.wiped = true
		}
		from = start
	case local > end || local < start:
		e, err := empty()
		if err != nil {
			return st, err
		}
		if e {
			// An empty changelog, recreated or emptied, and local state
			// that is now the only copy: seed the changelog rather than
			// wipe it.
			return st, r.seed(ctx, p, "changelog is empty (recreated or emptied)")
		}
		log.Warn("local changelog offset outside the changelog (topic recreated or truncated): wiping and restoring in full",
			"partition", p, "local", local, "start", start, "end", end)
		if err := store.WipePartition(p); err != nil {
			return st, err
		}
		st.wiped, from = true, start
	}
	st.from, st.to = from, end
	// Up to date: nothing after the local offset, or (exactly-once) only
	// the commit marker of the transaction that wrote the local offset.
	if from >= end || (eos && from == local && end-local <= 1) {
		return st, nil
	}
	log.Info("restoring partition from the changelog", "partition", p, "from", from, "to", end, "full", from == start)

	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(from)}})
	b := store.NewBatch(p)
	defer b.Close()
	marker := state.OffsetKey(p, topic)
	maxPending := max(restorePendingMin, 4*r.o.MaxPollRecords+1024)
	var pending []*kgo.Record
	pos, applied, batched := from, from, int64(0)
	flush := func() error {
		if err := b.PutOffset(topic, applied); err != nil {
			return err
		}
		if err := b.Commit(false); err != nil {
			return err
		}
		st.records += batched
		if m := r.o.Metrics; m != nil {
			m.Restored.Add(float64(batched))
		}
		batched = 0
		return nil
	}
	settle := func() error {
		for _, rec := range pending {
			if err := b.Apply(rec.Key, rec.Value); err != nil {
				return err
			}
		}
		batched += int64(len(pending))
		pending = pending[:0]
		applied = pos
		return nil
	}
	began, lastLog := time.Now(), time.Now()
	for pos < end {
		fs := cl.PollRecords(ctx, 10_000)
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = errors.Join(ferr, err) })
		if ferr != nil {
			return st, fmt.Errorf("stream: read changelog partition %d: %w", p, ferr)
		}
		for it := fs.RecordIter(); !it.Done(); {
			rec := it.Next()
			if rec.Partition != p || rec.Offset < pos || rec.Offset >= end {
				continue
			}
			pos = rec.Offset + 1
			switch {
			case rec.Attrs.IsControl():
				if len(pending) == 0 {
					applied = pos
				}
			case bytes.Equal(rec.Key, marker):
				if err := settle(); err != nil {
					return st, err
				}
			default:
				if err := state.ValidateRecord(p, rec.Key, rec.Value); err != nil {
					st.skipped++
					if m := r.o.Metrics; m != nil {
						m.RestoreSkipped.Inc()
					}
					log.Error("changelog record skipped: it cannot be restored", "partition", p, "offset", rec.Offset, "err", err)
					continue
				}
				pending = append(pending, rec)
				if len(pending) >= maxPending {
					if err := settle(); err != nil {
						return st, err
					}
				}
			}
			if int(b.Count()) >= restoreFlush {
				if err := flush(); err != nil {
					return st, err
				}
			}
		}
		if time.Since(lastLog) >= 5*time.Second {
			lastLog = time.Now()
			done := st.records + batched
			log.Info("restoring partition", "partition", p, "at", pos, "to", end, "records", done,
				"keys_per_second", int64(float64(done)/time.Since(began).Seconds()))
		}
	}
	if err := flush(); err != nil {
		return st, err
	}
	if len(pending) > 0 {
		if err := r.rewriteUnfinished(ctx, cl, p, pending, &st); err != nil {
			return st, err
		}
	}
	return st, nil
}

// rewriteUnfinished handles writes at the end of the changelog that no
// marker follows: a cycle whose changelog records were only partly written
// before a crash (at-least-once mode). They are not applied. So that a
// later restore, which reads them before newer cycles, is not misled, each
// of their keys is written again with its current value (a tombstone if it
// has none), followed by a marker.
func (r *Runner) rewriteUnfinished(ctx context.Context, cl *kgo.Client, p int32, pending []*kgo.Record, st *restoreStats) error {
	topic := r.changelog
	seen := map[string]bool{}
	var recs []*kgo.Record
	for _, rec := range pending {
		if seen[string(rec.Key)] {
			continue
		}
		seen[string(rec.Key)] = true
		v, err := r.o.Store.Get(rec.Key)
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Key: rec.Key, Value: v})
	}
	m := markerRecord(topic, p)
	recs = append(recs, m)
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("stream: rewrite unfinished changelog cycle of partition %d: %w", p, err)
	}
	b := r.o.Store.NewBatch(p)
	defer b.Close()
	if err := b.PutOffset(topic, m.Offset+1); err != nil {
		return err
	}
	if err := b.Commit(false); err != nil {
		return err
	}
	st.rewrote = len(recs) - 1
	r.log.Warn("changelog ended with an unfinished cycle (crash while writing it): rewrote its keys with the current state",
		"partition", p, "writes", len(pending), "keys", st.rewrote)
	return nil
}

// errOpenTransaction: the changelog partition has a transaction in flight;
// the restore waits for it to end.
var errOpenTransaction = errors.New("stream: changelog transaction in flight")

// committedEmpty reads partition p's changelog from start to end (the last
// stable offset) under read_committed and reports whether it holds no
// committed record: what a seed that was aborted leaves behind (its
// records, hidden, and the abort marker). It stops at the first committed
// record.
func (r *Runner) committedEmpty(ctx context.Context, p int32, start, end int64) (bool, error) {
	topic := r.changelog
	cl, err := kgo.NewClient(append(r.connOpts(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(start)}}))...)
	if err != nil {
		return false, fmt.Errorf("stream: changelog probe client: %w", err)
	}
	defer cl.Close()
	for pos := start; pos < end; {
		fs := cl.PollRecords(ctx, 1000)
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = errors.Join(ferr, err) })
		if ferr != nil {
			return false, fmt.Errorf("stream: read changelog partition %d: %w", p, ferr)
		}
		for it := fs.RecordIter(); !it.Done(); {
			rec := it.Next()
			if rec.Partition != p || rec.Offset < pos || rec.Offset >= end {
				continue
			}
			if !rec.Attrs.IsControl() {
				return false, nil
			}
			pos = rec.Offset + 1
		}
	}
	return true, nil
}
