package engine

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/detectors"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/hotspots"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/state"
)

// Record is one input record, from Kafka or from a replay file.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64 // in replay: the line number
	Key       []byte
	Value     []byte
	Fetched   time.Time // when it was fetched (zero in replay)
}

// Source is where a record came from, as the DLQ's peakend-source header says it.
func (r *Record) Source() string {
	return r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "/" + strconv.FormatInt(r.Offset, 10)
}

// Dead is a record that could not be processed, with the reason.
type Dead struct {
	Record Record
	Reason string
}

// Output is what one cycle of a partition produced. It stays valid until
// the next Commit or Discard.
type Output struct {
	Alerts []*alerts.Alert
	Dead   []Dead
	// Fetched is the fetch time of the record behind each alert (for latency).
	Fetched []time.Time
	// Hotspots is the cycle's partial hotspot counts, with the partition's
	// watermark (set by Stage when the engine counts hotspots).
	Hotspots hotspots.Partial
	// SendHotspots (live): Hotspots is due on the hotspots topic (it has
	// counts, or the watermark passed a step's end since the last one sent).
	SendHotspots bool
	// HotspotStates (live): the news of the cycle's hotspot alerts, for
	// every partition's view.
	HotspotStates []*hotspots.State
}

// entry is a customer loaded into the cycle's overlay.
type entry struct {
	c       state.Customer
	isNew   bool
	pending []pending // window entries appended this cycle, oldest first
}

// maxFreeEntries bounds the recycled entries a partition keeps.
const maxFreeEntries = 8192

type staged struct {
	id         string
	start, end int // in Partition.hdrArena
}

type pending struct {
	seq        uint64
	start, end int // in Partition.arena
}

// Partition processes one input partition's records. It is not safe for
// concurrent use: one goroutine owns it during a cycle.
type Partition struct {
	e     *Engine
	id    int32
	dec   *event.Decoder
	pops  []*detectors.Population
	batch *state.Batch
	count int64 // customers stored

	customers map[string]*entry  // this cycle's overlay
	free      []*entry           // recycled entries (at most maxFreeEntries)
	hc        *state.HeaderCache // committed headers, encoded (write-through at Commit)
	staged    []staged           // headers encoded by Stage, for the cache after Commit
	hdrArena  []byte
	offsets   map[string]int64
	arena     []byte
	out       Output

	ev       event.Event
	findings []alerts.Finding
	keyBuf   []byte
	counts   map[string]*[4]int // journey label → results, published at Commit
	newCust  int64
	hcSeen   [2]int64 // header cache hits and misses already published

	outSeq, outCommitted uint64         // next outbox seq: in this cycle, committed
	outPending           map[string]int // outbox entries of this cycle, per sink
	outKeys              []outKey       // the cycle's outbox entries, in Pebble already (stageOutbox)
	obatch               *state.Batch   // the outbox's own batch, committed before the cycle's
	stats                [4]int64       // processed, invalid, duplicate, late: since the partition opened

	hs *hotspots.Counter // hotspot counts of the cycle (nil: not counting; hotspots.go)
	hl *hotLive          // live: the aggregator and view this partition owns (hotspots.go)

	tm timeState  // event time: watermark, timers, journeys, retention (watermark.go, timers.go, retention.go)
	ti timerIndex // committed pending timers (timerindex.go)
	// oldTimers: the store has timer keys of journeys that are not parked
	// (written before the timer index): delete them as their journeys move.
	oldTimers bool

	jc       *state.HeaderCache // committed journeys (nil: no timed detector; journeycache.go)
	jcStaged []jcStaged         // the cycle's journeys, for jc after Commit
	jcArena  []byte
	jcLost   map[string]struct{} // ids of journeys the cache lost (nil once given up)
	jcGaveUp bool                // too many lost: every miss reads Pebble
	jbuf     []byte
}

// Stats returns the records processed, invalid, duplicate and late since the
// partition was opened (including the uncommitted cycle).
func (p *Partition) Stats() (processed, invalid, duplicate, late int64) {
	return p.stats[rProcessed], p.stats[rInvalid], p.stats[rDuplicate], p.stats[rLate]
}

