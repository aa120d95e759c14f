package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
)

// invoke runs the command line with stdin and returns its exit status and outputs.
func invoke(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errOut bytes.Buffer
	code = run(args, stdin, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func goodConfig(t *testing.T) string { return writeFile(t, "peakend.yaml", string(config.Example)) }

func lines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

func TestNoArguments(t *testing.T) {
	code, stdout, stderr := invoke(t, nil)
	require.Equal(t, exitUsage, code)
	require.Empty(t, stdout)
	require.Contains(t, stderr, "Usage:")
	for _, cmd := range []string{"run", "demo", "replay", "tune", "validate", "version"} {
		require.Contains(t, stderr, "peakend "+cmd)
	}
}

func TestUnknownCommand(t *testing.T) {
	code, stdout, stderr := invoke(t, nil, "frobnicate")
	require.Equal(t, exitUsage, code)
	require.Empty(t, stdout)
	require.Equal(t, "peakend: unknown command \"frobnicate\" (try peakend --help)\n", stderr)
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, stdout, stderr := invoke(t, nil, args...)
		require.Equal(t, exitOK, code, "%v", args)
		require.Contains(t, stdout, "Usage:")
		require.Empty(t, stderr)
	}
	for _, cmd := range []string{"run", "demo", "replay", "tune", "validate", "version"} {
		for _, h := range []string{"--help", "-h", "-help"} {
			t.Run(cmd+h, func(t *testing.T) {
				code, stdout, stderr := invoke(t, nil, cmd, h)
				require.Equal(t, exitOK, code)
				require.True(t, strings.HasPrefix(stdout, "Usage: peakend "+cmd), "usage on standard output: %q", stdout)
				require.Empty(t, stderr)
			})
		}
	}
	// Flags are documented.
	_, stdout, _ := invoke(t, nil, "replay", "--help")
	for _, f := range []string{"-config", "-input", "-complaints", "-out", "-dlq", "-state", "-report"} {
		require.Contains(t, stdout, f)
	}
}

func TestBadFlagIsOneLine(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "--bogus"},
		{"replay", "--config"},
		{"demo", "--rate", "lots"},
		{"version", "extra"},
		{"run", "--config", "x.yaml", "extra"},
	} {
		code, stdout, stderr := invoke(t, nil, args...)
		require.Equal(t, exitUsage, code, "%v", args)
		require.Empty(t, stdout)
		require.Len(t, lines(stderr), 1, "%v: %q", args, stderr)
		require.True(t, strings.HasPrefix(stderr, "peakend: "), stderr)
		require.Contains(t, stderr, "peakend "+args[0]+" --help")
	}
}

func TestValidate(t *testing.T) {
	path := goodConfig(t)
	code, stdout, stderr := invoke(t, nil, "validate", "--config", path)
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, path+": ok (7 detectors, 1 sinks)\n", stdout)
	require.Empty(t, stderr)

	bad := writeFile(t, "bad.yaml", `detectors:
  - {name: d, type: threshold, metric: m, minor: 1}
  - name: late_delivery
    type: threshold
    metric: delay_hours
    minor: 72
    major: 24
state:
  window: lots
alerting:
  cooldown: -1h
`)
	code, stdout, stderr = invoke(t, nil, "validate", "--config", bad)
	require.Equal(t, exitUsage, code)
	require.Empty(t, stdout)
	require.Equal(t, []string{
		"peakend: invalid configuration:",
		bad + `:6: detectors[late_delivery].minor: must be less than major (72 < 24)`,
		bad + `:9: state.window: expected a whole number, got "lots"`,
		bad + `:11: alerting.cooldown: duration must not be negative (got "-1h")`,
	}, lines(stderr))

	code, _, stderr = invoke(t, nil, "validate")
	require.Equal(t, exitUsage, code)
	require.Equal(t, "peakend: --config is required\n", stderr)

	code, _, stderr = invoke(t, nil, "validate", "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	require.Equal(t, exitUsage, code)
	require.Len(t, lines(stderr), 1)
	require.Contains(t, stderr, "missing.yaml")
}

func TestVersion(t *testing.T) {
	code, stdout, stderr := invoke(t, nil, "version")
	require.Equal(t, exitOK, code)
	require.True(t, strings.HasPrefix(stdout, "peakend "+version+"\n"), stdout)
	require.Contains(t, stdout, "commit ")
	require.Contains(t, stdout, "go1.")
	require.Empty(t, stderr)
}

func TestRunNeedsConfig(t *testing.T) {
	code, _, stderr := invoke(t, nil, "run")
	require.Equal(t, exitUsage, code)
	require.Equal(t, "peakend: --config is required\n", stderr)
}

