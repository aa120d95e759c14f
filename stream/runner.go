// Package stream connects the engine to Kafka: a consumer group with one
// engine.Partition per assigned partition, produce of alerts and DLQ records,
// and offsets kept in Pebble with the state they produced.
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	// ConnOpts are franz-go options for every client the runner makes
	// (the group client, restore clients, topic creation): TLS, SASL.
	ConnOpts []kgo.Opt
	// TransactionalID is the transactional id under exactly_once. Default
	// TransactionalID(Config): stable for one instance's state directory.
	TransactionalID string
	// LagInterval is how often consumer lag is measured (lag.go). Default
	// DefaultLagInterval (10 s).
	LagInterval time.Duration
}

// Runner is the `peakend run` job. Its goroutine owns the client, the cycle
// and every engine.Partition; rebalance callbacks run only between cycles
// (BlockRebalanceOnPoll), and mu guards the partition map against them.
type Runner struct {
	o     Options
	log   *slog.Logger
	ready atomic.Bool // partitions assigned and restored
	// brokersDown is set while the brokers cannot be reached (brokerHealth).
	brokersDown atomic.Bool
	stopping    atomic.Bool
	// closing: a group session's client is being closed (runSession),
	// to be replaced or at a stop.
	closing atomic.Bool
	// fetchless: no partition is assigned, so no fetch will come to show
	// the brokers back (brokerHealth then takes a heartbeat for proof).
	fetchless atomic.Bool
	restoring sync.WaitGroup // restore goroutines (startRestore)
	// open: the open partitions as of the last change (updateGauges), for
	// Partitions.
	open atomic.Pointer[[]int32]
	// assignedNow: the assigned experiences partitions as of the last
	// change (updateGauges), for the lag goroutine.
	assignedNow atomic.Pointer[[]int32]
	lag         *lagTracker
	lagKick     chan struct{}   // assigned asks the lag goroutine to measure
	conn        []kgo.Opt       // every client's options (ConnOpts, logging, Options.ConnOpts); set by Run
	changelog   string          // the changelog topic
	hsTopic     string          // the hotspots topic ("" without hotspot rules)
	hsParts     int             // its partitions (set by Run)
	runCtx      context.Context // Run's context: restores end with it

	mu            sync.Mutex
	parts         map[int32]*engine.Partition // restored and open
	restores      map[int32]*restoreTask      // restoring
	assignedParts map[int32]bool              // assigned experiences partitions
	joined        bool                        // assigned since the last loss of the group session
	err           error                       // first error from a callback, ends Run
}

// New returns a Runner; Run starts it.
func New(o Options) *Runner {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxPollRecords <= 0 {
		o.MaxPollRecords = 10_000
	}
	return &Runner{o: o, log: o.Logger, parts: map[int32]*engine.Partition{}, restores: map[int32]*restoreTask{},
		assignedParts: map[int32]bool{}, changelog: ChangelogTopic(o.Config.Kafka.Group), runCtx: context.Background(),
		lag: newLagTracker(), lagKick: make(chan struct{}, 1), hsTopic: hotspotsTopicOf(o)}
}

// hotspotsTopicOf is the hotspots topic when the engine counts hotspots.
func hotspotsTopicOf(o Options) string {
	if o.Engine == nil || len(o.Engine.HotspotRules()) == 0 {
		return ""
	}
	return HotspotsTopic(o.Config.Kafka.Group)
}

// Ready reports whether the group has assigned partitions, every one of
// them is restored from the changelog and open, and the brokers are reachable.
func (r *Runner) Ready() bool { return r.ready.Load() && !r.brokersDown.Load() }

func (r *Runner) topics() (exp, comp string) {
	t := r.o.Config.Kafka.Topics
	comp = t.Complaints
	if comp == "-" {
		comp = ""
	}
	return t.Experiences, comp
}

// feedbackTopic is the feedback topic, the third co-partitioned input:
// its "recovered" outcomes set recovered_before (engine.Partition.Feedback).
func (r *Runner) feedbackTopic() string { return r.o.Config.Kafka.Topics.Feedback }

// inputs lists the topics the group consumes: experiences, complaints
// (unless disabled) and feedback, all keyed by customer id and
// co-partitioned, and with hotspot rules the hotspots topic (partition p
// goes with experiences partition p: hotspots.go).
func (r *Runner) inputs() []string {
	exp, comp := r.topics()
	topics := []string{exp}
	if comp != "" {
		topics = append(topics, comp)
	}
	topics = append(topics, r.feedbackTopic())
	if r.hsTopic != "" {
		topics = append(topics, r.hsTopic)
	}
	return topics
}

