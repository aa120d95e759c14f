// Package stream connects the engine to Kafka: a consumer group with one
// engine.Partition per assigned partition, produce of alerts and DLQ records,
// and offsets kept in Pebble with the state they produced.
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/state"
)

// Options configures a Runner.
type Options struct {
	Config  *config.Config // validated
	Engine  *engine.Engine
	Store   *state.Store
	Metrics *metrics.Metrics // nil records nothing
	Logger  *slog.Logger     // default slog.Default()
	// Sinks receive each alert after its cycle is committed (stdout in the
	// demo). The alerts topic is always written, inside the cycle.
	Sinks []alerts.Sink
	// ClientOpts are extra franz-go options (tests add fault injection).
	ClientOpts []kgo.Opt
	// MaxPollRecords bounds one cycle. Default 10,000.
	MaxPollRecords int
}

// Runner is the `peakend run` job. Its goroutine owns the client, the cycle
// and every engine.Partition; rebalance callbacks run only between cycles
// (BlockRebalanceOnPoll), and mu guards the partition map against them.
type Runner struct {
	o     Options
	log   *slog.Logger
	ready atomic.Bool // partitions assigned and their state loaded
	// brokersDown is set while the brokers cannot be reached (brokerHealth).
	brokersDown atomic.Bool
	stopping    atomic.Bool

	mu    sync.Mutex
	parts map[int32]*engine.Partition
	err   error // first error from a callback, ends Run
}

// New returns a Runner; Run starts it.
func New(o Options) *Runner {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxPollRecords <= 0 {
		o.MaxPollRecords = 10_000
	}
	return &Runner{o: o, log: o.Logger, parts: map[int32]*engine.Partition{}}
}

// Ready reports whether partitions are assigned, their state is loaded,
// and the brokers are reachable.
func (r *Runner) Ready() bool { return r.ready.Load() && !r.brokersDown.Load() }

func (r *Runner) topics() (exp, comp string) {
	t := r.o.Config.Kafka.Topics
	comp = t.Complaints
	if comp == "-" {
		comp = ""
	}
	return t.Experiences, comp
}

func (r *Runner) clientOpts() ([]kgo.Opt, error) {
	k := &r.o.Config.Kafka
	exp, comp := r.topics()
	topics := []string{exp}
	if comp != "" {
		topics = append(topics, comp)
	}
	opts, err := ConnOpts(k)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.WithLogger(kgoLogger{r.log}),
		kgo.WithHooks(brokerHealth{down: r.outage, up: r.recovered, closed: r.stopping.Load}),
		kgo.SessionTimeout(k.SessionTimeout.D()),
		kgo.ConsumerGroup(k.Group),
		kgo.ConsumeTopics(topics...),
		kgo.Balancers(newCoPartitioned(exp)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.BlockRebalanceOnPoll(),
		kgo.AutoCommitMarks(),
		kgo.AdjustFetchOffsetsFn(r.adjustOffsets),
		kgo.OnPartitionsAssigned(r.assigned),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.lost),
		kgo.ProducerLinger(0),
	)
	return append(opts, r.o.ClientOpts...), nil
}

// adjustOffsets starts each assigned partition where its Pebble state left
// off: the offset committed to Kafka is only a hint for monitoring tools.
func (r *Runner) adjustOffsets(_ context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for topic, ps := range offs {
		for p := range ps {
			next, err := r.o.Store.Offset(p, topic)
			if err != nil {
				return nil, err
			}
			if next >= 0 {
				ps[p] = kgo.NewOffset().At(next)
			}
		}
	}
	return offs, nil
}

func (r *Runner) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	exp, _ := r.topics()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range assigned[exp] {
		if r.parts[p] != nil {
			continue
		}
		pt, err := r.o.Engine.OpenPartition(p)
		if err != nil {
			r.err = errors.Join(r.err, fmt.Errorf("stream: open partition %d: %w", p, err))
			continue
		}
		r.parts[p] = pt
		r.log.Info("partition assigned", "topic", exp, "partition", p, "customers", pt.Customers())
	}
	r.updateGauges()
	r.setReady(true)
}

