package hotspots_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/hotspots"
)

// Split over n owners (the hotspots topic's partitions, as many as the
// sources) decides what one aggregator of every key decides: each owner
// sums its keys' cells, and every owner the totals (the journey's rate)
// and watermarks.
func TestSplitOwnersAgreeWithOneAggregator(t *testing.T) {
	rs := rules(t)
	start := t0.Add(8 * 24 * time.Hour)
	partials := func(n int) []*hotspots.Partial {
		var ps []*hotspots.Partial
		for src := range int32(n) {
			bad := int64(2)
			if src == 0 {
				bad = 60
			}
			p := history(src, start, bad, bad, bad, bad, bad, bad, bad, 2, 2, 2, 2, 2, 2, 2, 2)
			if src == 1 { // a key seen only now: its usual rate is the journey's
				p.Cells = append(p.Cells, cell([]string{"new", "x"}, start, 100, 50))
			}
			p.Watermark = start.Add(20 * time.Hour).UnixNano()
			ps = append(ps, p)
		}
		return ps
	}
	byID := func(a, b *alerts.Alert) int { return strings.Compare(a.AlertID, b.AlertID) }
	for _, n := range []int{2, 3, 4} {
		one := hotspots.NewAggregator(rs, n)
		var want []*alerts.Alert
		for _, p := range partials(n) {
			want = append(want, one.Add(p)...)
		}
		states := map[string]int{}
		for _, a := range want {
			states[a.Hotspot.Key+" "+a.Hotspot.State]++
		}
		for _, k := range []string{"carrier=y,region=x open", "carrier=y,region=x closed",
			"carrier=new,region=x open", "carrier=new,region=x closed"} {
			require.Equal(t, 1, states["hotspot/carrier_trouble/"+k], "%s, %d sources: %v", k, n, states)
		}
		require.Len(t, want, 4+states["hotspot/carrier_trouble/carrier=y,region=x escalated"], "only y and new: %v", states)

		owners := make([]*hotspots.Aggregator, n)
		for q := range owners {
			owners[q] = hotspots.NewAggregator(rs, 0) // the sources' count comes with the partials
		}
		var got []*alerts.Alert
		for _, p := range partials(n) {
			p.Base = 1
			for q, part := range hotspots.Split(p, rs, n) {
				require.True(t, part.Live)
				for _, c := range part.Cells {
					require.Equal(t, int32(q), hotspots.Owner(rs[0].Key(c.Values), n), "a cell sent to another owner")
				}
				got = append(got, owners[q].Add(part)...)
			}
		}
		require.Equal(t, slices.SortedFunc(slices.Values(want), byID), slices.SortedFunc(slices.Values(got), byID), "%d owners", n)
	}
}

// A source's cycle done again after a crash (at least once: its first
// partial reached the topic) sends the same Base: the owner replaces the
// first one's counts, and drops a partial older than the last it counted,
// also after its state went through Encode and Decode.
func TestLivePartialCountedOnce(t *testing.T) {
	rs := rules(t)
	part := func(base, events int64) *hotspots.Partial {
		return &hotspots.Partial{Source: 0, Watermark: t0.UnixNano(), Live: true, Sources: 1, Base: base,
			Cells:  []hotspots.Cell{cell([]string{"y", "x"}, t0, events, events/10)},
			Totals: []hotspots.Total{{Rule: "carrier_trouble", Step: t0.UnixNano(), Events: events, Bad: events / 10}}}
	}
	state := func(ps ...*hotspots.Partial) string {
		agg := hotspots.NewAggregator(rs, 1)
		for _, p := range ps {
			agg.Add(p)
		}
		b, err := agg.Encode()
		require.NoError(t, err)
		return string(b)
	}
	// The same cycle twice counts once; redone bigger, it counts the bigger one.
	require.Equal(t, state(part(1, 100)), state(part(1, 100), part(1, 100)))
	require.Equal(t, state(part(1, 120)), state(part(1, 100), part(1, 120)))
	// An older cycle after a newer one is a repeat.
	require.Equal(t, state(part(1, 100), part(2, 50)), state(part(1, 100), part(2, 50), part(1, 100)))
	require.NotEqual(t, state(part(1, 100)), state(part(1, 100), part(2, 100)), "a new cycle adds")

	// The last partial is part of the stored state.
	agg := hotspots.NewAggregator(rs, 1)
	agg.Add(part(1, 100))
	b, err := agg.Encode()
	require.NoError(t, err)
	again := hotspots.NewAggregator(rs, 1)
	require.NoError(t, again.Decode(b))
	again.Add(part(1, 100))
	b2, err := again.Encode()
	require.NoError(t, err)
	require.JSONEq(t, string(b), string(b2))
}

