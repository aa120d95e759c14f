package stream_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/replay"
	"github.com/peakend/peakend/state"
)

// TestFeedbackRecoveredBefore: a "recovered" outcome on the feedback
// topic (keyed by customer id, co-partitioned like complaints) reaches
// the partition that holds the customer, and their next alert says
// recovered_before; a claim and a malformed record change nothing. The
// feedback topic's offsets are kept in Pebble with the state, so a restart
// reads on from there and does not apply the recovery again.
func TestFeedbackRecoveredBefore(t *testing.T) {
	t.Parallel()
	brokers := testkit.Cluster(t)
	cfg := perCustomerConfig(t, brokers)
	cfg.HTTP.Listen = "127.0.0.1:0"
	exp, fb := cfg.Kafka.Topics.Experiences, cfg.Kafka.Topics.Feedback
	prod := testkit.Client(t, brokers)
	t0 := start
	ev := func(id, cust string, at time.Time, delay float64) testkit.Record {
		return testkit.Record{Key: []byte(cust), Value: fmt.Appendf(nil,
			`{"event_id":%q,"customer_id":%q,"time":%q,"journey":"delivery","outcome":"delivered","metrics":{"delay_hours":%g}}`,
			id, cust, at.Format(time.RFC3339), delay)}
	}
	feedback := func(alert, cust, action, outcome string, at time.Time) testkit.Record {
		o := ""
		if outcome != "" {
			o = fmt.Sprintf(`,"outcome":%q`, outcome)
		}
		return testkit.Record{Key: []byte(cust), Value: fmt.Appendf(nil,
			`{"alert_id":%q,"customer_id":%q,"time":%q,"action":%q%s,"by":"sam"}`, alert, cust, at.Format(time.RFC3339), action, o)}
	}

	a := testkit.StartApp(t, app.Options{Config: cfg})
	var all, fbs []testkit.Record // what was produced, for the replay below
	p1 := testkit.Produce(t, prod, exp, []testkit.Record{ev("a1", "alice", t0, 30), ev("b1", "bob", t0, 30)})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 30*time.Second, exp)
	first := map[string]string{} // customer → first alert id
	for _, x := range testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts)) {
		first[x.CustomerID] = x.AlertID
	}
	require.Len(t, first, 2)
	fbs = []testkit.Record{
		feedback(first["alice"], "alice", "outcome", "recovered", t0.Add(time.Hour)),
		feedback(first["bob"], "bob", "claim", "", t0.Add(time.Hour)),
		{Key: []byte("alice"), Value: []byte(`{"customer_id":"alice","action":"outcome"}`)},
	}
	pf := testkit.Produce(t, prod, fb, fbs)
	require.Equal(t, p1[0].Partition, pf[0].Partition, "feedback must be co-partitioned with experiences")
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 30*time.Second, exp, fb)
	for member, tps := range testkit.Assignment(t, brokers, cfg.Kafka.Group) {
		require.Equal(t, tps[exp], tps[fb], "member %s: feedback partitions follow the experiences'", member)
	}
	testkit.Produce(t, prod, exp, []testkit.Record{ev("a2", "alice", t0.Add(2*time.Hour), 200), ev("b2", "bob", t0.Add(2*time.Hour), 200)})
	all = append(all, ev("a1", "alice", t0, 30), ev("b1", "bob", t0, 30), ev("a2", "alice", t0.Add(2*time.Hour), 200),
		ev("b2", "bob", t0.Add(2*time.Hour), 200), ev("a3", "alice", t0.Add(10*time.Hour), 200))
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 30*time.Second, exp, fb)
	_, body := testkit.Get(t, a.Addr, "/metrics")
	n, _ := testkit.Metric(body, "peakend_engine_feedback_records_total", "result", "recovered")
	require.EqualValues(t, 1, n)
	n, _ = testkit.Metric(body, "peakend_engine_feedback_records_total", "result", "malformed")
	require.EqualValues(t, 1, n)
	a.Stop(t, 10*time.Second)

	got := map[string]*alerts.Alert{}
	for _, x := range testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts)) {
		got[x.CustomerID+"/"+x.Evidence[0].EventID] = x
	}
	require.Len(t, got, 4)
	require.False(t, got["alice/a1"].RecoveredBefore)
	require.True(t, got["alice/a2"].RecoveredBefore, "alert after alice's recovery")
	require.False(t, got["bob/b1"].RecoveredBefore)
	require.False(t, got["bob/b2"].RecoveredBefore, "a claim is not a recovery")
	require.Empty(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.DLQ), "the engine does not send feedback to the DLQ (the desk does)")

	// The offsets of the feedback topic are in Pebble, with the state.
	st, err := state.Open(state.Options{Dir: cfg.State.Dir})
	require.NoError(t, err)
	next, err := st.Offset(pf[0].Partition, fb)
	require.NoError(t, err)
	want := 0
	for _, r := range pf {
		if r.Partition == pf[0].Partition {
			want++
		}
	}
	require.EqualValues(t, want, next, "the feedback records of alice's partition, all read")
	require.NoError(t, st.Close())

	// A restart reads on from there: nothing applied again, and the mark
	// is still there for the next alert.
	a = testkit.StartApp(t, app.Options{Config: cfg})
	testkit.Produce(t, prod, exp, []testkit.Record{ev("a3", "alice", t0.Add(10*time.Hour), 200)})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 30*time.Second, exp, fb)
	_, body = testkit.Get(t, a.Addr, "/metrics")
	n, _ = testkit.Metric(body, "peakend_engine_feedback_records_total", "result", "recovered")
	require.Zero(t, n, "feedback read again after the restart")
	a.Stop(t, 10*time.Second)
	as := testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts))
	i := slices.IndexFunc(as, func(x *alerts.Alert) bool { return x.Evidence[0].EventID == "a3" })
	require.GreaterOrEqual(t, i, 0, "alert for a3")
	require.True(t, as[i].RecoveredBefore)

	// replay --feedback over the same records says the same.
	var out bytes.Buffer
	_, err = replay.Run(context.Background(), replay.Options{Config: cfg, Input: testkit.WriteJSONL(t, all),
		Feedback: testkit.WriteJSONL(t, fbs), Out: &out})
	require.NoError(t, err)
	replayed := testkit.AlertsJSONL(t, out.Bytes())
	require.Len(t, replayed, len(as))
	live, _ := testkit.ByID(as)
	for _, r := range replayed {
		require.NotNil(t, live[r.AlertID], "replay's alert %s live", r.AlertID)
		require.Equal(t, live[r.AlertID].RecoveredBefore, r.RecoveredBefore, "recovered_before of %s", r.Evidence[0].EventID)
	}
}