// events returns n lines of demo traffic, as `peakend demo --emit n` prints them.
func events(t *testing.T, n int) string {
	t.Helper()
	code, stdout, stderr := invoke(t, nil, "demo", "--emit", itoa(n))
	require.Equal(t, exitOK, code, stderr)
	return stdout
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestDemoEmit(t *testing.T) {
	code, stdout, stderr := invoke(t, nil, "demo", "--emit", "100")
	require.Equal(t, exitOK, code)
	require.Empty(t, stderr)
	ls := lines(stdout)
	require.Len(t, ls, 100)
	for _, l := range ls {
		require.True(t, json.Valid([]byte(l)), l)
	}
	// The same seed gives the same traffic; another seed does not.
	_, again, _ := invoke(t, nil, "demo", "--emit", "100")
	require.Equal(t, stdout, again)
	_, other, _ := invoke(t, nil, "demo", "--emit", "100", "--seed", "2")
	require.NotEqual(t, stdout, other)
	// --start sets the first event time.
	_, first, _ := invoke(t, nil, "demo", "--emit", "1", "--start", "2025-06-01T12:00:00Z")
	require.Contains(t, first, `"time":"2025-06-01T12:00:00Z"`)

	code, _, stderr = invoke(t, nil, "demo", "--emit", "1", "--start", "yesterday")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "--start")
	code, _, _ = invoke(t, nil, "demo", "--rate", "0")
	require.Equal(t, exitUsage, code)
}

func TestReplayEndToEnd(t *testing.T) {
	cfg := goodConfig(t)
	input := writeFile(t, "events.jsonl", events(t, 3000)+"not json\n")
	complaints := writeFile(t, "complaints.jsonl", `{"customer_id":"cust-00001","time":"2026-01-01T05:00:00Z"}`+"\n")
	dir := t.TempDir()
	out, dlq := filepath.Join(dir, "alerts.jsonl"), filepath.Join(dir, "bad.jsonl")

	code, stdout, stderr := invoke(t, nil, "replay", "--config", cfg, "--input", input, "--complaints", complaints,
		"--out", out, "--dlq", dlq, "--report", "--state", filepath.Join(dir, "state"))
	require.Equal(t, exitOK, code, stderr)
	require.Empty(t, stdout, "with --out, nothing on standard output")
	require.True(t, strings.HasPrefix(stderr, "replay: 3000 events, 1 invalid"), "the summary first: %q", stderr)
	require.Contains(t, stderr, "peakend replay report")
	last := lines(stderr)[len(lines(stderr))-1]
	var report map[string]any
	require.NoError(t, json.Unmarshal([]byte(last), &report), "the report's last line is JSON")
	require.Equal(t, 3000.0, report["events"])
	require.Equal(t, 1.0, report["complainers"])

	alerts, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NotEmpty(t, alerts)
	for _, l := range lines(string(alerts)) {
		require.True(t, json.Valid([]byte(l)), l)
	}
	bad, err := os.ReadFile(dlq)
	require.NoError(t, err)
	require.Equal(t, `{"line":3001,"error":"invalid JSON at byte 0: want a JSON object","record":"not json"}`+"\n", string(bad))
	_, err = os.Stat(filepath.Join(dir, "state"))
	require.NoError(t, err, "--state keeps the store")

	// Without --out, alerts go to standard output and the report to standard
	// error; standard input works as "-"; without --dlq bad lines are counted.
	// The same complaints: they set complained_before.
	code, stdout, stderr = invoke(t, strings.NewReader(events(t, 3000)+"not json\n"), "replay", "--config", cfg,
		"--input", "-", "--complaints", complaints, "--report")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, string(alerts), stdout, "byte-identical alerts")
	require.Contains(t, stderr, "peakend replay report")
	require.Contains(t, stderr, "1 bad lines skipped (use --dlq FILE")
}

func TestReplayErrors(t *testing.T) {
	cfg := goodConfig(t)
	code, stdout, stderr := invoke(t, nil, "replay", "--config", cfg, "--input", filepath.Join(t.TempDir(), "nope.jsonl"))
	require.Equal(t, exitRuntime, code)
	require.Empty(t, stdout)
	require.Len(t, lines(stderr), 1, "%q", stderr)
	require.True(t, strings.HasPrefix(stderr, "peakend: "), stderr)
	require.Contains(t, stderr, "nope.jsonl")

	code, _, stderr = invoke(t, nil, "replay", "--config", cfg)
	require.Equal(t, exitUsage, code)
	require.Equal(t, "peakend: --input is required\n", stderr)

	code, _, stderr = invoke(t, nil, "replay", "--input", "-")
	require.Equal(t, exitUsage, code)
	require.Equal(t, "peakend: --config is required\n", stderr)

	// An --out that cannot be created is a runtime failure, in one line.
	code, _, stderr = invoke(t, strings.NewReader(""), "replay", "--config", cfg, "--input", "-",
		"--out", filepath.Join(t.TempDir(), "no", "such", "dir", "alerts.jsonl"))
	require.Equal(t, exitRuntime, code)
	require.Len(t, lines(stderr), 1, "%q", stderr)
}
