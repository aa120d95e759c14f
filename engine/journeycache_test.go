package engine_test

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
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
		cfg := config.Default()
		cfg.Detectors = shopDetectors()
		store := memStore(t, vfs.NewMem())
		var res result
		var pt *engine.Partition
		open := func() {
			eng, err := engine.New(cfg, store, engine.Options{})
			require.NoError(t, err)
			engine.SetJourneyCacheBytes(eng, cacheBytes)
			pt, err = eng.OpenPartition(0)
			require.NoError(t, err)
		}
		open()
		g := newShopGen(1500)
		evs := make([][]byte, 1024)
		rec := engine.Record{Topic: "shop"}
		for cycle := 0; cycle < 20; cycle++ {
			g.next(evs)
			for _, v := range evs {
				rec.Value = v
				require.NoError(t, pt.Experience(&rec))
				rec.Offset++
			}
			for _, a := range pt.Output().Alerts {
				res.alerts = append(res.alerts, fmt.Sprintf("%s %s %s %s", a.AlertID, a.Detector, a.Severity, a.Reason))
			}
			require.NoError(t, pt.Stage())
			require.NoError(t, pt.Commit(false))
			if reopenEvery > 0 && cycle%reopenEvery == reopenEvery-1 {
				require.NoError(t, pt.Close())
				open()
			}
		}
		res.lost, res.gaveUp = engine.JourneyCacheLost(pt)
		require.NoError(t, pt.Close())
		res.journeys = map[string]string{}
		require.NoError(t, store.JourneyRecords(0, func(id, enc []byte) bool {
			res.journeys[string(id)] = string(enc)
			return true
		}))
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
