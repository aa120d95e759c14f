// Package outbox delivers alerts to the frontline sinks (webhook, Slack,
// Alertmanager, PagerDuty) from the durable outbox in Pebble: at least once,
// with retries, backoff and Retry-After, without slowing detection.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/alerts/sinks"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/state"
)

// DefaultMaxBacklog is the per-sink bound on undelivered alerts.
const DefaultMaxBacklog = 100_000

// Book keeps the per-sink backlog counts that the engine (writing entries)
// and the deliverers (deleting them) share. It is safe for concurrent use.
type Book struct {
	cap   capacity
	max   int64
	sinks map[string]*ledger
	names []string
	log   *slog.Logger
	m     *metrics.Metrics

	// held: per open partition, the first outbox seq of its cycle in hand.
	// A cycle's entries are in Pebble before its records are in Kafka (see
	// engine's stageOutbox); they are not delivered until the cycle commits
	// (Release), and are deleted if it is discarded. Entries of partitions
	// not held (left by an earlier run, or of a partition not open here)
	// are deliverable.
	hmu  sync.Mutex
	held map[int32]uint64
}

// Release makes partition p's entries before next deliverable, and holds
// those from next on (the cycle in hand's) until the next Release.
func (b *Book) Release(p int32, next uint64) {
	b.hmu.Lock()
	defer b.hmu.Unlock()
	b.held[p] = next
}

// Forget makes all of partition p's entries deliverable (it is closed here).
func (b *Book) Forget(p int32) {
	b.hmu.Lock()
	defer b.hmu.Unlock()
	delete(b.held, p)
}

// heldNow returns a copy of the held seqs. A scan of the outbox takes it
// before its iterator opens and judges every entry by it: a discarded
// cycle's entries are deleted before the partition's Release, so an
// iterator that still sees them began before that Release, and the copy
// taken before it still holds them. Judged by the book as it is at the
// entry instead, such an entry (already deleted, released meanwhile) would
// be delivered.
func (b *Book) heldNow() heldSeqs {
	b.hmu.Lock()
	defer b.hmu.Unlock()
	return maps.Clone(b.held)
}

// heldSeqs maps a partition to the first outbox seq of its cycle in hand.
type heldSeqs map[int32]uint64

// deliverable reports whether entry seq of partition p may be delivered.
func (h heldSeqs) deliverable(p int32, seq uint64) bool {
	first, ok := h[p]
	return !ok || seq < first
}

type ledger struct {
	backlog atomic.Int64 // committed entries not yet delivered
	full    atomic.Bool  // the bound was hit and not yet relieved (for one log line per episode)
	wake    chan struct{}
}

