package engine_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/state"
)

// The timer index (the committed timers in memory) is filled at open and
// kept through Commit and Discard: a shop's delivery journeys over two
// months give the same alerts, and leave the same journeys and timers in
// the store, when the partition runs straight through, when it is closed
// and opened again every few cycles (the index is rebuilt from the store),
// when every third cycle is discarded and run again (the timers it took
// from the index go back), and without the journey cache (stale entries
// are told apart by reading Pebble). A store written when every timer had
// a key of its own gives the same, and its keys go as their journeys move.
func TestTimerIndexChangesNothing(t *testing.T) {
	type result struct {
		alerts   []string
		journeys map[string]string
		timers   []state.Timer
		keys     int // timer keys in the store
	}
	run := func(cacheBytes int64, reopenEvery, discardEvery int, oldLayout bool) result {
		r := newShopRun(t, cacheBytes)
		store := r.store
		for cycle := 0; cycle < 24; cycle++ {
			r.cycle(discardEvery > 0 && cycle%discardEvery == discardEvery-1)
			if reopenEvery > 0 && cycle%reopenEvery == reopenEvery-1 {
				r.reopen()
			}
			if oldLayout && cycle == 9 {
				// As a store written when every timer had a key of its own.
				require.NoError(t, r.pt.Close())
				b := store.NewBatch(0)
				require.NoError(t, store.PendingTimers(0, func(tm state.Timer) bool {
					if tm.Due != state.Parked {
						require.NoError(t, b.PutTimer(&tm))
					}
					return true
				}))
				require.NoError(t, b.Commit(false))
				require.NoError(t, b.Close())
				r.open()
			}
		}
		var res result
		res.alerts, res.journeys = r.alerts, r.close()
		require.NoError(t, store.PendingTimers(0, func(tm state.Timer) bool {
			res.timers = append(res.timers, tm)
			return true
		}))
		// Every timer key left is a pending timer's: an old layout's keys
		// go as their journeys move on.
		pending := map[state.Timer]bool{}
		for _, tm := range res.timers {
			pending[tm] = true
		}
		require.NoError(t, store.Timers(0, math.MinInt64, math.MaxInt64, func(tm state.Timer) bool {
			require.True(t, pending[tm], "timer key of no pending timer: %+v", tm)
			res.keys++
			return true
		}))
		return res
	}
	straight := run(128<<20, 0, 0, false)
	require.NotEmpty(t, straight.alerts)
	require.Greater(t, len(straight.timers), 500, "timers pending at the end")
	for name, r := range map[string]result{
		"reopened every 4 cycles":        run(128<<20, 4, 0, false),
		"every third cycle discarded":    run(128<<20, 0, 3, false),
		"no journey cache, both at once": run(0, 5, 3, false),
		"a store with a key per timer":   run(128<<20, 0, 0, true),
	} {
		require.Equal(t, straight.alerts, r.alerts, name)
		require.Equal(t, straight.journeys, r.journeys, name)
		require.Equal(t, straight.timers, r.timers, name)
		if name != "a store with a key per timer" {
			require.Less(t, r.keys, len(r.timers)/10, "%s: only parked timers have keys", name)
		}
	}
}
