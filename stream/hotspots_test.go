package stream_test

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/hotspots"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/replay"
	"github.com/peakend/peakend/stream"
)

// hotspotAlerts splits alerts into hotspot alerts (in topic order) and
// customer alerts.
func hotspotAlerts(as []*alerts.Alert) (hot, cust []*alerts.Alert) {
	for _, a := range as {
		if a.Kind == alerts.KindHotspot {
			hot = append(hot, a)
		} else {
			cust = append(cust, a)
		}
	}
	return hot, cust
}

// replayHotspots replays recs over n partitions (as the producer split
// them) and returns its alerts.
func replayHotspots(t *testing.T, cfg *config.Config, recs []testkit.Record, n int) []*alerts.Alert {
	t.Helper()
	var out bytes.Buffer
	_, err := replay.Run(t.Context(), replay.Options{Config: cfg, Input: testkit.WriteJSONL(t, recs), Out: &out, Partitions: n})
	require.NoError(t, err)
	return testkit.AlertsJSONL(t, out.Bytes())
}

// sameHotspots requires live's hotspot alerts to be replay's: the same
// ids, each equal in every field but detected_at.
func sameHotspots(t *testing.T, want, live []*alerts.Alert) {
	t.Helper()
	byID, dup := testkit.ByID(live)
	require.Zero(t, dup, "a hotspot alert_id repeated")
	require.Len(t, byID, len(want), "live hotspot alerts: %v", hotIDs(live))
	for _, w := range want {
		l := byID[w.AlertID]
		require.NotNil(t, l, "replay's %s hotspot alert %s missing live", w.Hotspot.State, w.AlertID)
		lc, wc := *l, *w
		lc.DetectedAt, wc.DetectedAt = time.Time{}, time.Time{}
		require.Equal(t, wc, lc)
	}
}

func hotIDs(as []*alerts.Alert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.AlertID+" "+a.Hotspot.State)
	}
	return out
}