// NewBook returns a book for the named sinks, each bounded to max entries
// (0: DefaultMaxBacklog).
func NewBook(names []string, max int, log *slog.Logger, m *metrics.Metrics) *Book {
	if max <= 0 {
		max = DefaultMaxBacklog
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Book{max: int64(max), sinks: map[string]*ledger{}, names: names, log: log, m: m, held: map[int32]uint64{}}
	for _, n := range names {
		b.sinks[n] = &ledger{wake: make(chan struct{}, 1)}
	}
	return b
}

// capacity is the frontline's hourly budget (alerting.max_per_hour): a
// rolling hour of processing time in one-minute buckets.
type capacity struct {
	mu      sync.Mutex
	perHour int
	minute  int64     // the bucket counts[0] is for (unix minutes)
	counts  [60]int32 // alerts sent to the frontline per minute, counts[i] for minute-i
}

// SetCapacity sets alerting.max_per_hour (0: unlimited).
func (b *Book) SetCapacity(perHour int) { b.cap.perHour = perHour }

// Frontline reports whether an alert of severity s, at time now, may go to
// the frontline sinks. Within the hour's capacity every alert goes; over
// it, only critical ones do (a customer about to leave is never held back by
// capacity), and the others reach the Kafka alerts topic only, counted in
// peakend_alerts_over_capacity_total. An alert that goes counts against the
// capacity.
func (b *Book) Frontline(s alerts.Severity, now time.Time) bool {
	c := &b.cap
	if c.perHour <= 0 {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := now.Unix() / 60
	if shift := m - c.minute; shift > 0 {
		if shift >= int64(len(c.counts)) {
			c.counts = [60]int32{}
		} else {
			copy(c.counts[shift:], c.counts[:int64(len(c.counts))-shift])
			clear(c.counts[:shift])
		}
		c.minute = m
	}
	used := 0
	for _, n := range c.counts {
		used += int(n)
	}
	if used >= c.perHour && s < alerts.Critical {
		if b.m != nil {
			b.m.OverCapacity.WithLabelValues(s.String()).Inc()
		}
		return false
	}
	c.counts[0]++
	return true
}

// Sinks lists the sinks, in config order.
func (b *Book) Sinks() []string { return b.names }

// Admit reports whether sink may queue another alert, given pending entries
// of the current cycle not yet committed. Refused, the alert still reaches
// the Kafka alerts topic; the refusal is counted and logged once per episode.
func (b *Book) Admit(sink string, pending int) bool {
	l := b.sinks[sink]
	if l == nil {
		return false
	}
	if l.backlog.Load()+int64(pending) < b.max {
		return true
	}
	if !l.full.Swap(true) {
		b.log.Error("outbox full: new alerts for this sink go to the Kafka alerts topic only until it drains",
			"sink", sink, "max_backlog", b.max)
	}
	if b.m != nil {
		b.m.Deliveries.WithLabelValues(sink, "dropped_backlog_full").Inc()
	}
	return false
}

// Committed records n entries of sink committed to the store, and wakes its deliverer.
func (b *Book) Committed(sink string, n int) {
	l := b.sinks[sink]
	if l == nil || n == 0 {
		return
	}
	l.backlog.Add(int64(n))
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (b *Book) delivered(sink string) {
	l := b.sinks[sink]
	if l.backlog.Add(-1) < b.max*9/10 && l.full.Swap(false) {
		b.log.Info("outbox draining: alerts for this sink are queued again", "sink", sink)
	}
}

// Backlog returns sink's undelivered entries.
func (b *Book) Backlog(sink string) int64 {
	if l := b.sinks[sink]; l != nil {
		return l.backlog.Load()
	}
	return 0
}

// Deliverer delivers the outbox's entries to its sinks. One goroutine per
// sink scans that sink's entries and delivers up to its concurrency at once,
// retrying each until delivered (or rejected for good); a sink that is down
// holds back only its own entries. For an alerts.GroupingSink (Slack with
// group_for), entries of a group are held in memory, still in the store,
// until the group is due, then go in one DeliverGroup call and are deleted
// once it returns nil.
type Deliverer struct {
	Store   *state.Store
	Sinks   []alerts.Sink // Name() must match the Book's names
	Book    *Book
	Log     *slog.Logger
	Metrics *metrics.Metrics
	// Concurrency per sink name; default 4.
	Concurrency map[string]int
	// Backoff between attempts; zero: sinks.DefaultBackoff.
	Backoff sinks.Backoff
	// Poll is how often an idle deliverer looks at the store anyway; default 1s.
	Poll time.Duration
	// Now is the clock groups are timed by (alerts.GroupingSink); default time.Now.
	Now func() time.Time
}

// Run delivers until ctx is done. In-flight attempts are cancelled; their
// entries stay in the outbox for the next run.
func (d *Deliverer) Run(ctx context.Context) error {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Poll <= 0 {
		d.Poll = time.Second
	}
	if d.Backoff == (sinks.Backoff{}) {
		d.Backoff = sinks.DefaultBackoff
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	// What a previous run left behind is the starting backlog.
	for _, s := range d.Sinks {
		n := 0
		if err := d.Store.Outbox(s.Name(), func(*state.OutboxEntry) bool { n++; return true }); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		d.Book.Committed(s.Name(), n)
		if n > 0 {
			d.Log.Info("outbox: undelivered alerts from before the restart", "sink", s.Name(), "alerts", n)
		}
	}
	var wg sync.WaitGroup
	for _, s := range d.Sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.sinkLoop(ctx, s)
		}()
	}
	wg.Wait()
	return nil
}

// batch is how many entries one scan takes.
const batch = 256

// sinkLoop feeds the sink's entries to conc workers. An entry being retried
// holds one worker, not the others: the loop scans again as soon as it has
// handed out what it found, skipping the entries in flight.
func (d *Deliverer) sinkLoop(ctx context.Context, s alerts.Sink) {
	name := s.Name()
	l := d.Book.sinks[name]
	conc := d.Concurrency[name]
	if conc <= 0 {
		conc = 4
	}
	tick := time.NewTicker(d.Poll)
	defer tick.Stop()
	type key = entryKey
	// handed: entries handed to a worker: true while in flight, false once
	// done. A done entry is deleted from the store, but a scan that began
	// before the delete may still see it; it is forgotten at the start of
	// the next scan.
	var mu sync.Mutex
	handed := map[key]bool{}
	gs := groupingOf(s)
	groups := map[string]*group{} // under mu
	work := make(chan state.OutboxEntry)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for e := range work {
				d.deliver(ctx, s, &e)
				mu.Lock()
				handed[key{e.Partition, e.Seq}] = false
				mu.Unlock()
			}
		})
	}
	defer func() { close(work); wg.Wait() }()
	for ctx.Err() == nil {
		mu.Lock()
		maps.DeleteFunc(handed, func(_ key, inFlight bool) bool { return !inFlight })
		mu.Unlock()
		var todo []state.OutboxEntry
		var oldest int64         // enqueue time of the oldest entry seen, in flight or not
		held := d.Book.heldNow() // before the scan's iterator opens (heldNow)
		err := d.Store.Outbox(name, func(e *state.OutboxEntry) bool {
			if !held.deliverable(e.Partition, e.Seq) {
				return true // its cycle is not committed yet
			}
			if oldest == 0 || e.Enqueued < oldest {
				oldest = e.Enqueued
			}
			mu.Lock()
			_, busy := handed[key{e.Partition, e.Seq}]
			mu.Unlock()
			if busy {
				return true
			}
			c := *e
			c.Alert = append([]byte(nil), e.Alert...)
			if gs != nil && d.gather(s, gs, groups, &mu, handed, c) {
				return true // held for its group
			}
			todo = append(todo, c)
			return len(todo) < batch
		})
		if err != nil {
			d.Log.Error("outbox: scan failed", "sink", name, "err", err)
		}
		d.gauges(name, oldest)
		next := d.sendDue(ctx, gs, groups, &mu, handed, &wg)
		if len(todo) == 0 {
			var due <-chan time.Time
			var t *time.Timer
			if next > 0 && next < d.Poll {
				t = time.NewTimer(next)
				due = t.C
			}
			select {
			case <-ctx.Done():
			case <-l.wake:
			case <-tick.C:
			case <-due:
			}
			if t != nil {
				t.Stop()
			}
			continue
		}
		for _, e := range todo {
			mu.Lock()
			handed[key{e.Partition, e.Seq}] = true
			mu.Unlock()
			select {
			case work <- e: // to the next free worker
			case <-ctx.Done():
				return
			}
		}
	}
}

