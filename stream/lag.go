package stream

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Consumer lag (peakend_consumer_lag_records{topic,partition}) is measured
// on its own goroutine, every Options.LagInterval, for every partition of
// the input topics assigned to this instance (restoring or open), idle or
// not, stuck or not:
//
//	lag = end − position
//
// end is the partition's last stable offset (ListOffsets, read_committed,
// as the runner reads): records of a transaction still open are not yet
// waiting. position is the next offset to process: the partition's input
// offset in Pebble, committed with the state it produced (or the log start
// offset for a partition never processed, where the runner starts). A
// position past the end (the topic was recreated) is lag 0.
//
// Offsets are not all records: a transaction ends in a control record (its
// commit or abort marker) that no consumer is handed, and the records of an
// aborted transaction are skipped. A caught-up instance reading a
// transactional input therefore stands at the last marker, one offset
// short of the end. The rule: when 0 < end − position ≤ lagProbeMax and
// the position has not moved since the last measurement (or it is the
// first one, as after a restart), the offsets in [position, end) are read
// once, read_committed and keeping control records; if none of them is a
// record the runner would process (only markers, or aborted records), lag
// is 0. The answer holds as long as position and end stay (offsets below
// the last stable offset never change), so each (position, end) is read
// once. A backlog larger than lagProbeMax, or one being worked through,
// counts the markers among its offsets: at most one per transaction.
//
// Series appear at the first measurement after a partition is assigned
// and are removed when it is revoked or lost, and when Run returns.

// DefaultLagInterval is how often consumer lag is measured by default.
const DefaultLagInterval = 10 * time.Second

// lagProbeMax bounds the offsets read to tell a caught-up transactional
// partition (only markers left) from one with records waiting.
const lagProbeMax = 64

// lagProbeTimeout bounds one reading of partitions' tails.
const lagProbeTimeout = 5 * time.Second

type topicPartition struct {
	topic string
	p     int32
}

// lagTracker is the state of the lag goroutine (trackLag), and the set of
// exported series, which mu guards against drop.
type lagTracker struct {
	mu       sync.Mutex
	exported map[topicPartition]bool
	// Owned by the lag goroutine:
	last   map[topicPartition]int64    // position at the last measurement
	probed map[topicPartition]lagProbe // the last reading of a tail
	failed bool                        // the last listing failed (logged once)
}

// lagProbe is what reading [pos, end) found.
type lagProbe struct {
	pos, end int64
	caughtUp bool
}

func newLagTracker() *lagTracker {
	return &lagTracker{exported: map[topicPartition]bool{}, last: map[topicPartition]int64{},
		probed: map[topicPartition]lagProbe{}}
}

func (r *Runner) lagInterval() time.Duration {
	if r.o.LagInterval > 0 {
		return r.o.LagInterval
	}
	return DefaultLagInterval
}

// trackLag measures consumer lag until ctx is done: at once, then every
// LagInterval, and soon after partitions are assigned (r.lagKick). cl is
// the runner's client, used for ListOffsets only.
func (r *Runner) trackLag(ctx context.Context, cl *kgo.Client) {
	if r.o.Metrics == nil {
		return
	}
	adm := kadm.NewClient(cl)
	t := time.NewTicker(r.lagInterval())
	defer t.Stop()
	for {
		r.measureLag(ctx, adm)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.lagKick:
		}
	}
}

// kickLag asks the lag goroutine to measure soon (partitions were assigned).
func (r *Runner) kickLag() {
	select {
	case r.lagKick <- struct{}{}:
	default:
	}
}

// assignedSnapshot lists the experiences partitions assigned now.
func (r *Runner) assignedSnapshot() []int32 {
	if ps := r.assignedNow.Load(); ps != nil {
		return *ps
	}
	return nil
}

