package hotspots_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/hotspots"
)

func testConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Hotspots = []config.Hotspot{{Name: "carrier_trouble", Journey: "delivery", By: []string{"carrier", "region"},
		Bad: config.HotspotBad{Detectors: []string{"late_delivery"}}}}
	cfg.ApplyDefaults()
	require.NoError(t, cfg.Validate())
	return cfg
}

func rules(t testing.TB) []*hotspots.Rule {
	t.Helper()
	rs, err := hotspots.Compile(testConfig(t))
	require.NoError(t, err)
	return rs
}

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const step = int64(time.Hour) // window 6h / 6

func cell(values []string, at time.Time, events, bad int64) hotspots.Cell {
	return hotspots.Cell{Rule: "carrier_trouble", Values: values, Step: at.UnixNano() - at.UnixNano()%step,
		Events: events, Bad: bad}
}

// history is a week of hourly cells for two keys (100 events an hour) at a
// 2% bad rate, then from `from` hours with these bad counts for (y, x):
// the partial of one source.
func history(source int32, from time.Time, bads ...int64) *hotspots.Partial {
	p := &hotspots.Partial{Source: source}
	for h := range 168 + len(bads) {
		at := from.Add(time.Duration(h-168) * time.Hour)
		bad := int64(2)
		if h >= 168 {
			bad = bads[h-168]
		}
		p.Cells = append(p.Cells, cell([]string{"y", "x"}, at, 100, bad), cell([]string{"z", "x"}, at, 100, 2))
	}
	return p
}

func TestKey(t *testing.T) {
	r := rules(t)[0]
	require.Equal(t, "hotspot/carrier_trouble/carrier=Y,region=X", r.Key([]string{"Y", "X"}))
	require.Equal(t, "hotspot/carrier_trouble/carrier=a%2Cb%3Dc%2F%25,region=(none)", r.Key([]string{"a,b=c/%", hotspots.None}))
	require.Equal(t, "hotspot/carrier_trouble/carrier=s%C3%BCd%20ost,region=x", r.Key([]string{"süd ost", "x"}))
}

// A decision waits for every source partition's watermark: partials from
// two sources, one lagging, decide nothing until both have passed.
func TestAggregatorWaitsForSlowestPartition(t *testing.T) {
	agg := hotspots.NewAggregator(rules(t), 2)
	start := t0.Add(8 * 24 * time.Hour)
	fast := history(0, start, 60, 60)
	fast.Watermark = start.Add(3 * time.Hour).UnixNano()
	require.Empty(t, agg.Add(fast), "source 1 has reported nothing yet")

	slow := &hotspots.Partial{Source: 1, Watermark: start.Add(-time.Hour).UnixNano()}
	got := agg.Add(slow)
	for _, a := range got {
		require.NotEqual(t, alerts.HotspotOpen, a.Hotspot.State)
	}
	slow.Watermark = start.Add(time.Hour - 1).UnixNano()
	require.Empty(t, agg.Add(slow), "the bad hour has not ended for source 1")
	fast.Cells, fast.Watermark = nil, start.Add(10*time.Hour).UnixNano()
	require.Empty(t, agg.Add(fast), "the fast source alone decides nothing")

	slow.Watermark = start.Add(time.Hour).UnixNano()
	got = agg.Add(slow)
	require.Len(t, got, 1)
	a := got[0]
	require.Equal(t, alerts.KindHotspot, a.Kind)
	require.Equal(t, alerts.HotspotOpen, a.Hotspot.State)
	require.Equal(t, map[string]string{"carrier": "y", "region": "x"}, a.Hotspot.Values)
	require.Equal(t, start.Add(time.Hour), a.Hotspot.WindowEnd)
	require.Equal(t, start.Add(-5*time.Hour), a.Hotspot.WindowStart)
	require.EqualValues(t, 600, a.Hotspot.Events)
	require.EqualValues(t, 70, a.Hotspot.Bad) // 5 ordinary hours (2 each) and the bad one (60)
	require.InDelta(t, 0.1167, a.Hotspot.Rate, 1e-4)
	require.InDelta(t, 0.02, a.Hotspot.UsualRate, 1e-9)
	require.InDelta(t, 0.02, a.Hotspot.OthersRate, 1e-9)
	require.Equal(t, alerts.Major, a.Severity)
	require.NotEmpty(t, a.HotspotID)
	require.Contains(t, a.Reason, "carrier y in region x: 12% of deliveries bad (late_delivery)")
	require.Contains(t, a.Reason, "usually 2%")
	id, ok := agg.OpenHotspot("hotspot/carrier_trouble/carrier=y,region=x", start.UnixNano())
	require.True(t, ok)
	require.Equal(t, a.HotspotID, id)
	_, ok = agg.OpenHotspot("hotspot/carrier_trouble/carrier=z,region=x", start.UnixNano())
	require.False(t, ok)
}

