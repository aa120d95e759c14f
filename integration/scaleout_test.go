//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/httpapi"
	"github.com/peakend/peakend/internal/demo"
	"github.com/peakend/peakend/internal/testkit"
)

// Scale-out on the real broker (docs/reference.md, "Guarantees"): when
// an instance dies or joins, the partitions that move take their state with
// them through the changelog, timers included; /readyz is false while they
// restore; and the alerts under read_committed are replay's.

var scaleStart = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// plantSpanning replaces records of recs (event times 10 s apart from
// scaleStart) with the history of n customers that spans index h: three
// ordinary deliveries and a dropped support call before h; after h+gap, a
// second dropped call (a repeat, with the first) and then a delivery far
// worse than their usual (a baseline finding). Both detections need the
// history from before h.
func plantSpanning(recs []testkit.Record, n, h, gap int) []string {
	var ids []string
	ev := func(i int, cust, journey, outcome, metric string, v float64) {
		tm := scaleStart.Add(time.Duration(i) * 10 * time.Second).Format(time.RFC3339Nano)
		recs[i] = testkit.Record{Key: []byte(cust), Value: fmt.Appendf(nil,
			`{"event_id":"plant-%d","customer_id":%q,"time":%q,"journey":%q,"outcome":%q,"metrics":{%q:%g}}`,
			i, cust, tm, journey, outcome, metric, v)}
	}
	for k := range n {
		cust := fmt.Sprintf("span-%02d", k)
		ids = append(ids, cust)
		for j := range 3 {
			ev(h-3000+j*100+k, cust, "delivery", "delivered", "delay_hours", 2)
		}
		ev(h-2000+k, cust, "support_call", "dropped", "wait_seconds", 100)
		ev(h+gap+k, cust, "support_call", "dropped", "wait_seconds", 100)
		ev(h+gap+2200+k, cust, "delivery", "delivered", "delay_hours", 20)
	}
	return ids
}

// spanningDetections requires that every planted customer got both the
// repeat and the baseline alert, which only their history makes possible.
func spanningDetections(t *testing.T, ids []string, live []*alerts.Alert) {
	t.Helper()
	got := map[string]int{}
	for _, a := range live {
		if slices.Contains(ids, a.CustomerID) {
			got[a.Detector]++
		}
	}
	t.Logf("alerts of the planted customers: %v", got)
	require.Equal(t, len(ids), got["repeated_failures"], "repeat alerts of the planted customers")
	require.Equal(t, len(ids), got["worse_than_usual"], "baseline alerts of the planted customers")
}

// partitionOf returns the partition each key was produced to.
func partitionOf(produced []*kgo.Record) map[string]int32 {
	out := map[string]int32{}
	for _, r := range produced {
		out[string(r.Key)] = r.Partition
	}
	return out
}

// assignment is testkit.Assignment, empty while the group coordinator is
// not available yet (a fresh broker creates its offsets topic on first use).
func assignment(t *testing.T, bs []string, group string) map[string]map[string][]int32 {
	t.Helper()
	adm := kadm.NewClient(testkit.Client(t, bs))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := adm.DescribeGroups(ctx, group); err != nil {
		return nil
	}
	return testkit.Assignment(t, bs, group)
}

// memberPartitions returns the partitions of topic assigned to the group
// member whose client id is clientID (member ids start with it).
func memberPartitions(as map[string]map[string][]int32, clientID, topic string) []int32 {
	for member, tps := range as {
		if strings.HasPrefix(member, clientID+"-") {
			return tps[topic]
		}
	}
	return nil
}

// onPartitions returns the ids whose partition is one of ps.
func onPartitions(ids []string, part map[string]int32, ps []int32) []string {
	var out []string
	for _, id := range ids {
		if p, ok := part[id]; ok && slices.Contains(ps, p) {
			out = append(out, id)
		}
	}
	return out
}

