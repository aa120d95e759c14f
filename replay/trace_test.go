package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	pevent "github.com/peakend/peakend/event"
	"github.com/peakend/peakend/internal/demo"
	"github.com/peakend/peakend/replay"
)

// A trace of many settings, recorded in one pass, gives for each setting
// exactly the alerts (every field, evidence included, in the same order)
// and the report that a replay of that setting gives: on the demo's
// traffic with every detector type (threshold, rarity, baseline, repeat,
// overdue and deadline timers), customers expiring and coming back,
// complaints, feedback for some alerts, and settings that change one
// detector, two at once, and the cooldown.
func TestTraceMatchesReplays(t *testing.T) {
	const n, customers = 40000, 3000
	g := demo.NewGenerator(customers, 7)
	cm := demo.NewComplainer(customers, 7)
	g.OnBad = cm.Bad
	var lines []string
	for i := range n {
		_, v := g.Next(t0.Add(time.Duration(i) * 10 * time.Second))
		lines = append(lines, string(v))
	}
	var cs []string
	for _, c := range cm.Complaints(t0.Add(n * 10 * time.Second)) {
		cs = append(cs, string(c.MarshalLine()))
	}
	events, complaints := writeLines(t, "events.jsonl", lines), writeLines(t, "complaints.jsonl", cs)

	raw, err := os.ReadFile(filepath.Join("..", "examples", "replay.yaml"))
	require.NoError(t, err)
	// A short retention: customers away for a day or two expire, and come
	// back as new ones (their cooldown and peak-end memory forgotten).
	cfg, err := config.Parse("replay.yaml", []byte(strings.Replace(string(raw), "state:\n", "state:\n  retention: 24h\n", 1)))
	require.NoError(t, err)
	names := map[string]int{}
	for i, d := range cfg.Detectors {
		names[d.Name] = i
	}
	variant := func(name string, change func(d *config.Detector)) config.Detector {
		d := cfg.Detectors[names[name]]
		d.Minor, d.Major, d.Critical = copyPtr(d.Minor), copyPtr(d.Major), copyPtr(d.Critical)
		change(&d)
		return d
	}
	set := func(p **float64, v float64) { *p = &v }
	variants := []config.Detector{
		variant("late_delivery", func(d *config.Detector) { set(&d.Minor, 12); set(&d.Major, 36); set(&d.Critical, 84) }),
		variant("late_delivery", func(d *config.Detector) { set(&d.Minor, 48) }),
		variant("rare_wait", func(d *config.Detector) { set(&d.Minor, 0.95); set(&d.Major, 0.99); set(&d.Critical, 0.999) }),
		variant("rare_wait", func(d *config.Detector) { set(&d.Minor, 0.995) }),
		variant("worse_than_usual", func(d *config.Detector) { d.Factor = 1.5 }),
		variant("repeated_failures", func(d *config.Detector) { set(&d.Minor, 3); set(&d.Major, 4); set(&d.Critical, 6) }),
		variant("running_late", func(d *config.Detector) { set(&d.Minor, 0.9); set(&d.Major, 0.98) }),
		variant("running_late", func(d *config.Detector) { set(&d.Minor, 0.995); set(&d.Major, 0.9995) }),
	}
	with := func(base *config.Config, ds ...config.Detector) *config.Config {
		out := *base
		out.Detectors = append([]config.Detector(nil), base.Detectors...)
		for _, d := range ds {
			out.Detectors[names[d.Name]] = d
		}
		return &out
	}
	cooldown := func(base *config.Config, d time.Duration) *config.Config {
		out := *base
		out.Alerting.Cooldown = config.Duration(d)
		return &out
	}
	settings := []*config.Config{cfg, cooldown(cfg, 6*time.Hour), cooldown(with(cfg, variants[0], variants[6]), 720*time.Hour)}
	for _, v := range variants {
		settings = append(settings, with(cfg, v))
	}

	// Feedback for some of the current setting's alerts, and of one other's.
	decode := func(feedback string) *replay.Decoded {
		d, err := replay.DecodeInput(context.Background(), replay.DecodeOptions{Input: events, Complaints: complaints,
			Feedback: feedback, MaxBytes: cfg.Events.MaxBytes, Journeys: cfg.Journeys})
		require.NoError(t, err)
		return d
	}
	var feed []string
	outcomes := []string{pevent.FeedbackRecovered, pevent.FeedbackFalseAlarm, pevent.FeedbackUnreachable}
	for k, c := range []*config.Config{cfg, settings[3]} {
		i := 0
		_, err := replay.RunDecoded(context.Background(), c, decode(""), replay.DecodedOptions{InMemory: true,
			OnAlert: func(a *alerts.Alert) {
				if i++; i%3 == k {
					f := pevent.Feedback{FeedbackID: fmt.Sprintf("f-%d-%d", k, i), AlertID: a.AlertID, CustomerID: a.CustomerID,
						Time: a.DetectedAt.Add(time.Hour).UnixNano(), Action: pevent.ActionOutcome, Outcome: outcomes[i%3]}
					feed = append(feed, string(pevent.EncodeFeedback(f)))
				}
			}})
		require.NoError(t, err)
	}
	require.NotEmpty(t, feed)
	d := decode(writeLines(t, "feedback.jsonl", feed))

	tr, err := replay.NewTrace(context.Background(), cfg, variants, d, replay.TraceOptions{
		DecodedOptions: replay.DecodedOptions{InMemory: true}, Evidence: true})
	require.NoError(t, err)
	require.Positive(t, tr.Reborn(), "no customer expired and came back")

	collect := func(run func(o replay.DecodedOptions) (*replay.Summary, error)) ([]string, string) {
		var out []string
		s, err := run(replay.DecodedOptions{InMemory: true, OnAlert: func(a *alerts.Alert) {
			b, err := json.Marshal(a)
			require.NoError(t, err)
			out = append(out, string(b))
		}})
		require.NoError(t, err)
		r, err := json.Marshal(s.Report())
		require.NoError(t, err)
		return out, string(r)
	}
	kinds := map[string]bool{}
	for i, c := range settings {
		require.True(t, tr.Covers(c), "setting %d", i)
		want, wantReport := collect(func(o replay.DecodedOptions) (*replay.Summary, error) {
			return replay.RunDecoded(context.Background(), c, d, o)
		})
		got, gotReport := collect(func(o replay.DecodedOptions) (*replay.Summary, error) {
			return tr.Run(context.Background(), c, o)
		})
		require.NotEmpty(t, want)
		require.Equal(t, want, got, "setting %d: alerts", i)
		require.JSONEq(t, wantReport, gotReport, "setting %d: report", i)
		for _, a := range want {
			var al alerts.Alert
			require.NoError(t, json.Unmarshal([]byte(a), &al))
			kinds[al.Detector] = true
		}
	}
	for _, det := range cfg.Detectors {
		require.True(t, kinds[det.Name], "no alert of %s: the history does not exercise it", det.Name)
	}

	// A setting the trace did not record is refused, not guessed.
	other := variant("late_delivery", func(d *config.Detector) { set(&d.Minor, 99) })
	require.False(t, tr.Covers(with(cfg, other)))
	_, err = tr.Run(context.Background(), with(cfg, other), replay.DecodedOptions{})
	require.Error(t, err)
}

