package replay_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/replay"
)

// The month of January 2026 (t0 is its first instant): 40 customers with
// a good delivery every day and a good checkout every third day, and nine
// planted stories. With late_delivery (delay_hours ≥ 24 minor, ≥ 72 major,
// ≥ 168 critical) and failed_checkout (outcome failed, minor):
//
//	c1 delivery 100 h late, Jan 3 10:00 → major; complains Jan 3 16:00 (lead 6 h);
//	   claimed Jan 3 11:00, recovered Jan 3 12:00 spending 20 EUR (outcome 2 h after)
//	c2 delivery 30 h late, Jan 5 08:00 → minor; complains Jan 6 08:00 (lead 24 h);
//	   false alarm Jan 5 09:00 (1 h); a second line with outcome "fixed" is malformed
//	c3 failed checkout, Jan 10 12:00 → minor; complains Jan 10 12:30 (lead 30 min);
//	   the file says recovered Jan 11 09:00 (5 EUR) BEFORE unreachable Jan 10 14:00:
//	   by event time the recovery is the latest, so the outcome is recovered (21 h)
//	c4 a good delivery Jan 11; complains Jan 12 10:00, never flagged
//	c5 delivery 200 h late, Jan 15 10:00 → critical; never complains; unreachable Jan 15 11:00 (1 h)
//	c6 failed checkout, Jan 20 12:00 → minor; complains Jan 25 12:00 (lead 5 days);
//	   its only feedback is timed Jan 20 11:00, before the alert: unknown then, to the DLQ
//	c7 delivery 50 h late, Jan 22 10:00 → minor; never complains; claimed Jan 22 11:00, no outcome;
//	   a feedback line naming its alert with another customer goes to the DLQ
//	c8 complains Jan 26 10:00; delivery 100 h late Jan 26 12:00 → major (after the complaint);
//	   false alarm Jan 27 10:00 (22 h)
//	c9 delivery 80 h late, Jan 28 10:00 → major; never complains; no feedback
//
// and a feedback line that is not JSON, and one naming an alert that does not exist.
type month struct {
	events, complaints string
	cfg                *config.Config
}

