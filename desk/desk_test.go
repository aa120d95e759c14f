package desk_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/peakend/peakend/desk"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/partitioner"
)

func TestAlertOpensCaseAndEscalationJoinsIt(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	td := startDesk(t, cfg, deskOpts{})
	cl := testkit.Client(t, brokers)

	produceAlert(t, cl, cfg, testAlert{ID: "a1", Customer: "c-1", Severity: "minor", Budget: 5, Value: 100})
	produceAlert(t, cl, cfg, testAlert{ID: "b1", Customer: "c-2", Severity: "major", Value: 10})
	c := waitCase(t, td, "c-1", "opened", func(*desk.Case) bool { return true })
	require.Equal(t, "minor", c.Severity)
	require.Len(t, c.Alerts, 1)
	require.Equal(t, desk.StatusOpen, c.Status)
	require.Nil(t, c.Claim)

	// The major case of c-2 comes first.
	waitCase(t, td, "c-2", "opened", func(*desk.Case) bool { return true })
	q := td.queue(t, "")
	require.Len(t, q, 2)
	require.Equal(t, "c-2", q[0]["customer_id"])

	// An escalation joins the open case: one case, two alerts, newest first.
	produceAlert(t, cl, cfg, testAlert{ID: "a2", Customer: "c-1", Severity: "critical", Budget: 150, Value: 100})
	c = waitCase(t, td, "c-1", "escalated", func(c *desk.Case) bool { return len(c.Alerts) == 2 })
	require.Equal(t, "critical", c.Severity)
	require.Equal(t, 150.0, c.Recovery.Budget)
	var newest map[string]any
	require.NoError(t, json.Unmarshal(c.Alerts[0], &newest))
	require.Equal(t, "a2", newest["alert_id"])
	q = td.queue(t, "")
	require.Len(t, q, 2, "an escalation must not open a second case")
	require.Equal(t, "c-1", q[0]["customer_id"], "the critical case now leads the queue")

	// Filters.
	require.Len(t, td.queue(t, "?severity=critical"), 1)
	require.Len(t, td.queue(t, "?detector=late_delivery&tier=gold"), 2)
	require.Len(t, td.queue(t, "?journey=checkout"), 0)

	// A redelivered alert is not added twice.
	produceAlert(t, cl, cfg, testAlert{ID: "a2", Customer: "c-1", Severity: "critical", Budget: 150, Value: 100})
	produceAlert(t, cl, cfg, testAlert{ID: "z", Customer: "c-3"})
	waitCase(t, td, "c-3", "opened", func(*desk.Case) bool { return true })
	require.Len(t, td.Case("c-1").Alerts, 2)

	// Without a user, the API refuses.
	st, _ := td.do(t, "", "GET", "/api/queue", nil)
	require.Equal(t, 401, st)
}

func TestClaimWritesFeedbackEventAndSecondClaimConflicts(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	td := startDesk(t, cfg, deskOpts{})
	cl := testkit.Client(t, brokers)
	custs := []string{"c-claim-1", "customer-000042", "x"}
	for i, c := range custs {
		produceAlert(t, cl, cfg, testAlert{ID: "al-" + c, Customer: c, Value: float64(i)})
	}
	for _, c := range custs {
		waitCase(t, td, c, "opened", func(*desk.Case) bool { return true })
		st, v := td.do(t, "ana", "POST", "/api/cases/"+c+"/claim", nil)
		require.Equal(t, 200, st, "%v", v)
		claim := v["case"].(map[string]any)["claim"].(map[string]any)
		require.Equal(t, "ana", claim["by"])
	}

	recs := testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Feedback)
	require.Len(t, recs, len(custs))
	for i, r := range recs {
		var f map[string]any
		require.NoError(t, json.Unmarshal(r.Value, &f))
		c := f["customer_id"].(string)
		require.Equal(t, c, string(r.Key), "key = customer id")
		want := partitioner.Murmur2(r.Key, cfg.Kafka.Partitions) // checked against franz-go and the Java client in partitioner/
		require.Equal(t, want, r.Partition, "partition = murmur2(key) as the Java client picks (record %d)", i)
		require.Equal(t, "claim", f["action"])
		require.Equal(t, "ana", f["by"])
		require.Equal(t, "al-"+c, f["alert_id"])
		require.NotEmpty(t, f["feedback_id"])
		_, err := time.Parse(time.RFC3339Nano, f["time"].(string))
		require.NoError(t, err)
		_, hasOutcome := f["outcome"]
		require.False(t, hasOutcome)
	}

	// Another user is told who has it; the holder claiming again is fine.
	st, v := td.do(t, "bo", "POST", "/api/cases/x/claim", nil)
	require.Equal(t, 409, st)
	require.Equal(t, "claimed by ana", v["error"])
	require.Equal(t, "ana", v["claimed_by"])
	st, _ = td.do(t, "ana", "POST", "/api/cases/x/claim", nil)
	require.Equal(t, 200, st)
	// bo cannot release it; ana can, then bo can claim.
	st, _ = td.do(t, "bo", "POST", "/api/cases/x/release", nil)
	require.Equal(t, 409, st)
	st, v = td.do(t, "ana", "POST", "/api/cases/x/release", nil)
	require.Equal(t, 200, st)
	require.Nil(t, v["case"].(map[string]any)["claim"])
	st, _ = td.do(t, "bo", "POST", "/api/cases/x/claim", nil)
	require.Equal(t, 200, st)
	st, _ = td.do(t, "bo", "POST", "/api/cases/nobody/claim", nil)
	require.Equal(t, 404, st)
}

