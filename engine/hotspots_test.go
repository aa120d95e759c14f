package engine_test

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/hotspots"
	"github.com/peakend/peakend/internal/demo"
	"github.com/peakend/peakend/state"
)

// withHotspot is the demo configuration with one hotspot rule over two
// attributes: late or broken-promise deliveries by carrier and region.
func withHotspot() *config.Config {
	cfg := config.Default()
	cfg.Hotspots = []config.Hotspot{{Name: "carrier_trouble", Journey: "delivery", By: []string{"carrier", "region"},
		Bad: config.HotspotBad{Detectors: []string{"late_delivery", "broken_promise"}}}}
	cfg.ApplyDefaults()
	return cfg
}

// A broken promise (a deadline timer) counts at its due time with the
// attributes of the journey's start event; every delivery event counts,
// the ones without the attributes under (none).
func TestHotspotCountsTimerFindings(t *testing.T) {
	cfg := withHotspot()
	require.NoError(t, cfg.Validate())
	store, err := state.Open(state.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer store.Close()
	eng, err := engine.New(cfg, store, engine.Options{Hotspots: true})
	require.NoError(t, err)
	pt, err := eng.OpenPartition(0)
	require.NoError(t, err)
	defer pt.Close()

	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	rec := engine.Record{Topic: "experiences"}
	for i, line := range []string{
		`{"customer_id":"a","time":"2026-03-01T10:00:00Z","journey":"delivery","outcome":"promised","attributes":{"order_id":"o1","promised_by":"2026-03-01T11:00:00Z","carrier":"y","region":"x"}}`,
		`{"customer_id":"b","time":"2026-03-01T14:10:00Z","journey":"delivery","outcome":"delivered","metrics":{"delay_hours":1}}`,
	} {
		rec.Offset, rec.Value = int64(i), []byte(line)
		require.NoError(t, pt.Experience(&rec))
	}
	out := pt.Output()
	require.Len(t, out.Alerts, 1, "the promise broke at 13:00 (11:00 + 2h grace), fired by the watermark at 13:10")
	require.NoError(t, pt.Stage())
	got := map[string][3]int64{}
	rule := withHotspotRule(t, cfg)
	for _, c := range out.Hotspots.Cells {
		got[rule.Key(c.Values)+"@"+time.Unix(0, c.Step).UTC().Format("15:04")] = [3]int64{c.Events, c.Bad, int64(len(c.Customers))}
	}
	require.Equal(t, map[string][3]int64{
		"hotspot/carrier_trouble/carrier=y,region=x@10:00":           {1, 0, 0}, // the promise
		"hotspot/carrier_trouble/carrier=y,region=x@13:00":           {1, 1, 1}, // the broken promise, at its due time
		"hotspot/carrier_trouble/carrier=(none),region=(none)@14:00": {1, 0, 0},
	}, got)
	require.Equal(t, t0.Add(4*time.Hour+10*time.Minute-time.Hour).UnixNano(), out.Hotspots.Watermark)
	require.NoError(t, pt.Commit(false))
}

func withHotspotRule(t *testing.T, cfg *config.Config) *hotspots.Rule {
	rs, err := hotspots.Compile(cfg)
	require.NoError(t, err)
	return rs[0]
}

// BenchmarkHotspotCost is the per-event cost of hotspot counting on the
// demo workload (orders with carrier and region): the demo configuration
// without and with one hotspot rule over two attributes, in one run.
func BenchmarkHotspotCost(b *testing.B) {
	g := demo.NewGenerator(20_000, 1)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	events := make([][]byte, 1<<17)
	for i := range events {
		_, events[i] = g.Next(t0.Add(time.Duration(i) * 200 * time.Millisecond))
	}
	for _, on := range []bool{false, true} {
		name := "hotspots=off"
		cfg := config.Default()
		if on {
			name, cfg = "hotspots=on", withHotspot()
		}
		b.Run(name, func(b *testing.B) {
			pt := benchPartition(b, cfg, state.Options{FS: vfs.NewMem()}, engine.Options{Hotspots: on})
			benchExperiences(b, pt, events)
		})
	}
}
