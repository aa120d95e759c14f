package desk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/desk"
	"github.com/peakend/peakend/internal/testkit"
)

// /api/detectors on a small hand-made month: every figure as computed by
// hand, for each detector and severity.
func TestDetectorFigures(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testConfig(t, brokers)
	now := time.Now().UTC().Truncate(time.Second)
	clk := &clock{t: now}
	td := startDesk(t, cfg, deskOpts{clock: clk, owns: true})
	cl := testkit.Client(t, brokers)
	ago := func(h float64) time.Time { return now.Add(-time.Duration(h * float64(time.Hour))) }
	for _, a := range []testAlert{
		{ID: "a1", Customer: "c1", Severity: "major", Budget: 25, At: ago(10)},
		{ID: "a2", Customer: "c2", Severity: "major", Budget: 25, At: ago(20)},
		{ID: "a3", Customer: "c3", Severity: "minor", Budget: 5, At: ago(5)},
		{ID: "a4", Customer: "c4", Detector: "failed_checkout", Severity: "minor", Budget: 5, At: ago(3)},
		{ID: "a5", Customer: "c5", Detector: "failed_checkout", Severity: "minor", Budget: 5, At: ago(1)},
		{ID: "a6", Customer: "c6", Severity: "major", Budget: 25, At: ago(40 * 24)}, // before the window
	} {
		produceAlert(t, cl, cfg, a)
	}
	waitCase(t, td, "c6", "opened", func(*desk.Case) bool { return true })
	feedback := func(alert, cust string, at time.Time, rest string) {
		v := fmt.Sprintf(`{"alert_id":%q,"customer_id":%q,"time":%q,"by":"ana",%s}`, alert, cust, at.Format(time.RFC3339), rest)
		require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: cfg.Kafka.Topics.Feedback,
			Key: []byte(cust), Value: []byte(v), Timestamp: at}).FirstErr())
	}
	feedback("a1", "c1", ago(8), `"action":"outcome","outcome":"recovered","spent":{"amount":20,"currency":"EUR"}`) // 2 h
	feedback("a2", "c2", ago(16), `"action":"outcome","outcome":"false_alarm"`)                                     // 4 h
	feedback("a3", "c3", ago(4), `"action":"outcome","outcome":"unreachable"`)                                      // 1 h
	feedback("a4", "c4", ago(0.1), `"action":"claim"`)
	waitCase(t, td, "c4", "claimed", func(c *desk.Case) bool { return c.Claim != nil })
	testkit.Eventually(t, 10*time.Second, "three cases closed", func() bool { return len(td.queue(t, "")) == 3 })

	st, _ := td.do(t, "", "GET", "/api/detectors", nil)
	require.Equal(t, http.StatusUnauthorized, st, "signed-in users only")
	st, v := td.do(t, "ana", "GET", "/api/detectors", nil)
	require.Equal(t, http.StatusOK, st)
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	var got desk.Detectors
	require.NoError(t, json.Unmarshal(raw, &got))
	require.Equal(t, now, got.To)
	require.Equal(t, now.Add(-30*24*time.Hour), got.From)
	require.Empty(t, got.Note, "desk.keep is 30 days by default")

	f := func(v float64) *float64 { return &v }
	outcomes := func(rec, dec, unr, fa int) map[string]int {
		return map[string]int{"recovered": rec, "declined": dec, "unreachable": unr, "false_alarm": fa}
	}
	eur := func(v float64) map[string]float64 {
		if v == 0 {
			return map[string]float64{}
		}
		return map[string]float64{"EUR": v}
	}
	want := map[string]map[string]*desk.DetectorStats{
		"late_delivery": {
			"all": {Alerts: 3, WithFeedback: 3, FeedbackShare: f(1), Outcomes: outcomes(1, 0, 1, 1), OutcomesTotal: 3,
				Precision: f(0.667), RecoveryRate: f(0.333), UnreachableShare: f(0.333), Spent: eur(20), Budget: eur(55),
				MedianSecondsToOutcome: f(7200)},
			"major": {Alerts: 2, WithFeedback: 2, FeedbackShare: f(1), Outcomes: outcomes(1, 0, 0, 1), OutcomesTotal: 2,
				Precision: f(0.5), RecoveryRate: f(0.5), UnreachableShare: f(0), Spent: eur(20), Budget: eur(50),
				MedianSecondsToOutcome: f(10800)},
			"minor": {Alerts: 1, WithFeedback: 1, FeedbackShare: f(1), Outcomes: outcomes(0, 0, 1, 0), OutcomesTotal: 1,
				Precision: f(1), RecoveryRate: f(0), UnreachableShare: f(1), Spent: eur(0), Budget: eur(5),
				MedianSecondsToOutcome: f(3600)},
		},
		"failed_checkout": {
			"all":   {Alerts: 2, WithFeedback: 1, FeedbackShare: f(0.5), Outcomes: outcomes(0, 0, 0, 0), Spent: eur(0), Budget: eur(0)},
			"minor": {Alerts: 2, WithFeedback: 1, FeedbackShare: f(0.5), Outcomes: outcomes(0, 0, 0, 0), Spent: eur(0), Budget: eur(0)},
		},
	}
	require.Equal(t, want, got.Detectors)

	// A desk keeping closed cases less than the window says so.
	td.stop(t)
	short := *cfg
	short.Desk.Keep = config.Duration(7 * 24 * time.Hour)
	td2 := startDesk(t, &short, deskOpts{clock: clk, dir: td.dir})
	fig, err := td2.DetectorFigures()
	require.NoError(t, err)
	require.Contains(t, fig.Note, "less than 30 days")
}