func TestFirstClaimInTheLogWins(t *testing.T) {
	// Two claims written straight to the topic (as two instances racing
	// would): the first in the log holds, the second is ignored.
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	td := startDesk(t, cfg, deskOpts{})
	cl := testkit.Client(t, brokers)
	produceAlert(t, cl, cfg, testAlert{ID: "a", Customer: "c"})
	waitCase(t, td, "c", "opened", func(*desk.Case) bool { return true })
	now := time.Now().UTC().Format(time.RFC3339Nano)
	produceFeedback(t, cl, cfg, "c", []byte(`{"feedback_id":"1","alert_id":"a","customer_id":"c","time":"`+now+`","action":"claim","by":"bo"}`))
	produceFeedback(t, cl, cfg, "c", []byte(`{"feedback_id":"2","alert_id":"a","customer_id":"c","time":"`+now+`","action":"claim","by":"ana"}`))
	produceAlert(t, cl, cfg, testAlert{ID: "fence", Customer: "d"})
	waitCase(t, td, "d", "opened", func(*desk.Case) bool { return true })
	c := waitCase(t, td, "c", "claimed", func(c *desk.Case) bool { return c.Claim != nil })
	time.Sleep(200 * time.Millisecond)
	c = td.Case("c")
	require.Equal(t, "bo", c.Claim.By)
}

func TestTwoDesksShareOneView(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	d1 := startDesk(t, cfg, deskOpts{owns: true})
	d2 := startDesk(t, cfg, deskOpts{})
	cl := testkit.Client(t, brokers)
	produceAlert(t, cl, cfg, testAlert{ID: "a", Customer: "c"})
	waitCase(t, d1, "c", "opened", func(*desk.Case) bool { return true })
	waitCase(t, d2, "c", "opened", func(*desk.Case) bool { return true })

	st, _ := d1.do(t, "ana", "POST", "/api/cases/c/claim", nil)
	require.Equal(t, 200, st)
	c := waitCase(t, d2, "c", "claim seen on the other desk", func(c *desk.Case) bool { return c.Claim != nil })
	require.Equal(t, "ana", c.Claim.By)
	st, v := d2.do(t, "bo", "POST", "/api/cases/c/claim", nil)
	require.Equal(t, 409, st)
	require.Equal(t, "ana", v["claimed_by"])

	// Simultaneous claims on both desks, many times over: exactly one
	// holder, the same on both, and the loser is told who.
	for i := range 10 {
		cust := "race-" + string(rune('a'+i))
		produceAlert(t, cl, cfg, testAlert{ID: "r" + cust, Customer: cust})
		waitCase(t, d1, cust, "opened", func(*desk.Case) bool { return true })
		waitCase(t, d2, cust, "opened", func(*desk.Case) bool { return true })
		var wg sync.WaitGroup
		var st1, st2 int
		var v1, v2 map[string]any
		wg.Go(func() { st1, v1 = d1.do(t, "ana", "POST", "/api/cases/"+cust+"/claim", nil) })
		wg.Go(func() { st2, v2 = d2.do(t, "bo", "POST", "/api/cases/"+cust+"/claim", nil) })
		wg.Wait()
		require.ElementsMatch(t, []int{200, 409}, []int{st1, st2}, "%v %v", v1, v2)
		winner := "ana"
		if st2 == 200 {
			winner = "bo"
			require.Equal(t, "bo", v1["claimed_by"])
		} else {
			require.Equal(t, "ana", v2["claimed_by"])
		}
		c1 := waitCase(t, d1, cust, "claimed", func(c *desk.Case) bool { return c.Claim != nil })
		c2 := waitCase(t, d2, cust, "claimed", func(c *desk.Case) bool { return c.Claim != nil })
		require.Equal(t, winner, c1.Claim.By)
		require.Equal(t, winner, c2.Claim.By)
	}
}

