// Package hotspots finds the cause behind a wave of bad experiences (one
// carrier in one region): per partition, a Counter makes partial counts per
// hotspot key and event-time step; one Aggregator sums them and decides
// (docs/hotspots.md).
package hotspots

import (
	"fmt"
	"slices"
	"strings"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
)

// None is the value counted for an attribute an experience does not have.
const None = "(none)"

// Rule is a compiled hotspot rule (config.Hotspot).
type Rule struct {
	Name, Journey string
	By            []string
	Detectors     []string // bad.detectors
	Outcomes      []string // bad.outcome
	badDet        []bool   // by detector position in the config (alerts.Finding.Order)
	Step, Window  int64    // ns
	Baseline      int64    // ns
	MinEvents     int64
	Factor        float64
	MinRate       float64
	Severity      alerts.Severity
}

// Compile builds the rules of a validated configuration.
func Compile(cfg *config.Config) ([]*Rule, error) {
	rules := make([]*Rule, 0, len(cfg.Hotspots))
	for i := range cfg.Hotspots {
		h := &cfg.Hotspots[i]
		sev, err := alerts.ParseSeverity(h.Severity)
		if err != nil {
			return nil, fmt.Errorf("hotspots: %s: %w", h.Name, err)
		}
		r := &Rule{Name: h.Name, Journey: h.Journey, By: slices.Clone(h.By),
			Detectors: slices.Clone(h.Bad.Detectors), Outcomes: slices.Clone(h.Bad.Outcome),
			badDet: make([]bool, len(cfg.Detectors)),
			Step:   int64(h.Step()), Window: int64(h.Window), Baseline: int64(h.Baseline),
			MinEvents: int64(h.MinEvents), Factor: h.Factor, MinRate: h.MinRate, Severity: sev}
		if r.Step <= 0 || r.Window != r.Step*config.HotspotSteps {
			return nil, fmt.Errorf("hotspots: %s: window %s does not divide into %d steps", h.Name, h.Window.D(), config.HotspotSteps)
		}
		for _, name := range h.Bad.Detectors {
			j := slices.IndexFunc(cfg.Detectors, func(d config.Detector) bool { return d.Name == name })
			if j < 0 {
				return nil, fmt.Errorf("hotspots: %s: unknown detector %q", h.Name, name)
			}
			r.badDet[j] = true
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// badFinding reports whether f is a finding of one of the rule's detectors.
func (r *Rule) badFinding(f *alerts.Finding) bool {
	return f.Order >= 0 && f.Order < len(r.badDet) && r.badDet[f.Order]
}

// Key is the hotspot key of one combination of the rule's values:
// "hotspot/<name>/<attr=value,...>", attributes in `by` order, values
// percent-encoded. It keys the hotspot's alerts (and, in the next slice,
// the records of the internal hotspots topic).
func (r *Rule) Key(values []string) string {
	var b strings.Builder
	b.WriteString("hotspot/")
	b.WriteString(r.Name)
	b.WriteByte('/')
	for i, a := range r.By {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(escape(a))
		b.WriteByte('=')
		if i < len(values) {
			b.WriteString(escape(values[i]))
		}
	}
	return b.String()
}

// escape percent-encodes every byte but letters, digits and -_.~() .
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		clean = plain(s[i])
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; plain(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func plain(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~' || c == '(' || c == ')'
}

// floorStep is the start of the step t falls in.
func floorStep(t, step int64) int64 {
	s := t - t%step
	if t%step < 0 {
		s -= step
	}
	return s
}
