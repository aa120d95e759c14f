package replay

import (
	"bufio"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/hotspots"
)

// hotspotReplay finds hotspots in a replay with the code live will use:
// each partition's partial counts, with its watermark, go into one
// hotspots.Aggregator at every commit; its alerts go to --out with the
// customer alerts.
type hotspotReplay struct {
	agg    *hotspots.Aggregator
	opened map[string]int // rule → hotspots opened
	rules  []string
}

// newHotspotReplay returns nil when the configuration has no hotspots.
func newHotspotReplay(cfg *config.Config, partitions int) (*hotspotReplay, error) {
	if len(cfg.Hotspots) == 0 {
		return nil, nil
	}
	rules, err := hotspots.Compile(cfg)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	h := &hotspotReplay{agg: hotspots.NewAggregator(rules, partitions), opened: map[string]int{}}
	for _, r := range rules {
		h.rules = append(h.rules, r.Name)
	}
	return h, nil
}

// engineOptions makes the engine count hotspots and look up open ones.
func (h *hotspotReplay) engineOptions(o *engine.Options) {
	if h != nil {
		o.Hotspots, o.HotspotLookup = true, h.agg
	}
}

// add feeds a staged partition's partial counts to the aggregator and
// writes the hotspot alerts it decides.
func (h *hotspotReplay) add(out *engine.Output, w *bufio.Writer) error {
	if h == nil {
		return nil
	}
	return h.write(h.agg.Add(&out.Hotspots), w)
}

func (h *hotspotReplay) write(as []*alerts.Alert, w *bufio.Writer) error {
	for _, a := range as {
		if a.Hotspot.State == alerts.HotspotOpen {
			h.opened[a.Hotspot.Name]++
		}
		if err := writeAlert(w, a); err != nil {
			return err
		}
	}
	return nil
}

// finish tells the aggregator that partitions which saw no experience at
// all hold nothing back (live, the idle rule moves their watermark), so
// that the others' windows are decided.
func (h *hotspotReplay) finish(pts []*engine.Partition, w *bufio.Writer) error {
	if h == nil {
		return nil
	}
	for _, pt := range pts {
		if _, ok := pt.Watermark(); ok {
			continue
		}
		if err := h.write(h.agg.Add(&hotspots.Partial{Source: pt.ID(), Watermark: math.MaxInt64}), w); err != nil {
			return err
		}
	}
	return nil
}

// line is the report's hotspots line: "opened 2 (carrier_trouble 2, ...)".
func (h *hotspotReplay) line() string {
	if h == nil {
		return ""
	}
	total := 0
	var by []string
	for _, name := range slices.Sorted(slices.Values(h.rules)) {
		total += h.opened[name]
		by = append(by, fmt.Sprintf("%s %d", name, h.opened[name]))
	}
	return fmt.Sprintf("opened %d (%s)", total, strings.Join(by, ", "))
}

// Hotspots returns how many hotspots opened, by rule (nil without hotspot rules).
func (s *Summary) Hotspots() map[string]int {
	if s.hs == nil {
		return nil
	}
	return s.hs.opened
}
