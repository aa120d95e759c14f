package tune

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/peakend/peakend/config"
)

// A knob is one thing the search turns: one detector's cut-offs, quantiles,
// factor or counts, or alerting.cooldown. Its positions are integers around
// the configured value (0); lo..hi is the first grid, extended outwards
// while the best setting sits at its edge.
type knob struct {
	name   string
	lo, hi int
	// cheap: the first trace holds the knob's whole ladder (every position
	// the search can reach). Every detector knob is: a variant costs the
	// trace a Detect per event (threshold, baseline, repeat), a population
	// (rarity), or its own journeys and timers (overdue, the dearest, yet
	// cheaper than a second trace when the search goes past the first grid).
	cheap bool
	// at returns cfg with the knob at pos (a copy), and a label for the
	// table; ok is false past the knob's ladder or for an invalid setting.
	at func(cfg *config.Config, pos int) (out *config.Config, label string, ok bool)
}

// Ladders of the grid (docs/reference.md, "peakend tune").
var (
	// thresholdScales multiply a threshold's cut-offs; the first grid is
	// ×0.5, ×0.75, ×1.5, ×2.
	thresholdScales = []float64{0.125, 0.25, 0.375, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 12, 16}
	// quantileNines are the rarity/overdue quantiles, stepping in nines.
	quantileNines = []float64{0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99995, 0.99999}
	// baselineFactors are baseline's multiples of the customer's usual.
	baselineFactors = []float64{1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20}
	// cooldowns are alerting.cooldown's steps.
	cooldowns = []time.Duration{6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 72 * time.Hour, 168 * time.Hour,
		336 * time.Hour, 720 * time.Hour}
)

// knobs lists what the search turns for cfg, in config order, cooldown last.
// Outcome thresholds and deadline detectors have nothing to turn.
func knobs(cfg *config.Config) []knob {
	var ks []knob
	for i := range cfg.Detectors {
		d := cfg.Detectors[i] // the configured detector: positions are relative to it
		cuts := cutoffs(&d)
		switch {
		case d.Type == config.TypeThreshold && d.Metric != "" && len(cuts) > 0:
			one := indexOf(thresholdScales, 1)
			ks = append(ks, cheap(detectorKnob(i, d.Name, -2, 2, func(pos int) (config.Detector, string, bool) {
				j := one + pos
				if j < 0 || j >= len(thresholdScales) {
					return d, "", false
				}
				s := thresholdScales[j]
				v := d
				setCutoffs(&v, func(c float64) float64 { return round4(c * s) })
				return v, fmt.Sprintf("%s ×%s: %s", d.Name, num(s), describeCutoffs(&v)), true
			})))
		case (d.Type == config.TypeRarity || d.Type == config.TypeOverdue) && len(cuts) > 0:
			k := detectorKnob(i, d.Name, -2, 2, func(pos int) (config.Detector, string, bool) {
				ok := true
				v := d
				setCutoffs(&v, func(c float64) float64 {
					j := nearest(quantileNines, c) + pos
					if j < 0 || j >= len(quantileNines) {
						ok = false
						return c
					}
					return quantileNines[j]
				})
				return v, fmt.Sprintf("%s %s", d.Name, describeCutoffs(&v)), ok && increasing(cutoffs(&v))
			})
			ks = append(ks, cheap(k))
		case d.Type == config.TypeBaseline:
			ks = append(ks, cheap(detectorKnob(i, d.Name, -1, 2, func(pos int) (config.Detector, string, bool) {
				j := nearest(baselineFactors, d.Factor) + pos
				if j < 0 || j >= len(baselineFactors) {
					return d, "", false
				}
				v := d
				v.Factor = baselineFactors[j]
				return v, fmt.Sprintf("%s factor %s", d.Name, num(v.Factor)), true
			})))
		case d.Type == config.TypeRepeat && len(cuts) > 0:
			ks = append(ks, cheap(detectorKnob(i, d.Name, -1, 1, func(pos int) (config.Detector, string, bool) {
				v := d
				setCutoffs(&v, func(c float64) float64 { return c + float64(pos) })
				return v, fmt.Sprintf("%s %s", d.Name, describeCutoffs(&v)), true
			})))
		}
	}
	cd := cfg.Alerting.Cooldown.D()
	ks = append(ks, knob{name: "alerting.cooldown", lo: -1, hi: 1,
		at: func(base *config.Config, pos int) (*config.Config, string, bool) {
			j := nearestDuration(cooldowns, cd) + pos
			if j < 0 || j >= len(cooldowns) {
				return nil, "", false
			}
			out := clone(base)
			out.Alerting.Cooldown = config.Duration(cooldowns[j])
			return out, "cooldown " + out.Alerting.Cooldown.String(), true
		}})
	return ks
}

