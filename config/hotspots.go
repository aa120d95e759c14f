package config

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// HotspotSteps is how many steps a hotspot window slides in: the window
// moves by window/HotspotSteps, and a decision is made at each step's end.
const HotspotSteps = 6

// Step is the hotspot window's step: window / HotspotSteps.
func (h *Hotspot) Step() time.Duration { return h.Window.D() / HotspotSteps }

func (v *validator) hotspots(hs []Hotspot, ds []Detector, journeys []string) {
	names := map[string]string{} // name -> field path of its rule
	detectorJourney := map[string]string{}
	for _, d := range ds {
		detectorJourney[d.Name] = d.Journey
	}
	for i := range hs {
		h := &hs[i]
		p := fmt.Sprintf("hotspots[%d]", i)
		if v.uniqueName(p, h.Name, names) {
			if _, clash := detectorJourney[h.Name]; clash {
				v.add(p+".name", "%q is also a detector's name: hotspot alerts carry it as their detector, so it must differ", h.Name)
			}
		}
		if h.Journey == "" {
			v.add(p+".journey", "is required: the journey whose experiences are counted, e.g. delivery")
		}
		v.checkJourney(p+".journey", h.Journey, journeys)
		if len(h.By) == 0 {
			v.add(p+".by", "needs at least one attribute, e.g. [carrier, region]")
		}
		seen := map[string]bool{}
		for j, a := range h.By {
			f := fmt.Sprintf("%s.by[%d]", p, j)
			switch {
			case strings.TrimSpace(a) == "":
				v.add(f, "must not be empty")
			case seen[a]:
				v.add(f, "%q is listed twice", a)
			}
			seen[a] = true
		}
		bad := h.Bad
		switch {
		case len(bad.Detectors) == 0 && len(bad.Outcome) == 0:
			v.add(p+".bad", "needs detectors (e.g. {detectors: [late_delivery]}) or outcome (e.g. {outcome: [failed, lost]})")
		case len(bad.Detectors) > 0 && len(bad.Outcome) > 0:
			v.add(p+".bad.outcome", "set bad.detectors or bad.outcome, not both")
		}
		for j, name := range bad.Detectors {
			f := fmt.Sprintf("%s.bad.detectors[%d]", p, j)
			dj, ok := detectorJourney[name]
			switch {
			case name == "":
				v.add(f, "must not be empty")
			case !ok:
				known := make([]string, len(ds))
				for k := range ds {
					known[k] = ds[k].Name
				}
				v.add(f, "unknown detector %q (configured: %s)", name, strings.Join(known, ", "))
			case dj != "" && h.Journey != "" && dj != h.Journey:
				v.add(f, "detector %q watches journey %s, not %s: it never finds a %s experience bad", name, dj, h.Journey, h.Journey)
			case slices.Index(bad.Detectors, name) < j:
				v.add(f, "%q is listed twice", name)
			}
		}
		v.outcomes(p+".bad.outcome", bad.Outcome)

		switch w := h.Window.D(); {
		case w <= 0:
			v.add(p+".window", "must be positive (got %s)", w)
		case w%HotspotSteps != 0 || (w/HotspotSteps)%time.Second != 0:
			v.add(p+".window", "must divide into %d steps of whole seconds, e.g. 6h or 30m (got %s)", HotspotSteps, w)
		}
		if h.Baseline < h.Window {
			v.add(p+".baseline", "must be at least the window (%s), e.g. 168h (got %s)", h.Window.D(), h.Baseline.D())
		}
		if h.MinEvents < 1 {
			v.add(p+".min_events", "must be at least 1 (got %d)", h.MinEvents)
		}
		if !(h.Factor > 1) || math.IsInf(h.Factor, 0) {
			v.add(p+".factor", "must be greater than 1 (got %g): the window's bad rate is compared with factor × the usual rate", h.Factor)
		}
		if !(h.MinRate > 0 && h.MinRate <= 1) {
			v.add(p+".min_rate", "must be a rate in (0, 1], e.g. 0.10 (got %g)", h.MinRate)
		}
		v.severity(p+".severity", h.Severity)
	}
}
