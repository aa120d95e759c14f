package engine

import (
	"math"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/detectors"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/hotspots"
)

// Hotspot counting (docs/hotspots.md): with Options.Hotspots, each
// partition counts every experience of a hotspot rule's journey into its
// hotspots.Counter (one map update), and a timer finding of a listed
// detector at its due time with the attributes of the journey's start
// event. Stage flushes the cycle's partial counts, with the watermark, into
// Output.Hotspots; Discard drops them.

// openHotspots gives the partition its counter, if the engine counts.
func (p *Partition) openHotspots() {
	if len(p.e.hsRules) > 0 {
		p.hs = hotspots.NewCounter(p.e.hsRules, p.e.hsLookup)
	}
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

// stageHotspots moves the cycle's partial counts into the output.
func (p *Partition) stageHotspots() {
	if p.hs == nil {
		return
	}
	wm := p.tm.clock.Watermark
	if wm == math.MinInt64 {
		wm = 0
	}
	p.out.Hotspots.Cells = p.out.Hotspots.Cells[:0]
	p.hs.Flush(p.id, wm, &p.out.Hotspots)
}