// ID is the partition number.
func (p *Partition) ID() int32 { return p.id }

// Customers is the number of customers stored for the partition (after the last Commit).
func (p *Partition) Customers() int64 { return p.count }

func (p *Partition) customer(id string) (*entry, error) {
	if en, ok := p.customers[id]; ok {
		return en, nil
	}
	var en *entry
	if n := len(p.free); n > 0 {
		en, p.free = p.free[n-1], p.free[:n-1]
		en.isNew, en.pending = false, en.pending[:0]
		en.c.Reset(id)
	} else {
		en = &entry{c: state.Customer{ID: id}}
	}
	// The header cache holds the committed bytes: decoding them is the same
	// as reading Pebble, without the LSM walk.
	if b, ok := p.hc.Get(id); ok {
		if err := en.c.UnmarshalBinary(b); err != nil {
			return nil, err
		}
	} else {
		found, err := p.e.store.LoadCustomer(p.id, &en.c, p.keyBuf)
		if err != nil {
			return nil, err
		}
		en.isNew = !found
	}
	p.customers[en.c.ID] = en
	return en, nil
}

func (p *Partition) count1(journey string, result int) {
	p.stats[result]++
	if p.e.metrics == nil {
		return
	}
	if !p.e.journeys[journey] {
		journey = "other"
	}
	if p.counts == nil {
		p.counts = map[string]*[4]int{}
	}
	c := p.counts[journey]
	if c == nil {
		c = new([4]int)
		p.counts[journey] = c
	}
	c[result]++
}

const (
	rProcessed = iota
	rInvalid
	rDuplicate
	rLate
)

var resultNames = [4]string{metrics.Processed, metrics.Invalid, metrics.Duplicate, metrics.Late}

func (p *Partition) dead(r *Record, reason string) {
	p.out.Dead = append(p.out.Dead, Dead{Record: *r, Reason: reason})
	p.count1("other", rInvalid)
}

// Experience processes one experience record. Bad input becomes a Dead
// entry; an error is returned only when the store fails.
func (p *Partition) Experience(r *Record) error {
	ev, err := p.Decode(r)
	if err != nil {
		p.offsets[r.Topic] = r.Offset + 1
		var ie *event.Error
		if errors.As(err, &ie) {
			p.dead(r, ie.Reason)
			return nil
		}
		p.dead(r, err.Error())
		return nil
	}
	return p.Apply(r, ev)
}

// Decode decodes an experience record into the partition's event, which
// stays valid until the next Decode or Experience. Together with Apply it
// lets a caller look at the event (its time) before processing it.
func (p *Partition) Decode(r *Record) (*event.Event, error) {
	err := p.dec.Decode(r.Value, &p.ev)
	return &p.ev, err
}