// An episode: opens, escalates once its rate passes 2 × factor × usual,
// closes below half of factor × usual; the three alerts share hotspot_id.
func TestEpisode(t *testing.T) {
	agg := hotspots.NewAggregator(rules(t), 1)
	start := t0.Add(8 * 24 * time.Hour)
	p := history(0, start, 60, 60, 60, 60, 60, 60) // six bad hours: 60% each
	p.Watermark = start.Add(12 * time.Hour).UnixNano()
	var quiet []hotspots.Cell
	for h := 6; h < 13; h++ {
		quiet = append(quiet, cell([]string{"y", "x"}, start.Add(time.Duration(h)*time.Hour), 100, 2))
	}
	p.Cells = append(p.Cells, quiet...)
	got := agg.Add(p)
	var states []string
	for _, a := range got {
		states = append(states, a.Hotspot.State+"/"+a.Severity.String())
		require.Equal(t, got[0].HotspotID, a.HotspotID)
	}
	require.Equal(t, []string{"open/major", "escalated/critical", "closed/critical"}, states)
	ids := map[string]bool{}
	for _, a := range got {
		ids[a.AlertID] = true
	}
	require.Len(t, ids, 3, "each alert has its own alert_id")

	// The same input gives the same alerts (ids included).
	again := hotspots.NewAggregator(rules(t), 1)
	p2 := history(0, start, 60, 60, 60, 60, 60, 60)
	p2.Cells = append(p2.Cells, quiet...)
	p2.Watermark = p.Watermark
	require.Equal(t, got, again.Add(p2))
}

// Encode and Decode carry the counts, watermarks and open hotspots: an
// aggregator restored mid-episode closes it as the original does.
func TestAggregatorRoundTrip(t *testing.T) {
	start := t0.Add(8 * 24 * time.Hour)
	a1 := hotspots.NewAggregator(rules(t), 2)
	p := history(0, start, 60, 60)
	p.Watermark = start.Add(2 * time.Hour).UnixNano()
	a1.Add(p)
	opened := a1.Add(&hotspots.Partial{Source: 1, Watermark: start.Add(2 * time.Hour).UnixNano()})
	require.NotEmpty(t, opened)

	b, err := a1.Encode()
	require.NoError(t, err)
	a2 := hotspots.NewAggregator(rules(t), 2)
	require.NoError(t, a2.Decode(b))
	b2, err := a2.Encode()
	require.NoError(t, err)
	require.Equal(t, string(b), string(b2), "encoding is deterministic and complete")

	later := func() []*hotspots.Partial {
		var ps []*hotspots.Partial
		for src := range int32(2) {
			q := &hotspots.Partial{Source: src, Watermark: start.Add(20 * time.Hour).UnixNano()}
			if src == 0 {
				for h := 2; h < 20; h++ {
					q.Cells = append(q.Cells, cell([]string{"y", "x"}, start.Add(time.Duration(h)*time.Hour), 100, 1))
				}
			}
			ps = append(ps, q)
		}
		return ps
	}
	var out1, out2 []*alerts.Alert
	for _, q := range later() {
		out1 = append(out1, a1.Add(q)...)
	}
	for _, q := range later() {
		out2 = append(out2, a2.Add(q)...)
	}
	require.NotEmpty(t, out1)
	require.Equal(t, alerts.HotspotClosed, out1[len(out1)-1].Hotspot.State)
	require.Equal(t, out1, out2)
	require.Error(t, a2.Decode([]byte(`{"v":9}`)))
}

