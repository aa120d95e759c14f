// Package desk is the recovery desk's backend: a view of every open case
// (one per customer with open alerts), built by reading the alerts and
// feedback topics in full on every instance and kept in Pebble; the JSON
// API and event stream of the page at /; claims, approvals and outcomes
// written as feedback events (docs/desk.md).
package desk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/state"
	"github.com/peakend/peakend/stream"
)

// Options configures a Desk.
type Options struct {
	Config  *config.Config // validated: kafka (brokers, topics) and desk
	Store   *state.Store   // the instance's store; the desk keeps its view under state.KindDesk
	Metrics *metrics.Desk  // nil records nothing
	Logger  *slog.Logger   // default slog.Default()
	// ClientOpts are extra franz-go options for the desk's client (tests).
	ClientOpts []kgo.Opt
	// Now is the clock: claim times and lapses, closed cases' age. Default time.Now.
	Now func() time.Time
	// Known reports whether a user still exists (auth's Known); a claim by
	// one who does not is released. Default: everyone is known.
	Known func(user string) bool
	// Owns reports whether this instance owns feedback partition p as a
	// consumer-group member (it holds partition p of the co-partitioned
	// experiences topic): only the owner sends bad feedback to the DLQ and
	// counts feedback in metrics. Default: owns nothing.
	Owns func(p int32) bool
	// Approvers are the users who may approve (shown on cases needing
	// approval). Default: the supervisor accounts and desk.proxy.supervisors.
	Approvers []string
	// Customer returns the customer view of /customers/{id} when this
	// instance holds the customer (nil, nil otherwise). Optional.
	Customer func(id string) (any, error)
	// WriteTimeout bounds how long a write waits for its feedback event to
	// be read back. Default 10s.
	WriteTimeout time.Duration
	// Ping is the event stream's keep-alive interval. Default 15s.
	Ping time.Duration
	// StreamBuffer is how many events a slow event-stream client may fall
	// behind before it is disconnected (it reconnects and reloads). Default 256.
	StreamBuffer int
}

// Desk is the desk's view and API. Run reads the topics; the HTTP handlers
// (Mount) serve the view and write feedback.
type Desk struct {
	o        Options
	log      *slog.Logger
	db       *pebble.DB
	alertsT  string
	feedT    string
	ttl      time.Duration
	keep     time.Duration
	approver []string

	mu      sync.RWMutex
	open    map[string]*entry          // customer id → open case
	openIDs map[string]string          // alert id → customer id, open cases only
	hot     map[string]*hotspot        // hotspot key → its latest episode (closed ones kept desk.keep)
	hotCust map[string]*hotGroup       // hotspot_id → the customer alerts carrying it
	next    map[string]map[int32]int64 // topic → partition → next offset (reader; under mu)

	cl       atomic.Pointer[kgo.Client]
	caughtUp atomic.Bool  // the reader reached the topics' ends listed at start
	read     atomic.Int64 // records read from the topics (tests: a restart reads only the tail)

	// pending feedback naming an alert not yet seen, per feedback
	// partition, until the alerts reader reaches pendTarget (reader only).
	pend       map[int32][]*kgo.Record
	pendTarget map[int32]int64

	wmu     sync.Mutex
	waiters map[string]chan result // feedback_id → the answer of a write in flight

	hub  *hub
	quit chan struct{} // closed when Run returns: event streams end
}

