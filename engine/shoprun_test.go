package engine_test

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/state"
)

// shopRun is a partition fed a shop's delivery journeys (the shop
// benchmark's generator and detectors, 1,500 orders open) in cycles of
// 1,024 events, on an in-memory store, for tests that compare the same
// journeys run in different ways (a cache, reopening, discards).
type shopRun struct {
	t          *testing.T
	cfg        *config.Config
	store      *state.Store
	cacheBytes int64
	pt         *engine.Partition
	g          *shopGen
	evs        [][]byte
	rec        engine.Record
	alerts     []string // every alert of every committed cycle
}

func newShopRun(t *testing.T, cacheBytes int64) *shopRun {
	cfg := config.Default()
	cfg.Detectors = shopDetectors()
	r := &shopRun{t: t, cfg: cfg, store: memStore(t, vfs.NewMem()), cacheBytes: cacheBytes,
		g: newShopGen(1500), evs: make([][]byte, 1024), rec: engine.Record{Topic: "shop"}}
	r.open()
	return r
}

// open opens the partition (again) on the store.
func (r *shopRun) open() {
	eng, err := engine.New(r.cfg, r.store, engine.Options{})
	require.NoError(r.t, err)
	engine.SetJourneyCacheBytes(eng, r.cacheBytes)
	r.pt, err = eng.OpenPartition(0)
	require.NoError(r.t, err)
}

// reopen closes the partition and opens it again.
func (r *shopRun) reopen() {
	require.NoError(r.t, r.pt.Close())
	r.open()
}

// cycle processes the next 1,024 events and commits them; with discard,
// it first processes them once and discards that cycle, as an aborted
// transaction does.
func (r *shopRun) cycle(discard bool) {
	r.g.next(r.evs)
	feed := func() {
		for _, v := range r.evs {
			r.rec.Value = v
			require.NoError(r.t, r.pt.Experience(&r.rec))
			r.rec.Offset++
		}
	}
	if discard {
		offset := r.rec.Offset
		feed()
		require.NoError(r.t, r.pt.Discard())
		r.rec.Offset = offset
	}
	feed()
	for _, a := range r.pt.Output().Alerts {
		r.alerts = append(r.alerts, fmt.Sprintf("%s %s %s %s", a.AlertID, a.Detector, a.Severity, a.Reason))
	}
	require.NoError(r.t, r.pt.Stage())
	require.NoError(r.t, r.pt.Commit(false))
}

// close closes the partition and returns the stored journeys, by key.
func (r *shopRun) close() map[string]string {
	require.NoError(r.t, r.pt.Close())
	js := map[string]string{}
	require.NoError(r.t, r.store.JourneyRecords(0, func(id, enc []byte) bool {
		js[string(id)] = string(enc)
		return true
	}))
	return js
}
