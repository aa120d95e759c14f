package tune_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/replay"
	"github.com/peakend/peakend/tune"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

const days = 90

// history plants a best setting: every day, ten late deliveries of 30–55
// hours that nobody complains about, and two of 80 and 90 hours whose
// customers complain two hours later. A cut-off of 72 hours flags exactly
// the complainers. From day drift on, the complainers' deliveries are 35
// and 40 hours late instead (the world changed).
func history(t *testing.T, drift int) (events, complaints string, ids map[string]string) {
	t.Helper()
	var ev, cs []string
	ids = map[string]string{} // customer → event id of their late delivery
	line := func(id, cust string, at time.Time, hours float64) string {
		ids[cust] = id
		return fmt.Sprintf(`{"event_id":%q,"customer_id":%q,"time":%q,"journey":"delivery","outcome":"delivered","metrics":{"delay_hours":%v}}`,
			id, cust, at.Format(time.RFC3339), hours)
	}
	for d := range days {
		day := t0.Add(time.Duration(d) * 24 * time.Hour)
		for i := range 10 {
			cust := fmt.Sprintf("n-%d-%d", d, i)
			ev = append(ev, line("e-"+cust, cust, day.Add(time.Duration(i)*time.Minute), 30+2.8*float64(i)))
		}
		for i, h := range []float64{80, 90} {
			if d >= drift {
				h -= 45
			}
			cust := fmt.Sprintf("c-%d-%d", d, i)
			at := day.Add(time.Duration(20+i) * time.Minute)
			ev = append(ev, line("e-"+cust, cust, at, h))
			cs = append(cs, fmt.Sprintf(`{"customer_id":%q,"time":%q,"channel":"email"}`, cust, at.Add(2*time.Hour).Format(time.RFC3339)))
		}
	}
	dir := t.TempDir()
	events, complaints = filepath.Join(dir, "events.jsonl"), filepath.Join(dir, "complaints.jsonl")
	require.NoError(t, os.WriteFile(events, []byte(strings.Join(ev, "\n")+"\n"), 0o600))
	require.NoError(t, os.WriteFile(complaints, []byte(strings.Join(cs, "\n")+"\n"), 0o600))
	return events, complaints, ids
}

const cfgYAML = `
detectors:
  - {name: late_delivery, type: threshold, journey: delivery, metric: delay_hours, minor: 24}
alerting:
  cooldown: 72h
`

