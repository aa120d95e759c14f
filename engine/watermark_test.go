package engine_test

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/engine"
)

// The watermark never goes back: once an idle tick has advanced it with
// processing time, an experience that arrives afterwards (and brings no
// newer event time) leaves it where the tick put it, and an event older
// than that watermark counts as late.
func TestWatermarkStaysAfterIdleTickAdvancedIt(t *testing.T) {
	cfg := testConfig(t, "late_delivery") // allowed_lateness 1h, idle_timeout 1m
	store := memStore(t, vfs.NewMem())
	eng, err := engine.New(cfg, store, engine.Options{Live: true})
	require.NoError(t, err)
	pt, err := eng.OpenPartition(0)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pt.Close()) })

	wall := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	off := int64(0)
	send := func(v string, fetched time.Time) {
		t.Helper()
		require.NoError(t, pt.Experience(&engine.Record{Topic: "experiences", Offset: off, Value: []byte(v), Fetched: fetched}))
		off++
		require.NoError(t, pt.Stage())
		require.NoError(t, pt.Commit(false))
	}
	watermark := func() time.Time {
		t.Helper()
		wm, ok := pt.Watermark()
		require.True(t, ok)
		return wm
	}

	send(delivery("a", "ann", t0.Add(2*time.Hour), 1), wall)
	require.Equal(t, t0.Add(time.Hour), watermark(), "max event time − allowed lateness")

	// 31 minutes without records: 30 minutes past the idle timeout.
	_, err = pt.Tick(wall.Add(31 * time.Minute))
	require.NoError(t, err)
	require.NoError(t, pt.Stage())
	require.NoError(t, pt.Commit(false))
	require.Equal(t, t0.Add(90*time.Minute), watermark(), "the idle tick moved it on by 30 minutes")

	// An experience no newer than the partition's latest arrives.
	send(delivery("b", "bob", t0.Add(2*time.Hour), 1), wall.Add(32*time.Minute))
	require.Equal(t, t0.Add(90*time.Minute), watermark(), "an experience does not move the watermark back")
	_, _, _, late := pt.Stats()
	require.Zero(t, late)

	// 01:15 is behind the watermark the tick set (01:30): late.
	send(delivery("c", "cat", t0.Add(75*time.Minute), 1), wall.Add(33*time.Minute))
	_, _, _, late = pt.Stats()
	require.Equal(t, int64(1), late, "an event behind the ticked watermark is late")
}
