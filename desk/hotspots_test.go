package desk_test

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
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/desk"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/replay"
)

// replayHotspot replays four days of deliveries in which carrier "rapid"
// in region "east" is 40% late for 12 hours on the third day, with a
// hotspot rule over carrier and region, and returns the alerts replay
// wrote, in order (the hotspot's open and closed alerts among them).
func replayHotspot(t *testing.T) []*alerts.Alert {
	t.Helper()
	rng := rand.New(rand.NewPCG(14, 13))
	start := time.Now().UTC().Truncate(time.Hour).Add(-4 * 24 * time.Hour)
	badFrom, badTo := start.Add(60*time.Hour), start.Add(72*time.Hour)
	var b bytes.Buffer
	n := 0
	for at := start; at.Before(start.Add(4 * 24 * time.Hour)); at = at.Add(20 * time.Second) {
		n++
		carrier, region := []string{"rapid", "steady"}[rng.IntN(2)], []string{"east", "west"}[rng.IntN(2)]
		late := rng.Float64() < 0.01
		if carrier == "rapid" && region == "east" && !at.Before(badFrom) && at.Before(badTo) {
			late = rng.Float64() < 0.40
		}
		delay := rng.Float64() * 3
		if late {
			delay = 30 + rng.Float64()*20
		}
		fmt.Fprintf(&b, `{"event_id":"e-%d","customer_id":"c-%d","time":%q,"journey":"delivery","outcome":"delivered",`+
			`"metrics":{"delay_hours":%.2f},"attributes":{"carrier":%q,"region":%q}}`+"\n",
			n, rng.IntN(3000), at.Format(time.RFC3339), delay, carrier, region)
	}
	input := filepath.Join(t.TempDir(), "deliveries.jsonl")
	require.NoError(t, os.WriteFile(input, b.Bytes(), 0o644))
	minor := 24.0
	cfg := &config.Config{
		Journeys: []string{"delivery"},
		Detectors: []config.Detector{{Name: "late_delivery", Type: config.TypeThreshold, Journey: "delivery",
			Metric: "delay_hours", Minor: &minor}},
		Hotspots: []config.Hotspot{{Name: "carrier_trouble", Journey: "delivery", By: []string{"carrier", "region"},
			Bad: config.HotspotBad{Detectors: []string{"late_delivery"}}}},
	}
	cfg.ApplyDefaults()
	require.NoError(t, cfg.Validate())
	var out bytes.Buffer
	_, err := replay.Run(context.Background(), replay.Options{Config: cfg, Input: input, Out: &out, BatchEvents: 256})
	require.NoError(t, err)
	var as []*alerts.Alert
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a alerts.Alert
		require.NoError(t, json.Unmarshal(sc.Bytes(), &a))
		as = append(as, &a)
	}
	require.NoError(t, sc.Err())
	return as
}

// produceAlerts writes alerts to the alerts topic as the pipeline keys
// them: a customer alert by customer id, a hotspot alert by hotspot key.
func produceAlerts(t *testing.T, cl *kgo.Client, cfg *config.Config, as []*alerts.Alert) {
	t.Helper()
	var recs []*kgo.Record
	for _, a := range as {
		v, err := json.Marshal(a)
		require.NoError(t, err)
		key := a.CustomerID
		if a.Kind == alerts.KindHotspot {
			key = "hotspot/" + a.Hotspot.Name + "/carrier=" + a.Hotspot.Values["carrier"] + ",region=" + a.Hotspot.Values["region"]
		}
		recs = append(recs, &kgo.Record{Topic: cfg.Kafka.Topics.Alerts, Key: []byte(key), Value: v})
	}
	require.NoError(t, cl.ProduceSync(context.Background(), recs...).FirstErr())
}

func (td *testDesk) hotspots(t *testing.T, query string) []map[string]any {
	t.Helper()
	st, v := td.do(t, "ana", "GET", "/api/hotspots"+query, nil)
	require.Equal(t, 200, st, "%v", v)
	var out []map[string]any
	for _, h := range v["hotspots"].([]any) {
		out = append(out, h.(map[string]any))
	}
	return out
}

