package replay

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/partitioner"
)

// Replay over N partitions (Options.Partitions): what a live run over an
// N-partition topic does with the same records.
//
// Each line goes to the partition its producer would have sent it to, keyed
// by its customer id (partitioner.Murmur2 by default, as the Java client and
// franz-go; partitioner.CRC32 for librdkafka's consistent_random), and each
// partition processes its lines in file order, as a live consumer reads a
// partition in offset order: a partition's watermark, populations (rarity,
// overdue), timers and late events are those of the live partition. At the
// end of the input every partition drains (engine.Partition.Drain): its
// watermark moves to its own last event time and the timers due by then
// fire. docs/reference.md ("Partitions") says what this guarantees.

// checkPartitions validates the partition options before anything is opened.
func checkPartitions(o Options) (partitioner.Func, error) {
	if o.Partitions < 0 {
		return nil, fmt.Errorf("replay: partitions must be at least 1, got %d", o.Partitions)
	}
	pf, err := partitioner.ByName(o.Partitioner)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return pf, nil
}

// runPartitions is Run with Options.Partitions > 0, on the opened input,
// store and engine (Run closes them).
func runPartitions(ctx context.Context, o Options, f *os.File, eng *engine.Engine, pf partitioner.Func, hs *hotspotReplay) (*Summary, error) {
	n := o.Partitions
	pts := make([]*engine.Partition, 0, n)
	closed := false
	defer func() {
		if !closed {
			for _, pt := range pts {
				pt.Close()
			}
		}
	}()
	for p := range n {
		pt, err := eng.OpenPartition(int32(p))
		if err != nil {
			return nil, err
		}
		pts = append(pts, pt)
	}

	s := &Summary{Sorted: true, hs: hs}
	defer s.custs.free() // on every return: counted by then, or an error
	s.eval.init(o.Config)
	all, err := readComplaints(o, s)
	if err != nil {
		return nil, err
	}
	feedback, err := readFeedback(o, s)
	if err != nil {
		return nil, err
	}
	all = withFeedback(all, feedback)
	// Complaints and feedback are keyed by customer id too (co-partitioned): each
	// partition's, in time order, applied before its first event at or
	// after their time.
	comps := make([][]complaint, n)
	for _, c := range all {
		p, _ := pf([]byte(c.cust), n) // ids are never empty
		comps[p] = append(comps[p], c)
	}
	next := make([]int, n) // per partition: its first complaint not applied yet
	inBatch := make([]int, n)

	w := bufio.NewWriterSize(o.Out, 1<<16)
	flush := func(p int) error {
		pt := pts[p]
		if err := pt.Stage(); err != nil {
			return err
		}
		for _, a := range pt.Output().Alerts {
			s.Alerts[a.Severity]++
			s.eval.alert(a)
			if err := writeAlert(w, a); err != nil {
				return err
			}
		}
		if err := hs.add(pt.Output(), w); err != nil {
			return err
		}
		inBatch[p] = 0
		return pt.Commit(false)
	}

	// Progress: bytes of the input read.
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	prog := startProgress(o.Progress, size)
	defer prog.stop()

	dec := event.NewDecoder(o.Config.Events.MaxBytes, o.Config.Journeys)
	var ev event.Event
	rec := engine.Record{Topic: "replay"}
	var first, last int64
	err = eachLine(f, func(line int, off int64, b []byte) error {
		s.Lines++
		if (line-1)&1023 == 0 {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			prog.set(off)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return nil
		}
		if err := dec.Decode(b, &ev); err != nil {
			s.Invalid++
			return writeDead(o.DLQ, line, "", err, b)
		}
		p, _ := pf([]byte(ev.CustomerID), n) // customer ids are never empty
		if s.Events == 0 {
			first, last = ev.Time, ev.Time
		} else if ev.Time < last {
			s.Sorted = false
		}
		first, last = min(first, ev.Time), max(last, ev.Time)
		s.saw(ev.CustomerID)
		pt, cs := pts[p], comps[p]
		for next[p] < len(cs) && cs[next[p]].t <= ev.Time {
			if err := applyComplaint(pt, &cs[next[p]], &s.eval); err != nil {
				return err
			}
			next[p]++
		}
		rec.Partition, rec.Offset, rec.Value = p, int64(line), b
		if err := pt.Apply(&rec, &ev); err != nil {
			return err
		}
		s.Events++
		if inBatch[p]++; inBatch[p] >= o.BatchEvents {
			return flush(int(p))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	prog.stop()
	for p, pt := range pts {
		for ; next[p] < len(comps[p]); next[p]++ {
			if err := applyComplaint(pt, &comps[p][next[p]], &s.eval); err != nil {
				return nil, err
			}
		}
		// End of input: each partition's timers due by its own last event
		// time fire.
		if err := pt.Drain(); err != nil {
			return nil, err
		}
		if err := flush(p); err != nil {
			return nil, err
		}
		_, _, dup, _ := pt.Stats()
		s.Duplicates += int(dup)
	}
	if err := hs.finish(pts, w); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("replay: write alerts: %w", err)
	}
	if s.Events > 0 {
		s.First, s.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	}
	s.Customers = s.custs.count()
	if err := applyFeedback(o, s, feedback); err != nil {
		return nil, err
	}
	closed = true
	var cerr error
	for _, pt := range pts {
		if err := pt.Close(); err != nil && cerr == nil {
			cerr = fmt.Errorf("replay: %w", err)
		}
	}
	return s, cerr
}

// saw counts a customer seen in the input (Summary.Customers), by a 64-bit
// hash of the id (custSet: about 6 bytes per customer).
func (s *Summary) saw(id string) { s.custs.add(xxhash.Sum64String(id)) }