// TestHotspotLive: twenty days of deliveries, with carrier "rapid" failing
// region "east" for two days, its customers spread over the 4 partitions,
// processed by two instances in one group (exactly-once): partitions sum
// their partial counts through the hotspots topic, and exactly one
// hotspot opens and closes, for that carrier and region only, with the
// alerts replay finds over the same records. Customer alerts made while
// it is open carry its hotspot_id; no other customer alert carries one.
func TestHotspotLive(t *testing.T) {
	t.Parallel()
	_, brokers := testkit.FakeCluster(t)
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	recs, badFrom, badTo := testkit.HotspotTraffic(20, 15*time.Second, 14, start)
	cfg := testkit.HotspotConfig(t, brokers)
	want := replayHotspots(t, cfg, recs, testkit.Partitions)
	wantHot, _ := hotspotAlerts(want)
	require.Len(t, wantHot, 2, "replay: one hotspot, opened and closed: %v", hotIDs(wantHot))

	cfgs := []*config.Config{testkit.HotspotConfig(t, brokers), testkit.HotspotConfig(t, brokers)}
	var apps []*testkit.App
	for _, c := range cfgs {
		c.Kafka.ExactlyOnce = true
		// Small fetches: the consumer buffers hours, not days, of event
		// time ahead of the hotspots topic, as it does when it keeps up
		// with the input rather than reads a backlog.
		opts := append(testkit.EOSClientOpts(), kgo.FetchMaxPartitionBytes(32<<10), kgo.FetchMaxBytes(128<<10))
		apps = append(apps, testkit.StartApp(t, app.Options{Config: c, ClientOpts: opts}))
	}
	// The input comes as it would live: the days before the trouble at
	// once, then an hour of event time at a time, each consumed before the
	// next is sent, so that the owners' news of the hotspot reaches the
	// partitions (two cycles later) within hours of event time, not days.
	exp, pc := cfg.Kafka.Topics.Experiences, testkit.Client(t, brokers)
	i := slices.IndexFunc(recs, func(r testkit.Record) bool { return bytes.Contains(r.Value, []byte(badFrom.Format(time.RFC3339))) })
	require.Positive(t, i)
	testkit.Produce(t, pc, exp, recs[:i])
	perHour := int(time.Hour / (15 * time.Second))
	paced := i + int(badTo.Add(12*time.Hour).Sub(badFrom)/(15*time.Second)) // until hours after the trouble
	for ; i < paced; i += perHour {
		testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, exp)
		testkit.Produce(t, pc, exp, recs[i:i+perHour])
	}
	testkit.Produce(t, pc, exp, recs[i:])

	var live []*alerts.Alert
	testkit.Eventually(t, 120*time.Second, "the hotspot's closing alert", func() bool {
		live = testkit.Alerts(t, testkit.ReadCommitted(t, brokers, cfg.Kafka.Topics.Alerts))
		hot, _ := hotspotAlerts(live)
		return len(hot) >= 2
	})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, cfg.Kafka.Topics.Experiences)
	for _, a := range apps {
		a.Stop(t, 15*time.Second)
	}
	live = testkit.Alerts(t, testkit.ReadCommitted(t, brokers, cfg.Kafka.Topics.Alerts))
	_, dup := testkit.ByID(live)
	require.Zero(t, dup, "an alert_id twice under read_committed")

	hot, cust := hotspotAlerts(live)
	sameHotspots(t, wantHot, hot)
	open, closed := hot[0], hot[1]
	require.Equal(t, alerts.HotspotOpen, open.Hotspot.State)
	require.Equal(t, alerts.HotspotClosed, closed.Hotspot.State)
	require.Equal(t, map[string]string{"carrier": "rapid", "region": "east"}, open.Hotspot.Values)
	require.True(t, open.Hotspot.WindowEnd.After(badFrom) && open.Hotspot.WindowEnd.Before(badFrom.Add(4*time.Hour)),
		"opened at %s", open.Hotspot.WindowEnd)
	require.True(t, closed.Hotspot.WindowEnd.After(badTo), "closed at %s", closed.Hotspot.WindowEnd)

	// The records of the alerts topic are keyed by the hotspot key.
	keys := map[string]bool{}
	for _, r := range testkit.ReadCommitted(t, brokers, cfg.Kafka.Topics.Alerts) {
		if bytes.HasPrefix(r.Key, []byte("hotspot/")) {
			keys[string(r.Key)] = true
		}
	}
	require.Equal(t, map[string]bool{"hotspot/carrier_trouble/carrier=rapid,region=east": true}, keys)

	// The customer alerts are replay's (ids), and those made while the
	// hotspot was open, on its carrier and region, carry its id.
	_, wantCust := hotspotAlerts(want)
	testkit.SameIDsAndSeverities(t, wantCust, cust)
	tagged := 0
	for _, a := range cust {
		if a.HotspotID == "" {
			continue
		}
		tagged++
		require.Equal(t, open.HotspotID, a.HotspotID)
		attrs := a.Evidence[0].Attributes
		require.Equal(t, []string{"rapid", "east"}, []string{attrs["carrier"], attrs["region"]})
		require.False(t, a.EventTime.Before(open.Hotspot.WindowStart), "tagged alert at %s", a.EventTime)
		// The closing reaches the partitions a few cycles later; the
		// input after the trouble comes at once, so "later" may be days
		// of event time. By the last two days it has.
		require.True(t, a.EventTime.Before(start.Add(18*24*time.Hour)), "tagged alert at %s, closed at %s",
			a.EventTime, closed.Hotspot.WindowEnd)
	}
	inside := 0 // alerts on the carrier and region while it was open
	for _, a := range cust {
		attrs := a.Evidence[0].Attributes
		if attrs["carrier"] == "rapid" && attrs["region"] == "east" &&
			a.EventTime.After(open.Hotspot.WindowEnd) && a.EventTime.Before(closed.Hotspot.WindowStart) {
			inside++
		}
	}
	t.Logf("hotspot %s: %s; %d customer alerts tagged, %d on rapid/east while open", open.HotspotID, open.Reason, tagged, inside)
	require.Greater(t, tagged, inside/2, "most customer alerts made while the hotspot is open carry its id")
	require.False(t, slices.ContainsFunc(cust, func(a *alerts.Alert) bool { return a.Kind != alerts.KindCustomer }))

	// What the aggregation cost on the wire (docs/hotspots.md).
	hs := testkit.ReadCommitted(t, brokers, stream.HotspotsTopic(cfg.Kafka.Group))
	size := 0
	for _, r := range hs {
		size += len(r.Value)
	}
	t.Logf("hotspots topic: %d records, %d bytes, for %d experiences", len(hs), size, len(recs))
}