// TestHotspotsAPI: the hotspot replay finds, fed to the alerts topic as
// live would write it, is at /api/hotspots with its figures and the
// customer alerts that carry its id; a supervisor acknowledges it (an
// agent may not), the acknowledgement is a feedback event keyed by the
// hotspot key, and it outlives the restart and the hotspot's closing; a
// closed hotspot stays listed, after the open ones.
func TestHotspotsAPI(t *testing.T) {
	as := replayHotspot(t)
	var open, closed *alerts.Alert
	var inside, before []*alerts.Alert
	for _, a := range as {
		switch {
		case a.Kind == alerts.KindHotspot && a.Hotspot.State == alerts.HotspotOpen:
			open = a
		case a.Kind == alerts.KindHotspot && a.Hotspot.State == alerts.HotspotClosed:
			closed = a
		case a.Kind == alerts.KindHotspot:
			t.Fatalf("unexpected hotspot alert %s", a.Hotspot.State)
		case a.HotspotID != "":
			inside = append(inside, a)
		case open == nil:
			before = append(before, a)
		}
	}
	require.NotNil(t, open, "replay found no hotspot")
	require.NotNil(t, closed)
	require.Greater(t, len(inside), 10)

	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	dir := t.TempDir()
	td := startDesk(t, cfg, deskOpts{dir: dir, owns: true})
	cl := testkit.Client(t, brokers)

	// Up to the hotspot's opening, and the customer alerts inside it, but
	// not its closing.
	upTo := append(append([]*alerts.Alert{}, before...), open)
	produceAlerts(t, cl, cfg, append(upTo, inside...))
	var hs []map[string]any
	testkit.Eventually(t, 10*time.Second, "the hotspot and its customer alerts", func() bool {
		hs = td.hotspots(t, "")
		return len(hs) == 1 && int(hs[0]["customer_alerts_total"].(float64)) == len(inside)
	})
	h := hs[0]
	require.Equal(t, "hotspot/carrier_trouble/carrier=rapid,region=east", h["key"])
	require.Equal(t, open.HotspotID, h["hotspot_id"])
	require.Equal(t, "carrier_trouble", h["name"])
	require.Equal(t, map[string]any{"carrier": "rapid", "region": "east"}, h["values"])
	require.Equal(t, "open", h["state"])
	require.Equal(t, open.Severity.String(), h["severity"])
	require.Equal(t, open.Reason, h["reason"])
	require.InDelta(t, open.Hotspot.Rate, h["rate"], 1e-9)
	require.InDelta(t, open.Hotspot.UsualRate, h["usual_rate"], 1e-9)
	require.EqualValues(t, open.Hotspot.Customers, h["customers"])
	require.Equal(t, open.DetectedAt.Format(time.RFC3339Nano), h["opened_at"])
	require.Nil(t, h["closed_at"])
	require.Nil(t, h["acknowledged"])
	require.Len(t, h["alerted_customers"], len(open.Hotspot.AlertedCustomers))
	ca := h["customer_alerts"].([]any)
	require.Len(t, ca, len(inside))
	newest := ca[0].(map[string]any)
	last := inside[0]
	for _, a := range inside {
		if a.DetectedAt.After(last.DetectedAt) {
			last = a
		}
	}
	require.Equal(t, last.DetectedAt.Format(time.RFC3339Nano), newest["detected_at"], "customer alerts newest first")
	for _, a := range inside {
		if a.AlertID == newest["alert_id"] {
			require.Equal(t, a.CustomerID, newest["customer_id"])
			require.Equal(t, a.Reason, newest["reason"])
		}
	}
	require.Equal(t, "open", newest["case"])
	require.Equal(t, open.AlertID, h["alert"].(map[string]any)["alert_id"], "the latest alert, as on the topic")
	// The queue still lists the open hotspot's alert apart from the cases.
	_, q := td.do(t, "ana", "GET", "/api/queue", nil)
	require.Len(t, q["hotspots"], 1)

	// Acknowledging: an agent may not; a supervisor may, with a note.
	path := "/api/hotspots/" + open.HotspotID + "/ack"
	st, v := td.do(t, "ana", "POST", path, map[string]string{"note": "x"})
	require.Equal(t, 403, st, "%v", v)
	st, v = td.do(t, "sam:supervisor", "POST", "/api/hotspots/nope/ack", nil)
	require.Equal(t, 404, st, "%v", v)
	st, v = td.do(t, "sam:supervisor", "POST", path, map[string]string{"note": "Called rapid's east depot"})
	require.Equal(t, 200, st, "%v", v)
	ack := v["hotspot"].(map[string]any)["acknowledged"].(map[string]any)
	require.Equal(t, "sam", ack["by"])
	require.Equal(t, "Called rapid's east depot", ack["note"])
	st, v = td.do(t, "kim:supervisor", "POST", path, nil)
	require.Equal(t, 409, st, "%v", v)
	require.Equal(t, "sam", v["acknowledged_by"])
	var fb map[string]any
	recs := testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Feedback)
	require.Len(t, recs, 1)
	require.NoError(t, json.Unmarshal(recs[0].Value, &fb))
	require.Equal(t, "hotspot/carrier_trouble/carrier=rapid,region=east", string(recs[0].Key))
	require.Equal(t, string(recs[0].Key), fb["customer_id"])
	require.Equal(t, open.AlertID, fb["alert_id"])
	require.Equal(t, "claim", fb["action"])
	require.Equal(t, "sam", fb["by"])
	require.Equal(t, "Called rapid's east depot", fb["note"])

	// A customer's case closing shows in the hotspot's list.
	first := inside[0]
	st, v = td.do(t, "ana", "POST", "/api/cases/"+first.CustomerID+"/claim", nil)
	require.Equal(t, 200, st, "%v", v)
	hs = td.hotspots(t, "")
	for _, c := range hs[0]["customer_alerts"].([]any) {
		if c := c.(map[string]any); c["customer_id"] == first.CustomerID {
			require.Equal(t, "claimed", c["case"])
			require.Equal(t, "ana", c["claimed_by"])
		}
	}

	// A restart keeps all of it; then the hotspot closes.
	td.stop(t)
	td = startDesk(t, cfg, deskOpts{dir: dir, owns: true})
	hs = td.hotspots(t, "")
	require.Len(t, hs, 1)
	require.Equal(t, "sam", hs[0]["acknowledged"].(map[string]any)["by"])
	require.EqualValues(t, len(inside), hs[0]["customer_alerts_total"])

	// Another hotspot, made up, opens after: the open one is listed first.
	other := *open
	other.AlertID, other.HotspotID = "other-open", "other-episode"
	other.Hotspot = &alerts.HotspotInfo{Name: "carrier_trouble", Values: map[string]string{"carrier": "steady", "region": "west"},
		State: alerts.HotspotOpen, WindowEnd: closed.Hotspot.WindowEnd}
	produceAlerts(t, cl, cfg, []*alerts.Alert{closed, &other})
	testkit.Eventually(t, 10*time.Second, "closed", func() bool {
		hs = td.hotspots(t, "")
		return len(hs) == 2 && hs[1]["state"] == "closed"
	})
	require.Equal(t, "other-episode", hs[0]["hotspot_id"], "open before closed")
	h = hs[1]
	require.Equal(t, open.HotspotID, h["hotspot_id"])
	require.Equal(t, closed.Reason, h["reason"])
	require.Equal(t, closed.DetectedAt.Format(time.RFC3339Nano), h["closed_at"])
	require.Equal(t, open.DetectedAt.Format(time.RFC3339Nano), h["opened_at"], "since when: its opening")
	require.Equal(t, "sam", h["acknowledged"].(map[string]any)["by"], "the acknowledgement holds for the episode")
	require.Len(t, td.hotspots(t, "?state=active"), 1)
	_, q = td.do(t, "ana", "GET", "/api/queue", nil)
	require.Len(t, q["hotspots"], 1, "the queue lists open hotspots only")

	// Strangers get nothing.
	st, _ = td.do(t, "", "GET", "/api/hotspots", nil)
	require.Equal(t, 401, st)
	_ = desk.MaxHotspotCustomerAlerts
}