func TestClaimLapsesAfterTTL(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	clk := &clock{t: time.Now().UTC()}
	td := startDesk(t, cfg, deskOpts{clock: clk})
	cl := testkit.Client(t, brokers)
	produceAlert(t, cl, cfg, testAlert{ID: "a", Customer: "c"})
	waitCase(t, td, "c", "opened", func(*desk.Case) bool { return true })
	st, v := td.do(t, "ana", "POST", "/api/cases/c/claim", nil)
	require.Equal(t, 200, st)
	claim := v["case"].(map[string]any)["claim"].(map[string]any)
	at, _ := time.Parse(time.RFC3339Nano, claim["at"].(string))
	exp, _ := time.Parse(time.RFC3339Nano, claim["expires_at"].(string))
	require.Equal(t, 30*time.Minute, exp.Sub(at))

	clk.Add(29 * time.Minute)
	st, _ = td.do(t, "bo", "POST", "/api/cases/c/claim", nil)
	require.Equal(t, 409, st, "the claim still holds a minute before it lapses")
	clk.Add(2 * time.Minute)
	require.Nil(t, td.Case("c").Claim, "lapsed at the claim record's time + claim_ttl")
	n := len(testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Feedback))
	require.Equal(t, 1, n, "no event is written for a lapse")
	st, v = td.do(t, "bo", "POST", "/api/cases/c/claim", nil)
	require.Equal(t, 200, st, "%v", v)
	require.Equal(t, "bo", td.Case("c").Claim.By)
}

func TestClaimByUserWhoNoLongerExistsIsReleased(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	var mu sync.Mutex
	gone := map[string]bool{}
	td := startDesk(t, cfg, deskOpts{known: func(u string) bool { mu.Lock(); defer mu.Unlock(); return !gone[u] }})
	cl := testkit.Client(t, brokers)
	produceAlert(t, cl, cfg, testAlert{ID: "a", Customer: "c"})
	waitCase(t, td, "c", "opened", func(*desk.Case) bool { return true })
	st, _ := td.do(t, "ana", "POST", "/api/cases/c/claim", nil)
	require.Equal(t, 200, st)
	mu.Lock()
	gone["ana"] = true
	mu.Unlock()
	require.Nil(t, td.Case("c").Claim)
	st, _ = td.do(t, "bo", "POST", "/api/cases/c/claim", nil)
	require.Equal(t, 200, st)
}