func cheap(k knob) knob {
	k.cheap = true
	return k
}

func detectorKnob(i int, name string, lo, hi int, variant func(pos int) (config.Detector, string, bool)) knob {
	return knob{name: name, lo: lo, hi: hi, at: func(base *config.Config, pos int) (*config.Config, string, bool) {
		d, label, ok := variant(pos)
		if !ok {
			return nil, "", false
		}
		out := clone(base)
		out.Detectors[i] = d
		return out, label, true
	}}
}

// clone copies what the search changes: the detectors and alerting.
func clone(c *config.Config) *config.Config {
	out := *c
	out.Detectors = append([]config.Detector(nil), c.Detectors...)
	for i := range out.Detectors {
		d := &out.Detectors[i]
		d.Minor, d.Major, d.Critical = copyPtr(d.Minor), copyPtr(d.Major), copyPtr(d.Critical)
	}
	return &out
}

func copyPtr(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// cutoffs returns the set cut-offs, minor to critical.
func cutoffs(d *config.Detector) []float64 {
	var out []float64
	for _, p := range []*float64{d.Minor, d.Major, d.Critical} {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}

// setCutoffs replaces every set cut-off c with f(c), in fresh pointers.
func setCutoffs(d *config.Detector, f func(float64) float64) {
	for _, p := range []**float64{&d.Minor, &d.Major, &d.Critical} {
		if *p != nil {
			v := f(**p)
			*p = &v
		}
	}
}

func describeCutoffs(d *config.Detector) string {
	var parts []string
	for _, c := range []struct {
		name string
		p    *float64
	}{{"minor", d.Minor}, {"major", d.Major}, {"critical", d.Critical}} {
		if c.p != nil {
			parts = append(parts, c.name+" "+num(*c.p))
		}
	}
	return strings.Join(parts, ", ")
}

func increasing(v []float64) bool {
	for i := 1; i < len(v); i++ {
		if v[i] <= v[i-1] {
			return false
		}
	}
	return true
}

func indexOf(l []float64, v float64) int {
	for i, x := range l {
		if x == v {
			return i
		}
	}
	panic("tune: ladder without its value")
}

// nearest is the index of the ladder value closest to v (on a log scale of
// 1−v for quantiles and of v otherwise, which orders the same way).
func nearest(l []float64, v float64) int {
	best, dist := 0, math.Inf(1)
	for i, x := range l {
		if dd := math.Abs(logDist(x, v)); dd < dist {
			best, dist = i, dd
		}
	}
	return best
}

func logDist(a, b float64) float64 {
	if a > 0 && a < 1 && b > 0 && b < 1 {
		return math.Log(1-a) - math.Log(1-b)
	}
	if a > 0 && b > 0 {
		return math.Log(a) - math.Log(b)
	}
	return a - b
}

func nearestDuration(l []time.Duration, v time.Duration) int {
	f := make([]float64, len(l))
	for i, d := range l {
		f[i] = float64(d)
	}
	return nearest(f, float64(max(v, 1)))
}

func round4(v float64) float64 {
	if v == 0 {
		return 0
	}
	p := math.Pow(10, 4-math.Ceil(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