func (r *Runner) clientOpts() []kgo.Opt {
	k := r.o.Config.Kafka
	exp, _ := r.topics()
	topics := r.inputs()
	opts := append(r.connOpts(),
		kgo.WithHooks(brokerHealth{down: r.outage, up: r.recovered, closed: r.closed, fetchless: r.fetchless.Load}),
		kgo.SessionTimeout(k.SessionTimeout.D()),
		kgo.ConsumerGroup(k.Group),
		kgo.ConsumeTopics(topics...),
		kgo.Balancers(newCoPartitioned(exp)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.BlockRebalanceOnPoll(),
		kgo.AdjustFetchOffsetsFn(r.adjustOffsets),
		kgo.OnPartitionsAssigned(r.assigned),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.lost),
		kgo.ProducerLinger(0),
		kgo.RecordPartitioner(newPartitioner(r.changelog, r.hsTopic)),
	)
	if k.ExactlyOnce {
		// The transaction timeout stays below the group session timeout: a
		// transaction of a member the group has given up on is aborted by
		// then, so that its partitions' next owner (whose offset fetch
		// waits for that transaction) starts when the group notices the
		// crash. A longer timeout would delay every failover; the rarer
		// End held across a rebalance longer than this (one that waits
		// for a dead member) is fenced by the broker, and Run rides that
		// out with a new session (fencedError).
		opts = append(opts, kgo.TransactionalID(r.transactionalID()),
			kgo.TransactionTimeout(min(30*time.Second, k.SessionTimeout.D()*2/3)),
			// A transaction begun right after the last one ended meets
			// CONCURRENT_TRANSACTIONS while the broker writes the last one's
			// markers; franz-go's default 20 ms backoff then dominated the
			// append → alert latency (bench-kafka at 50k events/s: p50 48 →
			// 11 ms, p99 112 → 40 ms with 5 ms).
			kgo.ConcurrentTransactionsBackoff(5*time.Millisecond))
	} else {
		opts = append(opts, kgo.AutoCommitMarks())
	}
	return append(opts, r.o.ClientOpts...)
}

// connOpts are the options of every client: brokers, identity, TLS, SASL,
// logging.
func (r *Runner) connOpts() []kgo.Opt {
	return append([]kgo.Opt(nil), r.conn...)
}

// adjustOffsets runs when the group has fetched the committed offsets of
// newly assigned partitions, before they are fetched: it waits until each
// partition's state is restored from the changelog (the restore began in
// assigned), opens it, and starts it where its Pebble state left off. In
// at-least-once mode the committed offset is only a hint for monitoring
// tools; under exactly-once it equals the state's offset once restored.
func (r *Runner) adjustOffsets(ctx context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	exp, _ := r.topics()
	for topic, ps := range offs {
		for p, o := range ps {
			committed := int64(-1)
			if topic == exp {
				committed = o.EpochOffset().Offset
			}
			if err := r.awaitPartition(ctx, p, committed); err != nil {
				return nil, err
			}
			next, err := r.o.Store.Offset(p, topic)
			if err != nil {
				return nil, err
			}
			if next >= 0 {
				if r.o.Config.Kafka.ExactlyOnce && committed >= 0 && next != committed {
					r.log.Warn("state's offset differs from the group's committed offset; starting from the state's",
						"topic", topic, "partition", p, "state", next, "committed", committed)
				}
				ps[p] = kgo.NewOffset().At(next)
			}
		}
	}
	return offs, nil
}

// assigned starts restoring each newly assigned partition; adjustOffsets
// waits for it before the partition is fetched. Other partitions go on
// being processed meanwhile.
func (r *Runner) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	exp, _ := r.topics()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.joined = true
	for _, p := range assigned[exp] {
		r.assignedParts[p] = true
	}
	// Not ready before the first restore starts: /readyz never answers 200
	// while peakend_restoring_partitions counts a restore.
	r.refreshReady()
	for _, p := range assigned[exp] {
		r.startRestore(p)
		r.log.Info("partition assigned", "topic", exp, "partition", p)
	}
	r.updateGauges()
	r.kickLag()
}

