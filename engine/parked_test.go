package engine_test

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/state"
)

// Unparking a chunk per journey event gives the alerts of one big unpark,
// only spread over the events (testdata/overdue_unpark_chunk.in runs with a
// chunk of 2; here it also runs with the default chunk).
func TestUnparkChunkSameAlerts(t *testing.T) {
	in := "testdata/overdue_unpark_chunk.in"
	raw, err := os.ReadFile(in)
	require.NoError(t, err)
	require.Contains(t, string(raw), "\nunpark_chunk 2\n")
	big := filepath.Join(t.TempDir(), "big.in")
	require.NoError(t, os.WriteFile(big, []byte(strings.Replace(string(raw), "\nunpark_chunk 2\n", "\n", 1)), 0o644))

	alertLines := func(out []byte) []string {
		var a []string
		for line := range strings.Lines(string(out)) {
			if strings.HasPrefix(line, "    -> ") {
				a = append(a, line)
			}
		}
		slices.Sort(a)
		return a
	}
	lastTimers := func(out []byte) string {
		s := string(out)
		return s[strings.LastIndex(s, "x3 delivery/shipped"):]
	}
	var small, large []byte
	t.Run("chunk2", func(t *testing.T) { small = runGolden(t, in) }) // restores the chunk at its end
	t.Run("default", func(t *testing.T) { large = runGolden(t, big) })
	require.Len(t, alertLines(small), 5, "every parked journey is timed and fires")
	require.Equal(t, alertLines(large), alertLines(small))
	require.Equal(t, lastTimers(large), lastTimers(small))
	require.NotEqual(t, string(large), string(small), "the large chunk unparks them all at once")
}

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