// entryKey names an outbox entry of the sink.
type entryKey struct {
	p   int32
	seq uint64
}

// maxGroup bounds the alerts one group message carries (and holds in memory).
const maxGroup = 1000

// group is one GroupingSink group's entries held for its next message.
type group struct {
	key     string
	every   time.Duration
	entries []state.OutboxEntry // held, in scan order
	alerts  []*alerts.Alert
	oldest  int64     // enqueue time (unix ns) of the oldest held entry
	last    time.Time // when its last message was accepted (zero: none in this run)
	sending int       // entries[:sending] are in a delivery now
}

// groupingOf returns s, or the sink it wraps, as a GroupingSink, or nil.
func groupingOf(s alerts.Sink) alerts.GroupingSink {
	for s != nil {
		if g, ok := s.(alerts.GroupingSink); ok {
			return g
		}
		w, ok := s.(alerts.WrappingSink)
		if !ok {
			return nil
		}
		s = w.Unwrap()
	}
	return nil
}

// gather holds e in its group if its alert belongs to one (marking it in
// flight so scans skip it); it reports whether it did. An unreadable entry,
// or one s filters out, is left to deliver, which drops it.
func (d *Deliverer) gather(s alerts.Sink, gs alerts.GroupingSink, groups map[string]*group, mu *sync.Mutex,
	handed map[entryKey]bool, e state.OutboxEntry) bool {
	var a alerts.Alert
	if json.Unmarshal(e.Alert, &a) != nil {
		return false
	}
	if f, ok := s.(alerts.FilteringSink); ok && !f.Allows(&a) {
		return false // Deliver drops it
	}
	k, every := gs.Group(&a)
	if k == "" || every <= 0 {
		return false
	}
	mu.Lock()
	defer mu.Unlock()
	g := groups[k]
	if g == nil {
		g = &group{key: k}
		groups[k] = g
	}
	if len(g.entries) >= maxGroup {
		return true // stays in the store for the group's next message
	}
	g.every = every
	if len(g.entries) == g.sending || e.Enqueued < g.oldest {
		g.oldest = e.Enqueued
	}
	g.entries = append(g.entries, e)
	g.alerts = append(g.alerts, &a)
	handed[entryKey{e.Partition, e.Seq}] = true
	return true
}