// Apply processes an experience that Decode returned for r.
func (p *Partition) Apply(r *Record, ev *event.Event) error {
	p.offsets[r.Topic] = r.Offset + 1
	en, err := p.customer(ev.CustomerID)
	if err != nil {
		return err
	}
	c := &en.c

	// Drop exact redeliveries: the same event_id among this customer's last
	// state.MaxRecent events or, without one, the same record bytes. Bytes,
	// not the record's position, because a producer that retries without
	// idempotence writes the same record again at a new offset: counted
	// twice, it would double repeat counts and escalate its own alert under
	// the same alert_id (which is built from the bytes). Replay, which has
	// line numbers instead of offsets, then agrees with live. The two kinds
	// of identity hash into separate domains (xor with a constant).
	var h uint64
	if ev.EventID != "" {
		h = xxhash.Sum64String(ev.EventID)
	} else {
		h = xxhash.Sum64(r.Value) ^ 0x9e3779b97f4a7c15
	}
	if c.Seen(h) {
		p.count1(ev.Journey, rDuplicate)
		return nil
	}
	late, err := p.observe(en, ev, r) // before the header takes the event
	if err != nil {
		return err
	}

	// Judge against the history before this event.
	p.findings = p.findings[:0]
	for i, d := range p.e.dets {
		if f, ok := d.Detect(ev, c, p.pops[i]); ok {
			p.findings = append(p.findings, f)
		}
	}

	// Fold the event into the window and the header.
	c.Seq++
	start := len(p.arena)
	p.arena = state.AppendExperience(p.arena, c.Seq, ev)
	en.pending = append(en.pending, pending{seq: c.Seq, start: start, end: len(p.arena)})
	if err := p.batch.PutExperience(c.ID, c.Seq, p.e.window, p.arena[start:]); err != nil {
		return err
	}
	c.Remember(h, state.MaxRecent)
	if c.FirstAt == 0 {
		c.FirstAt = ev.Time
	}
	c.LastAt = max(c.LastAt, ev.Time)
	if ev.Tier != "" {
		c.Tier = ev.Tier
	}
	if ev.HasValue {
		c.Value = ev.Value
	}
	for i, d := range p.e.dets {
		d.Learn(ev, c, p.pops[i])
	}
	if err := p.journeyEvent(en, ev, late); err != nil {
		return err
	}

	if p.hs != nil {
		p.hs.Event(ev, p.findings)
	}

	if p.e.judge != nil { // tune: the judge keeps the policy (judge.go)
		if err := p.judgeExperience(en, ev, r); err != nil {
			return err
		}
	} else {
		// Peak-end memory, then at most one alert: the best finding.
		best, found := alerts.Finding{}, false
		for _, f := range p.findings {
			if !found || f.Better(best) {
				best, found = f, true
			}
		}
		perceived := p.e.policy.Feel(c, ev.Time, time.Duration(p.e.halfLife), &best, found)
		if found {
			if err := p.alert(best, en, ev, r, perceived); err != nil {
				return err
			}
		}
	}
	result := rProcessed
	if late {
		result = rLate // beyond allowed lateness: judged and folded in all the same, counted apart
	}
	p.count1(ev.Journey, result)
	if m := p.e.metrics; m != nil && !r.Fetched.IsZero() {
		m.EventLag.Observe(math.Max(0, float64(r.Fetched.UnixNano()-ev.Time)/1e9))
	}
	return p.fireDue()
}

func (p *Partition) alert(f alerts.Finding, en *entry, ev *event.Event, r *Record, perceived float64) error {
	c := &en.c
	dec := p.e.policy.Decide(f, c, ev.Time)
	if dec == alerts.Suppressed {
		if m := p.e.metrics; m != nil {
			m.AlertsSuppressed.WithLabelValues(f.Detector).Inc()
		}
		return nil
	}
	evidence, err := p.evidence(f, en, ev.Journey)
	if err != nil {
		return err
	}
	identity := r.Value
	if ev.EventID != "" {
		identity = []byte(ev.EventID)
	}
	et := time.Unix(0, ev.Time)
	detected := et
	if p.e.live {
		detected = time.Now()
	}
	a := p.e.policy.Build(f, c, ev.Journey, identity, et, detected, evidence, perceived)
	a.HotspotID = p.hotspotOf(c.ID)
	ref := state.AlertRef{ID: a.AlertID, Detector: a.Detector, Severity: uint8(a.Severity), Time: ev.Time, Reason: a.Reason}
	c.Cooldown = ref
	c.PushAlert(ref)
	p.out.Alerts = append(p.out.Alerts, a)
	p.out.Fetched = append(p.out.Fetched, r.Fetched)
	if m := p.e.metrics; m != nil {
		m.Alerts.WithLabelValues(a.Detector, a.Severity.String()).Inc()
	}
	return nil
}

// pointReads is the most committed window entries evidence reads one by one.
const pointReads = 12

// MaxEvidence is the most experiences an alert carries.
const MaxEvidence = 10

// evidence collects the experiences behind f, newest first by event time
// (events that arrived out of order take their place in time): the trigger
// and recent experiences of its journey, or the bad experiences a repeat
// counted.
func (p *Partition) evidence(f alerts.Finding, en *entry, journey string) ([]alerts.Evidence, error) {
	out, err := p.evidenceByArrival(f, en, journey)
	slices.SortStableFunc(out, func(a, b alerts.Evidence) int { return b.Time.Compare(a.Time) })
	return out, err
}