func TestOutcomeChecksBudgetAndClosesTheCase(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	td := startDesk(t, cfg, deskOpts{owns: true})
	cl := testkit.Client(t, brokers)
	produceAlert(t, cl, cfg, testAlert{ID: "a", Customer: "c", Budget: 25})
	waitCase(t, td, "c", "opened", func(*desk.Case) bool { return true })
	st, _ := td.do(t, "ana", "POST", "/api/cases/c/claim", nil)
	require.Equal(t, 200, st)

	st, v := td.do(t, "ana", "POST", "/api/cases/c/outcome", map[string]any{"outcome": "recovered",
		"spent": map[string]any{"amount": 30, "currency": "EUR"}})
	require.Equal(t, 400, st)
	require.Contains(t, v["error"], "over the budget of 25 EUR")
	st, _ = td.do(t, "ana", "POST", "/api/cases/c/outcome", map[string]any{"outcome": "fixed"})
	require.Equal(t, 400, st)
	st, v = td.do(t, "bo", "POST", "/api/cases/c/outcome", map[string]any{"outcome": "recovered"})
	require.Equal(t, 409, st, "claimed by ana")
	require.Equal(t, "ana", v["claimed_by"])

	st, v = td.do(t, "ana", "POST", "/api/cases/c/outcome", map[string]any{"outcome": "recovered", "note": "refunded shipping",
		"spent": map[string]any{"amount": 12.5, "currency": "EUR"}})
	require.Equal(t, 200, st, "%v", v)
	c := v["case"].(map[string]any)
	require.Equal(t, "closed", c["status"])
	out := c["outcome"].(map[string]any)
	require.Equal(t, "recovered", out["outcome"])
	require.Equal(t, "ana", out["by"])
	require.Equal(t, 12.5, out["spent"].(map[string]any)["amount"])
	require.Nil(t, td.Case("c"))
	require.Empty(t, td.queue(t, ""), "the case left the open queue")

	// The event is on the topic.
	recs := testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Feedback)
	var f map[string]any
	require.NoError(t, json.Unmarshal(recs[len(recs)-1].Value, &f))
	require.Equal(t, "outcome", f["action"])
	require.Equal(t, "recovered", f["outcome"])
	require.Equal(t, "refunded shipping", f["note"])
	require.Equal(t, map[string]any{"amount": 12.5, "currency": "EUR"}, f["spent"])

	// The detail shows it in the history.
	st, v = td.do(t, "ana", "GET", "/api/cases/c", nil)
	require.Equal(t, 200, st)
	require.Nil(t, v["case"])
	hist := v["history"].([]any)
	require.Len(t, hist, 1)
	require.Equal(t, "recovered", hist[0].(map[string]any)["outcome"].(map[string]any)["outcome"])

	// A second outcome from elsewhere for the closed case: recorded, not applied twice.
	now := time.Now().UTC().Format(time.RFC3339Nano)
	produceFeedback(t, cl, cfg, "c", []byte(`{"alert_id":"a","customer_id":"c","time":"`+now+`","action":"outcome","outcome":"declined"}`))
	testkit.Eventually(t, 10*time.Second, "later outcome recorded", func() bool {
		h, err := td.History("c")
		require.NoError(t, err)
		return len(h) == 1 && len(h[0].Later) == 1
	})
	h, _ := td.History("c")
	require.Equal(t, "recovered", h[0].Outcome.Outcome)
	require.Equal(t, "declined", h[0].Later[0].Outcome)

	// A new alert for the customer opens a new case.
	produceAlert(t, cl, cfg, testAlert{ID: "a-next", Customer: "c"})
	c2 := waitCase(t, td, "c", "reopened", func(*desk.Case) bool { return true })
	require.Len(t, c2.Alerts, 1)
	require.Nil(t, c2.Claim)
}

func TestApprovalBySupervisorsOnly(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	td := startDesk(t, cfg, deskOpts{})
	cl := testkit.Client(t, brokers)
	produceAlert(t, cl, cfg, testAlert{ID: "a", Customer: "c", Severity: "critical", Budget: 150, Approval: true})
	produceAlert(t, cl, cfg, testAlert{ID: "b", Customer: "plain"})
	c := waitCase(t, td, "c", "opened", func(*desk.Case) bool { return true })
	require.Equal(t, "pending", c.Approval.State)
	waitCase(t, td, "plain", "opened", func(*desk.Case) bool { return true })

	st, v := td.do(t, "ana", "POST", "/api/cases/c/approve", nil)
	require.Equal(t, 403, st)
	require.Contains(t, v["error"], "supervisor")
	st, _ = td.do(t, "ana", "POST", "/api/cases/c/claim", nil)
	require.Equal(t, 200, st)
	st, v = td.do(t, "ana", "POST", "/api/cases/c/outcome", map[string]any{"outcome": "recovered",
		"spent": map[string]any{"amount": 100}})
	require.Equal(t, 400, st, "no money before the approval")
	require.Contains(t, v["error"], "approval")

	st, v = td.do(t, "sam:supervisor", "POST", "/api/cases/c/approve", nil)
	require.Equal(t, 200, st, "%v", v)
	ap := v["case"].(map[string]any)["approval"].(map[string]any)
	require.Equal(t, "approved", ap["state"])
	require.Equal(t, "sam", ap["by"])
	require.Equal(t, "approved", td.Case("c").Approval.State)
	st, _ = td.do(t, "sam:supervisor", "POST", "/api/cases/plain/approve", nil)
	require.Equal(t, 409, st, "nothing to approve")

	st, v = td.do(t, "ana", "POST", "/api/cases/c/outcome", map[string]any{"outcome": "recovered",
		"spent": map[string]any{"amount": 100}})
	require.Equal(t, 200, st, "%v", v)
}

