package detectors_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/detectors"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/state"
)

var tailT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// Population.Rank may skip the exact count for a value below its tail
// quantile (returning 0), never for one at or above it. Checked against a
// population with no tail (tailQ 0, always exact) holding the same values,
// right after the tail was cached and after values were added since: 127
// (one short of a refresh) piled up below the cached tail, which lifts
// values under the cached tail bin above the tail quantile.
func TestPopulationRankExactFromTheTailQuantile(t *testing.T) {
	for _, tailQ := range []float64{0.5, 0.9, 0.99} {
		t.Run(fmt.Sprint(tailQ), func(t *testing.T) {
			pop := detectors.NewPopulation("p", 24*time.Hour, tailQ)
			exact := detectors.NewPopulation("exact", 24*time.Hour, 0)
			add := func(i int, v float64) {
				at := tailT0 + int64(i)*int64(time.Millisecond)
				pop.Add(at, v)
				exact.Add(at, v)
			}
			for i := range 1000 {
				add(i, float64(i+1)) // 1..1000
			}
			check := func(when string) {
				t.Helper()
				skipped := 0
				for v := 0.5; v <= 1100; v += 0.5 {
					want, got := exact.Rank(v), pop.Rank(v)
					if want >= tailQ {
						require.Equal(t, want, got, "%s: rank of %v (tail %v)", when, v, tailQ)
					} else if got != want {
						require.Zero(t, got, "%s: rank of %v below the tail is exact or 0", when, v)
						skipped++
					}
				}
				t.Logf("%s: %d ranks below the tail skipped", when, skipped)
			}
			check("tail just cached")
			lo := float64(int(tailQ*1000) - 100)
			for i := range 127 {
				add(1000+i, lo)
			}
			check("127 values added below the tail since")
		})
	}
}

// A rarity detector judges against a population whose tail is its lowest
// level (minor), so a value rarer than minor but not major is a minor
// finding, whether or not the tail was refreshed since values were added.
func TestRarityFiresFromItsLowestLevel(t *testing.T) {
	var cfg config.Config
	require.NoError(t, yaml.Unmarshal([]byte(
		`[{name: rare_wait, type: rarity, journey: support_call, metric: wait_seconds, minor: 0.8, major: 0.95, over: 24h, min_samples: 100}]`),
		&cfg.Detectors))
	cfg.ApplyDefaults()
	dets, err := detectors.New(&cfg)
	require.NoError(t, err)
	d := dets[0]
	tq, ok := d.(detectors.TailQuantiler)
	require.True(t, ok, "rarity tells the engine its tail")
	require.Equal(t, 0.8, tq.TailQuantile(), "the lowest level it fires at")
	pop := detectors.NewPopulation(d.Name(), d.Population(), tq.TailQuantile())

	c := &state.Customer{ID: "c"}
	i := 0
	ev := func(wait float64) *event.Event {
		i++
		return &event.Event{CustomerID: "c", Time: tailT0 + int64(i)*int64(time.Second), Journey: "support_call",
			Metrics: []event.Metric{{Name: "wait_seconds", Value: wait}}}
	}
	for w := 1; w <= 1000; w++ {
		d.Learn(ev(float64(w)), c, pop)
	}
	judge := func(wait float64) alerts.Severity {
		t.Helper()
		f, ok := d.Detect(ev(wait), c, pop)
		if !ok {
			return alerts.None
		}
		return f.Severity
	}
	require.Equal(t, alerts.None, judge(500), "rank 0.5")
	require.Equal(t, alerts.Minor, judge(900), "rank 0.9: rarer than minor (0.8), not major (0.95)")
	require.Equal(t, alerts.Major, judge(990), "rank 0.99")
	require.Equal(t, alerts.None, judge(790), "rank 0.79")
	// 127 short waits since the tail was cached (one short of a refresh):
	// 790 s now ranks about (790+127)/1127 ≈ 0.81, in a sketch bin under the
	// cached tail's (800 s).
	for range 127 {
		d.Learn(ev(100), c, pop)
	}
	require.Equal(t, alerts.Minor, judge(790), "rank ≈ 0.81 after the short waits: minor")
}