// evidenceByArrival is evidence, newest first by arrival (window seq).
func (p *Partition) evidenceByArrival(f alerts.Finding, en *entry, journey string) ([]alerts.Evidence, error) {
	c := &en.c
	var want map[uint64]bool
	if f.Evidence == alerts.EvidenceBad {
		want = make(map[uint64]bool, len(c.Bad))
		for _, m := range c.Bad {
			if m.Time >= f.Since {
				want[m.Seq] = true
			}
		}
	}
	oldest := uint64(0)
	if c.Seq > uint64(p.e.window) {
		oldest = c.Seq - uint64(p.e.window)
	}
	var out []alerts.Evidence
	var ev event.Event
	take := func(seq uint64, b []byte) (bool, error) {
		if seq <= oldest || len(out) >= MaxEvidence {
			return len(out) < MaxEvidence, nil
		}
		if want != nil && !want[seq] {
			return true, nil
		}
		if err := state.DecodeExperience(b, c.ID, &ev); err != nil {
			return false, err
		}
		if want == nil && ev.Journey != journey {
			return true, nil
		}
		out = append(out, alerts.EvidenceOf(&ev))
		return len(out) < MaxEvidence, nil
	}
	for i := len(en.pending) - 1; i >= 0; i-- {
		pe := en.pending[i]
		more, err := take(pe.seq, p.arena[pe.start:pe.end])
		if err != nil || !more {
			return out, err
		}
	}
	firstPending := c.Seq + 1
	if len(en.pending) > 0 {
		firstPending = en.pending[0].seq
	}
	// A few committed entries (the usual case: most customers come back
	// rarely) are read by point lookups, newest first; a long window by one
	// iterator.
	if firstPending-1-min(oldest, firstPending-1) <= pointReads {
		for seq := firstPending - 1; seq > oldest; seq-- {
			more := true
			_, err := p.e.store.Experience(p.id, c.ID, seq, p.e.window, func(b []byte) error {
				var err error
				more, err = take(seq, b)
				return err
			})
			if err != nil || !more {
				return out, err
			}
		}
		return out, nil
	}
	var derr error
	err := p.e.store.Window(p.id, c.ID, func(seq uint64, b []byte) bool {
		if seq >= firstPending {
			return true
		}
		more, err := take(seq, b)
		derr = err
		return more && err == nil
	})
	if err == nil {
		err = derr
	}
	return out, err
}

// Complaint processes one complaint record: it marks the customer (for
// complained_before) and counts whether peakend had flagged them first.
func (p *Partition) Complaint(r *Record) error {
	p.offsets[r.Topic] = r.Offset + 1
	cp, err := event.DecodeComplaint(r.Value, p.e.cfg.Events.MaxBytes)
	if err != nil {
		var ie *event.Error
		if errors.As(err, &ie) {
			p.dead(r, ie.Reason)
			return nil
		}
		p.dead(r, err.Error())
		return nil
	}
	en, err := p.customer(cp.CustomerID)
	if err != nil {
		return err
	}
	c := &en.c
	if err := p.touch(en, cp.Time); err != nil {
		return err
	}
	c.Complaint = max(c.Complaint, cp.Time)
	if m := p.e.metrics; m != nil {
		m.Complaints.Inc()
		if lead, ok := LeadTime(c, cp.Time, int64(p.e.cfg.Alerting.Lookback)); ok {
			m.FlaggedBefore.Inc()
			m.ComplaintLead.Observe(lead.Seconds())
		}
	}
	return nil
}

// LeadTime is how long before a complaint at t peakend flagged c: t minus
// the first of c's alerts within lookback before t; ok is false when none
// was (c.Alerts keeps the last state.MaxAlertRefs alerts).
func LeadTime(c *state.Customer, t, lookback int64) (lead time.Duration, ok bool) {
	first := int64(math.MaxInt64)
	for _, a := range c.Alerts {
		if a.Time <= t && t-a.Time <= lookback {
			first, ok = min(first, a.Time), true
		}
	}
	if !ok {
		return 0, false
	}
	return time.Duration(t - first), true
}

