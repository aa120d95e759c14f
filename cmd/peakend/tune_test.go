package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
)

// tuneHistory: 30 days; each day eight late deliveries of 30–51 hours that
// nobody complains about and one of 80 hours whose customer complains an
// hour later.
func tuneHistory(t *testing.T) (events, complaints string) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var ev, cs []string
	for d := range 30 {
		for i := range 9 {
			cust, h := fmt.Sprintf("n-%d-%d", d, i), 30+3*float64(i)
			if i == 8 {
				cust, h = fmt.Sprintf("c-%d", d), 80
			}
			at := t0.Add(time.Duration(d)*24*time.Hour + time.Duration(i)*time.Minute)
			ev = append(ev, fmt.Sprintf(`{"event_id":"e-%s","customer_id":%q,"time":%q,"journey":"delivery","metrics":{"delay_hours":%v}}`,
				cust, cust, at.Format(time.RFC3339), h))
			if i == 8 {
				cs = append(cs, fmt.Sprintf(`{"customer_id":%q,"time":%q}`, cust, at.Add(time.Hour).Format(time.RFC3339)))
			}
		}
	}
	return writeFile(t, "events.jsonl", strings.Join(ev, "\n")+"\n"), writeFile(t, "complaints.jsonl", strings.Join(cs, "\n")+"\n")
}

func TestTune(t *testing.T) {
	events, complaints := tuneHistory(t)
	// max_per_hour 0: unlimited unless --capacity says otherwise.
	cfg := writeFile(t, "peakend.yaml", `
detectors:
  - {name: late_delivery, type: threshold, journey: delivery, metric: delay_hours, minor: 24}
`)
	out := filepath.Join(t.TempDir(), "tuned.yaml")
	code, stdout, stderr := invoke(t, nil, "tune", "--config", cfg, "--input", events, "--complaints", complaints,
		"--capacity", "2", "--write", out)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "capacity: 2 alerts per day")
	require.Contains(t, stdout, "settings tried")
	require.Contains(t, stdout, "recommendation: #")
	require.Contains(t, stdout, "written: "+out)
	require.Contains(t, stderr, "tune: decoded 270 events, 30 complaints and 0 feedback events")
	tuned, err := config.Load(out)
	require.NoError(t, err)
	require.Equal(t, 72.0, *tuned.Detectors[0].Minor, "only the 80-hour deliveries, one a day")

	// Feedback: every complainer's alert recovered, the alert on each day's
	// 51-hour delivery a false alarm; a claim (not an outcome) and a bad line.
	var fb []string
	for d := range 30 {
		for _, c := range []struct{ cust, outcome string }{{fmt.Sprintf("c-%d", d), "recovered"}, {fmt.Sprintf("n-%d-7", d), "false_alarm"}} {
			fb = append(fb, fmt.Sprintf(`{"alert_id":%q,"customer_id":%q,"time":"2026-02-01T00:00:00Z","action":"outcome","outcome":%q}`,
				alerts.AlertID("late_delivery", c.cust, []byte("e-"+c.cust)), c.cust, c.outcome))
		}
	}
	fb = append(fb, `{"alert_id":"x","customer_id":"c-1","time":"2026-02-01T00:00:00Z","action":"claim","by":"ana"}`, `{"alert_id":`)
	feedback := writeFile(t, "feedback.jsonl", strings.Join(fb, "\n")+"\n")
	code, stdout, stderr = invoke(t, nil, "tune", "--config", cfg, "--input", events, "--complaints", complaints,
		"--capacity", "2", "--feedback", feedback)
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, `tune: decoded 270 events, 30 complaints and 61 feedback events in [0-9.]+s \(1 bad lines skipped\)`, stderr)
	// The current 24 hours: 9 alerts a day, 2 with feedback, 1 a false alarm.
	require.Regexp(t, `(?m)^1\s+current\s+9\.\d\s+100\.0% \(\d+/\d+\)\s+60 minutes\s+50\.0%\s+22%\s+no`, stdout)
	require.Regexp(t, `(?m)^chosen\s+#\d+\s+1\.\d\s+100\.0% \(\d+/\d+\)\s+60 minutes\s+100\.0%\s+100%\s+yes`, stdout)
	require.NotContains(t, stdout, "no feedback")

	// No --capacity, max_per_hour 0: unlimited, said so.
	code, stdout, stderr = invoke(t, nil, "tune", "--config", cfg, "--input", events, "--complaints", complaints)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "capacity: unlimited (alerting.max_per_hour is 0 and --capacity was not given)")

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--config", cfg, "--input", events}, exitUsage, "--complaints is required"},
		{[]string{"--config", cfg, "--complaints", complaints}, exitUsage, "--input is required"},
		{[]string{"--input", events, "--complaints", complaints}, exitUsage, "--config is required"},
		{[]string{"--config", writeFile(t, "bad.yaml", "detectors: []\n"), "--input", events, "--complaints", complaints}, exitUsage, "detectors"},
		{[]string{"--config", cfg, "--input", events, "--complaints", complaints, "--hold-out", "1"}, exitUsage, "--hold-out"},
		{[]string{"--config", cfg, "--input", "/nonexistent/events.jsonl", "--complaints", complaints}, exitRuntime, "no such file"},
		{[]string{"--config", cfg, "--input", events, "--complaints", complaints, "--feedback", "/nonexistent/f.jsonl"}, exitRuntime, "no such file"},
	} {
		code, _, stderr := invoke(t, nil, append([]string{"tune"}, c.args...)...)
		require.Equal(t, c.code, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.msg, "%v", c.args)
	}
}
