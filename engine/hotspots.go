package engine

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/detectors"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/hotspots"
	"github.com/peakend/peakend/state"
)

// Hotspot counting (docs/hotspots.md): with Options.Hotspots, each
// partition counts every experience of a hotspot rule's journey into its
// hotspots.Counter (one map update), and a timer finding of a listed
// detector at its due time with the attributes of the journey's start
// event. Stage flushes the cycle's partial counts, with the watermark, into
// Output.Hotspots; Discard drops them.
//
// Live, partition p also owns partition p of the hotspots topic (hotLive):
// Hotspot folds the partials sent to it into its Aggregator, whose alerts
// join the cycle's, and the owners' news of open hotspots into its View,
// which its Counter asks for customer alerts' hotspot_id. Both are stored
// in the partition's batch at Stage (and so in its changelog) when the
// cycle changed them, and reloaded from the store on Discard.

// hotLive is the live hotspot state a partition owns.
type hotLive struct {
	agg       *hotspots.Aggregator
	view      *hotspots.View
	aggDirty  bool  // changed this cycle
	viewDirty bool  // changed this cycle
	sent      int64 // the watermark of the last partial sent (committed)
	staged    int64 // the watermark of the partial this cycle sends
	// seq numbers the partition's partials (committed, in the store): a
	// cycle done again after a crash sends the same number, so that the
	// owner replaces its counts rather than adding them twice.
	seq int64
}

// viewLookup answers the Counter from the partition's current view.
type viewLookup struct{ p *Partition }

func (v viewLookup) OpenHotspot(key string, t int64) (string, bool) {
	return v.p.hl.view.OpenHotspot(key, t)
}

// openHotspots gives the partition its counter, if the engine counts, and
// live its aggregator and view, as stored.
func (p *Partition) openHotspots() error {
	if len(p.e.hsRules) == 0 {
		return nil
	}
	if !p.e.hsLive {
		p.hs = hotspots.NewCounter(p.e.hsRules, p.e.hsLookup)
		return nil
	}
	p.hl = &hotLive{sent: math.MinInt64}
	p.hs = hotspots.NewCounter(p.e.hsRules, viewLookup{p})
	return p.loadHotspots()
}

// loadHotspots reads the committed aggregator and view.
func (p *Partition) loadHotspots() error {
	h := p.hl
	h.agg = hotspots.NewAggregator(p.e.hsRules, 0)
	h.agg.Now = time.Now
	b, err := p.e.store.Hotspots(p.id, state.HotspotAggregator)
	if err != nil {
		return err
	}
	err = h.agg.Load(b, func(fn func(key string, v []byte) error) error { return p.e.store.HotspotKeys(p.id, fn) })
	if err != nil {
		return err
	}
	if b, err = p.e.store.Hotspots(p.id, state.HotspotView); err != nil {
		return err
	}
	if h.view, err = hotspots.DecodeView(b); err != nil {
		return err
	}
	if b, err = p.e.store.Hotspots(p.id, state.HotspotSent); err != nil {
		return err
	}
	h.seq = 0
	if len(b) == 8 {
		h.seq = int64(binary.BigEndian.Uint64(b))
	}
	h.aggDirty, h.viewDirty = false, false
	return nil
}

// Hotspot processes one record of the hotspots topic (live): a partial of
// a source partition, summed by the partition's Aggregator (its hotspot
// alerts join the cycle's alerts, and their news the cycle's
// HotspotStates), or an owner's news of a hotspot, for the View. A record
// that does not decode goes to the DLQ. An error is returned only when the
// store fails.
func (p *Partition) Hotspot(r *Record) error {
	p.offsets[r.Topic] = r.Offset + 1
	h := p.hl
	if h == nil {
		return nil // not counting hotspots (any more): nothing to sum
	}
	m, err := hotspots.DecodeMsg(r.Value)
	if err != nil {
		p.dead(r, err.Error())
		return nil
	}
	if m.State != nil {
		h.view.Apply(m.State)
		h.viewDirty = true
		return nil
	}
	h.aggDirty = true
	if mt := p.e.metrics; mt != nil {
		result := "counted"
		if h.agg.Repeat(m.Partial) {
			result = "repeated"
		}
		mt.HotspotPartials.WithLabelValues(result).Inc()
	}
	for _, a := range h.agg.Add(m.Partial) {
		p.out.Alerts = append(p.out.Alerts, a)
		p.out.Fetched = append(p.out.Fetched, r.Fetched)
		p.out.HotspotStates = append(p.out.HotspotStates, hotspots.StateOf(a))
		if m := p.e.metrics; m != nil {
			m.Alerts.WithLabelValues(a.Detector, a.Severity.String()).Inc()
		}
	}
	return nil
}