// revoked commits the offsets marked so far (every cycle is marked before it
// allows a rebalance) and closes the revoked partitions. Setting this
// callback replaces franz-go's default one, which is that commit: without
// it, the next owner of a partition, and monitoring, would start from the
// last periodic commit, and a clean stop would commit nothing.
// Under exactly-once, offsets are committed only inside transactions.
func (r *Runner) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	if !r.o.Config.Kafka.ExactlyOnce {
		if r.stopping.Load() {
			// Leaving: a broker that does not answer must not hold the
			// stop (the offsets are only a hint in this mode).
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, leaveTimeout)
			defer cancel()
		}
		if err := cl.CommitMarkedOffsets(ctx); err != nil {
			r.log.Warn("commit offsets on revoke", "err", err)
		}
	}
	r.drop(revoked)
}

// lost closes partitions lost to a group error; a commit could not succeed.
// lost means the group session is gone (a broker outage, a missed session
// timeout): not ready until partitions are assigned again.
func (r *Runner) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	r.mu.Lock()
	r.joined = false
	r.mu.Unlock()
	r.drop(lost)
}

func (r *Runner) drop(revoked map[string][]int32) {
	exp, _ := r.topics()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range revoked[exp] {
		delete(r.assignedParts, p)
		r.stopRestore(p)
		if pt := r.parts[p]; pt != nil {
			_ = pt.Close() // every cycle is committed before a rebalance can run
			delete(r.parts, p)
			r.log.Info("partition revoked", "topic", exp, "partition", p)
		}
	}
	r.updateGauges()
	// After updateGauges: the lag goroutine no longer sets these series.
	r.forgetLag(revoked[exp])
	r.refreshReady()
}

// refreshReady sets readiness: the group has assigned this instance its
// partitions and every one of them is restored and open. Call with r.mu held.
func (r *Runner) refreshReady() {
	r.fetchless.Store(len(r.assignedParts) == 0)
	ok := r.joined
	for p := range r.assignedParts {
		ok = ok && r.parts[p] != nil
	}
	r.setReady(ok)
}

// closed reports whether the client is being closed (brokerHealth):
// connection errors then are expected, not an outage.
func (r *Runner) closed() bool { return r.stopping.Load() || r.closing.Load() }

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
	ps := make([]int32, 0, len(r.parts))
	for p := range r.parts {
		ps = append(ps, p)
	}
	r.open.Store(&ps)
	as := make([]int32, 0, len(r.assignedParts))
	for p := range r.assignedParts {
		as = append(as, p)
	}
	r.assignedNow.Store(&as)
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
// rejects for good, a transaction that cannot end). Under exactly-once, a
// transaction the broker fences under the instance (fencedError: it
// outlived the transaction timeout) ends only the group session: its cycle
// is not applied, and Run starts a new session in-process, which resumes
// from the committed offsets; more than maxFences in fenceWindow end Run.
func (r *Runner) Run(ctx context.Context) error {
	cfg := r.o.Config
	r.runCtx = ctx
	base, err := ConnOpts(&cfg.Kafka)
	if err != nil {
		return err
	}
	r.conn = append(append(base, kgo.WithLogger(kgoLogger{r.log})), r.o.ConnOpts...)
	warnPlainText(&cfg.Kafka, r.log)
	err = untilReachable(ctx, r.log, cfg.Kafka.StartupWait.D(), func() error {
		if err := EnsureTopics(ctx, cfg, r.log, r.o.ConnOpts...); err != nil {
			return err
		}
		if err := EnsureChangelog(ctx, cfg, r.log, r.o.ConnOpts...); err != nil {
			return err
		}
		if r.hsTopic == "" {
			return nil
		}
		r.hsParts, err = EnsureHotspotsTopic(ctx, cfg, r.log, r.o.ConnOpts...)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: a clean stop
		}
		return err
	}
	// Connection errors while stopping are expected, not an outage.
	defer context.AfterFunc(ctx, func() { r.stopping.Store(true) })()
	defer r.stopping.Store(true)
	r.log.Info("consuming", "brokers", cfg.Kafka.Brokers, "group", cfg.Kafka.Group, "topic", cfg.Kafka.Topics.Experiences,
		"exactly_once", cfg.Kafka.ExactlyOnce, "changelog", r.changelog)
	// A cycle in hand when ctx is cancelled still finishes (its alerts are
	// produced and its state committed), within ShutdownGrace.
	cctx, stop := graceful(ctx, ShutdownGrace)
	defer stop()
	var fences []time.Time
	for {
		err := r.runSession(ctx, cctx)
		var fe *fencedError
		if !errors.As(err, &fe) {
			return err
		}
		if m := r.o.Metrics; m != nil {
			m.Transactions.WithLabelValues("fenced").Inc()
		}
		if ctx.Err() != nil {
			r.log.Warn("stopping: the last transaction was fenced by the broker; its cycle is processed again on restart", "err", err)
			return nil
		}
		now := time.Now()
		fences = slices.DeleteFunc(fences, func(t time.Time) bool { return now.Sub(t) > fenceWindow })
		fences = append(fences, now)
		if len(fences) > maxFences {
			return fmt.Errorf("stream: the broker fenced transactional id %q %d times in %s: another instance may be using it "+
				"(two instances with one id fence each other; give each its own state.dir): %w", r.transactionalID(), len(fences), fenceWindow, err)
		}
		r.log.Warn("the broker fenced this instance's transaction (it outlived the transaction timeout, or another producer "+
			"took the transactional id); its cycle was not applied: rejoining the group with a new session, from the committed offsets",
			"err", err, "transactional_id", r.transactionalID(), "fences", len(fences), "window", fenceWindow.String())
	}
}

