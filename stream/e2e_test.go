package stream_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/httpapi"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/state"
	"github.com/peakend/peakend/stream"
)

const (
	events    = 20_000
	customers = 400
	seed      = 42
)

var start = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// perCustomerConfig is the default configuration with only the detectors
// whose results depend on each customer's own history, so that any
// partitioning gives the same alerts as one replay.
func perCustomerConfig(t *testing.T, brokers []string) *config.Config {
	cfg := testkit.Config(t, brokers, testkit.PerCustomer...)
	// A shorter cooldown than the default 72h (the traffic spans ~55h) lets
	// each detector fire more than once per customer.
	cfg.Alerting.Cooldown = config.Duration(6 * time.Hour)
	return cfg
}

// sameAlerts requires live to hold exactly replay's alerts, each equal in
// every field but detected_at (processing time, live).
func sameAlerts(t *testing.T, want, live []*alerts.Alert) {
	t.Helper()
	wantByID, dup := testkit.ByID(want)
	require.Zero(t, dup, "replay repeated an alert_id")
	liveByID, _ := testkit.ByID(live)
	missing, extra := 0, 0
	for id := range wantByID {
		if liveByID[id] == nil {
			missing++
		}
	}
	for id := range liveByID {
		if wantByID[id] == nil {
			extra++
		}
	}
	require.Zero(t, missing+extra, "alert_id sets differ: %d of replay's %d alerts missing live, %d live alerts not in replay",
		missing, len(wantByID), extra)
	for id, w := range wantByID {
		l := *liveByID[id]
		w := *w
		require.False(t, l.DetectedAt.IsZero(), "detected_at of %s", id)
		l.DetectedAt, w.DetectedAt = time.Time{}, time.Time{}
		require.Equal(t, w.Detector, l.Detector, "detector of %s", id)
		require.Equal(t, w.Severity, l.Severity, "severity of %s", id)
		require.Equal(t, w.Reason, l.Reason, "reason of %s", id)
		require.Equal(t, w, l, "alert %s", id)
	}
}

// everyDetector requires alerts of every configured detector.
func everyDetector(t *testing.T, cfg *config.Config, as []*alerts.Alert) {
	t.Helper()
	n := map[string]int{}
	for _, a := range as {
		n[a.Detector]++
	}
	t.Logf("alerts by detector: %v", n)
	for _, d := range cfg.Detectors {
		require.Positive(t, n[d.Name], "no alert of detector %s: the test would pass vacuously", d.Name)
	}
}

// TestExactAlertsEndToEnd runs the pipeline on a kfake broker over 20k
// generated events in 4 partitions and requires exactly the alerts replay
// produces from the same events.
func TestExactAlertsEndToEnd(t *testing.T) {
	t.Parallel()
	brokers := testkit.Cluster(t)
	cfg := perCustomerConfig(t, brokers)
	cfg.HTTP.Listen = "127.0.0.1:0"

	recs := testkit.Generate(events, customers, seed, start, 10*time.Second)
	produced := testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences, recs)
	parts := map[int32]bool{}
	for _, r := range produced {
		parts[r.Partition] = true
	}
	require.Len(t, parts, testkit.Partitions, "events should spread over every partition")

	began := time.Now()
	a := testkit.StartApp(t, app.Options{Config: cfg})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, cfg.Kafka.Topics.Experiences)
	t.Logf("pipeline consumed %d events in %s", events, time.Since(began))

	_, body := testkit.Get(t, a.Addr, "/metrics")
	processed, _ := testkit.Metric(body, "peakend_events_total", "result", "processed")
	require.EqualValues(t, events, processed, "peakend_events_total{result=processed}")
	for _, r := range []string{"invalid", "duplicate", "late"} {
		n, _ := testkit.Metric(body, "peakend_events_total", "result", r)
		require.Zero(t, n, "peakend_events_total{result=%s}", r)
	}

	live := testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts))
	_, dup := testkit.ByID(live)
	require.Zero(t, dup, "an alert_id appeared twice on the alerts topic")
	inMetric, _ := testkit.Metric(body, "peakend_alerts_total")
	require.EqualValues(t, len(live), inMetric, "peakend_alerts_total")

	began = time.Now()
	want := testkit.Replay(t, cfg, recs)
	t.Logf("replay took %s", time.Since(began))
	everyDetector(t, cfg, want)
	sameAlerts(t, want, live)

	took := a.Stop(t, 10*time.Second)
	t.Logf("%d events, %d alerts; app.Run returned %s after cancel", events, len(live), took)
	require.Empty(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.DLQ), "nothing should go to the DLQ")
}

