package replay_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/demo"
	"github.com/peakend/peakend/replay"
)

// RunDecoded over input decoded once gives Run's alerts, line for line, and
// its report; two replays of one Decoded at once do not disturb each other.
func TestRunDecodedMatchesRun(t *testing.T) {
	lines := demoLines(20000)
	// Shuffle a few neighbours so that the input is not in event-time order.
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		i := r.IntN(len(lines) - 1)
		lines[i], lines[i+1] = lines[i+1], lines[i]
	}
	events := writeLines(t, "events.jsonl", lines)
	cm := demo.NewComplainer(5000, 1)
	g := demo.NewGenerator(5000, 1)
	g.OnBad, g.InvalidEvery = cm.Bad, 5000
	for i := range 20000 {
		g.Next(t0.Add(time.Duration(i) * 10 * time.Second))
	}
	var cl []string
	for _, c := range cm.Complaints(t0.Add(20000 * 10 * time.Second)) {
		cl = append(cl, string(c.MarshalLine()))
	}
	require.NotEmpty(t, cl)
	complaints := writeLines(t, "complaints.jsonl", cl)

	cfg := config.Default()
	want := run(t, replay.Options{Config: cfg, Input: events, Complaints: complaints})
	require.NotEmpty(t, want.alerts)

	d, err := replay.DecodeInput(context.Background(), replay.DecodeOptions{Input: events, Complaints: complaints,
		MaxBytes: cfg.Events.MaxBytes, Journeys: cfg.Journeys})
	require.NoError(t, err)
	require.Equal(t, want.summary.Invalid, d.Invalid)
	var wg sync.WaitGroup
	outs := make([]strings.Builder, 2)
	sums := make([]*replay.Summary, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			sums[i], errs[i] = replay.RunDecoded(context.Background(), cfg, d, replay.DecodedOptions{InMemory: i == 1,
				OnAlert: func(a *alerts.Alert) {
					b, _ := json.Marshal(a)
					outs[i].Write(append(b, '\n'))
				}})
		})
	}
	wg.Wait()
	for i := range 2 {
		require.NoError(t, errs[i])
		require.Equal(t, want.alerts, outs[i].String())
		require.Equal(t, want.summary.Report(), sums[i].Report())
	}
}

// With hotspot rules, RunDecoded writes the hotspot alerts Run writes, in
// the same place, and counts the same hotspots.
func TestRunDecodedHotspots(t *testing.T) {
	input, _, _ := syntheticMonth(t)
	cfg := hotspotConfig(t)
	var want strings.Builder
	s, err := replay.Run(context.Background(), replay.Options{Config: cfg, Input: input, Out: &want})
	require.NoError(t, err)
	require.Equal(t, map[string]int{"carrier_trouble": 1}, s.Hotspots())

	d, err := replay.DecodeInput(context.Background(), replay.DecodeOptions{Input: input, MaxBytes: cfg.Events.MaxBytes, Journeys: cfg.Journeys})
	require.NoError(t, err)
	var got strings.Builder
	s2, err := replay.RunDecoded(context.Background(), cfg, d, replay.DecodedOptions{InMemory: true, OnAlert: func(a *alerts.Alert) {
		b, _ := json.Marshal(a)
		got.Write(append(b, '\n'))
	}})
	require.NoError(t, err)
	require.Equal(t, want.String(), got.String())
	require.Equal(t, s.Hotspots(), s2.Hotspots())
}