// maxFences fenced transactions within fenceWindow are ridden out (each
// starts a new group session); one more ends Run. A transaction timeout
// fences rarely (a rebalance that outlasts it); two instances sharing a
// transactional id fence each other every few seconds, for ever.
const (
	maxFences   = 5
	fenceWindow = 5 * time.Minute
)

// runSession runs one group session: a client (a GroupTransactSession
// under exactly-once) joins the group, and the runner cycles until ctx is
// cancelled or a cycle fails. Then it leaves the group, closes the client
// and, as a revoke would, every open partition, and stops restores: a next
// session starts from the committed state. It returns the cycle's error.
func (r *Runner) runSession(ctx, cctx context.Context) error {
	cfg := r.o.Config
	var (
		cl   *kgo.Client
		sess *kgo.GroupTransactSession
		err  error
	)
	if cfg.Kafka.ExactlyOnce {
		sess, err = kgo.NewGroupTransactSession(r.clientOpts()...)
		if sess != nil {
			cl = sess.Client()
		}
	} else {
		cl, err = kgo.NewClient(r.clientOpts()...)
	}
	if err != nil {
		return fmt.Errorf("stream: client: %w", err)
	}
	lagCtx, stopLag := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	go func() {
		defer close(lagDone)
		r.trackLag(lagCtx, cl)
	}()
	defer func() {
		// Connection errors of a client being closed are not an outage.
		if ctx.Err() != nil {
			r.stopping.Store(true)
		}
		r.closing.Store(true)
		defer r.closing.Store(false)
		stopLag()
		<-lagDone // before the client closes and the store with it
		r.setReady(false)
		// Leave the group (marked offsets are committed in revoked,
		// at-least-once) within leaveTimeout: Close alone would leave with
		// the client's own context, retrying for as long as a broker that
		// does not answer lets it. Close then waits for this leave.
		lctx, lcancel := context.WithTimeout(context.Background(), leaveTimeout)
		_ = cl.LeaveGroupContext(lctx)
		lcancel()
		cl.Close()
		r.mu.Lock()
		for p, pt := range r.parts {
			_ = pt.Close()
			delete(r.parts, p)
		}
		for p := range r.restores {
			r.stopRestore(p)
		}
		clear(r.assignedParts)
		r.joined = false
		r.updateGauges()
		r.mu.Unlock()
		r.forgetLag(nil)
		// Restores (and seeds) end with their context; wait for them, so
		// that none writes to the store after it is closed, nor beside the
		// next session's restore of its partition.
		ended := make(chan struct{})
		go func() { r.restoring.Wait(); close(ended) }()
		select {
		case <-ended:
		case <-time.After(leaveTimeout):
			r.log.Warn("a restore of a partition is still ending")
		}
	}()
	cycle := func(fs kgo.Fetches) error { return r.cycle(cctx, cl, fs) }
	if sess != nil {
		cycle = func(fs kgo.Fetches) error { return r.cycleEOS(cctx, sess, fs) }
	}
	for {
		// Polls end at least every idle_timeout, so that idle partitions'
		// watermarks advance (engine.Partition.Tick).
		pctx, pcancel := context.WithTimeout(ctx, cfg.Events.IdleTimeout.D())
		fetches := cl.PollRecords(pctx, r.o.MaxPollRecords)
		pcancel()
		if fetches.IsClientClosed() || ctx.Err() != nil {
			// The records in hand may have been fetched before the cancel:
			// process them too, so that shutdown loses no work.
			return cycle(fetches)
		}
		if err := cycle(fetches); err != nil {
			return err
		}
	}
}

