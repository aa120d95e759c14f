package replay

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/state"
)

// Decoded is an events file and its complaints, read and decoded once and
// held in memory in event-time order, so that many replays (`peakend
// tune`'s grid) can run over them without reading or decoding the file
// again. It is read-only after DecodeInput: replays over it may run
// concurrently.
type Decoded struct {
	events     []decoded
	complaints []complaint
	feedback   []feedbackLine
	feedGiven  bool
	// Lines, Invalid: lines read and bad lines skipped (events and complaints).
	Lines, Invalid int
	// First, Last: the earliest and latest event time (unix ns); 0 when empty.
	First, Last int64
	// Complaints lists every valid complaint, in time order.
	Complaints []Complaint
	// Feedback is the number of valid feedback events read (Options.Feedback).
	Feedback int
}

// Complaint is one complaint of a Decoded input.
type Complaint struct {
	CustomerID string
	Time       int64 // unix ns
}

type decoded struct {
	ev   event.Event
	raw  []byte
	line int32
}

// DecodeOptions says what DecodeInput reads.
type DecodeOptions struct {
	Input      string // the events file (JSONL); required
	Complaints string // optional complaints file (JSONL)
	Feedback   string // optional feedback file (JSONL): applied after each replay, as Run applies it
	// MaxBytes and Journeys are the config's events.max_bytes and journeys:
	// every configuration replayed over the result must share them.
	MaxBytes int
	Journeys []string
}

// Events is the number of valid events held.
func (d *Decoded) Events() int { return len(d.events) }

