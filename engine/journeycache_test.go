package engine_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/engine"
)

// The journey cache is only a shortcut: a shop's delivery journeys over 45
// days give the same alerts and leave the same journeys in the store with
// it, without it, with a cache too small to hold them (misses read Pebble),
// and with the partition closed and opened again every few cycles (the
// cache is filled from the store at open).
func TestJourneyCacheChangesNothing(t *testing.T) {
	type result struct {
		alerts   []string
		journeys map[string]string
		lost     bool
		gaveUp   bool
	}
	run := func(cacheBytes int64, reopenEvery int) result {
		r := newShopRun(t, cacheBytes)
		for cycle := 0; cycle < 20; cycle++ {
			r.cycle(false)
			if reopenEvery > 0 && cycle%reopenEvery == reopenEvery-1 {
				r.reopen()
			}
		}
		var res result
		res.lost, res.gaveUp = engine.JourneyCacheLost(r.pt)
		res.alerts, res.journeys = r.alerts, r.close()
		return res
	}
	off := run(0, 0)
	require.NotEmpty(t, off.alerts)
	require.Greater(t, len(off.journeys), 500, "orders open at the end")
	whole := run(128<<20, 0)
	require.False(t, whole.gaveUp)
	small := run(256<<10, 0)
	require.True(t, small.lost, "a cache too small for the journeys")
	require.False(t, small.gaveUp, "its lost ids are kept")
	reopened := run(128<<20, 5)
	for name, r := range map[string]result{"whole": whole, "small": small, "reopened": reopened} {
		require.Equal(t, off.alerts, r.alerts, name)
		require.Equal(t, off.journeys, r.journeys, name)
	}
}