// The view answers for an open hotspot from its opening window on, keeps
// the opening start through an escalation, and forgets it when closed.
func TestView(t *testing.T) {
	v := hotspots.NewView()
	k := "hotspot/carrier_trouble/carrier=y,region=x"
	v.Apply(&hotspots.State{Key: k, ID: "h1", Start: 100})
	v.Apply(&hotspots.State{Key: k, ID: "h1", Start: 200}) // escalated
	id, ok := v.OpenHotspot(k, 150)
	require.True(t, ok)
	require.Equal(t, "h1", id)
	_, ok = v.OpenHotspot(k, 99)
	require.False(t, ok, "before the window it opened on")
	b, err := v.Encode()
	require.NoError(t, err)
	v2, err := hotspots.DecodeView(b)
	require.NoError(t, err)
	require.Equal(t, v, v2)
	v.Apply(&hotspots.State{Key: k, ID: "h0", Closed: true}) // an earlier episode's closing
	_, ok = v.OpenHotspot(k, 150)
	require.True(t, ok)
	v.Apply(&hotspots.State{Key: k, ID: "h1", Closed: true})
	_, ok = v.OpenHotspot(k, 150)
	require.False(t, ok)

	_, err = hotspots.DecodeMsg([]byte(`{}`))
	require.ErrorContains(t, err, "neither a partial nor a state")
}

// Changes writes what changed since the last call, and Load reads the
// parts back into the same state: after every step of a history, the
// stored parts (keys forgotten deleted) load into what Encode shows.
func TestChangesLoad(t *testing.T) {
	rs := rules(t)
	start := t0.Add(8 * 24 * time.Hour)
	agg := hotspots.NewAggregator(rs, 1)
	stored := map[string][]byte{}
	writes := 0
	put := func(key string, v []byte) error {
		writes++
		if v == nil {
			delete(stored, key)
		} else {
			stored[key] = v
		}
		return nil
	}
	full := history(0, start, 60, 60, 60, 60, 60, 60, 60, 2, 2, 2, 2, 2, 2, 2, 2)
	// A key seen once, long before: forgotten (pruned) as the windows move on.
	full.Cells = append([]hotspots.Cell{cell([]string{"once", "x"}, start.Add(-8*24*time.Hour), 10, 0)}, full.Cells...)
	for i := 0; i < len(full.Cells); i += 40 {
		p := &hotspots.Partial{Source: 0, Cells: full.Cells[i:min(i+40, len(full.Cells))],
			Watermark: full.Cells[min(i+40, len(full.Cells))-1].Step}
		agg.Add(p)
		writes = 0
		require.NoError(t, agg.Changes(put))
		// The steps the cells touched (one each), the keys' own parts, the
		// aggregator's own part, and the steps pruned as windows moved.
		require.LessOrEqual(t, writes, 40+3+1+2*6, "at most what the cells touched")
		back := hotspots.NewAggregator(rs, 1)
		meta := stored[""]
		require.NoError(t, back.Load(meta, func(fn func(key string, v []byte) error) error {
			for _, k := range slices.Sorted(maps.Keys(stored)) {
				if k != "" {
					if err := fn(k, stored[k]); err != nil {
						return err
					}
				}
			}
			return nil
		}))
		want, err := agg.Encode()
		require.NoError(t, err)
		got, err := back.Encode()
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(got), "after %d cells", i+40)
	}
	for k := range stored {
		require.NotContains(t, k, "carrier=once", "a pruned key is deleted")
	}
}
