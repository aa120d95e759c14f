package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/demo"
	"github.com/peakend/peakend/replay"
	"github.com/peakend/peakend/state"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// demoLines is what `peakend demo --emit n` prints: synthetic events, one
// every 10 s, with a malformed one every 5000.
func demoLines(n int) []string {
	g := demo.NewGenerator(5000, 1)
	g.InvalidEvery = 5000
	lines := make([]string, n)
	for i := range lines {
		_, v := g.Next(t0.Add(time.Duration(i) * 10 * time.Second))
		lines[i] = string(v)
	}
	return lines
}

func writeLines(t *testing.T, name string, lines []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return path
}

// result is one replay's outputs.
type result struct {
	summary *replay.Summary
	alerts  string
	dlq     string
}

func run(t *testing.T, o replay.Options) result {
	t.Helper()
	if o.Config == nil {
		o.Config = config.Default()
	}
	var out, dlq bytes.Buffer
	o.Out = &out
	if o.DLQ == nil {
		o.DLQ = &dlq
	}
	s, err := replay.Run(context.Background(), o)
	require.NoError(t, err)
	return result{summary: s, alerts: out.String(), dlq: dlq.String()}
}

func TestDeterministic(t *testing.T) {
	lines := demoLines(20_000)
	path := writeLines(t, "events.jsonl", lines)

	a := run(t, replay.Options{Input: path})
	b := run(t, replay.Options{Input: path})
	require.NotEmpty(t, a.alerts)
	require.Equal(t, a.alerts, b.alerts, "byte-identical alerts")
	require.Equal(t, a.dlq, b.dlq)
	require.True(t, a.summary.Sorted)
	require.Equal(t, 20_000, a.summary.Lines)
	require.Equal(t, 4, a.summary.Invalid, "one malformed line every 5000")
	require.Equal(t, 19_996, a.summary.Events)
	require.Equal(t, t0, a.summary.First)
	require.Equal(t, t0.Add(19_998*10*time.Second), a.summary.Last, "the last line is malformed")

	// Through standard input.
	c := run(t, replay.Options{Input: "-", Stdin: strings.NewReader(strings.Join(lines, "\n") + "\n")})
	require.Equal(t, a.alerts, c.alerts)
	require.Equal(t, a.dlq, c.dlq)

	// Small batches commit more often: same output.
	d := run(t, replay.Options{Input: path, BatchEvents: 7})
	require.Equal(t, a.alerts, d.alerts)

	// Each commit waited for, and every customer read from Pebble (no
	// header cache): same output. Tiny batches make the next batch read
	// customers the one in flight still writes (state.Batch.CommitAsync).
	noCache := config.Default()
	noCache.State.HeaderCacheMiB = -1
	for _, sync := range []bool{false, true} {
		e := run(t, replay.Options{Input: path, Config: noCache, BatchEvents: 3, SyncCommit: sync})
		require.Equal(t, a.alerts, e.alerts, "sync commit %v", sync)
	}

	// Every alert line is a JSON object of the contract's shape, with
	// detected_at equal to event_time in replay (the deadline for timers).
	n := 0
	for line := range strings.Lines(a.alerts) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		if m["detector"] != "running_late" && m["detector"] != "broken_promise" {
			require.Equal(t, m["event_time"], m["detected_at"])
		} else { // timers: detected at the deadline, after the start
			require.Greater(t, m["detected_at"], m["event_time"])
		}
		require.NotEmpty(t, m["alert_id"])
		n++
	}
	var total int
	for _, k := range a.summary.Alerts {
		total += k
	}
	require.Equal(t, total, n)
	require.Zero(t, a.summary.Alerts[0], "no alert of severity none")
}

