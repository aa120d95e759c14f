package replay_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/replay"
)

// A synthetic month of deliveries by four carriers in four regions, 1% late
// (over a day: late_delivery), except carrier "rapid" in region "east" for
// two days mid-month, 40% late. Its customers are many and spread (every
// delivery goes to a random one of 5,000).
func syntheticMonth(t *testing.T) (path string, badFrom, badTo time.Time) {
	t.Helper()
	rng := rand.New(rand.NewPCG(14, 14))
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	badFrom, badTo = start.Add(14*24*time.Hour), start.Add(16*24*time.Hour)
	carriers := []string{"rapid", "steady", "courier", "swift"}
	regions := []string{"north", "south", "east", "west"}
	var b bytes.Buffer
	n := 0
	for at := start; at.Before(start.Add(30 * 24 * time.Hour)); at = at.Add(15 * time.Second) {
		n++
		carrier, region := carriers[rng.IntN(4)], regions[rng.IntN(4)]
		late := rng.Float64() < 0.01
		if carrier == "rapid" && region == "east" && !at.Before(badFrom) && at.Before(badTo) {
			late = rng.Float64() < 0.40
		}
		delay := rng.Float64() * 3
		if late {
			delay = 30 + rng.Float64()*20
		}
		attrs := fmt.Sprintf(`"order_id":"o-%d","carrier":%q,"region":%q`, n, carrier, region)
		if rng.IntN(50) == 0 { // some deliveries do not say who carried them: (none)
			attrs = fmt.Sprintf(`"order_id":"o-%d","region":%q`, n, region)
		}
		fmt.Fprintf(&b, `{"event_id":"e-%d","customer_id":"c-%d","time":%q,"journey":"delivery","outcome":"delivered",`+
			`"metrics":{"delay_hours":%.2f},"attributes":{%s}}`+"\n", n, rng.IntN(5000), at.Format(time.RFC3339), delay, attrs)
	}
	path = filepath.Join(t.TempDir(), "month.jsonl")
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	return path, badFrom, badTo
}

func hotspotConfig(t testing.TB) *config.Config {
	cfg := &config.Config{
		Journeys: []string{"delivery"},
		Detectors: []config.Detector{{Name: "late_delivery", Type: config.TypeThreshold, Journey: "delivery",
			Metric: "delay_hours", Minor: ptr(24)}},
		Hotspots: []config.Hotspot{{Name: "carrier_trouble", Journey: "delivery", By: []string{"carrier", "region"},
			Bad: config.HotspotBad{Detectors: []string{"late_delivery"}}}},
	}
	cfg.ApplyDefaults()
	require.NoError(t, cfg.Validate())
	return cfg
}

func ptr(v float64) *float64 { return &v }

