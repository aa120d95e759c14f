package replay

import (
	"bufio"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

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
	agg      *hotspots.Aggregator
	opened   map[string]int // rule → hotspots opened
	rules    []string
	episodes []*ReportHotspot          // in order of opening
	byID     map[string]*ReportHotspot // hotspot_id → its episode
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
	h := &hotspotReplay{agg: hotspots.NewAggregator(rules, partitions), opened: map[string]int{}, byID: map[string]*ReportHotspot{}}
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
		h.episode(a)
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

// ReportHotspot is one hotspot episode in the replay report
// (--report-json "hotspots", and the HTML report's table).
type ReportHotspot struct {
	HotspotID string            `json:"hotspot_id"`
	Name      string            `json:"name"`
	Values    map[string]string `json:"values"`
	Journey   string            `json:"journey"`
	Severity  string            `json:"severity"` // the highest it reached
	Escalated bool              `json:"escalated"`
	// OpenedAt and ClosedAt are the ends of the windows that opened and
	// closed it (event time); ClosedAt is null while still open at the
	// end of the input.
	OpenedAt time.Time  `json:"opened_at"`
	ClosedAt *time.Time `json:"closed_at"`
	// At opening: the window's figures.
	Events     int64   `json:"events"`
	Bad        int64   `json:"bad"`
	Rate       float64 `json:"rate"`
	UsualRate  float64 `json:"usual_rate"`
	OthersRate float64 `json:"others_rate"`
	Customers  int64   `json:"customers"`
	// PeakRate is the highest window rate of its alerts (open, escalated).
	PeakRate float64 `json:"peak_rate"`
	// CustomerAlerts counts the customer alerts that carry its hotspot_id;
	// AlertedBefore the customers alerted before it opened (listed on its
	// opening alert, up to 100).
	CustomerAlerts int    `json:"customer_alerts"`
	AlertedBefore  int    `json:"alerted_before"`
	Reason         string `json:"reason"` // the opening alert's
}

// episode folds a hotspot alert into its episode.
func (h *hotspotReplay) episode(a *alerts.Alert) {
	x := a.Hotspot
	ep := h.byID[a.HotspotID]
	if ep == nil {
		ep = &ReportHotspot{HotspotID: a.HotspotID, Name: x.Name, Values: x.Values, Journey: x.Journey,
			OpenedAt: x.WindowEnd, Events: x.Events, Bad: x.Bad, Rate: x.Rate, UsualRate: x.UsualRate,
			OthersRate: x.OthersRate, Customers: x.Customers, AlertedBefore: len(x.AlertedCustomers), Reason: a.Reason}
		h.byID[a.HotspotID] = ep
		h.episodes = append(h.episodes, ep)
	}
	if sev, err := alerts.ParseSeverity(ep.Severity); err != nil || a.Severity > sev {
		ep.Severity = a.Severity.String()
	}
	switch x.State {
	case alerts.HotspotEscalated:
		ep.Escalated = true
		ep.PeakRate = max(ep.PeakRate, x.Rate)
	case alerts.HotspotClosed:
		t := x.WindowEnd
		ep.ClosedAt = &t
	default:
		ep.PeakRate = max(ep.PeakRate, x.Rate)
	}
}

// report returns the episodes opened in [lo, hi) (event time), with their
// customer alerts counted.
func (h *hotspotReplay) report(tagged map[string]int, lo, hi int64) []*ReportHotspot {
	out := []*ReportHotspot{}
	if h == nil {
		return out
	}
	for _, ep := range h.episodes {
		if t := ep.OpenedAt.UnixNano(); t < lo || t >= hi {
			continue
		}
		c := *ep
		c.CustomerAlerts = tagged[ep.HotspotID]
		out = append(out, &c)
	}
	return out
}