func TestEventTimeOrder(t *testing.T) {
	lines := demoLines(8_000)
	sorted := run(t, replay.Options{Input: writeLines(t, "sorted.jsonl", lines)})

	shuffled := append([]string(nil), lines...)
	rand.New(rand.NewPCG(42, 42)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	got := run(t, replay.Options{Input: writeLines(t, "shuffled.jsonl", shuffled)})

	require.True(t, sorted.summary.Sorted)
	require.False(t, got.summary.Sorted)
	require.NotEmpty(t, sorted.alerts)
	require.Equal(t, sorted.alerts, got.alerts, "the same alerts in event-time order")
	require.Equal(t, sorted.summary.Events, got.summary.Events)
	require.Equal(t, sorted.summary.Invalid, got.summary.Invalid)
	require.Equal(t, sorted.summary.First, got.summary.First)
	require.Equal(t, sorted.summary.Last, got.summary.Last)
}

func event(id, cust string, at time.Time, journey, rest string) string {
	return fmt.Sprintf(`{"event_id":%q,"customer_id":%q,"time":%q,"journey":%q%s}`, id, cust, at.Format(time.RFC3339), journey, rest)
}

func lateDelivery(id, cust string, at time.Time, hours float64) string {
	return event(id, cust, at, "delivery", fmt.Sprintf(`,"outcome":"delivered","metrics":{"delay_hours":%v}`, hours))
}

func TestDLQ(t *testing.T) {
	lines := []string{
		lateDelivery("e1", "a", t0, 1),
		`not json`,
		lateDelivery("e2", "a", t0.Add(time.Hour), 100),
		``,
		`{"customer_id":"b","journey":"delivery"}`,
		event("e3", "b", t0, "teleport", ""),
		`   `,
		lateDelivery("e4", "b", t0.Add(2*time.Hour), 200),
		`{"customer_id":"c","time":"2026-01-01T00:00:00Z","journey":"delivery","metrics":{"delay_hours":"late"}}`,
	}
	path := writeLines(t, "events.jsonl", lines)
	r := run(t, replay.Options{Input: path})

	var dead []map[string]any
	for line := range strings.Lines(r.dlq) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		require.Len(t, m, 3, "line, error, record: %s", line)
		dead = append(dead, m)
	}
	require.Equal(t, []map[string]any{
		{"line": 2.0, "error": "invalid JSON at byte 0: want a JSON object", "record": "not json"},
		{"line": 5.0, "error": `missing field "time"`, "record": lines[4]},
		{"line": 6.0, "error": `unknown journey "teleport"`, "record": lines[5]},
		{"line": 9.0, "error": `field "metrics.delay_hours": want a finite number`, "record": lines[8]},
	}, dead)
	require.Equal(t, 4, r.summary.Invalid)
	require.Equal(t, 3, r.summary.Events, "blank lines are neither events nor invalid")
	require.Equal(t, 9, r.summary.Lines)
	require.Equal(t, 2, strings.Count(r.alerts, "\n"), "the run goes on after bad lines")

	// Without a DLQ writer the bad lines are only counted.
	var out bytes.Buffer
	s, err := replay.Run(context.Background(), replay.Options{Config: config.Default(), Input: path, Out: &out})
	require.NoError(t, err)
	require.Equal(t, 4, s.Invalid)
	require.Equal(t, r.alerts, out.String())
}

func TestDLQKeepsLongAndOddLines(t *testing.T) {
	long := `{"customer_id":"x","time":"2026-01-01T00:00:00Z","journey":"delivery","attributes":{"note":"` +
		strings.Repeat("y", 2<<20) + `"}}`
	lines := []string{long, "{\"customer_id\":\"x\"\r", lateDelivery("ok", "x", t0, 1)}
	r := run(t, replay.Options{Input: writeLines(t, "events.jsonl", lines)})
	var dead []struct {
		Line   int    `json:"line"`
		Error  string `json:"error"`
		Record string `json:"record"`
	}
	for line := range strings.Lines(r.dlq) {
		var d struct {
			Line   int    `json:"line"`
			Error  string `json:"error"`
			Record string `json:"record"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &d))
		dead = append(dead, d)
	}
	require.Len(t, dead, 2)
	require.Equal(t, 1, dead[0].Line)
	require.Contains(t, dead[0].Error, "record too large")
	require.Equal(t, long, dead[0].Record, "the whole line is kept")
	require.Equal(t, 2, dead[1].Line)
	require.Equal(t, `{"customer_id":"x"`, dead[1].Record, "CRLF line endings are stripped")
	require.Equal(t, 1, r.summary.Events)
}

func complaint(cust string, at time.Time) string {
	return fmt.Sprintf(`{"customer_id":%q,"time":%q,"channel":"email"}`, cust, at.Format(time.RFC3339))
}

func TestComplainedBefore(t *testing.T) {
	events := writeLines(t, "events.jsonl", []string{
		lateDelivery("e1", "a", t0.Add(2*time.Hour), 100),
		lateDelivery("e2", "b", t0.Add(2*time.Hour), 100),
		lateDelivery("e3", "c", t0.Add(2*time.Hour), 100),
	})
	complaints := writeLines(t, "complaints.jsonl", []string{
		complaint("a", t0.Add(time.Hour)),               // before its bad experience
		complaint("c", t0.Add(-800*time.Hour)),          // beyond the 720h lookback
		complaint("b", t0.Add(2*time.Hour+time.Second)), // after
	})
	r := run(t, replay.Options{Input: events, Complaints: complaints})
	got := map[string]bool{}
	for line := range strings.Lines(r.alerts) {
		var a struct {
			CustomerID       string `json:"customer_id"`
			ComplainedBefore bool   `json:"complained_before"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &a))
		got[a.CustomerID] = a.ComplainedBefore
	}
	require.Equal(t, map[string]bool{"a": true, "b": false, "c": false}, got)
	require.Equal(t, 3, r.summary.Complaints)
}