// ShutdownGrace bounds how long a cycle may go on after Run's context is
// cancelled: the produce of its alerts waits at most this long for the
// broker. A cycle cut short is not committed, and is done again on restart.
// 5 s leaves room, within the 10 s a SIGTERM promises, to leave the group
// (leaveTimeout), close the client and Pebble.
var ShutdownGrace = 5 * time.Second

// abandoned turns the failure of a cycle cut short at the end of a stop's
// grace (ctx is the graceful context) into a clean stop: the cycle was not
// applied to Pebble, and is processed again on restart.
func (r *Runner) abandoned(ctx context.Context, err error) error {
	if ctx.Err() != nil && r.stopping.Load() {
		r.log.Warn("stopping: the cycle in hand was not written within the shutdown grace; it is processed again on restart", "err", err)
		return nil
	}
	return err
}

// leaveTimeout bounds leaving the group at shutdown (and the offset commit
// that goes with it).
const leaveTimeout = 1500 * time.Millisecond

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
	pt        *engine.Partition
	recs      []*kgo.Record              // experiences, then all records in processing order
	comps     []*kgo.Record              // complaints
	fbs       []*kgo.Record              // feedback
	hss       []*kgo.Record              // hotspots topic: processed first
	last      map[string]kgo.EpochOffset // per topic: the next offset after this cycle
	changelog []*kgo.Record              // the cycle's state writes, then its marker
	marker    *kgo.Record
	err       error
}

// batchOut is one cycle's work, processed and not yet committed.
type batchOut struct {
	parts   map[int32]*work
	out     []*kgo.Record // alerts and DLQ records
	fired   []*alerts.Alert
	fetched []time.Time
	orphans int // records of partitions this instance does not have open
	// orphanAt: per topic and partition, the first orphan record's
	// offset (at-least-once rewinds there: see cycle).
	orphanAt map[string]map[int32]kgo.EpochOffset
}

// discard drops the cycle in every partition. keepOutbox: the cycle's
// records may be in Kafka (a marker's produce or a transaction's End
// failed), so its alerts stay queued for the frontline sinks; otherwise
// they are deleted. A failed discard leaves a partition unusable: its
// error ends Run.
func (c *batchOut) discard(keepOutbox bool) error {
	var err error
	for _, w := range c.parts {
		if keepOutbox {
			err = errors.Join(err, w.pt.DiscardKeepOutbox())
		} else {
			err = errors.Join(err, w.pt.Discard())
		}
	}
	return err
}

// cycle processes one poll in at-least-once mode: records per partition
// (partitions in parallel); then alerts, DLQ records and the changelog
// records of the state writes are produced and acknowledged; then each
// partition's marker record; then each partition's state, offsets and
// changelog offset are committed in one Pebble batch. A crash before that
// commit replays the cycle: alerts may be produced again, with the same
// alert_id, and state counts each event once. Markers go last so that a
// restore never applies a cycle whose alerts might be missing.
func (r *Runner) cycle(ctx context.Context, cl *kgo.Client, fetches kgo.Fetches) error {
	start := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	defer cl.AllowRebalance()
	if r.err != nil {
		return r.err
	}
	c, err := r.prepare(fetches, start)
	if err != nil {
		return err
	}
	if c != nil && c.orphans > 0 {
		// Records of a partition this instance has not open (rebalances
		// wait for the cycle to end, so it should not happen): fetch them
		// again rather than skip them. A partition no longer assigned is
		// left alone by SetOffsets; its new owner reprocesses them.
		r.log.Warn("records of partitions not open in this cycle: fetching them again", "records", c.orphans, "at", c.orphanAt)
		cl.SetOffsets(c.orphanAt)
	}
	if c == nil || len(c.parts) == 0 {
		return nil
	}
	if err := cl.ProduceSync(ctx, c.out...).FirstErr(); err != nil {
		// No marker is written: the cycle is processed again on restart.
		if derr := c.discard(false); derr != nil {
			return errors.Join(err, derr)
		}
		return r.abandoned(ctx, fmt.Errorf("stream: produce alerts and changelog: %w", err))
	}
	if h := beforeMarkers; h != nil {
		if err := h(c.out); err != nil {
			return err // as a crash would: the records are in Kafka, no marker
		}
	}
	var markers []*kgo.Record
	for _, w := range c.parts {
		markers = append(markers, w.marker)
	}
	if err := cl.ProduceSync(ctx, markers...).FirstErr(); err != nil {
		// Some markers may be written: a restart rolls those partitions
		// forward and never processes their cycle again, so its alerts
		// stay queued.
		if derr := c.discard(true); derr != nil {
			return errors.Join(err, derr)
		}
		return r.abandoned(ctx, fmt.Errorf("stream: produce changelog markers: %w", err))
	}
	marks, err := r.apply(c, start)
	if err != nil {
		return err
	}
	cl.MarkCommitOffsets(marks)
	r.deliver(ctx, c.fired)
	r.updateGauges()
	return nil
}