// Feedback processes one record of the feedback topic (docs/reference.md,
// "Feedback event"): an outcome "recovered" for one of the customer's
// alerts that the engine remembers (the last state.MaxAlertRefs), raised
// at or before the outcome's time, marks the customer with that time, for
// the recovered_before of their later alerts. Feedback naming an alert
// unknown then is not applied (the desk sends it to the DLQ), and every
// other action and outcome is the desk's business. A malformed record is
// skipped and counted, not sent to the DLQ: the desk, which reads the same
// topic, sends it there once. An error is returned only when the store
// fails.
func (p *Partition) Feedback(r *Record) error {
	p.offsets[r.Topic] = r.Offset + 1
	m := p.e.metrics
	count := func(result string) {
		if m != nil {
			m.FeedbackRead.WithLabelValues(result).Inc()
		}
	}
	f, err := event.DecodeFeedback(r.Value, p.e.cfg.Events.MaxBytes)
	if err != nil {
		count("malformed")
		return nil
	}
	if f.Outcome != event.FeedbackRecovered {
		count("other")
		return nil
	}
	_, inCycle := p.customers[f.CustomerID]
	en, err := p.customer(f.CustomerID)
	if err != nil {
		return err
	}
	known := false
	for _, a := range en.c.Alerts {
		known = known || (a.ID == f.AlertID && a.Time <= f.Time)
	}
	if !known {
		if !inCycle {
			// Not loaded for this record: nothing to write back (and no
			// header for a customer the partition has never seen).
			delete(p.customers, f.CustomerID)
			if len(p.free) < maxFreeEntries {
				p.free = append(p.free, en)
			}
		}
		count("unknown")
		return nil
	}
	if err := p.touch(en, f.Time); err != nil {
		return err
	}
	en.c.Recovered = max(en.c.Recovered, f.Time)
	count("recovered")
	return nil
}

// FlaggedBefore reports whether c had an alert within lookback before t.
func FlaggedBefore(c *state.Customer, t, lookback int64) bool {
	for _, a := range c.Alerts {
		if a.Time <= t && t-a.Time <= lookback {
			return true
		}
	}
	return false
}

// Output returns what the cycle produced so far.
func (p *Partition) Output() *Output { return &p.out }

// Offsets returns the next offsets to consume per topic after this cycle.
func (p *Partition) Offsets() map[string]int64 { return p.offsets }

// Stage writes the cycle's customer headers, populations and offsets into
// the partition's batch. Call it once, before Commit.
func (p *Partition) Stage() error {
	expired, err := p.stageTime()
	if err != nil {
		return fmt.Errorf("engine: stage: %w", err)
	}
	p.newCust = -expired
	p.staged = p.staged[:0]
	p.hdrArena = p.hdrArena[:0]
	for _, en := range p.customers {
		if en.isNew {
			p.newCust++
		}
		start := len(p.hdrArena)
		p.hdrArena = en.c.AppendBinary(p.hdrArena)
		p.staged = append(p.staged, staged{id: en.c.ID, start: start, end: len(p.hdrArena)})
		if err := p.batch.PutCustomerBytes(en.c.ID, p.hdrArena[start:]); err != nil {
			return fmt.Errorf("engine: stage: %w", err)
		}
	}
	if p.newCust != 0 {
		if err := p.batch.PutCustomers(p.count + p.newCust); err != nil {
			return err
		}
	}
	for _, pop := range p.pops {
		if pop != nil {
			if err := pop.Flush(p.batch); err != nil {
				return fmt.Errorf("engine: stage: %w", err)
			}
		}
	}
	for topic, next := range p.offsets {
		if err := p.batch.PutOffset(topic, next); err != nil {
			return err
		}
	}
	if err := p.stageHotspots(); err != nil {
		return fmt.Errorf("engine: stage: %w", err)
	}
	return p.stageOutbox()
}

// Commit applies the staged batch atomically and starts a new cycle.
func (p *Partition) Commit(sync bool) error {
	var err error
	if p.e.async && !sync {
		err = p.batch.CommitAsync()
	} else {
		err = p.batch.Commit(sync)
	}
	if err != nil {
		return err
	}
	p.count += p.newCust
	p.commitHotspots()
	p.commitJourneys() // before commitTime clears the cycle's journeys
	p.commitTimers()   // and its timers
	p.commitTime()
	p.publish()
	p.committedOutbox()
	// Write-through: the cache now holds exactly what Pebble holds.
	for _, s := range p.staged {
		p.hc.Put(s.id, p.hdrArena[s.start:s.end])
	}
	p.staged = p.staged[:0]
	p.reset()
	return nil
}