// revoked commits the offsets marked so far (every cycle is marked before it
// allows a rebalance) and closes the revoked partitions. Setting this
// callback replaces franz-go's default one, which is that commit: without
// it, the next owner of a partition, and monitoring, would start from the
// last periodic commit, and a clean stop would commit nothing.
func (r *Runner) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	if err := cl.CommitMarkedOffsets(ctx); err != nil {
		r.log.Warn("commit offsets on revoke", "err", err)
	}
	r.drop(revoked)
}

// lost closes partitions lost to a group error; a commit could not succeed.
// lost means the group session is gone (a broker outage, a missed session
// timeout): not ready until partitions are assigned again.
func (r *Runner) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	r.drop(lost)
	r.setReady(false)
}

func (r *Runner) drop(revoked map[string][]int32) {
	exp, _ := r.topics()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range revoked[exp] {
		if pt := r.parts[p]; pt != nil {
			_ = pt.Close() // every cycle is committed before a rebalance can run
			delete(r.parts, p)
			r.log.Info("partition revoked", "topic", exp, "partition", p)
			if m := r.o.Metrics; m != nil {
				m.ConsumerLag.DeleteLabelValues(exp, strconv.Itoa(int(p)))
			}
		}
	}
	r.updateGauges()
}

func (r *Runner) setReady(v bool) {
	r.ready.Store(v)
	r.publishReady()
}

func (r *Runner) publishReady() {
	if m := r.o.Metrics; m != nil {
		m.Ready.Set(map[bool]float64{true: 1}[r.Ready()])
	}
}

func (r *Runner) updateGauges() {
	m := r.o.Metrics
	if m == nil {
		return
	}
	var n int64
	for _, pt := range r.parts {
		n += pt.Customers()
	}
	m.Customers.Set(float64(n))
	m.Partitions.Set(float64(len(r.parts)))
}

// Run consumes until ctx is cancelled, then finishes the cycle in hand,
// commits it, leaves the group and returns nil. It returns an error only
// for failures it cannot ride out (the store failing, a record the broker
// rejects for good).
func (r *Runner) Run(ctx context.Context) error {
	cfg := r.o.Config
	if err := EnsureTopics(ctx, cfg, r.log); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: a clean stop
		}
		return err
	}
	opts, err := r.clientOpts()
	if err != nil {
		return err
	}
	warnPlainText(&cfg.Kafka, r.log)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("stream: client: %w", err)
	}
	// Connection errors while stopping are expected, not an outage.
	defer context.AfterFunc(ctx, func() { r.stopping.Store(true) })()
	defer func() {
		r.stopping.Store(true)
		r.setReady(false)
		cl.Close() // leaves the group; marked offsets are committed
		r.mu.Lock()
		for p, pt := range r.parts {
			_ = pt.Close()
			delete(r.parts, p)
		}
		r.mu.Unlock()
	}()
	r.log.Info("consuming", "brokers", cfg.Kafka.Brokers, "group", cfg.Kafka.Group, "topic", cfg.Kafka.Topics.Experiences)
	// A cycle in hand when ctx is cancelled still finishes (its alerts are
	// produced and its state committed), within ShutdownGrace.
	cctx, stop := graceful(ctx, ShutdownGrace)
	defer stop()
	for {
		// Polls end at least every idle_timeout, so that idle partitions'
		// watermarks advance (engine.Partition.Tick).
		pctx, pcancel := context.WithTimeout(ctx, cfg.Events.IdleTimeout.D())
		fetches := cl.PollRecords(pctx, r.o.MaxPollRecords)
		pcancel()
		if fetches.IsClientClosed() || ctx.Err() != nil {
			// The records in hand may have been fetched before the cancel:
			// process them too, so that shutdown loses no work.
			return r.cycle(cctx, cl, fetches)
		}
		if err := r.cycle(cctx, cl, fetches); err != nil {
			return err
		}
	}
}