// prepare groups a poll's records by partition and processes each
// partition's on its own goroutine: records folded into state, the batch
// staged, and the changelog records of its writes built. It returns nil
// if there was nothing to do. Call with r.mu held.
func (r *Runner) prepare(fetches kgo.Fetches, start time.Time) (*batchOut, error) {
	fetches.EachError(func(t string, p int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, kgo.ErrClientClosed) {
			r.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
		}
	})
	exp, comp := r.topics()
	fb := r.feedbackTopic()
	c := &batchOut{parts: map[int32]*work{}}
	fetches.EachPartition(func(ftp kgo.FetchTopicPartition) {
		if len(ftp.Records) == 0 {
			return
		}
		pt := r.parts[ftp.Partition]
		if pt == nil {
			c.orphans += len(ftp.Records)
			if c.orphanAt == nil {
				c.orphanAt = map[string]map[int32]kgo.EpochOffset{}
			}
			if c.orphanAt[ftp.Topic] == nil {
				c.orphanAt[ftp.Topic] = map[int32]kgo.EpochOffset{}
			}
			first := ftp.Records[0]
			c.orphanAt[ftp.Topic][ftp.Partition] = kgo.EpochOffset{Epoch: first.LeaderEpoch, Offset: first.Offset}
			return // not processed: see cycle and cycleEOS
		}
		w := c.parts[ftp.Partition]
		if w == nil {
			w = &work{pt: pt, last: map[string]kgo.EpochOffset{}}
			c.parts[ftp.Partition] = w
		}
		switch ftp.Topic {
		case comp:
			w.comps = append(w.comps, ftp.Records...)
		case fb:
			w.fbs = append(w.fbs, ftp.Records...)
		case r.hsTopic:
			w.hss = append(w.hss, ftp.Records...)
		default:
			w.recs = append(w.recs, ftp.Records...)
		}
		lr := ftp.Records[len(ftp.Records)-1]
		w.last[ftp.Topic] = kgo.EpochOffset{Epoch: lr.LeaderEpoch, Offset: lr.Offset + 1}
	})
	for p, pt := range r.parts {
		if c.parts[p] != nil {
			continue
		}
		// An idle partition whose watermark now passes a timer joins the cycle.
		busy, err := pt.Tick(start)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("stream: partition %d: %w", p, err), pt.Discard(), c.discard(false))
		}
		if busy {
			c.parts[p] = &work{pt: pt, last: map[string]kgo.EpochOffset{}}
		}
	}
	if len(c.parts) == 0 {
		if c.orphans > 0 {
			return c, nil
		}
		return nil, nil
	}
	for _, w := range c.parts {
		// Experiences, complaints and feedback of one partition are
		// joined in timestamp order, as Kafka Streams does, so that a
		// complaint or a recovery counts for the experiences after it
		// (complained_before, recovered_before). Feedback goes first on
		// equal timestamps, as replay applies it.
		w.recs = mergeByTimestamp(w.recs, w.comps, comp)
		w.recs = mergeByTimestamp(w.recs, w.fbs, fb)
	}
	var wg sync.WaitGroup
	for _, w := range c.parts {
		wg.Go(func() { w.err = r.process(w, exp, comp, fb, start) })
	}
	wg.Wait()

	topics := r.o.Config.Kafka.Topics
	var err error
	for _, w := range c.parts {
		if w.err != nil {
			err = errors.Join(err, w.err)
			continue
		}
		o := w.pt.Output()
		for _, a := range o.Alerts {
			rec, aerr := AlertRecord(topics.Alerts, a)
			if aerr != nil {
				err = errors.Join(err, aerr)
				continue
			}
			c.out = append(c.out, rec)
		}
		c.fired = append(c.fired, o.Alerts...)
		c.fetched = append(c.fetched, o.Fetched...)
		for i := range o.Dead {
			c.out = append(c.out, DeadRecord(topics.DLQ, &o.Dead[i]))
		}
		c.out = append(c.out, w.changelog[:len(w.changelog)-1]...) // the marker goes separately
		var herr error
		if c.out, herr = r.hotspotRecords(c.out, w.pt); herr != nil {
			err = errors.Join(err, herr)
		}
	}
	if err != nil {
		return nil, errors.Join(err, c.discard(false))
	}
	return c, nil
}