// HotspotsDue reports whether the partition should join a cycle to send
// its watermark (live): it has passed a step's end since the last partial
// sent, so that the owners may decide that step's window.
func (p *Partition) hotspotsDue(wm int64) bool {
	h := p.hl
	if h == nil {
		return false
	}
	if h.sent == math.MinInt64 {
		return true
	}
	for _, r := range p.e.hsRules {
		if wm/r.Step != h.sent/r.Step {
			return true
		}
	}
	return false
}

// commitHotspots records what the committed cycle sent.
func (p *Partition) commitHotspots() {
	if h := p.hl; h != nil {
		if p.out.SendHotspots {
			h.sent = h.staged
			h.seq = p.out.Hotspots.Base
		}
		h.aggDirty, h.viewDirty = false, false
	}
}

// discardHotspots goes back to the committed aggregator and view.
func (p *Partition) discardHotspots() error {
	if h := p.hl; h != nil && (h.aggDirty || h.viewDirty) {
		return p.loadHotspots()
	}
	return nil
}

// countTimer counts timed detector d's finding f at its due time at, with
// the attributes of the journey's start event if it is still in the
// customer's window (else every attribute counts as hotspots.None).
func (p *Partition) countTimer(en *entry, d detectors.Timed, f *alerts.Finding, key string, start, at int64) error {
	if p.hs == nil {
		return nil
	}
	attr, journey, found := d.KeyAttribute(), d.JourneyName(), false
	err := p.eachWindow(en, func(ev *event.Event) bool {
		if v, _ := ev.Attr(attr); ev.Journey == journey && v == key && ev.Time == start {
			p.hs.Timer(f, journey, en.c.ID, at, ev)
			found = true
		}
		return !found
	})
	if !found && err == nil {
		p.hs.Timer(f, journey, en.c.ID, at, nil)
	}
	return err
}

// hotspotOf notes a customer alert on the experience counted last and
// returns the open hotspot it falls in ("" if none).
func (p *Partition) hotspotOf(customer string) string {
	if p.hs == nil {
		return ""
	}
	return p.hs.Alerted(customer)
}

// stageHotspots moves the cycle's partial counts into the output, and
// live writes the aggregator and view into the batch if the cycle changed
// them.
func (p *Partition) stageHotspots() error {
	if p.hs == nil {
		return nil
	}
	wm := p.tm.clock.Watermark
	if wm == math.MinInt64 {
		wm = 0
	}
	p.out.Hotspots.Cells = p.out.Hotspots.Cells[:0]
	p.hs.Flush(p.id, wm, &p.out.Hotspots)
	h := p.hl
	if h == nil {
		return nil
	}
	if _, ok := p.Watermark(); ok {
		p.out.SendHotspots = len(p.out.Hotspots.Cells) > 0 || p.hotspotsDue(wm)
		h.staged = wm
	} else {
		p.out.SendHotspots = len(p.out.Hotspots.Cells) > 0
	}
	if p.out.SendHotspots {
		p.out.Hotspots.Base = h.seq + 1
		if err := p.batch.PutHotspots(state.HotspotSent, binary.BigEndian.AppendUint64(nil, uint64(h.seq+1))); err != nil {
			return err
		}
	}
	if h.aggDirty {
		// The keys the cycle changed, and the aggregator's own state.
		err := h.agg.Changes(func(key string, v []byte) error {
			if key == "" {
				return p.batch.PutHotspots(state.HotspotAggregator, v)
			}
			return p.batch.PutHotspotKey(key, v)
		})
		if err != nil {
			return err
		}
	}
	if h.viewDirty {
		b, err := h.view.Encode()
		if err != nil {
			return err
		}
		if err := p.batch.PutHotspots(state.HotspotView, b); err != nil {
			return err
		}
	}
	return nil
}