// coverageCase: x is flagged 2 h before complaining; y complains unflagged;
// z is flagged and never complains; w is flagged only after complaining.
func coverageCase(t *testing.T) (events, complaints string) {
	events = writeLines(t, "events.jsonl", []string{
		lateDelivery("x1", "x", t0, 1),
		lateDelivery("x2", "x", t0.Add(time.Hour), 100),
		lateDelivery("y1", "y", t0.Add(2*time.Hour), 5),
		lateDelivery("z1", "z", t0.Add(3*time.Hour), 200),
		lateDelivery("w1", "w", t0.Add(10*time.Hour), 30),
		lateDelivery("x3", "x", t0.Add(48*time.Hour), 1),
	})
	complaints = writeLines(t, "complaints.jsonl", []string{
		complaint("y", t0.Add(4*time.Hour)),
		complaint("x", t0.Add(3*time.Hour)),
		complaint("w", t0.Add(5*time.Hour)),
		complaint("x", t0.Add(20*time.Hour)), // a second complaint: the first counts
	})
	return events, complaints
}

func TestReportCoverageAndLeadTime(t *testing.T) {
	events, complaints := coverageCase(t)
	r := run(t, replay.Options{Input: events, Complaints: complaints})
	rep := r.summary.Report()
	require.Equal(t, 3, rep.Totals.Complainers)
	require.Equal(t, 1, rep.Totals.FlaggedBefore)
	require.Equal(t, 0.333, rep.Totals.Coverage)
	require.Equal(t, 7200.0, rep.Totals.LeadMedianSeconds)
	require.Equal(t, 7200.0, rep.Totals.LeadP90Seconds)
	require.Equal(t, 3, rep.Totals.FlaggedCustomers)
	require.Equal(t, 1, rep.Totals.SilentReach, "z was flagged and never complained")
	require.Nil(t, rep.Totals.Precision)
	require.False(t, rep.FeedbackGiven)
	require.Equal(t, map[string]int{"minor": 1, "major": 1, "critical": 1}, rep.Totals.AlertsBySeverity)
	require.Equal(t, 3, rep.Totals.Alerts)
	require.Equal(t, int64(4), rep.Totals.Customers)
	require.Equal(t, 6, rep.Totals.Events)
	require.Equal(t, 2.0, rep.Totals.Days)
}

func TestReportHalfCovered(t *testing.T) {
	// The brief's case: one complainer flagged 2 h before, one not.
	events := writeLines(t, "events.jsonl", []string{
		lateDelivery("x1", "x", t0, 100),
		lateDelivery("y1", "y", t0, 1),
		lateDelivery("s1", "s", t0, 30),
	})
	complaints := writeLines(t, "complaints.jsonl", []string{
		complaint("x", t0.Add(2*time.Hour)),
		complaint("y", t0.Add(2*time.Hour)),
	})
	rep := run(t, replay.Options{Input: events, Complaints: complaints}).summary.Report()
	require.Equal(t, 0.5, rep.Totals.Coverage)
	require.Equal(t, 7200.0, rep.Totals.LeadMedianSeconds)
	require.Equal(t, 1, rep.Totals.SilentReach)
	require.Equal(t, 1.0, rep.Totals.Days, "at least one day")
}