// ShutdownGrace bounds how long a cycle may go on after Run's context is
// cancelled: the produce of its alerts waits at most this long for the
// broker. A cycle cut short is not committed, and is done again on restart.
var ShutdownGrace = 15 * time.Second

// graceful returns a context that is not cancelled with ctx, but grace
// after it.
func graceful(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var timer atomic.Pointer[time.Timer]
	stop := context.AfterFunc(ctx, func() { timer.Store(time.AfterFunc(grace, cancel)) })
	return gctx, func() {
		stop()
		if t := timer.Load(); t != nil {
			t.Stop()
		}
		cancel()
	}
}

type work struct {
	pt    *engine.Partition
	recs  []*kgo.Record              // experiences, then all records in processing order
	comps []*kgo.Record              // complaints
	last  map[string]kgo.EpochOffset // per topic: the next offset after this cycle
	hwm   map[string]int64
	err   error
}

// cycle processes one poll: records per partition (partitions in parallel),
// then alerts and DLQ records are produced and acknowledged, then each
// partition's state and offsets are committed in one Pebble batch. A crash
// anywhere before that commit replays the cycle: alerts may be produced
// again, with the same alert_id, and state counts each event once.
func (r *Runner) cycle(ctx context.Context, cl *kgo.Client, fetches kgo.Fetches) error {
	start := time.Now()
	fetches.EachError(func(t string, p int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			r.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
		}
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	defer cl.AllowRebalance()
	if r.err != nil {
		return r.err
	}
	exp, comp := r.topics()
	byPart := map[int32]*work{}
	fetches.EachPartition(func(ftp kgo.FetchTopicPartition) {
		if len(ftp.Records) == 0 {
			return
		}
		pt := r.parts[ftp.Partition]
		if pt == nil {
			return // revoked between fetch and now: the new owner reprocesses
		}
		w := byPart[ftp.Partition]
		if w == nil {
			w = &work{pt: pt, hwm: map[string]int64{}, last: map[string]kgo.EpochOffset{}}
			byPart[ftp.Partition] = w
		}
		if ftp.Topic == comp {
			w.comps = append(w.comps, ftp.Records...)
		} else {
			w.recs = append(w.recs, ftp.Records...)
		}
		w.hwm[ftp.Topic] = ftp.HighWatermark
		lr := ftp.Records[len(ftp.Records)-1]
		w.last[ftp.Topic] = kgo.EpochOffset{Epoch: lr.LeaderEpoch, Offset: lr.Offset + 1}
	})
	for p, pt := range r.parts {
		if byPart[p] != nil {
			continue
		}
		// An idle partition whose watermark now passes a timer joins the cycle.
		if busy, err := pt.Tick(start); err != nil {
			_ = pt.Discard()
			return fmt.Errorf("stream: partition %d: %w", p, err)
		} else if busy {
			byPart[p] = &work{pt: pt, hwm: map[string]int64{}, last: map[string]kgo.EpochOffset{}}
		}
	}
	if len(byPart) == 0 {
		return nil
	}
	for _, w := range byPart {
		// Experiences and complaints of one partition are joined in
		// timestamp order, as Kafka Streams does, so that a complaint
		// counts for the experiences after it (complained_before).
		w.recs = mergeByTimestamp(w.recs, w.comps, comp)
	}
	var wg sync.WaitGroup
	for _, w := range byPart {
		wg.Go(func() { w.err = r.process(w, exp, comp, start) })
	}
	wg.Wait()

	topics := r.o.Config.Kafka.Topics
	var out []*kgo.Record
	var fired []*alerts.Alert
	var fetched []time.Time
	for _, w := range byPart {
		if w.err != nil {
			return w.err
		}
		o := w.pt.Output()
		for _, a := range o.Alerts {
			rec, err := AlertRecord(topics.Alerts, a)
			if err != nil {
				return err
			}
			out = append(out, rec)
		}
		fired = append(fired, o.Alerts...)
		fetched = append(fetched, o.Fetched...)
		for i := range o.Dead {
			out = append(out, DeadRecord(topics.DLQ, &o.Dead[i]))
		}
	}
	if len(out) > 0 {
		if err := cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
			for _, w := range byPart {
				_ = w.pt.Discard()
			}
			return fmt.Errorf("stream: produce alerts: %w", err)
		}
		if m := r.o.Metrics; m != nil {
			now := time.Now()
			for _, f := range fetched {
				m.DetectLatency.Observe(now.Sub(f).Seconds())
			}
		}
	}
	marks := map[string]map[int32]kgo.EpochOffset{}
	for p, w := range byPart {
		if err := w.pt.Commit(false); err != nil {
			return err
		}
		for t, eo := range w.last {
			if marks[t] == nil {
				marks[t] = map[int32]kgo.EpochOffset{}
			}
			marks[t][p] = eo
			if m := r.o.Metrics; m != nil {
				m.ConsumerLag.WithLabelValues(t, strconv.Itoa(int(p))).Set(float64(max(0, w.hwm[t]-eo.Offset)))
			}
		}
	}
	cl.MarkCommitOffsets(marks)
	r.deliver(ctx, fired)
	r.updateGauges()
	if m := r.o.Metrics; m != nil {
		m.CycleSeconds.Observe(time.Since(start).Seconds())
	}
	return nil
}

