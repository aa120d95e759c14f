package engine_test

import (
	"math"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/state"
)

// Parked journeys of a detector no longer configured are dropped at the
// first sweep after the restart, without waiting for a timer to fall due.
func TestParkedOfRemovedDetectorAreDropped(t *testing.T) {
	cfg := testConfig(t, "running_late")
	cfg.Detectors[0].MinSamples = 1000
	h := newHarness(t, cfg, memStore(t, vfs.NewMem()))
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	h.send(order("1", "c", "shipped", at, ""))
	h.send(order("2", "d", "shipped", at, ""))
	h.commit()
	timers := func() int {
		n := 0
		require.NoError(t, h.store.Timers(0, math.MinInt64, math.MaxInt64, func(tm state.Timer) bool {
			require.Equal(t, state.Parked, tm.Due)
			n++
			return true
		}))
		return n
	}
	require.Equal(t, 2, timers())

	h.close()
	h.cfg = testConfig(t, "broken_promise")
	h.open()
	h.send(order("3", "e", "shipped", at.Add(time.Minute), ""))
	h.commit()
	require.Equal(t, 0, timers())
	v, ok := h.view("c")
	require.True(t, ok)
	require.Empty(t, v.Journeys)
}