func day(d, h, m int) time.Time {
	return t0.Add(time.Duration(d-1)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

func checkout(id, cust string, at time.Time, outcome string) string {
	return event(id, cust, at, "checkout", fmt.Sprintf(`,"outcome":%q`, outcome))
}

func newMonth(t *testing.T) month {
	var lines []string
	for d := 1; d <= 31; d++ {
		for c := range 40 {
			cust := fmt.Sprintf("bg%02d", c)
			lines = append(lines, lateDelivery(fmt.Sprintf("bg-d-%d-%d", d, c), cust, day(d, 9, c), 2))
			if (d+c)%3 == 0 {
				lines = append(lines, checkout(fmt.Sprintf("bg-c-%d-%d", d, c), cust, day(d, 15, c), "ok"))
			}
		}
	}
	lines = append(lines,
		lateDelivery("c1-1", "c1", day(3, 10, 0), 100),
		lateDelivery("c2-1", "c2", day(5, 8, 0), 30),
		checkout("c3-1", "c3", day(10, 12, 0), "failed"),
		lateDelivery("c4-1", "c4", day(11, 9, 0), 1),
		lateDelivery("c5-1", "c5", day(15, 10, 0), 200),
		checkout("c6-1", "c6", day(20, 12, 0), "failed"),
		lateDelivery("c7-1", "c7", day(22, 10, 0), 50),
		lateDelivery("c8-1", "c8", day(26, 12, 0), 100),
		lateDelivery("c9-1", "c9", day(28, 10, 0), 80),
	)
	cfg := config.Default()
	cfg.Detectors = cfg.Detectors[:2] // late_delivery, failed_checkout
	cfg.Alerting.MaxPerHour = 1
	return month{
		events: writeLines(t, "events.jsonl", lines),
		complaints: writeLines(t, "complaints.jsonl", []string{
			complaint("c1", day(3, 16, 0)),
			complaint("c2", day(6, 8, 0)),
			complaint("c3", day(10, 12, 30)),
			complaint("c4", day(12, 10, 0)),
			complaint("c6", day(25, 12, 0)),
			complaint("c8", day(26, 10, 0)),
		}),
		cfg: cfg,
	}
}

func feedbackLine(id, alert, cust string, at time.Time, action, outcome, spent string) string {
	s := fmt.Sprintf(`{"feedback_id":%q,"alert_id":%q,"customer_id":%q,"time":%q,"action":%q`, id, alert, cust, at.Format(time.RFC3339), action)
	if outcome != "" {
		s += fmt.Sprintf(`,"outcome":%q`, outcome)
	}
	if spent != "" {
		s += `,"spent":` + spent
	}
	return s + "}"
}

// feedback writes the month's feedback file, naming the alerts of a
// replay without feedback by their customer.
func (m month) feedback(t *testing.T, ids map[string]string) string {
	return writeLines(t, "feedback.jsonl", []string{
		feedbackLine("f1", ids["c1"], "c1", day(3, 11, 0), "claim", "", ""),
		feedbackLine("f2", ids["c1"], "c1", day(3, 12, 0), "outcome", "recovered", `{"amount":20,"currency":"EUR"}`),
		feedbackLine("f3", ids["c2"], "c2", day(5, 9, 0), "outcome", "false_alarm", ""),
		feedbackLine("f4", ids["c2"], "c2", day(5, 10, 0), "outcome", "fixed", ""), // line 4: malformed
		feedbackLine("f5", ids["c3"], "c3", day(11, 9, 0), "outcome", "recovered", `{"amount":5,"currency":"EUR"}`),
		feedbackLine("f6", ids["c3"], "c3", day(10, 14, 0), "outcome", "unreachable", ""),
		`not json`, // line 7: malformed
		feedbackLine("f8", ids["c5"], "c5", day(15, 11, 0), "outcome", "unreachable", ""),
		feedbackLine("f9", ids["c6"], "c6", day(20, 11, 0), "outcome", "recovered", ""), // line 9: before its alert
		feedbackLine("f10", ids["c7"], "c7", day(22, 11, 0), "claim", "", ""),
		feedbackLine("f11", ids["c7"], "someone-else", day(22, 11, 30), "release", "", ""), // line 11: not the alert's customer
		feedbackLine("f12", ids["c8"], "c8", day(27, 10, 0), "outcome", "false_alarm", ""),
		feedbackLine("f13", "no-such-alert", "c1", day(4, 0, 0), "outcome", "recovered", ""), // line 13: unknown
		"",
	})
}

// alertIDs maps each customer to the id of their one alert.
func alertIDs(t *testing.T, alerts string) map[string]string {
	ids := map[string]string{}
	for line := range strings.Lines(alerts) {
		var a struct {
			AlertID    string `json:"alert_id"`
			CustomerID string `json:"customer_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &a))
		require.NotContains(t, ids, a.CustomerID, "one alert per customer in this month")
		ids[a.CustomerID] = a.AlertID
	}
	return ids
}

// replayMonth replays the month with its complaints and feedback.
func replayMonth(t *testing.T) (result, map[string]string) {
	m := newMonth(t)
	plain := run(t, replay.Options{Config: m.cfg, Input: m.events, Complaints: m.complaints})
	ids := alertIDs(t, plain.alerts)
	require.Len(t, ids, 8, "c1, c2, c3, c5, c6, c7, c8, c9: %v", ids)
	r := run(t, replay.Options{Config: m.cfg, Input: m.events, Complaints: m.complaints, Feedback: m.feedback(t, ids)})
	require.Equal(t, plain.alerts, r.alerts, "feedback does not change the alerts")
	return r, ids
}

func f(v float64) *float64 { return &v }

func TestReportMonthByHand(t *testing.T) {
	r, _ := replayMonth(t)
	rep := r.summary.Report()
	tot := rep.Totals

	require.True(t, rep.FeedbackGiven)
	require.Equal(t, 24, rep.CapacityPerDay, "max_per_hour 1 × 24")
	require.Equal(t, int64(49), tot.Customers, "40 + c1..c9")
	require.Equal(t, map[string]int{"minor": 4, "major": 3, "critical": 1}, tot.AlertsBySeverity, "minor c2 c3 c6 c7, major c1 c8 c9, critical c5")
	require.Equal(t, 8, tot.Alerts)

	// Coverage: complainers c1 c2 c3 c4 c6 c8; flagged before: c1 (6 h),
	// c2 (24 h), c3 (30 min), c6 (5 days). c8 only after, c4 never.
	require.Equal(t, 6, tot.Complainers)
	require.Equal(t, 4, tot.FlaggedBefore)
	require.Equal(t, 0.667, tot.Coverage) // 4/6
	// Leads 1800, 21600, 86400, 432000: nearest rank, median the 2nd, p90 the 4th.
	require.Equal(t, 21600.0, tot.LeadMedianSeconds)
	require.Equal(t, 432000.0, tot.LeadP90Seconds)
	// Buckets [0,1h) c3, [1h,6h) none, [6h,24h) c1 (6 h exactly), [1d,3d) c2, [3d,7d) c6, 7 days or more none.
	require.Equal(t, []int{1, 0, 1, 1, 1, 0}, counts(tot.LeadTimes))

	late, failed := rep.Detectors["late_delivery"], rep.Detectors["failed_checkout"]
	require.Equal(t, []string{"late_delivery", "failed_checkout"}, rep.Order)
	require.Len(t, rep.Detectors, 2)
	// late_delivery: c1 (21600), c2 (86400) of 6 complainers.
	require.Equal(t, 6, late.Alerts)
	require.Equal(t, 2, late.FlaggedBefore)
	require.Equal(t, 0.333, late.Coverage)
	require.Equal(t, 21600.0, late.LeadMedianSeconds)
	require.Equal(t, 86400.0, late.LeadP90Seconds)
	// failed_checkout: c3 (1800), c6 (432000).
	require.Equal(t, 2, failed.Alerts)
	require.Equal(t, 2, failed.FlaggedBefore)
	require.Equal(t, 0.333, failed.Coverage)
	require.Equal(t, 1800.0, failed.LeadMedianSeconds)
	require.Equal(t, 432000.0, failed.LeadP90Seconds)

	// Feedback. late_delivery: c1 recovered, c2 false alarm, c5
	// unreachable, c8 false alarm (4 outcomes); c7 claimed only; c9 none:
	// 5 of 6 alerts with feedback.
	require.Equal(t, 5, late.Feedback)
	require.Equal(t, 0.833, late.FeedbackShare)
	require.Equal(t, map[string]int{"recovered": 1, "declined": 0, "unreachable": 1, "false_alarm": 2}, late.Outcomes.Outcomes)
	require.Equal(t, f(0.5), late.Precision)         // 1 − 2/4
	require.Equal(t, f(0.25), late.RecoveryRate)     // 1/4
	require.Equal(t, f(0.25), late.UnreachableShare) // 1/4
	require.Equal(t, map[string]float64{"EUR": 20}, late.Spent)
	require.Equal(t, map[string]float64{"EUR": 205}, late.Budget) // c1 25 + c2 5 + c5 150 + c8 25
	require.Equal(t, f(3600), late.OutcomeMedianSeconds)          // 3600 3600 7200 79200: the 2nd
	// failed_checkout: c3 recovered (the latest by event time), 21 h
	// after; c6's feedback came before its alert.
	require.Equal(t, 1, failed.Feedback)
	require.Equal(t, 0.5, failed.FeedbackShare)
	require.Equal(t, f(1), failed.Precision)
	require.Equal(t, f(1), failed.RecoveryRate)
	require.Equal(t, f(0), failed.UnreachableShare)
	require.Equal(t, map[string]float64{"EUR": 5}, failed.Spent)
	require.Equal(t, map[string]float64{"EUR": 5}, failed.Budget)
	require.Equal(t, f(75600), failed.OutcomeMedianSeconds)
	// Totals: 5 outcomes, 2 recovered, 2 false alarms, 1 unreachable.
	require.Equal(t, 6, tot.Feedback)
	require.Equal(t, 0.75, tot.FeedbackShare) // 6/8
	require.Equal(t, f(0.6), tot.Precision)
	require.Equal(t, f(0.4), tot.RecoveryRate)
	require.Equal(t, f(0.2), tot.UnreachableShare)
	require.Equal(t, map[string]float64{"EUR": 25}, tot.Spent)
	require.Equal(t, map[string]float64{"EUR": 210}, tot.Budget)
	require.Equal(t, f(7200), tot.OutcomeMedianSeconds) // 3600 3600 7200 75600 79200: the 3rd
	// Per severity: late_delivery major is c1 (recovered), c8 (false alarm), c9 (none).
	major := late.Severities["major"]
	require.Equal(t, 3, major.Alerts)
	require.Equal(t, 2, major.Feedback)
	require.Equal(t, 0.667, major.FeedbackShare)
	require.Equal(t, f(0.5), major.Precision)
	require.Equal(t, f(0.5), major.RecoveryRate)
	require.Equal(t, map[string]float64{"EUR": 50}, major.Budget)
	require.Nil(t, failed.Severities["critical"].Precision, "no outcome, no ratio")

	// 8 feedback events applied (c1 2, c2 1, c3 2, c5 1, c7 1, c8 1); 2
	// malformed and 3 not applied, all counted as invalid lines.
	require.Equal(t, 8, tot.FeedbackEvents)
	require.Equal(t, 2, tot.FeedbackInvalid)
	require.Equal(t, 3, tot.FeedbackUnknown)
	require.Equal(t, 5, tot.Invalid)

	// Silent reach: flagged c1 c2 c3 c5 c6 c7 c8 c9; never complained c5 c7 c9.
	require.Equal(t, 8, tot.FlaggedCustomers)
	require.Equal(t, 3, tot.SilentReach)
	require.Equal(t, 6, late.FlaggedCustomers)
	require.Equal(t, 3, late.SilentReach)
	require.Equal(t, 0, failed.SilentReach)

	// Alerts per day, from Jan 3 to Jan 28.
	require.Len(t, rep.Daily, 26)
	require.Equal(t, replay.Day{Date: "2026-01-03", Major: 1}, rep.Daily[0])
	require.Equal(t, replay.Day{Date: "2026-01-15", Critical: 1}, rep.Daily[12])
	require.Equal(t, replay.Day{Date: "2026-01-28", Major: 1}, rep.Daily[25])
	require.Equal(t, replay.FlaggedCustomer{CustomerID: "c1", Alerts: 1, Complained: true}, rep.TopCustomers[0])
	require.Len(t, rep.TopCustomers, 8)
}

func counts(bs []replay.LeadBucket) []int {
	out := make([]int, len(bs))
	for i, b := range bs {
		out[i] = b.Count
	}
	return out
}

func TestFeedbackDLQ(t *testing.T) {
	r, ids := replayMonth(t)
	var dead []map[string]any
	for line := range strings.Lines(r.dlq) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		delete(m, "record")
		dead = append(dead, m)
	}
	// Malformed lines as the file is read, in line order; then the
	// feedback not applied, in event-time order.
	require.Equal(t, []map[string]any{
		{"line": 4.0, "error": `feedback: field "outcome": want one of recovered, declined, unreachable, false_alarm, not "fixed"`},
		{"line": 7.0, "error": "feedback: invalid JSON at byte 0: want a JSON object"},
		{"line": 13.0, "error": `feedback: unknown alert_id "no-such-alert"`},
		{"line": 9.0, "error": fmt.Sprintf(`feedback: unknown alert_id %q at 2026-01-20T11:00:00Z: the replay raises it at 2026-01-20T12:00:00Z`, ids["c6"])},
		{"line": 11.0, "error": `feedback: customer_id "someone-else" is not the alert's`},
	}, dead)
	require.Contains(t, r.dlq, `"record":"not json"`, "the line is kept as it was")
}

func TestReportTextAndJSON(t *testing.T) {
	r, _ := replayMonth(t)
	var text bytes.Buffer
	require.NoError(t, r.summary.WriteReport(&text))
	require.Contains(t, text.String(), "  precision       60.0% (false alarms: 2 of 5 outcomes), recovery rate 40.0%, unreachable 20.0%\n")
	require.Contains(t, text.String(), "  feedback        on 6 of 8 alerts (75.0%); outcome a median 2h0m0s after the alert; spent 25.00 EUR of 210.00 EUR budget\n")
	require.Contains(t, text.String(), "  bad feedback    malformed 2, naming an unknown alert 3 (in the DLQ)\n")
	require.Contains(t, text.String(), "late_delivery         6     33.3%       6h0m0s      83.3%      50.0%      25.0%\n")
	require.NotContains(t, text.String(), "needs staff feedback")

	// --report-json: the contract's shape.
	var buf bytes.Buffer
	rep := r.summary.Report()
	require.NoError(t, rep.WriteJSON(&buf))
	var m struct {
		Detectors map[string]map[string]any `json:"detectors"`
		Totals    map[string]any            `json:"totals"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
	require.Equal(t, map[string]any{"alerts": 6.0, "complaint_coverage": 0.333, "lead_time_median_seconds": 21600.0,
		"feedback": 5.0, "precision": 0.5, "recovery_rate": 0.25},
		pick(m.Detectors["late_delivery"], "alerts", "complaint_coverage", "lead_time_median_seconds", "feedback", "precision", "recovery_rate"))
	require.Equal(t, map[string]any{"alerts": 8.0, "complaint_coverage": 0.667, "lead_time_median_seconds": 21600.0,
		"feedback": 6.0, "precision": 0.6, "recovery_rate": 0.4},
		pick(m.Totals, "alerts", "complaint_coverage", "lead_time_median_seconds", "feedback", "precision", "recovery_rate"))
	var back replay.Report
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	require.Equal(t, rep, back, "the JSON holds every figure")
}

func pick(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

func TestReportWithoutFeedback(t *testing.T) {
	m := newMonth(t)
	r := run(t, replay.Options{Config: m.cfg, Input: m.events, Complaints: m.complaints})
	rep := r.summary.Report()
	require.False(t, rep.FeedbackGiven)
	require.Nil(t, rep.Totals.Precision)
	require.Nil(t, rep.Detectors["late_delivery"].RecoveryRate)
	var text bytes.Buffer
	require.NoError(t, r.summary.WriteReport(&text))
	require.Contains(t, text.String(), "give --feedback FILE.jsonl")
	var html bytes.Buffer
	require.NoError(t, rep.WriteHTML(&html))
	require.Contains(t, html.String(), "replay with <code>--feedback FILE.jsonl</code>")
	require.NotContains(t, html.String(), `data-chart="feedback"`)
}

func TestReportWindow(t *testing.T) {
	r, _ := replayMonth(t)
	// From Jan 15 on: alerts of c5 c6 c7 c8 c9; complainers whose first
	// complaint is in it: c6 (flagged Jan 20, 5 days before) and c8 (only after).
	rep := r.summary.ReportWindow(day(15, 0, 0), time.Time{})
	tot := rep.Totals
	require.Equal(t, 5, tot.Alerts)
	require.Equal(t, map[string]int{"minor": 2, "major": 2, "critical": 1}, tot.AlertsBySeverity)
	require.Equal(t, 2, tot.Complainers)
	require.Equal(t, 1, tot.FlaggedBefore)
	require.Equal(t, 0.5, tot.Coverage)
	require.Equal(t, 432000.0, tot.LeadMedianSeconds)
	// Outcomes: c5 unreachable, c8 false alarm.
	require.Equal(t, f(0.5), tot.Precision)
	require.Equal(t, f(0.0), tot.RecoveryRate)
	require.Equal(t, f(0.5), tot.UnreachableShare)
	require.Equal(t, 3, tot.SilentReach, "c5 c7 c9")
	require.Equal(t, 5, tot.FlaggedCustomers)
	// Jan 15 00:00 to the last event, Jan 31 15:38: 16 days 15 h 38 min.
	require.Equal(t, 16.651, tot.Days)
	require.Equal(t, "2026-01-15", rep.Daily[0].Date)
	require.Equal(t, int64(49), tot.Customers, "the whole replay's")

	// Before Jan 15: the rest.
	early := r.summary.ReportWindow(time.Time{}, day(15, 0, 0)).Totals
	require.Equal(t, 3, early.Alerts)
	require.Equal(t, 4, early.Complainers, "c1 c2 c3 c4")
	require.Equal(t, 0.75, early.Coverage)
}