// mergeByTimestamp merges two record lists, each in offset order, into one
// in timestamp order that keeps each list's own order; on equal timestamps,
// records of topic first go first (a complaint precedes the experiences of
// its time, as in replay).
func mergeByTimestamp(a, b []*kgo.Record, first string) []*kgo.Record {
	if len(a) == 0 || len(b) == 0 {
		return append(a, b...)
	}
	out := make([]*kgo.Record, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		ta, tb := a[0].Timestamp, b[0].Timestamp
		if ta.Before(tb) || (ta.Equal(tb) && a[0].Topic == first) {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

func (r *Runner) process(w *work, exp, comp string, fetched time.Time) error {
	for _, kr := range w.recs {
		rec := engine.Record{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Key: kr.Key,
			Value: kr.Value, Fetched: fetched}
		var err error
		switch kr.Topic {
		case exp:
			err = w.pt.Experience(&rec)
		case comp:
			err = w.pt.Complaint(&rec)
		}
		if err != nil {
			_ = w.pt.Discard()
			return fmt.Errorf("stream: partition %d: %w", w.pt.ID(), err)
		}
	}
	if err := w.pt.Stage(); err != nil {
		_ = w.pt.Discard()
		return err
	}
	return nil
}

// deliver hands the cycle's alerts to the local sinks (after commit).
func (r *Runner) deliver(ctx context.Context, fired []*alerts.Alert) {
	for _, a := range fired {
		for _, s := range r.o.Sinks {
			if err := s.Deliver(ctx, a); err != nil {
				r.log.Warn("alert delivery failed", "sink", s.Name(), "alert_id", a.AlertID, "err", err)
				if m := r.o.Metrics; m != nil {
					m.Deliveries.WithLabelValues(s.Name(), "failed").Inc()
				}
				continue
			}
			if m := r.o.Metrics; m != nil {
				m.Deliveries.WithLabelValues(s.Name(), "delivered").Inc()
			}
		}
	}
}

// Partitions lists the partitions this instance owns now.
func (r *Runner) Partitions() []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := make([]int32, 0, len(r.parts))
	for p := range r.parts {
		ps = append(ps, p)
	}
	return ps
}
