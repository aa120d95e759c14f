package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/peakend/peakend/internal/metrics"
)

// stageHist is peakend_cycle_stage_seconds as scraped: per stage, the
// cumulative count of each bucket by upper bound (+Inf included).
type stageHist map[string]map[float64]float64

// scrapeStages reads the cycle stage histogram from /metrics.
func scrapeStages(addr string) stageHist {
	h := stageHist{}
	resp, err := metricsClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return h
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, `peakend_cycle_stage_seconds_bucket{`)
		if !ok {
			continue
		}
		// le="…",stage="…"} value
		labels, val, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		var stage, le string
		for kv := range strings.SplitSeq(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			v = strings.Trim(v, `"`)
			switch k {
			case "stage":
				stage = v
			case "le":
				le = v
			}
		}
		bound, err1 := strconv.ParseFloat(le, 64)
		n, err2 := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err1 != nil || err2 != nil || stage == "" {
			continue
		}
		if h[stage] == nil {
			h[stage] = map[float64]float64{}
		}
		h[stage][bound] = n
	}
	return h
}

// stageFigures are one phase's stage timings: count, p50 and p99 per stage.
type stageFigures []struct {
	stage    string
	n        float64
	p50, p99 time.Duration
}

// since returns the phase's figures: after minus before, with quantiles
// interpolated linearly within a bucket (as PromQL's histogram_quantile).
func (after stageHist) since(before stageHist) stageFigures {
	var out stageFigures
	for _, stage := range metrics.StageNames {
		a := after[stage]
		if a == nil {
			continue
		}
		bounds := make([]float64, 0, len(a))
		for b := range a {
			bounds = append(bounds, b)
		}
		slices.Sort(bounds)
		cum := make([]float64, len(bounds))
		for i, b := range bounds {
			cum[i] = a[b] - before[stage][b]
		}
		total := cum[len(cum)-1]
		q := func(f float64) time.Duration {
			if total == 0 {
				return 0
			}
			rank := f * total
			lo, prev := 0.0, 0.0
			for i, b := range bounds {
				if cum[i] >= rank {
					if math.IsInf(b, 1) {
						return time.Duration(lo * float64(time.Second)) // beyond the last bound
					}
					frac := (rank - prev) / max(cum[i]-prev, 1)
					return time.Duration((lo + (b-lo)*frac) * float64(time.Second))
				}
				lo, prev = b, cum[i]
			}
			return 0
		}
		out = append(out, struct {
			stage    string
			n        float64
			p50, p99 time.Duration
		}{stage, total, q(0.50), q(0.99)})
	}
	return out
}

func (f stageFigures) String() string {
	var b strings.Builder
	b.WriteString("   cycle stages (p50 / p99, cycles):")
	for _, s := range f {
		fmt.Fprintf(&b, " %s %v / %v (%.0f);", s.stage, s.p50.Round(10*time.Microsecond), s.p99.Round(10*time.Microsecond), s.n)
	}
	return strings.TrimSuffix(b.String(), ";")
}