// Discard drops the cycle's work: nothing of it reaches the store (its
// outbox entries, already there, are deleted), and the populations are
// reloaded as they were committed. For a cycle whose records are not in
// Kafka.
func (p *Partition) Discard() error { return p.discard(false) }

// DiscardKeepOutbox drops the cycle's work as Discard does, but keeps its
// outbox entries and makes them deliverable: for a cycle whose records may
// be in Kafka (its markers' produce, or its transaction's End, failed), so
// that a restart may roll its state forward from the changelog and never
// process it again. If it is processed again, its alerts are queued again
// (at-least-once).
func (p *Partition) DiscardKeepOutbox() error { return p.discard(true) }

func (p *Partition) discard(keepOutbox bool) error {
	p.batch.Reset()
	var oerr error
	if keepOutbox {
		p.committedOutbox()
	} else {
		oerr = p.discardOutbox()
	}
	p.reset()
	p.discardJourneys()
	p.ti.discard()
	p.discardTime()
	p.counts = nil
	if err := p.discardHotspots(); err != nil {
		return errors.Join(oerr, fmt.Errorf("engine: discard partition %d: %w", p.id, err))
	}
	for i, pop := range p.pops {
		if pop == nil {
			continue
		}
		d := p.e.dets[i]
		fresh := detectors.NewPopulation(d.Name(), d.Population(), p.e.tailQ[i])
		if err := p.e.store.Populations(p.id, d.Name(), fresh.Load); err != nil {
			return errors.Join(oerr, fmt.Errorf("engine: discard partition %d: %w", p.id, err))
		}
		p.pops[i] = fresh
	}
	return oerr
}

// Close releases the partition's resources. Uncommitted work is dropped.
func (p *Partition) Close() error {
	p.hc.Close()
	if p.jc != nil {
		p.jc.Close()
	}
	if p.e.outbox != nil {
		// Entries of a cycle neither committed nor discarded (the runner
		// failed after its Kafka writes) are deliverable from now on.
		for sink, n := range p.outPending {
			p.e.outbox.Committed(sink, n)
		}
		p.e.outbox.Forget(p.id)
	}
	if p.obatch != nil {
		_ = p.obatch.Close()
	}
	return p.batch.Close()
}

func (p *Partition) reset() {
	// Entries are recycled: their slices are reused by the next decode.
	for _, en := range p.customers {
		if len(p.free) < maxFreeEntries {
			p.free = append(p.free, en)
		}
	}
	clear(p.customers)
	clear(p.offsets)
	p.arena = p.arena[:0]
	p.out.Alerts = p.out.Alerts[:0]
	p.out.Dead = p.out.Dead[:0]
	p.out.Fetched = p.out.Fetched[:0]
	p.out.Hotspots.Cells = p.out.Hotspots.Cells[:0]
	p.out.SendHotspots = false
	clear(p.out.HotspotStates)
	p.out.HotspotStates = p.out.HotspotStates[:0]
	if p.hs != nil {
		p.hs.Reset() // after Stage's flush, nothing; after a discard, the cycle's counts
	}
	p.newCust = 0
}

func (p *Partition) publish() {
	m := p.e.metrics
	if m == nil {
		return
	}
	hits, misses, _ := p.hc.Stats()
	m.HeaderCache.WithLabelValues("hit").Add(float64(hits - p.hcSeen[0]))
	m.HeaderCache.WithLabelValues("miss").Add(float64(misses - p.hcSeen[1]))
	p.hcSeen = [2]int64{hits, misses}
	m.HeaderCacheBytes.Set(float64(p.e.headers.Used()))
	for j, c := range p.counts {
		for r, n := range c {
			if n > 0 {
				m.Events.WithLabelValues(j, resultNames[r]).Add(float64(n))
				c[r] = 0
			}
		}
	}
}
