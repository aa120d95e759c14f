package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
)

// The walk-through of examples/README.md: emit the demo's traffic with
// complaints, replay it with examples/replay.yaml.
const examples = "../../examples"

// replayReport replays events (and complaints) with examples/replay.yaml
// as the walk-through does, without --out, and checks what a user pipes:
// standard output holds only alert JSON lines, the report is on standard
// error. It returns the detectors that fired (by name) and the report.
func replayReport(t *testing.T, events, complaints string) (map[string]int, map[string]any) {
	t.Helper()
	code, stdout, stderr := invoke(t, nil, "replay", "--config", filepath.Join(examples, "replay.yaml"),
		"--input", events, "--complaints", complaints, "--report")
	require.Equal(t, exitOK, code, stderr)
	fired := map[string]int{}
	for _, l := range lines(stdout) {
		var a struct {
			AlertID  string `json:"alert_id"`
			Detector string `json:"detector"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &a), "standard output holds only alert lines: %q", l)
		require.NotEmpty(t, a.AlertID, l)
		fired[a.Detector]++
	}
	require.NotContains(t, stdout, "peakend replay report")
	require.Contains(t, stderr, "peakend replay report")
	last := lines(stderr)[len(lines(stderr))-1]
	var report map[string]any
	require.NoError(t, json.Unmarshal([]byte(last), &report), "the report's last line is JSON: %q", last)
	return fired, report
}

// requireEveryDetector requires alerts from every detector of
// examples/replay.yaml, and a complaint coverage that is earned: some
// complainers flagged before they complained, not all.
func requireEveryDetector(t *testing.T, fired map[string]int, report map[string]any) {
	t.Helper()
	cfg, err := config.Load(filepath.Join(examples, "replay.yaml"))
	require.NoError(t, err)
	var kinds []string
	for _, d := range cfg.Detectors {
		require.Positive(t, fired[d.Name], "alerts of %s (%s); fired: %v", d.Name, d.Type, fired)
		if !slices.Contains(kinds, string(d.Type)) {
			kinds = append(kinds, string(d.Type))
		}
	}
	require.Len(t, kinds, 6, "the config has every detector type: %v", kinds)
	require.Positive(t, report["complainers"], "complainers: %v", report)
	coverage := report["complaint_coverage"].(float64)
	require.Greater(t, coverage, 0.0, "coverage: %v", report)
	require.Less(t, coverage, 1.0, "coverage is earned, not given: %v", report)
	t.Logf("fired %v; %v of %v complainers flagged before complaining (%.1f%%), %v flagged customers never complained",
		fired, report["flagged_before_complaint"], report["complainers"], 100*coverage, report["silent_reach"])
}

func TestReplayWalkThrough(t *testing.T) {
	code, _, stderr := invoke(t, nil, "validate", "--config", filepath.Join(examples, "replay.yaml"))
	require.Equal(t, exitOK, code, stderr)

	dir := t.TempDir()
	complaints := filepath.Join(dir, "complaints.jsonl")
	code, events, stderr := invoke(t, nil, "demo", "--emit", "20000", "--complaints", complaints)
	require.Equal(t, exitOK, code, stderr)
	require.Empty(t, stderr)
	b, err := os.ReadFile(complaints)
	require.NoError(t, err)
	cs := lines(string(b))
	var prev string
	for _, l := range cs {
		var c map[string]string
		require.NoError(t, json.Unmarshal([]byte(l), &c), l)
		require.NotEmpty(t, c["complaint_id"], l)
		require.True(t, strings.HasPrefix(c["customer_id"], "cust-"), l)
		require.NotEmpty(t, c["text"], l)
		require.GreaterOrEqual(t, c["time"], prev, "complaints in time order")
		prev = c["time"]
	}
	require.Greater(t, len(cs), 20, "complaints about 20,000 events")

	fired, report := replayReport(t, writeFile(t, "events.jsonl", events), complaints)
	requireEveryDetector(t, fired, report)

	// Without --complaints, --emit writes no file, and the events are the same.
	code, again, _ := invoke(t, nil, "demo", "--emit", "20000")
	require.Equal(t, exitOK, code)
	require.Equal(t, events, again, "--complaints does not change the events")
	code, _, stderr = invoke(t, nil, "demo", "--complaints", complaints)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "--complaints needs --emit")
}

// The committed sample is what its command in examples/README.md makes,
// and replayed it shows every detector too.
func TestExamplesSample(t *testing.T) {
	complaints := filepath.Join(t.TempDir(), "complaints.jsonl")
	code, events, stderr := invoke(t, nil, "demo", "--emit", "2000", "--customers", "200", "--complaints", complaints)
	require.Equal(t, exitOK, code, stderr)
	for name, want := range map[string]string{"events-sample.jsonl": events, "complaints-sample.jsonl": string(must(os.ReadFile(complaints)))} {
		got, err := os.ReadFile(filepath.Join(examples, name))
		require.NoError(t, err)
		require.Equal(t, want, string(got), "examples/%s is not what its command makes now: run it again (examples/README.md)", name)
	}
	readme, err := os.ReadFile(filepath.Join(examples, "README.md"))
	require.NoError(t, err)
	require.Contains(t, string(readme), "peakend demo --emit 2000 --customers 200 --complaints examples/complaints-sample.jsonl > examples/events-sample.jsonl")

	fired, report := replayReport(t, filepath.Join(examples, "events-sample.jsonl"), filepath.Join(examples, "complaints-sample.jsonl"))
	requireEveryDetector(t, fired, report)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