// TestHotspotPartialRepeatedAfterCrash (at least once): an instance dies
// after a cycle's partial counts reached the hotspots topic and before the
// cycle's changelog markers, so the restart does the cycle again and sends
// its partials a second time. The owners count them once: the hotspot
// alerts are replay's, and peakend_hotspot_partials_total counts the
// repeats. Not parallel: the crash is a package-level hook.
func TestHotspotPartialRepeatedAfterCrash(t *testing.T) {
	_, brokers := testkit.FakeCluster(t)
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	recs, badFrom, _ := testkit.HotspotTraffic(20, 15*time.Second, 14, start)
	cfg := testkit.HotspotConfig(t, brokers)
	cfg.HTTP.Listen = "127.0.0.1:0"
	want, _ := hotspotAlerts(replayHotspots(t, cfg, recs, testkit.Partitions))
	require.Len(t, want, 2)
	testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences, recs)

	// Small fetches: many cycles, the crash lands mid-stream.
	opts := append(testkit.FastCommits(), kgo.FetchMaxPartitionBytes(32<<10), kgo.FetchMaxBytes(128<<10))
	// The crash comes in the cycle that sends the first hour of the
	// trouble for rapid/east: counted twice, it would change the opening
	// alert's figures.
	crash := errors.New("crash before the changelog markers")
	hsTopic := stream.HotspotsTopic(cfg.Kafka.Group)
	stream.CrashBeforeMarkers(t, func(r *kgo.Record) bool {
		if r.Topic != hsTopic {
			return false
		}
		m, err := hotspots.DecodeMsg(r.Value)
		require.NoError(t, err)
		return m.Partial != nil && slices.ContainsFunc(m.Partial.Cells, func(c hotspots.Cell) bool {
			return c.Step == badFrom.UnixNano() && slices.Equal(c.Values, []string{"rapid", "east"}) && c.Bad > 0
		})
	}, crash)
	a := testkit.StartApp(t, app.Options{Config: cfg, ClientOpts: opts})
	testkit.Eventually(t, 60*time.Second, "the crash", func() bool { done, _ := a.Done(); return done })
	_, err := a.Done()
	require.ErrorIs(t, err, crash)

	a = testkit.StartApp(t, app.Options{Config: cfg, ClientOpts: opts})
	var live []*alerts.Alert
	testkit.Eventually(t, 120*time.Second, "the hotspot's closing alert", func() bool {
		live, _ = hotspotAlerts(testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts)))
		return slices.ContainsFunc(live, func(a *alerts.Alert) bool { return a.Hotspot.State == alerts.HotspotClosed })
	})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, cfg.Kafka.Topics.Experiences)
	_, body := testkit.Get(t, a.Addr, "/metrics")
	repeated, _ := testkit.Metric(body, "peakend_hotspot_partials_total", "result", "repeated")
	counted, _ := testkit.Metric(body, "peakend_hotspot_partials_total", "result", "counted")
	a.Stop(t, 10*time.Second)
	t.Logf("after the restart: %.0f partials counted, %.0f repeats of the crashed cycle's", counted, repeated)
	require.Positive(t, repeated, "the crashed cycle's partials came again")
	byID, _ := testkit.ByID(live)
	hot := slices.Collect(maps.Values(byID))
	sameHotspots(t, want, hot)
}