// New opens the desk's view from the store (what an earlier run left);
// Run brings it up to date from the topics.
func New(o Options) (*Desk, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Known == nil {
		o.Known = func(string) bool { return true }
	}
	if o.Owns == nil {
		o.Owns = func(int32) bool { return false }
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Ping <= 0 {
		o.Ping = 15 * time.Second
	}
	if o.StreamBuffer <= 0 {
		o.StreamBuffer = 256
	}
	cfg := o.Config
	d := &Desk{o: o, log: o.Logger.With("component", "desk"), db: o.Store.DB(),
		alertsT: cfg.Kafka.Topics.Alerts, feedT: cfg.Kafka.Topics.Feedback,
		ttl: cfg.Desk.ClaimTTL.D(), keep: cfg.Desk.Keep.D(),
		open: map[string]*entry{}, openIDs: map[string]string{}, hot: map[string]*hotspot{}, hotCust: map[string]*hotGroup{},
		next: map[string]map[int32]int64{}, pend: map[int32][]*kgo.Record{},
		waiters: map[string]chan result{}, hub: newHub(o.StreamBuffer, o.Metrics), quit: make(chan struct{})}
	if d.ttl <= 0 {
		d.ttl = 30 * time.Minute
	}
	if d.keep <= 0 {
		d.keep = 720 * time.Hour
	}
	for _, a := range cfg.Desk.Accounts {
		if a.Role == config.RoleSupervisor {
			d.approver = append(d.approver, a.User)
		}
	}
	d.approver = append(d.approver, cfg.Desk.Proxy.Supervisors...)
	if o.Approvers != nil {
		d.approver = o.Approvers
	}
	if err := d.load(); err != nil {
		return nil, err
	}
	return d, nil
}

// load reads the stored view: open cases, open hotspots, offsets.
func (d *Desk) load() error {
	err := scan(d.db, dkey(subOpen), false, func(_, v []byte) (bool, error) {
		e, err := decodeEntry(v)
		if err != nil {
			return false, err
		}
		d.open[e.c.CustomerID] = e
		for _, m := range e.meta {
			d.openIDs[m.AlertID] = e.c.CustomerID
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if err := d.loadHotspots(); err != nil {
		return err
	}
	pre := dkey(subOffset)
	err = scan(d.db, pre, false, func(k, v []byte) (bool, error) {
		rest := k[len(pre):]
		if len(rest) < 5 || len(v) != 8 {
			return false, fmt.Errorf("%w: desk offset key %q", state.ErrCorrupt, k)
		}
		topic := string(rest[:len(rest)-5])
		p := int32(uint32(rest[len(rest)-4])<<24 | uint32(rest[len(rest)-3])<<16 | uint32(rest[len(rest)-2])<<8 | uint32(rest[len(rest)-1]))
		d.setNext(topic, p, int64(beUint64(v)))
		return true, nil
	})
	if err != nil {
		return err
	}
	d.refreshGauges()
	return nil
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

func (d *Desk) setNext(topic string, p int32, next int64) {
	m := d.next[topic]
	if m == nil {
		m = map[int32]int64{}
		d.next[topic] = m
	}
	m[p] = next
}

// Ready reports whether the view has caught up with the topics as they
// were when the desk started.
func (d *Desk) Ready() bool { return d.caughtUp.Load() }

// RecordsRead is how many records the desk has read from the topics since
// it was created.
func (d *Desk) RecordsRead() int64 { return d.read.Load() }

// Run reads the alerts and feedback topics (every partition, outside any
// consumer group, read_committed) from where the stored view left off,
// until ctx is done. It returns nil on cancellation.
func (d *Desk) Run(ctx context.Context) error {
	defer close(d.quit)
	cfg := d.o.Config
	conn, err := stream.ConnOpts(&cfg.Kafka)
	if err != nil {
		return err
	}
	conn = append(conn, d.o.ClientOpts...)
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 15*time.Second) {
		err := stream.EnsureTopics(ctx, cfg, d.log, d.o.ClientOpts...)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		d.log.Warn("desk: topics not ready; retrying", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	admCl, err := kgo.NewClient(conn...)
	if err != nil {
		return fmt.Errorf("desk: client: %w", err)
	}
	adm := kadm.NewClient(admCl)
	defer adm.Close()
	var ends kadm.ListedOffsets
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 15*time.Second) {
		ends, err = adm.ListCommittedOffsets(ctx, d.alertsT, d.feedT)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		d.log.Warn("desk: cannot list the topics' offsets; retrying", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	start := map[string]map[int32]kgo.Offset{}
	target := map[string]map[int32]int64{}
	d.mu.Lock()
	ends.Each(func(o kadm.ListedOffset) {
		if start[o.Topic] == nil {
			start[o.Topic] = map[int32]kgo.Offset{}
			target[o.Topic] = map[int32]int64{}
		}
		at := kgo.NewOffset().AtStart()
		if n, ok := d.next[o.Topic][o.Partition]; ok {
			at = kgo.NewOffset().At(n)
		}
		start[o.Topic][o.Partition] = at
		target[o.Topic][o.Partition] = o.Offset
	})
	d.mu.Unlock()
	cl, err := kgo.NewClient(append(conn,
		kgo.ConsumePartitions(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // the next offset passes transaction markers: "caught up" can be told
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // murmur2 of the key, as the Java client
		kgo.ProducerLinger(0),
	)...)
	if err != nil {
		return fmt.Errorf("desk: client: %w", err)
	}
	d.cl.Store(cl)
	defer func() {
		d.cl.Store(nil)
		cl.Close()
	}()
	d.log.Info("desk reading", "alerts", d.alertsT, "feedback", d.feedT)
	lastPrune := time.Time{}
	for {
		if !d.caughtUp.Load() && d.reached(target) {
			d.caughtUp.Store(true)
			d.log.Info("desk view up to date", "open_cases", d.openCases())
		}
		if now := d.o.Now(); now.Sub(lastPrune) > time.Minute {
			if err := d.prune(now); err != nil {
				return err
			}
			lastPrune = now
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				d.log.Warn("desk: fetch", "topic", t, "partition", p, "err", err)
			}
		})
		if err := d.process(ctx, adm, fs); err != nil {
			return err
		}
	}
}

// reached reports whether the reader's next offsets are at or past target.
func (d *Desk) reached(target map[string]map[int32]int64) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for t, ps := range target {
		for p, end := range ps {
			if end > 0 && d.next[t][p] < end {
				return false
			}
		}
	}
	return true
}

func (d *Desk) openCases() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.open)
}

// result is the desk's reading of one feedback event: what a write answers.
type result struct {
	status int    // http status: 200 applied
	err    string // why not
	holder string // the claim's holder, on a lost claim
	e      *entry // the case, on success
	hot    string // the hotspot key, on a hotspot's success
}

func conflict(format string, a ...any) result {
	return result{status: http.StatusConflict, err: fmt.Sprintf(format, a...)}
}

// errUnknownAlert: the feedback names an alert the view does not hold.
var errUnknownAlert = errors.New("unknown alert_id")

// changes collects one poll's effects, published after its batch commits.
type changes struct {
	touched map[string]bool   // customers whose case changed
	hot     map[string]bool   // hotspot keys whose view changed
	groups  map[string]bool   // hotspot_ids whose customer alerts changed
	results map[string]result // feedback_id → answer
	dlq     []*kgo.Record
}

// process applies one poll: alerts first (feedback may name them), then
// feedback in log order per partition; writes the view and the offsets in
// one batch; then answers writes and tells event streams.
func (d *Desk) process(ctx context.Context, adm *kadm.Client, fs kgo.Fetches) error {
	ch := &changes{touched: map[string]bool{}, hot: map[string]bool{}, groups: map[string]bool{}, results: map[string]result{}}
	b := d.db.NewIndexedBatch()
	defer b.Close()
	var fb []*kgo.Record
	d.mu.Lock()
	fs.EachRecord(func(r *kgo.Record) {
		d.read.Add(1)
		if r.Topic == d.feedT {
			fb = append(fb, r)
			return
		}
		if !r.Attrs.IsControl() {
			d.applyAlert(b, r, ch)
		}
		d.setNext(r.Topic, r.Partition, r.Offset+1)
	})
	err := d.applyFeedbacks(ctx, adm, b, fb, ch)
	if err == nil {
		err = d.stage(b, ch)
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	if !b.Empty() {
		if err := b.Commit(pebble.NoSync); err != nil {
			return fmt.Errorf("desk: write view: %w", err)
		}
	}
	d.publish(ch)
	return nil
}

// stage writes the touched cases, hotspot groups and the offsets into b.
// Call with mu held.
func (d *Desk) stage(b *pebble.Batch, ch *changes) error {
	if err := d.stageHotGroups(b, ch); err != nil {
		return err
	}
	for cust := range ch.touched {
		var err error
		if e := d.open[cust]; e != nil {
			err = b.Set(openKey(cust), e.encode(), nil)
		} else {
			err = b.Delete(openKey(cust), nil)
		}
		if err != nil {
			return fmt.Errorf("desk: stage: %w", err)
		}
	}
	for t, ps := range d.next {
		for p, n := range ps {
			if err := b.Set(offsetKey(t, p), be64(n), nil); err != nil {
				return fmt.Errorf("desk: stage: %w", err)
			}
		}
	}
	d.refreshGauges()
	return nil
}

func (d *Desk) refreshGauges() {
	m := d.o.Metrics
	if m == nil {
		return
	}
	n := map[string]int{"minor": 0, "major": 0, "critical": 0}
	for _, e := range d.open {
		for _, a := range e.meta {
			n[a.Severity]++
		}
	}
	for s, v := range n {
		m.OpenAlerts.WithLabelValues(s).Set(float64(v))
	}
	m.OpenCases.Set(float64(len(d.open)))
}

// publish answers the writes of this poll and tells the event streams.
func (d *Desk) publish(ch *changes) {
	cl := d.cl.Load()
	for _, r := range ch.dlq {
		if cl != nil {
			cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
				if err != nil {
					d.log.Error("desk: write to the DLQ", "err", err)
				}
			})
		}
	}
	d.wmu.Lock()
	for id, r := range ch.results {
		if w := d.waiters[id]; w != nil {
			w <- r
			delete(d.waiters, id)
		}
	}
	d.wmu.Unlock()
	now := d.o.Now()
	if len(ch.hot) > 0 {
		keys := make([]string, 0, len(ch.hot))
		for k := range ch.hot {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d.mu.RLock()
		for _, k := range keys {
			if h := d.hot[k]; h != nil {
				d.hub.send("hotspot", d.renderHotspot(k, h, now))
			}
		}
		d.mu.RUnlock()
	}
	if len(ch.touched) == 0 {
		return
	}
	custs := make([]string, 0, len(ch.touched))
	for c := range ch.touched {
		custs = append(custs, c)
	}
	sort.Strings(custs)
	d.mu.RLock()
	for _, c := range custs {
		if e := d.open[c]; e != nil {
			d.hub.send("case", d.render(e, now))
		} else {
			d.hub.send("closed", map[string]string{"customer_id": c})
		}
	}
	d.mu.RUnlock()
}

// applyAlert adds an alert of the alerts topic to the view. Call with mu held.
func (d *Desk) applyAlert(b *pebble.Batch, r *kgo.Record, ch *changes) {
	m, err := parseAlert(r.Value)
	if err != nil {
		d.log.Warn("desk: alert skipped", "err", err, "source", source(r))
		return
	}
	if _, dup := d.openIDs[m.AlertID]; dup {
		return
	}
	if v, err := get2(b, alertKey(m.AlertID)); err != nil || v != nil {
		return // seen before (a redelivery), or unreadable: logged by get2
	}
	if m.Kind == "hotspot" {
		d.applyHotspotAlert(b, hotspotKeyOf(r.Key, m), m, r.Value, ch)
		return
	}
	if m.HotspotID != "" {
		d.joinHotspot(m, r.Value, ch)
	}
	e := d.open[m.CustomerID]
	if e == nil {
		e = &entry{c: Case{CustomerID: m.CustomerID, Status: StatusOpen}}
		d.open[m.CustomerID] = e
	}
	e.add(m, r.Value)
	d.openIDs[m.AlertID] = m.CustomerID
	_ = b.Set(alertKey(m.AlertID), alertRef{owner: m.CustomerID}.encode(), nil)
	ch.touched[m.CustomerID] = true
}

// get2 reads key through the batch (its own writes, then the store).
func get2(b *pebble.Batch, key []byte) ([]byte, error) {
	v, closer, err := b.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("desk: read view: %w", err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// applyFeedbacks applies feedback records in log order per partition. One
// naming an alert not yet seen waits (with the rest of its partition)
// until the alerts reader has reached the alerts topic's end as listed
// after it was read: alerts are written before the feedback about them,
// so an alert still unknown then is unknown for good. Call with mu held.
func (d *Desk) applyFeedbacks(ctx context.Context, adm *kadm.Client, b *pebble.Batch, recs []*kgo.Record, ch *changes) error {
	for _, r := range recs {
		if len(d.pend[r.Partition]) > 0 {
			d.pend[r.Partition] = append(d.pend[r.Partition], r)
			continue
		}
		if !d.feedback(ctx, adm, b, r, ch, false) {
			d.pend[r.Partition] = append(d.pend[r.Partition], r)
		}
	}
	if len(d.pend) == 0 || !d.alertsCaughtUp(ctx, adm) {
		return nil
	}
	for p, rs := range d.pend {
		for _, r := range rs {
			d.feedback(ctx, adm, b, r, ch, true)
		}
		delete(d.pend, p)
	}
	d.pendTarget = nil
	return nil
}

// alertsCaughtUp reports whether the alerts reader has reached the ends of
// the alerts topic listed since feedback began waiting. Call with mu held.
func (d *Desk) alertsCaughtUp(ctx context.Context, adm *kadm.Client) bool {
	if d.pendTarget == nil {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ends, err := adm.ListCommittedOffsets(lctx, d.alertsT)
		cancel()
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			d.log.Warn("desk: list the alerts topic's ends", "err", err)
			return false
		}
		d.pendTarget = map[int32]int64{}
		ends.Each(func(o kadm.ListedOffset) { d.pendTarget[o.Partition] = o.Offset })
	}
	for p, end := range d.pendTarget {
		if end > 0 && d.next[d.alertsT][p] < end {
			return false
		}
	}
	return true
}

// feedback handles one feedback record; it returns false (and does
// nothing) if the record names an unknown alert and final is false.
func (d *Desk) feedback(ctx context.Context, adm *kadm.Client, b *pebble.Batch, r *kgo.Record, ch *changes, final bool) bool {
	if r.Attrs.IsControl() {
		d.setNext(r.Topic, r.Partition, r.Offset+1)
		return true
	}
	f, err := DecodeFeedback(r.Value)
	if err != nil {
		d.reject(r, strings.TrimPrefix(err.Error(), errBadFeedback.Error()+": "), "malformed", ch)
		d.setNext(r.Topic, r.Partition, r.Offset+1)
		return true
	}
	res, err := d.applyFeedback(b, r, f, ch)
	if errors.Is(err, errUnknownAlert) {
		if !final && !d.alertsCaughtUp(ctx, adm) {
			return false
		}
		d.reject(r, fmt.Sprintf("unknown alert_id %q", f.AlertID), "unknown_alert", ch)
		res = result{status: http.StatusNotFound, err: "the alert is not on the desk"}
	} else if err != nil {
		d.reject(r, err.Error(), "wrong_customer", ch)
		res = result{status: http.StatusBadRequest, err: err.Error()}
	}
	if f.FeedbackID != "" {
		ch.results[f.FeedbackID] = res
	}
	d.setNext(r.Topic, r.Partition, r.Offset+1)
	return true
}

// reject sends a bad feedback record to the DLQ, if this instance owns its
// partition; the other instances skip it.
func (d *Desk) reject(r *kgo.Record, reason, kind string, ch *changes) {
	if !d.o.Owns(r.Partition) {
		d.log.Debug("desk: bad feedback skipped (another instance owns its partition)", "source", source(r), "reason", reason)
		return
	}
	d.log.Warn("desk: bad feedback to the DLQ", "source", source(r), "reason", reason)
	ch.dlq = append(ch.dlq, &kgo.Record{Topic: d.o.Config.Kafka.Topics.DLQ, Key: r.Key, Value: r.Value,
		Headers: []kgo.RecordHeader{{Key: stream.HeaderError, Value: []byte(reason)},
			{Key: stream.HeaderSource, Value: []byte(source(r))}}})
	if m := d.o.Metrics; m != nil {
		m.Rejected.WithLabelValues(kind).Inc()
	}
}

func source(r *kgo.Record) string { return fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset) }

// counts reports whether this instance counts feedback of partition p in
// metrics: it owns the partition and is reading live, not history.
func (d *Desk) counts(p int32) bool {
	return d.o.Metrics != nil && d.caughtUp.Load() && d.o.Owns(p)
}

// activeClaim is the case's claim if it holds at t: not lapsed, by a user
// who still exists.
func (d *Desk) activeClaim(e *entry, t time.Time) *Claim {
	c := e.c.Claim
	if c == nil || !t.Before(c.ExpiresAt) || !d.o.Known(c.By) {
		return nil
	}
	return c
}

// applyFeedback applies one valid feedback event. Call with mu held.
func (d *Desk) applyFeedback(b *pebble.Batch, r *kgo.Record, f *Feedback, ch *changes) (result, error) {
	var ref alertRef
	if cust, ok := d.openIDs[f.AlertID]; ok {
		ref.owner = cust
	} else {
		v, err := get2(b, alertKey(f.AlertID))
		if err != nil {
			return result{}, err
		}
		if v == nil {
			return result{}, errUnknownAlert
		}
		if ref, err = decodeRef(v); err != nil {
			return result{}, err
		}
	}
	if ref.hotspot {
		return d.applyHotspotFeedback(b, r, f, ref.owner, ch)
	}
	if ref.owner != f.CustomerID {
		return result{}, fmt.Errorf("alert_id %q is of another customer than customer_id %q", f.AlertID, f.CustomerID)
	}
	if ref.closed != 0 {
		// Recorded with the closed case, not applied again.
		hk := historyKey(ref.owner, ref.closed)
		if v, err := get2(b, hk); err == nil && v != nil {
			if e, err := decodeEntry(v); err == nil {
				e.c.Later = append(e.c.Later, f)
				_ = b.Set(hk, e.encode(), nil)
			}
		}
		return conflict("the case is already closed"), nil
	}
	e := d.open[ref.owner]
	if e == nil {
		return result{}, errUnknownAlert
	}
	ts := r.Timestamp.UTC()
	e.c.UpdatedAt = maxTime(e.c.UpdatedAt, f.Time)
	switch f.Action {
	case ActionClaim:
		if h := d.activeClaim(e, ts); h != nil && h.By != f.By {
			return result{status: http.StatusConflict, err: "claimed by " + h.By, holder: h.By}, nil
		}
		fresh := d.activeClaim(e, ts) == nil // not a renewal by the holder
		e.c.Claim = &Claim{By: f.By, At: ts, ExpiresAt: ts.Add(d.ttl)}
		if fresh && d.counts(r.Partition) {
			d.o.Metrics.Claims.Inc()
			d.o.Metrics.ClaimSeconds.Observe(ts.Sub(e.c.OpenedAt).Seconds())
		}
	case ActionRelease:
		if h := d.activeClaim(e, ts); h == nil || h.By != f.By {
			if h != nil {
				return result{status: http.StatusConflict, err: "claimed by " + h.By, holder: h.By}, nil
			}
			return conflict("the case is not claimed"), nil
		}
		e.c.Claim = nil
	case ActionApprove, ActionRefuse:
		if !e.c.Recovery.RequiresApproval {
			return conflict("this case's action needs no approval"), nil
		}
		state := "approved"
		if f.Action == ActionRefuse {
			state = "refused"
		}
		at := f.Time
		e.c.Approval = &Approval{State: state, By: f.By, At: &at}
	case ActionOutcome:
		d.close(b, e, r, f)
	}
	ch.touched[e.c.CustomerID] = true
	return result{status: http.StatusOK, e: e}, nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// close records the outcome and moves the case to the history.
func (d *Desk) close(b *pebble.Batch, e *entry, r *kgo.Record, f *Feedback) {
	cust := e.c.CustomerID
	closedAt := r.Timestamp.UnixNano()
	t := time.Unix(0, closedAt).UTC()
	e.c.Status = StatusClosed
	e.c.ClosedAt = &t
	e.c.Claim = nil
	e.c.Outcome = &Outcome{AlertID: f.AlertID, Outcome: f.Outcome, By: f.By, At: f.Time, Note: f.Note, Spent: f.Spent}
	delete(d.open, cust)
	for _, m := range e.meta {
		delete(d.openIDs, m.AlertID)
		_ = b.Set(alertKey(m.AlertID), alertRef{closed: closedAt, owner: cust}.encode(), nil)
	}
	_ = b.Set(historyKey(cust, closedAt), e.encode(), nil)
	_ = b.Set(closedKey(closedAt, cust), nil, nil)
	if d.counts(r.Partition) {
		m := d.o.Metrics
		a, _ := e.has(f.AlertID)
		if a == nil {
			a = e.highest()
		}
		m.Outcomes.WithLabelValues(a.Detector, f.Outcome).Inc()
		m.Feedback.WithLabelValues(a.Detector, a.Severity, f.Outcome).Inc()
		m.OutcomeSeconds.Observe(r.Timestamp.Sub(e.c.OpenedAt).Seconds())
	}
}

// prune deletes closed cases older than desk.keep, with their alerts' index entries.
func (d *Desk) prune(now time.Time) error {
	cutoff := now.Add(-d.keep).UnixNano()
	b := d.db.NewBatch()
	defer b.Close()
	d.mu.Lock()
	d.pruneHotspots(b, time.Unix(0, cutoff))
	d.mu.Unlock()
	n := 0
	err := scan(d.db, dkey(subClosed), false, func(k, _ []byte) (bool, error) {
		rest := k[2:]
		if len(rest) < 10 {
			return true, nil
		}
		closed := int64(beUint64(rest[:8]))
		if closed >= cutoff {
			return false, nil
		}
		cust := string(rest[10:])
		hk := historyKey(cust, closed)
		if v, err := get(d.db, hk); err == nil && v != nil {
			if e, err := decodeEntry(v); err == nil {
				for _, m := range e.meta {
					_ = b.Delete(alertKey(m.AlertID), nil)
				}
			}
		}
		_ = b.Delete(hk, nil)
		_ = b.Delete(append([]byte(nil), k...), nil)
		n++
		return n < 10_000, nil
	})
	if err != nil {
		return err
	}
	if b.Empty() {
		return nil
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("desk: prune: %w", err)
	}
	d.log.Debug("desk: closed cases pruned", "cases", n)
	return nil
}

// render is the case as the API shows it at now: a lapsed claim, or one
// by a user who no longer exists, is gone; an action needing approval
// without a decision is pending. Call with mu held (read).
func (d *Desk) render(e *entry, now time.Time) *Case {
	c := e.c
	c.Claim = d.activeClaim(e, now)
	if c.Status == StatusOpen && c.Recovery.RequiresApproval && c.Approval == nil {
		c.Approval = &Approval{State: "pending"}
	}
	c.Approvers = d.approver
	if c.Approvers == nil {
		c.Approvers = []string{}
	}
	return &c
}

// newID is a random feedback id.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