// measureLag lists the end offsets of the assigned partitions and sets
// their lag gauges.
func (r *Runner) measureLag(ctx context.Context, adm *kadm.Client) {
	lt := r.lag
	ps := r.assignedSnapshot()
	if len(ps) == 0 {
		return
	}
	topics := r.inputs()
	lctx, cancel := context.WithTimeout(ctx, lagProbeTimeout)
	ends, err := adm.ListCommittedOffsets(lctx, topics...) // last stable offsets
	cancel()
	if err != nil {
		if ctx.Err() == nil && !lt.failed {
			r.log.Warn("consumer lag: cannot list end offsets; the lag figures stay as they were", "err", err)
		}
		lt.failed = ctx.Err() == nil
		return
	}
	if lt.failed {
		r.log.Info("consumer lag: end offsets listed again")
		lt.failed = false
	}
	var starts kadm.ListedOffsets // listed when first needed
	lag := map[topicPartition]int64{}
	last := lt.last
	lt.last = map[topicPartition]int64{} // partitions no longer assigned are forgotten
	for tp := range lt.probed {
		if !slices.Contains(ps, tp.p) {
			delete(lt.probed, tp)
		}
	}
	probe := map[topicPartition]lagProbe{}
	for _, topic := range topics {
		for _, p := range ps {
			tp := topicPartition{topic, p}
			end, ok := ends.Lookup(topic, p)
			if !ok || end.Err != nil {
				continue
			}
			pos, err := r.o.Store.Offset(p, topic)
			if err != nil {
				continue
			}
			if pos < 0 { // never processed: the runner starts at the log start
				if starts == nil {
					lctx, cancel := context.WithTimeout(ctx, lagProbeTimeout)
					starts, err = adm.ListStartOffsets(lctx, topics...)
					cancel()
					if err != nil {
						return
					}
				}
				start, ok := starts.Lookup(topic, p)
				if !ok || start.Err != nil {
					continue
				}
				pos = start.Offset
			}
			d := max(0, end.Offset-pos)
			prev, seen := last[tp]
			lt.last[tp] = pos
			if d > 0 && d <= lagProbeMax {
				if pr, ok := lt.probed[tp]; ok && pr.pos == pos && pr.end == end.Offset {
					if pr.caughtUp {
						d = 0
					}
				} else if !seen || prev == pos {
					probe[tp] = lagProbe{pos: pos, end: end.Offset}
				}
			}
			lag[tp] = d
		}
	}
	if len(probe) > 0 {
		for tp, pr := range r.probeTails(ctx, probe) {
			lt.probed[tp] = pr
			if pr.caughtUp {
				lag[tp] = 0
			}
		}
	}
	r.publishLag(lag)
}

// publishLag sets the gauges of partitions still assigned.
func (r *Runner) publishLag(lag map[topicPartition]int64) {
	lt := r.lag
	lt.mu.Lock()
	defer lt.mu.Unlock()
	assigned := map[int32]bool{}
	for _, p := range r.assignedSnapshot() {
		assigned[p] = true
	}
	for tp, d := range lag {
		if !assigned[tp.p] {
			continue // revoked meanwhile: drop removed its series
		}
		r.o.Metrics.ConsumerLag.WithLabelValues(tp.topic, strconv.Itoa(int(tp.p))).Set(float64(d))
		lt.exported[tp] = true
	}
}

// forgetLag removes the lag series of partitions no longer assigned (nil:
// all of them).
func (r *Runner) forgetLag(ps []int32) {
	m := r.o.Metrics
	if m == nil {
		return
	}
	lt := r.lag
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for tp := range lt.exported {
		if ps == nil || slices.Contains(ps, tp.p) {
			m.ConsumerLag.DeleteLabelValues(tp.topic, strconv.Itoa(int(tp.p)))
			delete(lt.exported, tp)
		}
	}
}

// probeTails reads each partition's [pos, end) as the runner would
// (read_committed), but keeping control records, on a client of its own,
// and reports whether any record the runner would process is among them.
// A partition it could not read in time is not caught up.
func (r *Runner) probeTails(ctx context.Context, tails map[topicPartition]lagProbe) map[topicPartition]lagProbe {
	out := make(map[topicPartition]lagProbe, len(tails))
	for tp, pr := range tails {
		out[tp] = pr // not caught up until shown
	}
	from := map[string]map[int32]kgo.Offset{}
	for tp, pr := range tails {
		if from[tp.topic] == nil {
			from[tp.topic] = map[int32]kgo.Offset{}
		}
		from[tp.topic][tp.p] = kgo.NewOffset().At(pr.pos)
	}
	cl, err := kgo.NewClient(append(r.connOpts(),
		kgo.ConsumePartitions(from),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		r.log.Warn("consumer lag: cannot read the partitions' tails", "err", err)
		return out
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, lagProbeTimeout)
	defer cancel()
	open := len(tails)
	for open > 0 && pctx.Err() == nil {
		fs := cl.PollFetches(pctx)
		fs.EachRecord(func(rec *kgo.Record) {
			tp := topicPartition{rec.Topic, rec.Partition}
			pr, ok := tails[tp]
			if !ok {
				return
			}
			if rec.Attrs.IsControl() && rec.Offset < pr.end-1 {
				return // the marker of a transaction inside the range: read on
			}
			// Aborted records are not returned (read_committed): this is a
			// record the runner would process, the marker that ends the
			// range, or a record at or past the end (nothing to process
			// before it).
			delete(tails, tp)
			open--
			pr.caughtUp = rec.Offset >= pr.end || (rec.Attrs.IsControl() && rec.Offset == pr.end-1)
			out[tp] = pr
		})
		if err := fs.Err0(); err != nil && errors.Is(err, kgo.ErrClientClosed) {
			break
		}
	}
	return out
}