// TestStopAndRestart stops the pipeline mid-stream and starts a new one on
// the same state and group: the alert set must still be replay's, and no
// event may be counted twice in state.
func TestStopAndRestart(t *testing.T) {
	t.Parallel()
	brokers := testkit.Cluster(t)
	cfg := perCustomerConfig(t, brokers)
	recs := testkit.Generate(events, customers, seed+1, start, 10*time.Second)
	first, rest := recs[:events/2], recs[events/2:]
	prod := testkit.Client(t, brokers)
	testkit.Produce(t, prod, cfg.Kafka.Topics.Experiences, first)

	// Small fetches make many short cycles, so that the stop lands mid-stream.
	opts := append(testkit.FastCommits(), kgo.FetchMaxPartitionBytes(16<<10))
	a := testkit.StartApp(t, app.Options{Config: cfg, ClientOpts: opts})
	watch := testkit.Client(t, brokers, kgo.ConsumeTopics(cfg.Kafka.Topics.Alerts))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	fs := watch.PollRecords(ctx, 1) // as soon as an alert arrives
	require.NoError(t, ctx.Err(), "no alert within 30s")
	cancel()
	require.NotEmpty(t, fs.Records())
	took := a.Stop(t, 10*time.Second)
	watch.Close()

	// What the first run committed to state.
	store, err := state.Open(state.Options{Dir: cfg.State.Dir})
	require.NoError(t, err)
	done := int64(0)
	for p := range int32(testkit.Partitions) {
		next, err := store.Offset(p, cfg.Kafka.Topics.Experiences)
		require.NoError(t, err)
		done += max(next, 0)
	}
	require.NoError(t, store.Close())
	t.Logf("first run stopped in %s having processed %d of %d events", took, done, len(first))

	testkit.Produce(t, prod, cfg.Kafka.Topics.Experiences, rest)
	b := testkit.StartApp(t, app.Options{Config: cfg})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, cfg.Kafka.Topics.Experiences)
	b.Stop(t, 10*time.Second)

	live := testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts))
	_, dup := testkit.ByID(live)
	t.Logf("%d alert records, %d repeated alert_ids", len(live), dup)
	// A clean stop commits its last cycle: nothing is produced twice.
	require.Zero(t, dup, "alerts produced again after a clean stop")
	want := testkit.Replay(t, cfg, recs)
	everyDetector(t, cfg, want)
	sameAlerts(t, want, live)

	// No double counting: each customer's experience count is the number of
	// events produced for them.
	perCustomer := map[string]int{}
	for _, r := range recs {
		perCustomer[string(r.Key)]++
	}
	store, err = state.Open(state.Options{Dir: cfg.State.Dir})
	require.NoError(t, err)
	defer store.Close()
	all := []int32{0, 1, 2, 3}
	ids := slices.Sorted(maps.Keys(perCustomer))
	total := 0
	for _, id := range ids {
		v, ok, err := httpapi.LookupCustomer(store, httpapi.ViewOptions{Window: cfg.State.Window}, all, id)
		require.NoError(t, err)
		require.True(t, ok, "customer %s not in state", id)
		require.Equal(t, perCustomer[id], v.Experiences, "experiences of %s", id)
		total += v.Experiences
	}
	require.Equal(t, len(recs), total)
	var customers int64
	for _, p := range all {
		n, err := store.Customers(p)
		require.NoError(t, err)
		customers += n
	}
	require.EqualValues(t, len(perCustomer), customers, "customer count in state")
}