func TestHotspotSyntheticMonth(t *testing.T) {
	input, badFrom, badTo := syntheticMonth(t)
	var out, report bytes.Buffer
	s, err := replay.Run(context.Background(), replay.Options{Config: hotspotConfig(t), Input: input, Out: &out, BatchEvents: 256})
	require.NoError(t, err)
	require.NoError(t, s.WriteReport(&report))
	require.Contains(t, report.String(), "  hotspots        opened 1 (carrier_trouble 1)\n")
	require.Equal(t, map[string]int{"carrier_trouble": 1}, s.Hotspots())

	var hot []*alerts.Alert
	var open *alerts.Alert
	inside, tagged, before := 0, 0, map[string]bool{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var a alerts.Alert
		require.NoError(t, json.Unmarshal(sc.Bytes(), &a))
		if a.Kind == alerts.KindHotspot {
			hot = append(hot, &a)
			if a.Hotspot.State == alerts.HotspotOpen {
				open = &a
			}
			continue
		}
		require.Equal(t, alerts.KindCustomer, a.Kind)
		attrs := a.Evidence[0].Attributes
		rapidEast := attrs["carrier"] == "rapid" && attrs["region"] == "east"
		switch {
		case open == nil || len(hot) > 1: // before it opened, or after it closed
			require.Empty(t, a.HotspotID, "%s at %s", a.CustomerID, a.EventTime)
			if rapidEast && !a.EventTime.Before(badFrom) {
				before[a.CustomerID] = true
			}
		case rapidEast:
			inside++
			require.Equal(t, open.HotspotID, a.HotspotID, "a customer alert inside the open hotspot carries its id")
			tagged++
		default:
			require.Empty(t, a.HotspotID, "%s %v: outside the hotspot", a.CustomerID, attrs)
		}
	}
	require.NoError(t, sc.Err())

	// Exactly one hotspot, for that carrier and region only: it opens, then closes.
	require.Len(t, hot, 2, "open and closed, nothing else")
	open, closed := hot[0], hot[1]
	require.Equal(t, alerts.HotspotOpen, open.Hotspot.State)
	require.Equal(t, alerts.HotspotClosed, closed.Hotspot.State)
	for _, a := range hot {
		require.Equal(t, map[string]string{"carrier": "rapid", "region": "east"}, a.Hotspot.Values)
		require.Equal(t, "carrier_trouble", a.Detector)
		require.Equal(t, open.HotspotID, a.HotspotID)
	}
	require.NotEqual(t, open.AlertID, closed.AlertID)
	// It opens within the first hours of the trouble, and closes within hours of its end.
	require.True(t, open.Hotspot.WindowEnd.After(badFrom) && open.Hotspot.WindowEnd.Before(badFrom.Add(4*time.Hour)),
		"opened at %s", open.Hotspot.WindowEnd)
	require.True(t, closed.Hotspot.WindowEnd.After(badTo) && closed.Hotspot.WindowEnd.Before(badTo.Add(7*time.Hour)),
		"closed at %s", closed.Hotspot.WindowEnd)
	require.Less(t, open.Hotspot.UsualRate, 0.03)
	require.Less(t, open.Hotspot.OthersRate, 0.03)
	require.GreaterOrEqual(t, open.Hotspot.Rate, 0.10)
	require.Positive(t, open.Hotspot.Customers)
	require.LessOrEqual(t, open.Hotspot.Customers, open.Hotspot.Bad)
	require.Contains(t, open.Reason, "carrier rapid in region east: ")
	require.Contains(t, open.Reason, "customers affected")

	// Customer alerts inside it carry its hotspot_id; earlier ones are listed.
	require.Greater(t, tagged, 100, "two days of 40%% late deliveries alert many customers")
	require.Equal(t, inside, tagged)
	require.NotEmpty(t, open.Hotspot.AlertedCustomers)
	for _, c := range open.Hotspot.AlertedCustomers {
		require.True(t, before[c], "%s was alerted inside the window before the hotspot opened", c)
	}
	require.Empty(t, closed.Hotspot.AlertedCustomers)
	t.Logf("open: %s", open.Reason)
	t.Logf("closed: %s", closed.Reason)

	// Replay over 4 partitions (customers spread as a Kafka producer would)
	// finds the same hotspot: the same alerts, ids included.
	var out4 bytes.Buffer
	s4, err := replay.Run(context.Background(), replay.Options{Config: hotspotConfig(t), Input: input, Out: &out4,
		BatchEvents: 256, Partitions: 4})
	require.NoError(t, err)
	require.Equal(t, s.Hotspots(), s4.Hotspots())
	var hot4 []*alerts.Alert
	tagged4 := 0
	sc = bufio.NewScanner(&out4)
	for sc.Scan() {
		var a alerts.Alert
		require.NoError(t, json.Unmarshal(sc.Bytes(), &a))
		if a.Kind == alerts.KindHotspot {
			hot4 = append(hot4, &a)
		} else if a.HotspotID != "" {
			require.Equal(t, open.HotspotID, a.HotspotID)
			tagged4++
		}
	}
	require.Equal(t, hot, hot4)
	require.Greater(t, tagged4, 100)
}