func search(t *testing.T, events, complaints string, capacity float64, feed []event.Feedback) *tune.Result {
	t.Helper()
	cfg, err := config.Parse("peakend.yaml", []byte(cfgYAML))
	require.NoError(t, err)
	feedback := ""
	if feed != nil {
		var lines []string
		for _, f := range feed {
			lines = append(lines, string(event.EncodeFeedback(f)))
		}
		feedback = filepath.Join(t.TempDir(), "feedback.jsonl")
		require.NoError(t, os.WriteFile(feedback, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	}
	d, err := replay.DecodeInput(context.Background(), replay.DecodeOptions{Input: events, Complaints: complaints,
		Feedback: feedback, MaxBytes: cfg.Events.MaxBytes, Journeys: cfg.Journeys})
	require.NoError(t, err)
	require.Equal(t, len(feed), d.Feedback)
	r, err := tune.Run(context.Background(), tune.Options{Config: cfg, Input: d, Capacity: capacity, InMemory: true})
	require.NoError(t, err)
	return r
}

func minor(c *config.Config) float64 { return *c.Detectors[0].Minor }

// The configured 24 hours flags twelve customers a day against a capacity
// of three; tune finds 72 hours, which flags every complainer and no one
// else, and writes it as a configuration config.Load accepts.
func TestFindsPlantedSetting(t *testing.T) {
	events, complaints, _ := history(t, days)
	r := search(t, events, complaints, 3, nil)

	require.Equal(t, 24.0, minor(r.Current.Config))
	require.False(t, r.Current.Tune.Fits, "24 hours: %.1f alerts a day", r.Current.Tune.PerDay)
	require.Equal(t, 72.0, minor(r.Recommended.Config))
	require.Same(t, r.Chosen, r.Recommended)
	require.False(t, r.KeptCurrent)
	for _, s := range []tune.Score{r.Recommended.Tune, r.Recommended.Held} {
		require.True(t, s.Fits)
		require.Equal(t, 1.0, s.Coverage)
		require.Equal(t, 2*time.Hour, s.LeadMedian)
		require.Equal(t, s.Complainers, s.Alerts, "only the complainers are flagged")
	}
	// The grid: the current setting, ×0.5 ×0.75 ×1.5 ×2, then on from the
	// edge ×3 ×4, and the cooldown's 1d and 7d.
	require.Len(t, r.Settings, 9)

	var table bytes.Buffer
	require.NoError(t, r.WriteTable(&table))
	out := table.String()
	require.Contains(t, out, "9 settings tried")
	require.Contains(t, out, "capacity: 3 alerts per day")
	require.Regexp(t, fmt.Sprintf(`(?m)^%d \*\s+late_delivery ×3: minor 72\s+2\.0\s+100\.0%%`, r.Recommended.N), out)
	require.Contains(t, out, fmt.Sprintf("recommendation: #%d; changed: late_delivery minor 72\n", r.Recommended.N))
	require.Contains(t, out, "precision: no feedback")

	path := filepath.Join(t.TempDir(), "tuned.yaml")
	var y bytes.Buffer
	require.NoError(t, r.WriteYAML(&y))
	require.NoError(t, os.WriteFile(path, y.Bytes(), 0o600))
	loaded, err := config.Load(path)
	require.NoError(t, err, "%s", y.String())
	require.Equal(t, r.Recommended.Config.Detectors, loaded.Detectors)
	require.Equal(t, 72.0, minor(loaded))
	require.NotContains(t, y.String(), "alerting:", "the cooldown did not change")
}

// A setting that only fits the tuning period loses: with no capacity limit,
// 72 hours flags every complainer of the first two months with fewer
// alerts, but in the last month the complaints follow 35- and 40-hour
// delays, which only the current 24 hours flags. The held-out period
// decides: keep the current settings.
func TestHeldOutPeriodDecides(t *testing.T) {
	events, complaints, _ := history(t, 62) // the held-out period starts on day 59.4
	r := search(t, events, complaints, 0, nil)

	require.Equal(t, 72.0, minor(r.Chosen.Config), "best on the tuning period")
	require.Equal(t, 1.0, r.Chosen.Tune.Coverage)
	require.Less(t, r.Chosen.Held.Coverage, 0.2)
	require.Equal(t, 1.0, r.Current.Held.Coverage)
	require.True(t, r.KeptCurrent)
	require.Same(t, r.Current, r.Recommended)

	var table bytes.Buffer
	require.NoError(t, r.WriteTable(&table))
	require.Contains(t, table.String(), "capacity: unlimited")
	require.Contains(t, table.String(), fmt.Sprintf("recommendation: keep the current settings: #%d did better on the tuning period but worse on the held-out one", r.Chosen.N))
	var y bytes.Buffer
	require.NoError(t, r.WriteYAML(&y))
	require.Contains(t, y.String(), "minor: 24")
}

// Feedback gives each setting its precision (1 − false alarms / alerts with
// feedback) and the share of its alerts with feedback.
func TestFeedbackPrecision(t *testing.T) {
	events, complaints, ids := history(t, days)
	var feed []event.Feedback
	// Every complainer's alert recovered; the alerts on the first three of
	// each day's other late deliveries (30, 32.8, 35.6 hours) false alarms.
	for d := range days {
		for i := range 2 {
			cust := fmt.Sprintf("c-%d-%d", d, i)
			feed = append(feed, event.Feedback{AlertID: alerts.AlertID("late_delivery", cust, []byte(ids[cust])),
				CustomerID: cust, Time: t0.Add(time.Duration(d)*24*time.Hour + 5*time.Hour).UnixNano(), Outcome: event.FeedbackRecovered})
		}
		for i := range 3 {
			cust := fmt.Sprintf("n-%d-%d", d, i)
			feed = append(feed, event.Feedback{AlertID: alerts.AlertID("late_delivery", cust, []byte(ids[cust])),
				CustomerID: cust, Time: t0.Add(time.Duration(d)*24*time.Hour + 5*time.Hour).UnixNano(), Outcome: event.FeedbackFalseAlarm})
		}
	}
	// A later record corrects an earlier one: day 0's first false alarm
	// was in fact a recovery.
	feed = append(feed, event.Feedback{AlertID: feed[2].AlertID, CustomerID: feed[2].CustomerID,
		Time: feed[2].Time + int64(time.Hour), Outcome: event.FeedbackRecovered})
	r := search(t, events, complaints, 3, feed)

	cur := r.Current.Tune // 24 hours: 12 alerts a day, 5 with feedback, 3 of them false alarms
	require.Equal(t, cur.Alerts*5/12, cur.WithFeed)
	require.Equal(t, cur.WithFeed, cur.Outcomes)
	falseAlarms := cur.Alerts*3/12 - 1
	require.InDelta(t, 1-float64(falseAlarms)/float64(cur.Outcomes), cur.Precision, 1e-3)
	require.InDelta(t, 5.0/12, cur.FeedShare, 1e-3)
	rec := r.Recommended.Tune // 72 hours: the complainers only, all recovered
	require.Equal(t, 1.0, rec.Precision)
	require.Equal(t, 1.0, rec.FeedShare)

	var table bytes.Buffer
	require.NoError(t, r.WriteTable(&table))
	require.Regexp(t, fmt.Sprintf(`(?m)^1\s+current\s+\S+\s+100\.0%% \(\d+/\d+\)\s+2 hours\s+%.1f%%\s+42%%\s+no`, 100*cur.Precision), table.String())
	require.NotContains(t, table.String(), "no feedback")
}