// TestOffsetsCommittedOnStop: a clean stop commits the consumer group's
// offsets up to what was processed, so that whichever instance takes the
// partitions next (and monitoring) starts where this one stopped. Commits
// are left at franz-go's default 5s interval.
func TestOffsetsCommittedOnStop(t *testing.T) {
	t.Parallel()
	brokers := testkit.Cluster(t)
	cfg := perCustomerConfig(t, brokers)
	cfg.HTTP.Listen = "127.0.0.1:0"
	recs := testkit.Generate(2000, 100, seed+5, start, 10*time.Second)
	testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences, recs)
	a := testkit.StartApp(t, app.Options{Config: cfg, ClientOpts: []kgo.Opt{}})
	testkit.Eventually(t, 30*time.Second, "all events processed", func() bool {
		_, body := testkit.Get(t, a.Addr, "/metrics")
		n, _ := testkit.Metric(body, "peakend_events_total", "result", "processed")
		return int(n) == len(recs)
	})
	a.Stop(t, 10*time.Second)
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, time.Second, cfg.Kafka.Topics.Experiences)
}

// TestTwoInstances: two pipelines in one consumer group, each with its own
// state, split the partitions, complaints co-partitioned with experiences,
// and together give replay's alerts.
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	brokers := testkit.Cluster(t)
	cfg1 := perCustomerConfig(t, brokers)
	cfg2 := perCustomerConfig(t, brokers) // same group, another state dir
	exp, comp := cfg1.Kafka.Topics.Experiences, cfg1.Kafka.Topics.Complaints
	a1 := testkit.StartApp(t, app.Options{Config: cfg1})
	a2 := testkit.StartApp(t, app.Options{Config: cfg2})

	// Wait for the group to settle: two members, each with its own
	// experiences partitions and the complaints partitions of the same numbers.
	testkit.Eventually(t, 30*time.Second, "two members sharing the partitions", func() bool {
		as := testkit.Assignment(t, brokers, cfg1.Kafka.Group)
		if len(as) != 2 {
			return false
		}
		seen := map[int32]bool{}
		for _, tps := range as {
			if len(tps[exp]) == 0 || !slices.Equal(tps[exp], tps[comp]) {
				return false
			}
			for _, p := range tps[exp] {
				seen[p] = true
			}
		}
		return len(seen) == testkit.Partitions
	})
	t.Logf("assignment: %v", testkit.Assignment(t, brokers, cfg1.Kafka.Group))

	recs := testkit.Generate(events/2, customers, seed+3, start, 10*time.Second)
	testkit.Produce(t, testkit.Client(t, brokers), exp, recs)
	testkit.WaitConsumed(t, brokers, cfg1.Kafka.Group, 60*time.Second, exp)
	a1.Stop(t, 10*time.Second)
	a2.Stop(t, 10*time.Second)

	live := testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg1.Kafka.Topics.Alerts))
	_, dup := testkit.ByID(live)
	require.Zero(t, dup)
	want := testkit.Replay(t, cfg1, recs)
	everyDetector(t, cfg1, want)
	sameAlerts(t, want, live)
}

