package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReplayReportFiles: --feedback, --report-json and --report-html from
// the command line, the text report on standard error.
func TestReplayReportFiles(t *testing.T) {
	cfg := goodConfig(t)
	input := writeFile(t, "events.jsonl", events(t, 3000))
	dir := t.TempDir()
	out := filepath.Join(dir, "alerts.jsonl")
	code, _, stderr := invoke(t, nil, "replay", "--config", cfg, "--input", input, "--out", out)
	require.Equal(t, exitOK, code, stderr)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	var a struct {
		AlertID    string `json:"alert_id"`
		CustomerID string `json:"customer_id"`
		DetectedAt string `json:"detected_at"`
		Detector   string `json:"detector"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines(string(b))[0]), &a))
	feedback := writeFile(t, "feedback.jsonl", fmt.Sprintf(
		`{"alert_id":%q,"customer_id":%q,"time":%q,"action":"outcome","outcome":"false_alarm"}`+"\n"+`{"alert_id":"nope"}`+"\n",
		a.AlertID, a.CustomerID, a.DetectedAt))

	jsonPath, htmlPath, dlq := filepath.Join(dir, "report.json"), filepath.Join(dir, "report.html"), filepath.Join(dir, "bad.jsonl")
	code, _, stderr = invoke(t, nil, "replay", "--config", cfg, "--input", input, "--out", out, "--dlq", dlq,
		"--feedback", feedback, "--report", "--report-json", jsonPath, "--report-html", htmlPath)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stderr, "  precision       0.0% (false alarms: 1 of 1 outcomes)")
	bad, err := os.ReadFile(dlq)
	require.NoError(t, err)
	require.Contains(t, string(bad), `"error":"feedback: missing field \"customer_id\""`)

	var rep struct {
		Detectors map[string]struct {
			Alerts    int      `json:"alerts"`
			Feedback  int      `json:"feedback"`
			Precision *float64 `json:"precision"`
		} `json:"detectors"`
		Totals map[string]any `json:"totals"`
	}
	b, err = os.ReadFile(jsonPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &rep))
	d := rep.Detectors[a.Detector]
	require.Positive(t, d.Alerts)
	require.Equal(t, 1, d.Feedback)
	require.Equal(t, 0.0, *d.Precision)
	require.Equal(t, 3000.0, rep.Totals["events"])

	html, err := os.ReadFile(htmlPath)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(html), "<!DOCTYPE html>"))
	require.Contains(t, string(html), `data-chart="daily"`)

	// A report file that cannot be written fails at once, in one line, before the replay.
	code, _, stderr = invoke(t, nil, "replay", "--config", cfg, "--input", input, "--out", out,
		"--report-html", filepath.Join(dir, "no", "such", "dir", "r.html"))
	require.Equal(t, exitRuntime, code)
	require.Len(t, lines(stderr), 1, "%q", stderr)
	require.NotContains(t, stderr, "events", "no replay ran")

	// So does a missing feedback file.
	code, _, stderr = invoke(t, nil, "replay", "--config", cfg, "--input", input, "--out", out,
		"--feedback", filepath.Join(dir, "nope.jsonl"))
	require.Equal(t, exitRuntime, code)
	require.Contains(t, stderr, "nope.jsonl")
}