func copyPtr(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// A variant of no configured detector, or of another type, and a
// configuration with hotspot rules are refused with the reason.
func TestTraceRefuses(t *testing.T) {
	events := writeLines(t, "events.jsonl", demoLines(100))
	cfg, err := config.Load(filepath.Join("..", "examples", "replay.yaml"))
	require.NoError(t, err)
	d, err := replay.DecodeInput(context.Background(), replay.DecodeOptions{Input: events, MaxBytes: cfg.Events.MaxBytes, Journeys: cfg.Journeys})
	require.NoError(t, err)
	o := replay.TraceOptions{DecodedOptions: replay.DecodedOptions{InMemory: true}}
	_, err = replay.NewTrace(context.Background(), cfg, []config.Detector{{Name: "nobody", Type: config.TypeThreshold}}, d, o)
	require.ErrorContains(t, err, `no threshold detector "nobody"`)
	other := cfg.Detectors[2] // rare_wait
	other.Type = config.TypeThreshold
	_, err = replay.NewTrace(context.Background(), cfg, []config.Detector{other}, d, o)
	require.ErrorContains(t, err, `no threshold detector "rare_wait"`)
	hs := *cfg
	hs.Hotspots = []config.Hotspot{{Name: "carrier_trouble", Journey: "delivery", By: []string{"carrier"}}}
	_, err = replay.NewTrace(context.Background(), &hs, nil, d, o)
	require.ErrorContains(t, err, "hotspot rules")
}