func TestBadFeedbackGoesToTheDLQ(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	owner := startDesk(t, cfg, deskOpts{owns: true})
	other := startDesk(t, cfg, deskOpts{})
	cl := testkit.Client(t, brokers)
	produceAlert(t, cl, cfg, testAlert{ID: "a", Customer: "c"})
	waitCase(t, owner, "c", "opened", func(*desk.Case) bool { return true })
	now := time.Now().UTC().Format(time.RFC3339Nano)
	bad := map[string]string{
		`not json`: "want a JSON object",
		`{"alert_id":"a","customer_id":"c","time":"` + now + `","action":"dance"}`:                     `field "action"`,
		`{"alert_id":"a","customer_id":"c","time":"yesterday","action":"claim"}`:                       `field "time"`,
		`{"alert_id":"nope","customer_id":"c","time":"` + now + `","action":"claim","by":"x"}`:         `unknown alert_id "nope"`,
		`{"alert_id":"a","customer_id":"other","time":"` + now + `","action":"claim","by":"x"}`:        "another customer",
		`{"alert_id":"a","customer_id":"c","time":"` + now + `","action":"outcome","outcome":"maybe"}`: `field "outcome"`,
	}
	for v := range bad {
		produceFeedback(t, cl, cfg, "c", []byte(v))
	}
	// The view goes on: a good claim after the bad ones applies.
	produceFeedback(t, cl, cfg, "c", []byte(`{"alert_id":"a","customer_id":"c","time":"`+now+`","action":"claim","by":"bo"}`))
	waitCase(t, owner, "c", "claimed after bad feedback", func(c *desk.Case) bool { return c.Claim != nil })
	waitCase(t, other, "c", "claimed after bad feedback", func(c *desk.Case) bool { return c.Claim != nil })

	var dlq []*kgo.Record
	testkit.Eventually(t, 10*time.Second, "DLQ records", func() bool {
		dlq = testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.DLQ)
		return len(dlq) >= len(bad)
	})
	time.Sleep(300 * time.Millisecond)
	dlq = testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.DLQ)
	require.Len(t, dlq, len(bad), "only the owner of the partition sends bad feedback to the DLQ")
	for _, r := range dlq {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		want, ok := bad[string(r.Value)]
		require.True(t, ok, "DLQ holds the original bytes: %s", r.Value)
		require.Contains(t, h["peakend-error"], want)
		require.Regexp(t, `^`+cfg.Kafka.Topics.Feedback+`/\d+/\d+$`, h["peakend-source"])
		require.Equal(t, "c", string(r.Key))
	}
}

func TestWriteNotReadBackInTimeIs503(t *testing.T) {
	c, brokers := testkit.FakeCluster(t)
	cfg := testConfig(t, brokers)
	td := startDesk(t, cfg, deskOpts{tune: func(o *desk.Options) { o.WriteTimeout = 300 * time.Millisecond }})
	cl := testkit.Client(t, brokers)
	produceAlert(t, cl, cfg, testAlert{ID: "a", Customer: "c"})
	waitCase(t, td, "c", "opened", func(*desk.Case) bool { return true })
	// The broker takes the claim, but the desk's reader gets no more records.
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, errors.New("fetch refused by the test"), true
	})
	st, v := td.do(t, "ana", "POST", "/api/cases/c/claim", nil)
	require.Equal(t, 503, st)
	require.Equal(t, "the claim was written but the desk did not read it back within 300ms; reload to see whether it took", v["error"])
}

func counterValue(t testing.TB, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	require.NoError(t, (<-ch).Write(&m))
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return float64(m.Histogram.GetSampleCount())
}