// sendDue starts a delivery for every group that is due and returns how
// long until the next one is (0: none waiting).
func (d *Deliverer) sendDue(ctx context.Context, gs alerts.GroupingSink, groups map[string]*group, mu *sync.Mutex,
	handed map[entryKey]bool, wg *sync.WaitGroup) time.Duration {
	if gs == nil {
		return 0
	}
	mu.Lock()
	defer mu.Unlock()
	now := d.Now()
	var next time.Duration
	for k, g := range groups {
		if g.sending > 0 {
			continue
		}
		if len(g.entries) == 0 {
			if now.Sub(g.last) >= g.every {
				delete(groups, k) // idle for a whole interval: nothing to remember
			}
			continue
		}
		due := time.Unix(0, g.oldest).Add(g.every)
		if !g.last.IsZero() && g.last.Add(g.every).After(due) {
			due = g.last.Add(g.every)
		}
		if wait := due.Sub(now); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		g.sending = len(g.entries)
		es := slices.Clone(g.entries)
		as := slices.Clone(g.alerts)
		wg.Go(func() {
			ok := d.deliverGroup(ctx, gs, k, es, as)
			mu.Lock()
			defer mu.Unlock()
			for _, e := range es {
				handed[entryKey{e.Partition, e.Seq}] = false
			}
			g.entries, g.alerts = slices.Delete(g.entries, 0, g.sending), slices.Delete(g.alerts, 0, g.sending)
			g.sending = 0
			if ok {
				g.last = d.Now()
			}
			g.oldest = 0
			for _, e := range g.entries {
				if e.Enqueued < g.oldest || g.oldest == 0 {
					g.oldest = e.Enqueued
				}
			}
		})
	}
	return next
}

// deliverGroup tries one group message until accepted, rejected for good,
// muted, or ctx ends; it deletes the entries and reports true unless ctx
// ended first (then they stay in the store for the next run).
func (d *Deliverer) deliverGroup(ctx context.Context, gs alerts.GroupingSink, k string, es []state.OutboxEntry, as []*alerts.Alert) bool {
	name := gs.Name()
	for attempt := 1; ; attempt++ {
		err := gs.DeliverGroup(ctx, k, as)
		result := ""
		switch {
		case err == nil:
			result = "delivered"
		case ctx.Err() != nil:
			return false
		case errors.Is(err, alerts.ErrMuted):
			result = "muted"
		case errors.Is(err, alerts.ErrPermanent):
			d.Log.Error("alert group rejected by sink; not retried", "sink", name, "group", k, "alerts", len(as), "err", err)
			result = "rejected"
		}
		if result != "" {
			for i := range es {
				d.count(name, result)
				d.remove(&es[i])
			}
			return true
		}
		wait := d.Backoff.Delay(attempt, err, nil)
		d.count(name, "retried")
		d.Log.Warn("alert group delivery failed; retrying", "sink", name, "group", k, "alerts", len(as), "attempt", attempt,
			"retry_in", wait.Round(time.Millisecond), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// deliver tries e until it is delivered, rejected for good, or ctx ends.
func (d *Deliverer) deliver(ctx context.Context, s alerts.Sink, e *state.OutboxEntry) {
	name := s.Name()
	var a alerts.Alert
	if err := json.Unmarshal(e.Alert, &a); err != nil {
		d.Log.Error("outbox: unreadable entry dropped", "sink", name, "seq", e.Seq, "err", err)
		d.count(name, "rejected")
		d.remove(e)
		return
	}
	for attempt := 1; ; attempt++ {
		err := s.Deliver(ctx, &a)
		switch {
		case err == nil:
			d.count(name, "delivered")
			d.remove(e)
			return
		case ctx.Err() != nil:
			return // shutting down: the entry stays for the next run
		case errors.Is(err, alerts.ErrPermanent):
			d.Log.Error("alert rejected by sink; not retried", "sink", name, "alert_id", a.AlertID, "err", err)
			d.count(name, "rejected")
			d.remove(e)
			return
		}
		wait := d.Backoff.Delay(attempt, err, nil)
		d.count(name, "retried")
		d.Log.Warn("alert delivery failed; retrying", "sink", name, "alert_id", a.AlertID, "attempt", attempt,
			"retry_in", wait.Round(time.Millisecond), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (d *Deliverer) remove(e *state.OutboxEntry) {
	if err := d.Store.DeleteOutbox(e.Partition, e.Sink, e.Seq); err != nil {
		d.Log.Error("outbox: delete failed (the alert may be delivered again)", "sink", e.Sink, "err", err)
		return
	}
	d.Book.delivered(e.Sink)
}

func (d *Deliverer) count(sink, result string) {
	if d.Metrics != nil {
		d.Metrics.Deliveries.WithLabelValues(sink, result).Inc()
	}
}

// gauges sets sink's backlog and the age of its oldest entry (enqueued:
// unix ns, 0 for none).
func (d *Deliverer) gauges(sink string, enqueued int64) {
	if d.Metrics == nil {
		return
	}
	d.Metrics.OutboxBacklog.WithLabelValues(sink).Set(float64(d.Book.Backlog(sink)))
	age := 0.0
	if enqueued != 0 {
		age = max(0, time.Since(time.Unix(0, enqueued)).Seconds())
	}
	d.Metrics.OutboxOldest.WithLabelValues(sink).Set(age)
}