// apply commits each partition's batch, with the changelog offset after its
// marker, once the cycle's records are durable in Kafka, and returns the
// offsets to mark. Call with r.mu held.
func (r *Runner) apply(c *batchOut, start time.Time) (map[string]map[int32]kgo.EpochOffset, error) {
	if h := beforeApply; h != nil {
		if err := h(len(c.fired)); err != nil {
			return nil, err
		}
	}
	m := r.o.Metrics
	if m != nil {
		now := time.Now()
		for _, f := range c.fetched {
			m.DetectLatency.Observe(now.Sub(f).Seconds())
		}
	}
	marks := map[string]map[int32]kgo.EpochOffset{}
	for p, w := range c.parts {
		if err := w.pt.Batch().PutOffset(r.changelog, w.marker.Offset+1); err != nil {
			return nil, err
		}
		if err := w.pt.Commit(false); err != nil {
			return nil, err
		}
		for t, eo := range w.last {
			if marks[t] == nil {
				marks[t] = map[int32]kgo.EpochOffset{}
			}
			marks[t][p] = eo
		}
	}
	if m != nil {
		m.CycleSeconds.Observe(time.Since(start).Seconds())
	}
	return marks, nil
}

// beforeMarkers, set by tests only (export_test.go), runs in an
// at-least-once cycle after its records are produced and before its
// changelog markers; an error ends Run there, as a crash would.
var beforeMarkers func(out []*kgo.Record) error

// beforeApply, set by tests only (export_test.go), runs in apply before the
// cycle's Pebble commit, with the number of alerts the cycle fired; an
// error ends Run there, as a crash would.
var beforeApply func(alerts int) error

// mergeByTimestamp merges two record lists, each in offset order, into one
// in timestamp order that keeps each list's own order; on equal timestamps,
// records of topic first go first (a complaint or feedback precedes the
// experiences of its time, as in replay).
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

// process folds w's records into its partition and stages the cycle. On
// error, prepare discards every partition of the cycle, this one included.
func (r *Runner) process(w *work, exp, comp, fb string, fetched time.Time) error {
	// Hotspot news and partials first: an opening read now counts for the
	// customer alerts of this cycle.
	for _, kr := range w.hss {
		rec := engine.Record{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Key: kr.Key,
			Value: kr.Value, Fetched: fetched}
		if err := w.pt.Hotspot(&rec); err != nil {
			return fmt.Errorf("stream: partition %d: %w", w.pt.ID(), err)
		}
	}
	for _, kr := range w.recs {
		rec := engine.Record{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Key: kr.Key,
			Value: kr.Value, Fetched: fetched}
		var err error
		switch kr.Topic {
		case exp:
			err = w.pt.Experience(&rec)
		case comp:
			err = w.pt.Complaint(&rec)
		case fb:
			err = w.pt.Feedback(&rec)
		}
		if err != nil {
			return fmt.Errorf("stream: partition %d: %w", w.pt.ID(), err)
		}
	}
	if err := w.pt.Stage(); err != nil {
		return err
	}
	var err error
	w.changelog, w.marker, err = appendChangelog(nil, r.changelog, w.pt.Batch())
	if err != nil {
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
// It does not wait for the cycle in hand (r.mu is held across calls to
// the broker): /customers/{id} answers during a broker outage.
func (r *Runner) Partitions() []int32 {
	if ps := r.open.Load(); ps != nil {
		return slices.Clone(*ps)
	}
	return nil
}