// DecodeInput reads and decodes the events (and complaints) once. Bad lines
// are counted in Invalid and skipped, as Run skips them.
func DecodeInput(ctx context.Context, o DecodeOptions) (*Decoded, error) {
	f, err := os.Open(o.Input)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	d := &Decoded{}
	dec := event.NewDecoder(o.MaxBytes, o.Journeys)
	var ev event.Event
	err = eachLine(f, func(line int, _ int64, b []byte) error {
		if line&4095 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		d.Lines++
		if len(bytes.TrimSpace(b)) == 0 {
			return nil
		}
		if dec.Decode(b, &ev) != nil {
			d.Invalid++
			return nil
		}
		e := decoded{ev: ev, raw: bytes.Clone(b), line: int32(line)}
		// The decoder reuses its slices; the strings are fresh.
		e.ev.Metrics = slices.Clone(ev.Metrics)
		e.ev.Attrs = slices.Clone(ev.Attrs)
		d.events = append(d.events, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	byTime := func(a, b decoded) int { return cmp.Compare(a.ev.Time, b.ev.Time) }
	if !slices.IsSortedFunc(d.events, byTime) { // the usual input is sorted already
		slices.SortStableFunc(d.events, byTime)
	}
	if n := len(d.events); n > 0 {
		d.First, d.Last = d.events[0].ev.Time, d.events[n-1].ev.Time
	}
	var s Summary
	ro := Options{Complaints: o.Complaints, Feedback: o.Feedback, Config: &config.Config{Events: config.Events{MaxBytes: o.MaxBytes}}}
	if d.complaints, err = readComplaints(ro, &s); err != nil {
		return nil, err
	}
	if d.feedback, err = readFeedback(ro, &s); err != nil {
		return nil, err
	}
	d.feedGiven, d.Feedback = o.Feedback != "", len(d.feedback)
	d.Invalid += s.Invalid
	for _, c := range d.complaints {
		d.Complaints = append(d.Complaints, Complaint{CustomerID: c.cust, Time: c.t})
	}
	// The engine reads feedback beside the complaints, as Run feeds it
	// (recovered_before); the evaluation tells them apart (complaint.fb).
	d.complaints = withFeedback(d.complaints, d.feedback)
	return d, nil
}

// decodedMemtable is RunDecoded's smallest memtable: its store lives for
// one replay, so it trades memory for fewer compactions.
const decodedMemtable = 64 << 20

// DecodedOptions configures RunDecoded.
type DecodedOptions struct {
	// OnAlert is called with every alert, in the order Run would write them.
	// The alert must not be kept past the call.
	OnAlert func(*alerts.Alert)
	// InMemory keeps the Pebble state in memory (vfs.NewMem) instead of a
	// temporary directory: faster, at the cost of the state's size in RAM.
	InMemory bool
	// CacheBytes overrides the Pebble block cache (0 = config); raised to
	// hold four of RunDecoded's 64 MiB memtables and 16 MiB more.
	CacheBytes int64
	// BatchEvents is how many events go into one Pebble batch. Default 4096.
	BatchEvents int
}

// RunDecoded replays d under cfg, which must have the events.max_bytes and
// journeys d was decoded with. It yields the alerts Run yields for the same
// files and configuration (Run's order: event time, then line; each
// complaint before the first event after it; timers drained at the end),
// without reading or decoding anything again. It is safe to call
// concurrently on one Decoded.
func RunDecoded(ctx context.Context, cfg *config.Config, d *Decoded, o DecodedOptions) (*Summary, error) {
	return runDecoded(ctx, cfg, d, o, engine.Options{})
}

// runDecoded is RunDecoded with engine options (a Judge: trace.go).
func runDecoded(ctx context.Context, cfg *config.Config, d *Decoded, o DecodedOptions, eo engine.Options) (*Summary, error) {
	if o.BatchEvents <= 0 {
		o.BatchEvents = 4096
	}
	so := state.Options{MemtableBytes: uint64(cfg.State.MemtableMiB) << 20, DisableWAL: true, CacheBytes: o.CacheBytes}
	if so.CacheBytes == 0 {
		so.CacheBytes = int64(cfg.State.CacheMiB) << 20
	}
	// Memtables big enough to hold the demo's windows: a slot overwritten
	// while in the memtable never reaches a compaction (docs/performance.md,
	// "Tune": at 1M events compactions were 39% of a replay's CPU with 8 MiB).
	so.MemtableBytes = max(so.MemtableBytes, decodedMemtable)
	so.CacheBytes = max(so.CacheBytes, 4*int64(so.MemtableBytes)+16<<20)
	if o.InMemory {
		so.FS, so.Dir = vfs.NewMem(), "replay"
	} else {
		tmp, err := os.MkdirTemp("", "peakend-replay-")
		if err != nil {
			return nil, fmt.Errorf("replay: state dir: %w", err)
		}
		defer os.RemoveAll(tmp)
		so.Dir = tmp
	}
	store, err := state.Open(so)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	hs, err := newHotspotReplay(cfg, 1)
	if err != nil {
		return nil, err
	}
	eo.AsyncCommit = true
	hs.engineOptions(&eo)
	eng, err := engine.New(cfg, store, eo)
	if err != nil {
		return nil, err
	}
	pt, err := eng.OpenPartition(0)
	if err != nil {
		return nil, err
	}
	defer pt.Close()

	s := &Summary{hs: hs, Lines: d.Lines, Invalid: d.Invalid, Complaints: len(d.Complaints), Sorted: true}
	defer s.custs.free() // on every return: counted by then, or an error
	s.eval.init(cfg)
	s.eval.feedback = d.feedGiven
	inBatch := 0
	flush := func() error {
		if err := pt.Stage(); err != nil {
			return err
		}
		for _, a := range pt.Output().Alerts {
			s.Alerts[a.Severity]++
			s.eval.alert(a)
			if o.OnAlert != nil {
				o.OnAlert(a)
			}
		}
		if hs != nil { // hotspot alerts, as Run writes them (hotspotReplay.add)
			for _, a := range hs.agg.Add(&pt.Output().Hotspots) {
				if a.Hotspot.State == alerts.HotspotOpen {
					hs.opened[a.Hotspot.Name]++
				}
				if o.OnAlert != nil {
					o.OnAlert(a)
				}
			}
		}
		inBatch = 0
		return pt.Commit(false)
	}
	rec := engine.Record{Topic: "replay"}
	ci := 0
	for i := range d.events {
		e := &d.events[i]
		if i&1023 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for ci < len(d.complaints) && d.complaints[ci].t <= e.ev.Time {
			if err := applyComplaint(pt, &d.complaints[ci], &s.eval); err != nil {
				return nil, err
			}
			traceFeedback(eo.Judge, &d.complaints[ci], cfg.Events.MaxBytes)
			ci++
		}
		s.saw(e.ev.CustomerID)
		rec.Offset, rec.Value = int64(e.line), e.raw
		ev := e.ev // the engine reads the event; a copy keeps d untouched all the same
		if err := pt.Apply(&rec, &ev); err != nil {
			return nil, err
		}
		s.Events++
		if inBatch++; inBatch >= o.BatchEvents {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	for ; ci < len(d.complaints); ci++ {
		if err := applyComplaint(pt, &d.complaints[ci], &s.eval); err != nil {
			return nil, err
		}
		traceFeedback(eo.Judge, &d.complaints[ci], cfg.Events.MaxBytes)
	}
	if err := pt.Drain(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	s.Customers = s.custs.count()
	// Feedback by event time, as Run applies it; unknown alerts are
	// counted, not written anywhere. A copy: applyFeedback sorts it.
	if err := applyFeedback(Options{Config: cfg}, s, slices.Clone(d.feedback)); err != nil {
		return nil, err
	}
	if s.Events > 0 {
		s.First, s.Last = unixUTC(d.First), unixUTC(d.Last)
	}
	_, _, dup, _ := pt.Stats()
	s.Duplicates = int(dup)
	return s, nil
}

func unixUTC(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// traceFeedback tells a trace's recorder (trace.go) about a "recovered"
// outcome the engine just read: under a Judge the engine makes no alerts,
// so whether the outcome names one is decided per setting.
func traceFeedback(j engine.Judge, c *complaint, maxBytes int) {
	r, ok := j.(*recorder)
	if !ok || !c.fb {
		return
	}
	f, err := event.DecodeFeedback(c.raw, maxBytes)
	if err != nil || f.Outcome != event.FeedbackRecovered {
		return
	}
	r.feedback(f.CustomerID, f.AlertID, f.Time)
}