// readyWatch samples an instance's peakend_restoring_partitions and /readyz
// in a tight loop until finish: the gauge, and while it counts a restore,
// /readyz, then the gauge again. A restore in progress before and after a
// /readyz of 200 is an instance that claimed to be ready while it restored.
type readyWatch struct {
	p          *peakend
	stop, done chan struct{}
	cl         *http.Client
	// Written by run only, read after done is closed.
	samples    int // complete samples
	restoring  int // samples that saw a restore in progress
	notReady   int // ... with /readyz not 200
	violations int // restoring, 200, restoring
}

func watchReady(p *peakend) *readyWatch {
	w := &readyWatch{p: p, stop: make(chan struct{}), done: make(chan struct{}),
		cl: &http.Client{Timeout: 2 * time.Second}}
	go w.run()
	return w
}

func (w *readyWatch) gauge() (float64, bool) {
	resp, err := w.cl.Get("http://" + w.p.Addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, false
	}
	return testkit.Metric(body, "peakend_restoring_partitions")
}

func (w *readyWatch) readyz() int {
	resp, err := w.cl.Get("http://" + w.p.Addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (w *readyWatch) run() {
	defer close(w.done)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		r1, ok := w.gauge()
		if !ok {
			time.Sleep(time.Millisecond)
			continue
		}
		if r1 == 0 { // nothing restoring: sample again at once
			w.samples++
			continue
		}
		code := w.readyz()
		if code == 0 {
			continue
		}
		w.samples++
		w.restoring++
		if code != http.StatusOK {
			w.notReady++
		} else if r2, ok := w.gauge(); ok && r2 > 0 {
			w.violations++
		}
	}
}

// finish stops sampling and requires that the instance was never ready
// while it restored; if observed, also that it was seen restoring while not
// ready (a restore of a few thousand records may pass between two samples).
func (w *readyWatch) finish(t *testing.T, observed bool) {
	t.Helper()
	close(w.stop)
	<-w.done
	t.Logf("readiness samples: %d, %d during a restore (%d with /readyz not 200, %d with 200)",
		w.samples, w.restoring, w.notReady, w.violations)
	require.Zero(t, w.violations, "/readyz answered 200 while partitions were restoring")
	if observed {
		require.Positive(t, w.notReady, "no sample saw the restore in progress with /readyz not 200")
	}
}

// readyWith reports whether the instance's /readyz is 200 and it owns
// partitions (want of them, if want > 0).
func readyWith(p *peakend, want float64) bool {
	if _, err := httpGet(p.Addr, "/readyz"); err != nil {
		return false
	}
	n := p.metric("peakend_partitions_owned")
	return n > 0 && (want == 0 || n == want)
}

// TestFailoverRealBroker: two exactly-once instances share four partitions;
// one is killed with SIGKILL while it works. The other takes its partitions
// over, restores their state from the changelog (not ready meanwhile), and
// the read_committed alerts are replay's over the whole input, each once,
// including repeat and baseline detections whose history began on the
// instance that died.
func TestFailoverRealBroker(t *testing.T) {
	bs := brokers(t)
	const events, customers = 40_000, 2_000
	recs := testkit.Generate(events, customers, 41, scaleStart, 10*time.Second)
	h := events / 2
	ids := plantSpanning(recs, 20, h, 500)
	n := newNames(t, "fo")
	exp := n.Experiences
	createTopics(t, bs, 4, exp)
	nv, ns := n, n
	nv.ClientID, nv.State = "peakend-victim", t.TempDir()
	ns.ClientID = "peakend-survivor"
	cfgV, _ := writeConfig(t, bs, nv, "  exactly_once: true\n")
	cfgS, cfg := writeConfig(t, bs, ns, "  exactly_once: true\n")
	began := time.Now()

	victim := startPeakend(t, cfgV)
	survivor := startPeakend(t, cfgS)
	var moved []int32
	testkit.Eventually(t, 60*time.Second, "two members sharing the partitions", func() bool {
		as := assignment(t, bs, n.Group)
		moved = memberPartitions(as, nv.ClientID, exp)
		return len(as) == 2 && len(moved) > 0 && len(memberPartitions(as, ns.ClientID, exp)) > 0
	})
	cl := testkit.Client(t, bs)
	part := partitionOf(testkit.Produce(t, cl, exp, recs[:h]))
	spanning := onPartitions(ids, part, moved)
	t.Logf("the victim owns %v, with %d of the %d planted customers", moved, len(spanning), len(ids))
	require.NotEmpty(t, spanning, "no planted customer on the victim's partitions: the move would prove nothing")
	testkit.WaitConsumed(t, bs, n.Group, 2*time.Minute, exp)

	// Mid-stream: the victim is killed while it works on the next records,
	// before the planted customers' second halves.
	doneBefore := victim.metric("peakend_events_total", "result", "processed")
	restoredBefore := survivor.metric("peakend_restore_records_total")
	testkit.Produce(t, cl, exp, recs[h:h+400])
	testkit.Eventually(t, 30*time.Second, "the victim working on new records", func() bool {
		return victim.metric("peakend_events_total", "result", "processed") > doneBefore
	})
	watch := watchReady(survivor)
	victim.kill(t)
	killed := time.Now()
	testkit.Produce(t, cl, exp, recs[h+400:])
	testkit.WaitConsumed(t, bs, n.Group, 2*time.Minute, exp)
	t.Logf("the survivor caught up %s after the kill", time.Since(killed).Round(time.Millisecond))
	require.Equal(t, []int32{0, 1, 2, 3}, memberPartitions(assignment(t, bs, n.Group), ns.ClientID, exp),
		"the survivor's partitions")
	watch.finish(t, false)
	restored := survivor.metric("peakend_restore_records_total") - restoredBefore
	t.Logf("the survivor restored %.0f changelog records", restored)
	require.Positive(t, restored, "the survivor restored nothing")
	_, err := httpGet(survivor.Addr, "/readyz")
	require.NoError(t, err, "/readyz after the takeover")
	survivor.terminate(t, 10*time.Second)

	live := testkit.Alerts(t, testkit.ReadCommitted(t, bs, n.Alerts))
	_, dup := testkit.ByID(live)
	require.Zero(t, dup, "a read_committed consumer saw an alert_id twice")
	want := testkit.Replay(t, cfg, recs)
	everyDetector(t, cfg, want)
	sameAlertSet(t, want, live)
	spanningDetections(t, ids, live)
	t.Logf("%d alerts, each once, equal to replay's; %s in all", len(live), time.Since(began).Round(time.Millisecond))
}

// TestInstanceAddedRealBroker (at-least-once): one instance consumes the
// first half; a second joins the group. The partitions it takes bring their
// state along through the changelog (it is not ready until they are
// restored), and the alerts equal replay's, none repeated.
func TestInstanceAddedRealBroker(t *testing.T) {
	bs := brokers(t)
	const events, customers = 40_000, 2_000
	recs := testkit.Generate(events, customers, 43, scaleStart, 10*time.Second)
	h := events / 2
	ids := plantSpanning(recs, 20, h, 500)
	n := newNames(t, "add")
	exp := n.Experiences
	createTopics(t, bs, 4, exp)
	n1, n2 := n, n
	n1.ClientID = "peakend-first"
	n2.ClientID, n2.State = "peakend-joiner", t.TempDir()
	cfg1, cfg := writeConfig(t, bs, n1, "")
	cfg2, _ := writeConfig(t, bs, n2, "")
	began := time.Now()

	cl := testkit.Client(t, bs)
	part := partitionOf(testkit.Produce(t, cl, exp, recs[:h]))
	first := startPeakend(t, cfg1)
	testkit.WaitConsumed(t, bs, n.Group, 2*time.Minute, exp)

	joiner := startPeakend(t, cfg2)
	watch := watchReady(joiner)
	testkit.Eventually(t, 60*time.Second, "the new instance ready with partitions", func() bool {
		return readyWith(joiner, 0)
	})
	watch.finish(t, false)
	as := assignment(t, bs, n.Group)
	moved := memberPartitions(as, n2.ClientID, exp)
	spanning := onPartitions(ids, part, moved)
	t.Logf("the joiner took %v, with %d of the %d planted customers", moved, len(spanning), len(ids))
	require.NotEmpty(t, spanning, "no planted customer on the joiner's partitions: the move would prove nothing")
	restored := joiner.metric("peakend_restore_records_total")
	t.Logf("the joiner restored %.0f changelog records", restored)
	require.Positive(t, restored, "the new instance restored nothing")

	testkit.Produce(t, cl, exp, recs[h:])
	testkit.WaitConsumed(t, bs, n.Group, 2*time.Minute, exp)
	require.Len(t, assignment(t, bs, n.Group), 2, "members")
	joiner.terminate(t, 10*time.Second)
	first.terminate(t, 10*time.Second)

	live, dup := readAlerts(t, bs, n.Alerts)
	require.Zero(t, dup, "an alert_id was produced twice, though no instance crashed")
	want := testkit.Replay(t, cfg, recs)
	everyDetector(t, cfg, want)
	sameAlertSet(t, want, live)
	spanningDetections(t, ids, live)
	t.Logf("%d alerts, equal to replay's; %s in all", len(live), time.Since(began).Round(time.Millisecond))
}

// brokenPromise is the deadline detector of TestTimersMoveWithPartition.
const brokenPromise = `  - {name: broken_promise, type: deadline, journey: delivery, start: {outcome: promised},
     until: {outcome: delivered}, deadline_attribute: promised_by}
`

// plantPromises replaces records of recs (event times step apart from
// scaleStart) with n orders promised within an hour, before index h, that
// are never delivered (broken), and n promised alike and delivered in time
// after h (kept).
func plantPromises(recs []testkit.Record, step time.Duration, n, h int) (broken, kept []string) {
	at := func(i int) time.Time { return scaleStart.Add(time.Duration(i) * step) }
	ev := func(i int, cust, outcome, attrs string) {
		recs[i] = testkit.Record{Key: []byte(cust), Value: fmt.Appendf(nil,
			`{"event_id":"plant-%d","customer_id":%q,"time":%q,"journey":"delivery","outcome":%q,"metrics":{"delay_hours":0},"attributes":{%s}}`,
			i, cust, at(i).Format(time.RFC3339Nano), outcome, attrs)}
	}
	promise := func(i int, cust string) {
		ev(i, cust, "promised", fmt.Sprintf(`"order_id":"po-%s","promised_by":%q`, cust, at(i).Add(time.Hour).Format(time.RFC3339Nano)))
	}
	for k := range n {
		b, kp := fmt.Sprintf("promise-%02d", k), fmt.Sprintf("kept-%02d", k)
		broken, kept = append(broken, b), append(kept, kp)
		promise(h-1000+k*20, b)
		promise(h-1000+k*20+10, kp)
		ev(h+200+k*20, kp, "delivered", fmt.Sprintf(`"order_id":"po-%s"`, kp))
	}
	return broken, kept
}

// waitApplied waits until p has applied at least n events to its state
// (peakend_events_total, all results, is published after the Pebble
// commit) and returns how long that took. Under exactly-once a cycle's
// offsets commit with its transaction and peakend applies the cycle to
// Pebble only after the commit returns, so the group's committed offsets
// (testkit.WaitConsumed) can show a cycle that p's /customers view and
// metrics do not show yet (on Kafka 4.4.0 this test once read a 404 for a
// customer of A's last cycle right after WaitConsumed).
func waitApplied(t *testing.T, p *peakend, n int) time.Duration {
	t.Helper()
	began := time.Now()
	waitMetric(t, p, 30*time.Second, float64(n), "peakend_events_total")
	return time.Since(began).Round(time.Millisecond)
}

// journey returns the customer's broken_promise journey on /customers/{id}.
func journey(t *testing.T, p *peakend, id string) httpapi.JourneyView {
	t.Helper()
	body, err := httpGet(p.Addr, "/customers/"+id)
	require.NoError(t, err, "/customers/%s", id)
	var v httpapi.CustomerView
	require.NoError(t, json.Unmarshal(body, &v))
	for _, j := range v.Journeys {
		if j.Detector == "broken_promise" {
			return j
		}
	}
	require.FailNowf(t, "no broken_promise journey", "customer %s: %s", id, body)
	return httpapi.JourneyView{}
}

// TestTimersMoveWithPartition (issue 5): instance A processes orders whose
// promises are still open and is killed with SIGKILL before the watermark
// passes their deadlines. Instance B takes the partitions over: it shows
// the same open journeys and due times (the timers came through the
// changelog), and when later events move the watermark past the deadlines,
// the broken promises fire on B, each once under read_committed, the kept
// ones not at all, and the alerts are replay's.
func TestTimersMoveWithPartition(t *testing.T) {
	bs := brokers(t)
	const events, customers, planted = 20_000, 2_000, 16
	const step = 2 * time.Second // the input spans 11 hours
	g := demo.NewGenerator(customers, 47)
	g.NoOrders = true // the planted orders are the only journeys: their timing is known
	recs := make([]testkit.Record, events)
	for i := range recs {
		k, v := g.Next(scaleStart.Add(time.Duration(i) * step))
		recs[i] = testkit.Record{Key: k, Value: v}
	}
	h := events / 2
	broken, kept := plantPromises(recs, step, planted, h)
	n := newNames(t, "timers")
	exp := n.Experiences
	createTopics(t, bs, 4, exp)
	na, nb := n, n
	na.ClientID = "peakend-a"
	nb.ClientID, nb.State = "peakend-b", t.TempDir()
	// Watermarks move with event time only (the idle rule would move them
	// with the wall clock): the later events are what passes the deadlines.
	extra := extraYAML{Top: "events: {allowed_lateness: 1h, idle_timeout: 1h}\n", Detectors: brokenPromise}
	cfgA, cfg := writeConfigWith(t, bs, na, "  exactly_once: true\n", extra)
	cfgB, _ := writeConfigWith(t, bs, nb, "  exactly_once: true\n", extra)
	began := time.Now()

	cl := testkit.Client(t, bs)
	part := partitionOf(testkit.Produce(t, cl, exp, recs[:h]))
	a := startPeakend(t, cfgA)
	testkit.WaitConsumed(t, bs, n.Group, 2*time.Minute, exp)
	t.Logf("A showed every event %s after the group's offsets did", waitApplied(t, a, h))
	onA := map[string]httpapi.JourneyView{}
	for _, id := range append(slices.Clone(broken), kept...) {
		j := journey(t, a, id)
		require.Equal(t, "open", j.Status, "customer %s's journey on A", id)
		require.NotNil(t, j.Due, "customer %s's timer on A", id)
		onA[id] = j
	}
	for _, al := range testkit.Alerts(t, testkit.ReadCommitted(t, bs, n.Alerts)) {
		require.NotEqual(t, "broken_promise", al.Detector, "a promise broke before its deadline: %+v", al)
	}
	parts := map[int32]int{}
	for _, id := range broken {
		parts[part[id]]++
	}
	t.Logf("A holds %d open promises; the broken ones per partition: %v", 2*planted, parts)
	a.kill(t)

	b := startPeakend(t, cfgB)
	watch := watchReady(b)
	testkit.Eventually(t, 60*time.Second, "B ready with all four partitions", func() bool { return readyWith(b, 4) })
	watch.finish(t, false)
	restored := b.metric("peakend_restore_records_total")
	t.Logf("B restored %.0f changelog records", restored)
	require.Positive(t, restored, "B restored nothing")
	for id, ja := range onA {
		jb := journey(t, b, id)
		require.Equal(t, "open", jb.Status, "customer %s's journey on B", id)
		require.NotNil(t, jb.Due, "customer %s's timer on B", id)
		require.True(t, ja.Due.Equal(*jb.Due), "customer %s's due time: A %s, B %s", id, ja.Due, jb.Due)
	}
	require.Zero(t, b.metric("peakend_alerts_total", "detector", "broken_promise"), "B fired before the later events")

	testkit.Produce(t, cl, exp, recs[h:])
	testkit.WaitConsumed(t, bs, n.Group, 2*time.Minute, exp)
	t.Logf("B showed every event %s after the group's offsets did", waitApplied(t, b, events-h))
	// (A cycle redone after an aborted transaction would count twice here;
	// the alerts topic below is where each must appear once.)
	require.GreaterOrEqual(t, b.metric("peakend_alerts_total", "detector", "broken_promise"), float64(planted),
		"broken_promise alerts fired on B")
	for _, id := range broken {
		require.Equal(t, "alerted", journey(t, b, id).Status, "customer %s's journey on B", id)
	}
	b.terminate(t, 10*time.Second)

	live := testkit.Alerts(t, testkit.ReadCommitted(t, bs, n.Alerts))
	_, dup := testkit.ByID(live)
	require.Zero(t, dup, "a read_committed consumer saw an alert_id twice")
	fired := map[string]int{}
	for _, al := range live {
		if al.Detector == "broken_promise" {
			fired[al.CustomerID]++
		}
	}
	for _, id := range broken {
		require.Equal(t, 1, fired[id], "broken_promise alerts of %s", id)
	}
	for _, id := range kept {
		require.Zero(t, fired[id], "broken_promise alerts of %s, whose order came in time", id)
	}
	require.Len(t, fired, planted, "customers with broken_promise alerts")
	want := testkit.Replay(t, cfg, recs)
	everyDetector(t, cfg, want)
	sameAlertSet(t, want, live)
	t.Logf("%d alerts (%d broken promises, fired on B), each once, equal to replay's; %s in all",
		len(live), planted, time.Since(began).Round(time.Millisecond))
}

// TestReadyzFalseWhileRestoring: an instance that joins a group whose
// partitions hold a large state restores them from the changelog before it
// processes them. Sampled as fast as HTTP allows, /readyz is never 200 while
// a restore is in progress, is seen not 200 during it, and is 200 after.
func TestReadyzFalseWhileRestoring(t *testing.T) {
	bs := brokers(t)
	const events = 400_000
	// Each event a new customer: every event leaves a header and a window
	// slot in state, so the changelog is large for its input.
	g := demo.NewGenerator(events, 53)
	g.Sequential = true
	recs := make([]testkit.Record, events)
	for i := range recs {
		k, v := g.Next(scaleStart.Add(time.Duration(i) * time.Second))
		recs[i] = testkit.Record{Key: k, Value: v}
	}
	n := newNames(t, "readyz")
	exp := n.Experiences
	createTopics(t, bs, 4, exp)
	n1, n2 := n, n
	n1.ClientID = "peakend-first"
	n2.ClientID, n2.State = "peakend-joiner", t.TempDir()
	cfg1, _ := writeConfig(t, bs, n1, "")
	cfg2, _ := writeConfig(t, bs, n2, "")
	began := time.Now()
	testkit.Produce(t, testkit.Client(t, bs), exp, recs)
	first := startPeakend(t, cfg1)
	testkit.WaitConsumed(t, bs, n.Group, 3*time.Minute, exp)
	t.Logf("first instance consumed %d events in %s", events, time.Since(began).Round(time.Millisecond))

	joiner := startPeakend(t, cfg2)
	watch := watchReady(joiner)
	testkit.Eventually(t, 60*time.Second, "the new instance ready with partitions", func() bool {
		return readyWith(joiner, 0)
	})
	watch.finish(t, true)
	restored := joiner.metric("peakend_restore_records_total")
	t.Logf("the joiner restored %.0f changelog records of partitions %v", restored,
		memberPartitions(assignment(t, bs, n.Group), n2.ClientID, exp))
	require.Positive(t, restored, "the new instance restored nothing")
	joiner.terminate(t, 10*time.Second)
	first.terminate(t, 10*time.Second)
}