func TestFeedbackCountedOnceByThePartitionOwner(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	m1, m2 := metrics.New(nil, nil).NewDesk([]string{"late_delivery"}), metrics.New(nil, nil).NewDesk([]string{"late_delivery"})
	owner := startDesk(t, cfg, deskOpts{owns: true, tune: func(o *desk.Options) { o.Metrics = m1 }})
	other := startDesk(t, cfg, deskOpts{tune: func(o *desk.Options) { o.Metrics = m2 }})
	cl := testkit.Client(t, brokers)
	produceAlert(t, cl, cfg, testAlert{ID: "a", Customer: "c", Severity: "critical", Budget: 150})
	waitCase(t, owner, "c", "opened", func(*desk.Case) bool { return true })
	waitCase(t, other, "c", "opened", func(*desk.Case) bool { return true })
	st, _ := other.do(t, "ana", "POST", "/api/cases/c/claim", nil)
	require.Equal(t, 200, st)
	st, _ = other.do(t, "ana", "POST", "/api/cases/c/outcome", map[string]any{"outcome": "recovered"})
	require.Equal(t, 200, st)
	testkit.Eventually(t, 10*time.Second, "closed on the owner", func() bool { return owner.Case("c") == nil })

	require.EqualValues(t, 1, counterValue(t, m1.Claims))
	require.EqualValues(t, 1, counterValue(t, m1.Feedback.WithLabelValues("late_delivery", "critical", "recovered")))
	require.EqualValues(t, 1, counterValue(t, m1.Outcomes.WithLabelValues("late_delivery", "recovered")))
	require.EqualValues(t, 1, counterValue(t, m1.ClaimSeconds))
	require.EqualValues(t, 1, counterValue(t, m1.OutcomeSeconds))
	require.EqualValues(t, 0, counterValue(t, m2.Claims), "the instance that wrote it does not own the partition")
	require.EqualValues(t, 0, counterValue(t, m2.Feedback.WithLabelValues("late_delivery", "critical", "recovered")))

	// A restart of the owner from an empty store reads the history: not counted again.
	again := metrics.New(nil, nil).NewDesk(nil)
	startDesk(t, cfg, deskOpts{owns: true, tune: func(o *desk.Options) { o.Metrics = again }})
	require.EqualValues(t, 0, counterValue(t, again.Claims))
	require.EqualValues(t, 0, counterValue(t, again.Feedback.WithLabelValues("late_delivery", "critical", "recovered")))
}

func TestHotspotAlertsAreListedApartNotCases(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	td := startDesk(t, cfg, deskOpts{})
	cl := testkit.Client(t, brokers)
	hot := func(id, state string) []byte {
		return []byte(`{"alert_id":"` + id + `","kind":"hotspot","detector":"carrier_trouble","severity":"major",` +
			`"hotspot":{"name":"carrier_trouble","values":{"carrier":"dhl"},"state":"` + state + `"}}`)
	}
	key := "hotspot/carrier_trouble/carrier=dhl"
	require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: cfg.Kafka.Topics.Alerts, Key: []byte(key), Value: hot("h1", "open")}).FirstErr())
	produceAlert(t, cl, cfg, testAlert{ID: "a", Customer: "c"})
	waitCase(t, td, "c", "opened", func(*desk.Case) bool { return true })
	var q map[string]any
	testkit.Eventually(t, 10*time.Second, "the hotspot listed", func() bool {
		_, q = td.do(t, "ana", "GET", "/api/queue", nil)
		return len(q["hotspots"].([]any)) == 1
	})
	require.Len(t, q["cases"].([]any), 1, "a hotspot is not a customer case")
	require.Equal(t, "h1", q["hotspots"].([]any)[0].(map[string]any)["alert_id"])
	require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: cfg.Kafka.Topics.Alerts, Key: []byte(key), Value: hot("h2", "closed")}).FirstErr())
	testkit.Eventually(t, 10*time.Second, "the closed hotspot gone", func() bool {
		_, q = td.do(t, "ana", "GET", "/api/queue", nil)
		return len(q["hotspots"].([]any)) == 0
	})

	// A hotspot alert keyed otherwise (another writer) is still one hotspot, by its values.
	require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: cfg.Kafka.Topics.Alerts, Value: []byte(
		`{"alert_id":"h3","kind":"hotspot","hotspot_id":"e2","detector":"carrier_trouble","severity":"major",` +
			`"hotspot":{"name":"carrier_trouble","values":{"region":"north east","carrier":"ups"},"state":"open"}}`)}).FirstErr())
	var hs map[string]any
	testkit.Eventually(t, 10*time.Second, "the unkeyed hotspot listed", func() bool {
		_, hs = td.do(t, "ana", "GET", "/api/hotspots?state=open", nil)
		return len(hs["hotspots"].([]any)) == 1
	})
	require.Equal(t, "hotspot/carrier_trouble/carrier=ups,region=north+east", hs["hotspots"].([]any)[0].(map[string]any)["key"])
}

// TestPageCannotBeFramed: the desk's page forbids other sites to frame it
// (a framed page could trick an agent into a claim or an approval).
func TestPageCannotBeFramed(t *testing.T) {
	brokers := testkit.Cluster(t)
	td := startDesk(t, testConfig(t, brokers), deskOpts{})
	req, err := http.NewRequest(http.MethodGet, td.srv.URL+"/", nil)
	require.NoError(t, err)
	req.Header.Set("X-Test-User", "ana")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
}