func TestReportLookback(t *testing.T) {
	// Flagged 31 days before complaining: outside the 720h lookback.
	events := writeLines(t, "events.jsonl", []string{lateDelivery("x1", "x", t0, 100)})
	complaints := writeLines(t, "complaints.jsonl", []string{complaint("x", t0.Add(31*24*time.Hour))})
	rep := run(t, replay.Options{Input: events, Complaints: complaints}).summary.Report()
	require.Equal(t, 1, rep.Totals.Complainers)
	require.Equal(t, 0, rep.Totals.FlaggedBefore)
	require.Equal(t, 0.0, rep.Totals.Coverage)
	require.Equal(t, 0.0, rep.Totals.LeadMedianSeconds)
}

func TestReportGolden(t *testing.T) {
	events, complaints := coverageCase(t)
	r := run(t, replay.Options{Input: events, Complaints: complaints})
	var report bytes.Buffer
	require.NoError(t, r.summary.WriteReport(&report))
	golden(t, "testdata/report.golden", report.String())
	golden(t, "testdata/alerts.golden", r.alerts)

	// The last line is the report as JSON.
	lines := strings.Split(strings.TrimSpace(report.String()), "\n")
	var totals replay.Totals
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &totals))
	require.Equal(t, r.summary.Report().Totals, totals)

	// Without complaints the report says so.
	r = run(t, replay.Options{Input: events})
	report.Reset()
	require.NoError(t, r.summary.WriteReport(&report))
	require.Contains(t, report.String(), "no complaints given")
	require.Contains(t, report.String(), `"complainers":0`)
	require.Contains(t, report.String(), "give --feedback FILE.jsonl")
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file: run go test ./replay -update")
	require.Equal(t, string(want), got, "run go test ./replay -update after an intended change, and read the diff")
}

func TestBadComplaintLines(t *testing.T) {
	events := writeLines(t, "events.jsonl", []string{lateDelivery("x1", "x", t0, 100)})
	complaints := writeLines(t, "complaints.jsonl", []string{
		complaint("x", t0.Add(time.Hour)),
		`{"customer_id":"x"}`,
		"  ",
		"",
	})
	r := run(t, replay.Options{Input: events, Complaints: complaints})
	require.Equal(t, 1, r.summary.Complaints)
	require.Equal(t, 1, r.summary.Invalid)
	require.Equal(t, 1, strings.Count(r.dlq, "\n"))
	require.Equal(t, `{"line":2,"error":"complaints: missing field \"time\"","record":"{\"customer_id\":\"x\"}"}`+"\n", r.dlq,
		"a bad complaint line says which file it is from")
}

func TestStateDirIsKept(t *testing.T) {
	dir := t.TempDir()
	lines := demoLines(3000)
	r := run(t, replay.Options{Input: writeLines(t, "events.jsonl", lines), StateDir: dir})
	require.Positive(t, r.summary.Customers)

	store, err := state.Open(state.Options{Dir: dir})
	require.NoError(t, err)
	defer store.Close()
	n, err := store.Customers(0)
	require.NoError(t, err)
	require.Equal(t, r.summary.Customers, n, "the kept store holds the replay's customers")
	next, err := store.Offset(0, "replay")
	require.NoError(t, err)
	require.Positive(t, next)
}

func TestMissingInputAndCancel(t *testing.T) {
	_, err := replay.Run(context.Background(), replay.Options{Config: config.Default(), Input: filepath.Join(t.TempDir(), "nope.jsonl"), Out: &bytes.Buffer{}})
	require.ErrorIs(t, err, os.ErrNotExist)

	_, err = replay.Run(context.Background(), replay.Options{Config: config.Default(), Input: writeLines(t, "e.jsonl", nil),
		Complaints: filepath.Join(t.TempDir(), "nope.jsonl"), Out: &bytes.Buffer{}})
	require.ErrorIs(t, err, os.ErrNotExist)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := writeLines(t, "events.jsonl", demoLines(100))
	_, err = replay.Run(ctx, replay.Options{Config: config.Default(), Input: path, Out: &bytes.Buffer{}})
	require.ErrorIs(t, err, context.Canceled)
}

func TestEmptyInput(t *testing.T) {
	r := run(t, replay.Options{Input: "-", Stdin: strings.NewReader("")})
	require.Empty(t, r.alerts)
	require.Zero(t, r.summary.Events)
	rep := r.summary.Report()
	require.Equal(t, 1.0, rep.Totals.Days)
	require.Empty(t, rep.Totals.AlertsPer1000Day)
	var html bytes.Buffer
	require.NoError(t, rep.WriteHTML(&html))
	require.Contains(t, html.String(), "No alerts in this replay.")
	require.NotContains(t, html.String(), "<svg", "no empty chart")
}