// A counter counts a missing attribute under (none), flushes deltas with
// the watermark, and forgets a discarded cycle.
func TestCounter(t *testing.T) {
	cfg := testConfig(t)
	rs, err := hotspots.Compile(cfg)
	require.NoError(t, err)
	c := hotspots.NewCounter(rs, nil)
	late := []alerts.Finding{{Detector: "late_delivery", Order: 0, Severity: alerts.Minor}}
	other := []alerts.Finding{{Detector: "worse_than_usual", Order: 3, Severity: alerts.Minor}}
	ev := func(cust string, attrs ...event.Attr) *event.Event {
		return &event.Event{CustomerID: cust, Time: t0.UnixNano(), Journey: "delivery", Attrs: attrs}
	}
	c.Event(ev("a", event.Attr{Key: "carrier", Value: "y"}), late)
	c.Event(ev("a", event.Attr{Key: "carrier", Value: "y"}), late)
	c.Event(ev("b", event.Attr{Key: "carrier", Value: "y"}), other) // not a listed detector: not bad
	c.Event(ev("c"), nil)
	c.Event(&event.Event{CustomerID: "d", Time: t0.UnixNano(), Journey: "checkout"}, late) // another journey
	var p hotspots.Partial
	c.Flush(3, 42, &p)
	require.Equal(t, int32(3), p.Source)
	require.Equal(t, int64(42), p.Watermark)
	require.Len(t, p.Cells, 2)
	byKey := map[string]hotspots.Cell{}
	for _, x := range p.Cells {
		byKey[rs[0].Key(x.Values)] = x
	}
	y := byKey["hotspot/carrier_trouble/carrier=y,region=(none)"]
	require.EqualValues(t, 3, y.Events)
	require.EqualValues(t, 2, y.Bad)
	require.Len(t, y.Customers, 1, "customer a twice is one customer")
	none := byKey["hotspot/carrier_trouble/carrier=(none),region=(none)"]
	require.EqualValues(t, 1, none.Events)
	require.EqualValues(t, 0, none.Bad)

	c.Event(ev("a"), late)
	c.Reset() // discarded
	p = hotspots.Partial{}
	c.Flush(3, 43, &p)
	require.Empty(t, p.Cells)

	// A timer finding counts at its due time with the start's attributes.
	c.Timer(&late[0], "delivery", "e", t0.Add(3*time.Hour).UnixNano(), ev("e", event.Attr{Key: "region", Value: "x"}))
	p = hotspots.Partial{}
	c.Flush(3, 44, &p)
	require.Len(t, p.Cells, 1)
	require.Equal(t, []string{hotspots.None, "x"}, p.Cells[0].Values)
	require.Equal(t, t0.Add(3*time.Hour).UnixNano(), p.Cells[0].Step)
	require.EqualValues(t, 1, p.Cells[0].Bad)
}

// The steady state allocates nothing per event.
func TestCounterNoAllocation(t *testing.T) {
	c := hotspots.NewCounter(rules(t), nil)
	e := &event.Event{CustomerID: "a", Time: t0.UnixNano(), Journey: "delivery",
		Attrs: []event.Attr{{Key: "carrier", Value: "y"}, {Key: "region", Value: "x"}}}
	late := []alerts.Finding{{Detector: "late_delivery", Order: 0}}
	c.Event(e, late)
	allocs := testing.AllocsPerRun(1000, func() { c.Event(e, late); c.Event(e, nil) })
	require.Zero(t, allocs)
}

func BenchmarkCounterEvent(b *testing.B) {
	c := hotspots.NewCounter(rules(b), nil)
	e := &event.Event{CustomerID: "a", Time: t0.UnixNano(), Journey: "delivery",
		Attrs: []event.Attr{{Key: "order_id", Value: "o-1"}, {Key: "carrier", Value: "y"}, {Key: "region", Value: "x"}}}
	b.ReportAllocs()
	for b.Loop() {
		c.Event(e, nil)
	}
}

// A watermark far ahead (a gap in the input, a clock gone wrong) closes what
// is open and skips the empty windows rather than deciding each of them.
func TestAggregatorWatermarkLeap(t *testing.T) {
	agg := hotspots.NewAggregator(rules(t), 1)
	start := t0.Add(8 * 24 * time.Hour)
	p := history(0, start, 60)
	p.Watermark = start.Add(time.Hour).UnixNano()
	require.Len(t, agg.Add(p), 1)
	began := time.Now()
	got := agg.Add(&hotspots.Partial{Source: 0, Watermark: start.Add(20 * 365 * 24 * time.Hour).UnixNano()})
	require.Less(t, time.Since(began), time.Second)
	require.NotEmpty(t, got)
	require.LessOrEqual(t, len(got), 2)
	require.Equal(t, alerts.HotspotClosed, got[len(got)-1].Hotspot.State)
	b, err := agg.Encode()
	require.NoError(t, err)
	require.Less(t, len(b), 400, "nothing old is kept: %s", b)
}