// TestDLQ mixes bad records with good ones: each bad record must reach the
// DLQ with its key, bytes, reason and source, and the good ones must still
// give their alerts.
func TestDLQ(t *testing.T) {
	t.Parallel()
	brokers := testkit.Cluster(t)
	cfg := perCustomerConfig(t, brokers)
	cfg.HTTP.Listen = "127.0.0.1:0"
	require.NotEmpty(t, cfg.Journeys, "the allow-list is needed for the unknown journey case")

	good := testkit.Generate(2000, 100, seed+2, start, 10*time.Second)
	type bad struct {
		rec    testkit.Record
		reason string
	}
	big := `{"customer_id":"cust-big","time":"2026-03-01T09:00:00Z","journey":"delivery","attributes":{"note":"` +
		strings.Repeat("x", 70<<10) + `"}}`
	bads := []bad{
		{testkit.Record{Key: []byte("cust-00001"), Value: []byte(`{"customer_id":"cust-00001","time":`)}, "invalid JSON"},
		{testkit.Record{Key: []byte("cust-00002"), Value: []byte(`not json at all`)}, "invalid JSON at byte 0"},
		{testkit.Record{Key: []byte("cust-00003"), Value: []byte(`{"customer_id":"cust-00003","journey":"delivery"}`)}, `missing field "time"`},
		{testkit.Record{Key: []byte("cust-00004"), Value: []byte(`{"customer_id":"cust-00004","time":"2026-03-01T09:00:00Z","journey":"delivery","metrics":{"delay_hours":"late"}}`)}, `field "metrics.delay_hours": want a finite number`},
		{testkit.Record{Key: []byte("cust-00005"), Value: []byte(`{"customer_id":"cust-00005","time":"2026-03-01T09:00:00Z","journey":"delivery","metrics":[1,2]}`)}, `field "metrics": want an object of numbers`},
		{testkit.Record{Key: []byte("cust-big"), Value: []byte(big)}, "record too large"},
		{testkit.Record{Key: []byte("cust-00006"), Value: []byte(`{"customer_id":"cust-00006","time":"2026-03-01T09:00:00Z","journey":"teleport"}`)}, `unknown journey "teleport"`},
		{testkit.Record{Key: nil, Value: []byte(`{"time":"2026-03-01T09:00:00Z","journey":"delivery"}`)}, `missing field "customer_id"`},
	}
	require.Greater(t, len(bads[5].rec.Value), 64<<10)
	// Interleave: a bad record every 200 good ones.
	var all []testkit.Record
	var badAt []int
	for i, r := range good {
		if i%200 == 100 && len(badAt) < len(bads) {
			badAt = append(badAt, len(all))
			all = append(all, bads[len(badAt)-1].rec)
		}
		all = append(all, r)
	}
	require.Len(t, badAt, len(bads))

	a := testkit.StartApp(t, app.Options{Config: cfg})
	produced := testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences, all)
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, cfg.Kafka.Topics.Experiences)

	dlq := testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.DLQ)
	require.Len(t, dlq, len(bads), "DLQ records")
	bySource := map[string]*kgo.Record{}
	for _, r := range dlq {
		src := header(r, stream.HeaderSource)
		require.NotEmpty(t, src, "DLQ record without %s", stream.HeaderSource)
		bySource[src] = r
	}
	for i, b := range bads {
		p := produced[badAt[i]]
		src := fmt.Sprintf("%s/%d/%d", cfg.Kafka.Topics.Experiences, p.Partition, p.Offset)
		d := bySource[src]
		require.NotNil(t, d, "bad record %d (%s) not on the DLQ as %s", i, b.reason, src)
		require.Equal(t, b.rec.Key, nilIfEmpty(d.Key), "DLQ key of bad record %d", i)
		require.True(t, bytes.Equal(b.rec.Value, d.Value), "DLQ value of bad record %d", i)
		require.Contains(t, header(d, stream.HeaderError), b.reason, "DLQ reason of bad record %d", i)
	}

	// The good records still give exactly their alerts.
	want := testkit.Replay(t, cfg, good)
	require.NotEmpty(t, want)
	live := testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts))
	sameAlerts(t, want, live)

	_, body := testkit.Get(t, a.Addr, "/metrics")
	invalid, _ := testkit.Metric(body, "peakend_events_total", "result", "invalid")
	require.EqualValues(t, len(bads), invalid, "peakend_events_total{result=invalid}")
	processed, _ := testkit.Metric(body, "peakend_events_total", "result", "processed")
	require.EqualValues(t, len(good), processed, "peakend_events_total{result=processed}")

	// And it keeps going: one more bad, one more good that alerts.
	more := []testkit.Record{
		{Key: []byte("cust-late"), Value: []byte(`{{{`)},
		{Key: []byte("cust-late"), Value: []byte(`{"event_id":"late-1","customer_id":"cust-late","time":"2026-03-05T00:00:00Z","journey":"delivery","outcome":"delivered","metrics":{"delay_hours":200}}`)},
	}
	testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences, more)
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 30*time.Second, cfg.Kafka.Topics.Experiences)
	returned, err := a.Done()
	require.False(t, returned, "the pipeline stopped: %v", err)
	require.Len(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.DLQ), len(bads)+1)
	found := false
	for _, x := range testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts)) {
		if x.CustomerID == "cust-late" {
			found = true
			require.Equal(t, "late_delivery", x.Detector)
			require.Equal(t, alerts.Critical, x.Severity)
		}
	}
	require.True(t, found, "no alert for the good record after the bad ones")
	a.Stop(t, 10*time.Second)
}

// TestComplaints: a complaint (on the co-partitioned complaints topic)
// before a customer's later bad experience marks that alert
// complained_before, and is counted.
func TestComplaints(t *testing.T) {
	t.Parallel()
	brokers := testkit.Cluster(t)
	cfg := perCustomerConfig(t, brokers)
	cfg.HTTP.Listen = "127.0.0.1:0"
	exp, comp := cfg.Kafka.Topics.Experiences, cfg.Kafka.Topics.Complaints
	prod := testkit.Client(t, brokers)

	ev := func(id, cust string, at time.Time, delay float64) testkit.Record {
		return testkit.Record{Key: []byte(cust), Value: fmt.Appendf(nil,
			`{"event_id":%q,"customer_id":%q,"time":%q,"journey":"delivery","outcome":"delivered","metrics":{"delay_hours":%g}}`,
			id, cust, at.Format(time.RFC3339), delay)}
	}
	complaint := func(cust string, at time.Time) testkit.Record {
		return testkit.Record{Key: []byte(cust), Value: fmt.Appendf(nil,
			`{"customer_id":%q,"time":%q,"channel":"email","text":"where is my parcel?"}`, cust, at.Format(time.RFC3339))}
	}
	t0 := start

	a := testkit.StartApp(t, app.Options{Config: cfg})
	// Alice: a minor alert, then a complaint (flagged before it), then a
	// critical delivery after the complaint. Bob: the same, without complaint.
	p1 := testkit.Produce(t, prod, exp, []testkit.Record{
		ev("a1", "alice", t0, 30), ev("b1", "bob", t0, 30),
	})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 30*time.Second, exp)
	pc := testkit.Produce(t, prod, comp, []testkit.Record{complaint("alice", t0.Add(time.Hour))})
	require.Equal(t, p1[0].Partition, pc[0].Partition, "complaints must be co-partitioned with experiences")
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 30*time.Second, exp, comp)
	testkit.Produce(t, prod, exp, []testkit.Record{
		ev("a2", "alice", t0.Add(2*time.Hour), 200), ev("b2", "bob", t0.Add(2*time.Hour), 200),
	})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 30*time.Second, exp, comp)

	got := map[string]*alerts.Alert{}
	for _, x := range testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts)) {
		got[x.CustomerID+"/"+x.Evidence[0].EventID] = x
	}
	require.Len(t, got, 4, "alerts: %v", slices.Collect(maps.Keys(got)))
	require.False(t, got["alice/a1"].ComplainedBefore)
	require.True(t, got["alice/a2"].ComplainedBefore, "alert after alice's complaint")
	require.Equal(t, alerts.Critical, got["alice/a2"].Severity)
	require.False(t, got["bob/b1"].ComplainedBefore)
	require.False(t, got["bob/b2"].ComplainedBefore)

	_, body := testkit.Get(t, a.Addr, "/metrics")
	n, _ := testkit.Metric(body, "peakend_complaints_total")
	require.EqualValues(t, 1, n, "peakend_complaints_total")
	n, _ = testkit.Metric(body, "peakend_complaints_flagged_before_total")
	require.EqualValues(t, 1, n, "peakend_complaints_flagged_before_total")
	a.Stop(t, 10*time.Second)
}

// TestComplaintSameCycle: a complaint and a later bad experience that reach
// the pipeline in the same poll are joined in time order, as replay joins them.
func TestComplaintSameCycle(t *testing.T) {
	t.Parallel()
	brokers := testkit.Cluster(t)
	cfg := perCustomerConfig(t, brokers)
	exp, comp := cfg.Kafka.Topics.Experiences, cfg.Kafka.Topics.Complaints
	prod := testkit.Client(t, brokers)
	t0 := start
	// Produced before the pipeline starts, complaint first: both arrive in
	// its first poll.
	testkit.Produce(t, prod, comp, []testkit.Record{{Key: []byte("carol"), Value: fmt.Appendf(nil,
		`{"customer_id":"carol","time":%q}`, t0.Format(time.RFC3339))}})
	testkit.Produce(t, prod, exp, []testkit.Record{{Key: []byte("carol"), Value: fmt.Appendf(nil,
		`{"event_id":"c1","customer_id":"carol","time":%q,"journey":"delivery","metrics":{"delay_hours":100}}`,
		t0.Add(time.Hour).Format(time.RFC3339))}})
	a := testkit.StartApp(t, app.Options{Config: cfg})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 30*time.Second, exp, comp)
	a.Stop(t, 10*time.Second)
	as := testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts))
	require.Len(t, as, 1)
	require.True(t, as[0].ComplainedBefore, "the complaint came an hour before the late delivery")
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
