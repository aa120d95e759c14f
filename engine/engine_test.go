package engine_test

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/httpapi"
	"github.com/peakend/peakend/internal/demo"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/state"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testConfig is config.Default() with only the named detectors (all if none).
func testConfig(t *testing.T, names ...string) *config.Config {
	t.Helper()
	cfg := config.Default()
	if len(names) > 0 {
		var keep []config.Detector
		for _, d := range cfg.Detectors {
			if slices.Contains(names, d.Name) {
				keep = append(keep, d)
			}
		}
		require.Len(t, keep, len(names))
		cfg.Detectors = keep
	}
	require.NoError(t, cfg.Validate())
	return cfg
}

// noPeakEnd makes the peak-end memory fade at once, so that a test of the
// cooldown alone sees no peak-end escalation.
func noPeakEnd(cfg *config.Config) *config.Config {
	cfg.Alerting.PeakHalfLife = config.Duration(time.Nanosecond)
	return cfg
}

func memStore(t *testing.T, fs vfs.FS) *state.Store {
	t.Helper()
	s, err := state.Open(state.Options{FS: fs, CacheBytes: 4 << 20, MemtableBytes: 4 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// harness drives one partition of an engine over a store.
type harness struct {
	t     *testing.T
	cfg   *config.Config
	store *state.Store
	eng   *engine.Engine
	pt    *engine.Partition
	off   int64
	// closed reports whether pt was closed (closing a partition twice is not allowed).
	closed bool
	// alerts collects every alert of committed cycles, in order.
	alerts []*alerts.Alert
	// seen is how many of the cycle's alerts a golden test has printed.
	seen int
}

func newHarness(t *testing.T, cfg *config.Config, store *state.Store) *harness {
	t.Helper()
	h := &harness{t: t, cfg: cfg, store: store}
	h.open()
	return h
}

func (h *harness) open() {
	h.t.Helper()
	eng, err := engine.New(h.cfg, h.store, engine.Options{})
	require.NoError(h.t, err)
	pt, err := eng.OpenPartition(0)
	require.NoError(h.t, err)
	h.eng, h.pt, h.closed = eng, pt, false
	h.t.Cleanup(func() {
		if !h.closed && h.pt == pt {
			h.close()
		}
	})
}

func (h *harness) close() {
	h.t.Helper()
	require.False(h.t, h.closed)
	h.closed = true
	require.NoError(h.t, h.pt.Close())
}

// send processes one experience record at the next offset.
func (h *harness) send(value string) {
	h.t.Helper()
	h.sendAt(h.off, value)
	h.off++
}

func (h *harness) sendAt(offset int64, value string) {
	h.t.Helper()
	require.NoError(h.t, h.pt.Experience(&engine.Record{Topic: "experiences", Partition: 0, Offset: offset, Value: []byte(value)}))
}

func (h *harness) complaint(cust string, at time.Time) {
	h.t.Helper()
	v := fmt.Sprintf(`{"customer_id":%q,"time":%q}`, cust, at.Format(time.RFC3339Nano))
	require.NoError(h.t, h.pt.Complaint(&engine.Record{Topic: "complaints", Offset: h.off, Value: []byte(v)}))
	h.off++
}

// commit stages and commits the cycle and returns its alerts.
func (h *harness) commit() []*alerts.Alert {
	h.t.Helper()
	out := slices.Clone(h.pt.Output().Alerts)
	require.NoError(h.t, h.pt.Stage())
	require.NoError(h.t, h.pt.Commit(false))
	h.alerts = append(h.alerts, out...)
	return out
}

func (h *harness) view(id string) (*httpapi.CustomerView, bool) {
	h.t.Helper()
	v, ok, err := httpapi.LookupCustomer(h.store, httpapi.ViewOptions{Window: h.cfg.State.Window}, []int32{0}, id)
	require.NoError(h.t, err)
	return v, ok
}

// exp is an experience event; metrics and outcome may be empty.
type exp struct {
	id, cust string
	at       time.Time
	journey  string
	outcome  string
	metric   string
	value    float64
}

func (e exp) String() string {
	var b strings.Builder
	b.WriteString("{")
	if e.id != "" {
		fmt.Fprintf(&b, `"event_id":%q,`, e.id)
	}
	fmt.Fprintf(&b, `"customer_id":%q,"time":%q,"journey":%q`, e.cust, e.at.UTC().Format(time.RFC3339Nano), e.journey)
	if e.outcome != "" {
		fmt.Fprintf(&b, `,"outcome":%q`, e.outcome)
	}
	if e.metric != "" {
		fmt.Fprintf(&b, `,"metrics":{%q:%v}`, e.metric, e.value)
	}
	b.WriteString(`,"customer":{"tier":"gold","value":250}}`)
	return b.String()
}

func delivery(id, cust string, at time.Time, delayHours float64) string {
	return exp{id: id, cust: cust, at: at, journey: "delivery", outcome: "delivered", metric: "delay_hours", value: delayHours}.String()
}

func TestDuplicatesAreDroppedAndCounted(t *testing.T) {
	h := newHarness(t, noPeakEnd(testConfig(t, "late_delivery")), memStore(t, vfs.NewMem()))
	late := delivery("ev-1", "c1", t0, 100)
	h.send(late)
	h.send(late) // same cycle
	require.Len(t, h.commit(), 1)
	h.send(late) // a later cycle, at another offset: same event_id
	h.send(delivery("ev-1", "c2", t0, 1))
	require.Empty(t, h.commit(), "a redelivery does not alert again")

	// Without event_id, the record's bytes are the identity: the same bytes
	// redelivered at the same offset, or written again at another offset (a
	// producer's retry), are one experience, which alerts once.
	noID := delivery("", "c3", t0, 100)
	h.sendAt(100, noID)
	h.sendAt(100, noID) // redelivered at the same offset
	h.sendAt(101, noID) // the same bytes at another offset
	got := h.commit()
	require.Len(t, got, 1, "the same bytes at another offset are the same experience")
	h.sendAt(102, delivery("", "c3", t0.Add(time.Second), 200)) // other bytes: another experience, worse
	got = append(got, h.commit()...)
	require.Len(t, got, 2)
	require.NotEqual(t, got[0].AlertID, got[1].AlertID)
	require.Len(t, h.alerts, 3)

	processed, invalid, duplicate, late2 := h.pt.Stats()
	require.Equal(t, int64(4), processed)
	require.Equal(t, int64(0), invalid)
	require.Equal(t, int64(4), duplicate)
	require.Equal(t, int64(0), late2)

	v, ok := h.view("c1")
	require.True(t, ok)
	require.Equal(t, 1, v.Experiences, "the duplicates are not in the window")
	v, ok = h.view("c2")
	require.True(t, ok)
	require.Equal(t, 1, v.Experiences, "event ids are per customer")
	v, ok = h.view("c3")
	require.True(t, ok)
	require.Equal(t, 2, v.Experiences)
	require.Equal(t, int64(3), h.pt.Customers())
}

func TestInvalidRecordsAreDead(t *testing.T) {
	store := memStore(t, vfs.NewMem())
	h := newHarness(t, testConfig(t, "late_delivery"), store)
	bad := []struct{ value, reason string }{
		{`not json`, "invalid JSON at byte 0: want a JSON object"},
		{`{"customer_id":"c","journey":"delivery"}`, `missing field "time"`},
		{`{"customer_id":"c","time":"yesterday","journey":"delivery"}`, `field "time": want RFC 3339 string`},
		{`{"customer_id":"c","time":"2026-01-01T00:00:00Z","journey":"teleport"}`, `unknown journey "teleport"`},
		{`{"customer_id":"c","time":"2026-01-01T00:00:00Z","journey":"delivery","metrics":{"delay_hours":"late"}}`, `field "metrics.delay_hours": want a finite number`},
		{strings.Repeat(" ", 70_000), "record too large (70000 bytes, limit 65536)"},
	}
	h.send(delivery("ok-1", "c", t0, 1))
	for _, b := range bad {
		h.send(b.value)
	}
	h.send(delivery("ok-2", "c", t0.Add(time.Hour), 100))

	out := h.pt.Output()
	require.Len(t, out.Dead, len(bad))
	for i, d := range out.Dead {
		require.Equal(t, bad[i].reason, d.Reason, "record %d", i)
		require.Equal(t, int64(i+1), d.Record.Offset)
		require.Equal(t, "experiences", d.Record.Topic)
		require.Equal(t, bad[i].value, string(d.Record.Value))
		require.Equal(t, fmt.Sprintf("experiences/0/%d", i+1), d.Record.Source())
	}
	require.Len(t, out.Alerts, 1, "the pipeline goes on after bad records")
	processed, invalid, _, _ := h.pt.Stats()
	require.Equal(t, int64(2), processed)
	require.Equal(t, int64(len(bad)), invalid)

	require.Equal(t, map[string]int64{"experiences": int64(len(bad) + 2)}, h.pt.Offsets())
	h.commit()
	next, err := store.Offset(0, "experiences")
	require.NoError(t, err)
	require.Equal(t, int64(len(bad)+2), next, "bad records are consumed too")
	require.Empty(t, h.pt.Output().Dead, "a commit starts a new cycle")

	// A bad complaint is dead too.
	require.NoError(t, h.pt.Complaint(&engine.Record{Topic: "complaints", Offset: 5, Value: []byte(`{"time":"2026-01-01T00:00:00Z"}`)}))
	require.Len(t, h.pt.Output().Dead, 1)
	require.Contains(t, h.pt.Output().Dead[0].Reason, "customer_id")
}

func TestThresholdAlertEvidence(t *testing.T) {
	h := newHarness(t, testConfig(t, "late_delivery"), memStore(t, vfs.NewMem()))
	at := t0
	for i := range 15 {
		h.send(delivery(fmt.Sprintf("d%02d", i), "c", at, 1))
		h.send(exp{id: fmt.Sprintf("k%02d", i), cust: "c", at: at.Add(time.Minute), journey: "checkout", outcome: "ok"}.String())
		h.send(delivery(fmt.Sprintf("x%02d", i), "other", at, 1))
		at = at.Add(time.Hour)
		if i == 9 {
			require.Empty(t, h.commit()) // the evidence spans the store and the open cycle
		}
	}
	h.send(delivery("trigger", "c", at, 100))
	got := h.commit()
	require.Len(t, got, 1)
	a := got[0]
	require.Equal(t, "late_delivery", a.Detector)
	require.Equal(t, alerts.Major, a.Severity)
	require.Equal(t, "delivery", a.Journey)
	require.Equal(t, at, a.EventTime)
	require.Equal(t, at, a.DetectedAt, "not live: detected_at is the event time")
	require.Equal(t, alerts.AlertID("late_delivery", "c", []byte("trigger")), a.AlertID)

	require.Len(t, a.Evidence, engine.MaxEvidence)
	require.Equal(t, "trigger", a.Evidence[0].EventID, "the trigger first")
	require.Equal(t, map[string]float64{"delay_hours": 100}, a.Evidence[0].Metrics)
	require.Equal(t, "delivered", a.Evidence[0].Outcome)
	for i, e := range a.Evidence {
		require.Equal(t, "c", e.CustomerID)
		require.Equal(t, "delivery", e.Journey, "only the trigger's journey")
		if i > 0 {
			require.Equal(t, fmt.Sprintf("d%02d", 15-i), e.EventID, "newest first")
			require.True(t, e.Time.Before(a.Evidence[i-1].Time))
		}
	}
}

func TestEvidenceWithFewExperiences(t *testing.T) {
	h := newHarness(t, testConfig(t, "late_delivery"), memStore(t, vfs.NewMem()))
	h.send(delivery("d1", "c", t0, 1))
	h.commit()
	h.send(delivery("d2", "c", t0.Add(time.Hour), 200))
	got := h.commit()
	require.Len(t, got, 1)
	require.Equal(t, alerts.Critical, got[0].Severity)
	ids := []string{}
	for _, e := range got[0].Evidence {
		ids = append(ids, e.EventID)
	}
	require.Equal(t, []string{"d2", "d1"}, ids)
}

func TestRepeatAlertEvidenceIsTheBadExperiences(t *testing.T) {
	h := newHarness(t, testConfig(t, "repeated_failures"), memStore(t, vfs.NewMem()))
	// An old failure, outside the 24h the detector counts.
	h.send(exp{id: "old-fail", cust: "c", at: t0, journey: "checkout", outcome: "failed"}.String())
	at := t0.Add(48 * time.Hour)
	h.send(exp{id: "ok-1", cust: "c", at: at, journey: "checkout", outcome: "ok"}.String())
	h.send(exp{id: "fail-1", cust: "c", at: at.Add(time.Hour), journey: "checkout", outcome: "failed"}.String())
	h.commit()
	h.send(exp{id: "ok-2", cust: "c", at: at.Add(2 * time.Hour), journey: "playback", outcome: "ok"}.String())
	h.send(exp{id: "drop-1", cust: "c", at: at.Add(3 * time.Hour), journey: "playback", outcome: "dropped"}.String())
	got := h.commit()
	require.Len(t, got, 1)
	a := got[0]
	require.Equal(t, "repeated_failures", a.Detector)
	require.Equal(t, alerts.Minor, a.Severity)
	require.Equal(t, "playback", a.Journey)
	var ids []string
	for _, e := range a.Evidence {
		ids = append(ids, e.EventID)
	}
	require.Equal(t, "drop-1", ids[0], "the trigger first")
	require.NotContains(t, ids, "ok-1")
	require.NotContains(t, ids, "ok-2")
	require.Contains(t, ids, "fail-1")
	require.NotContains(t, ids, "old-fail", "a failure outside `within`, which the detector did not count")
	require.Equal(t, []string{"drop-1", "fail-1"}, ids)
}

func TestCooldownAndEscalation(t *testing.T) {
	h := newHarness(t, noPeakEnd(testConfig(t, "late_delivery")), memStore(t, vfs.NewMem()))
	h.send(delivery("a", "c", t0, 100))                     // major: fires
	h.send(delivery("b", "c", t0.Add(time.Hour), 100))      // major again: suppressed
	h.send(delivery("b2", "c", t0.Add(90*time.Minute), 30)) // minor: suppressed
	h.send(delivery("o", "other", t0.Add(time.Hour), 100))  // another customer: fires
	got := h.commit()
	require.Len(t, got, 2)
	require.Equal(t, []string{"c", "other"}, []string{got[0].CustomerID, got[1].CustomerID})

	h.send(delivery("c", "c", t0.Add(2*time.Hour), 200))              // critical inside the cooldown: escalates
	h.send(delivery("d", "c", t0.Add(73*time.Hour), 200))             // 71h after the escalation: suppressed
	h.send(delivery("e", "c", t0.Add(74*time.Hour+time.Second), 100)) // 72h after the escalation: fires
	got = h.commit()
	require.Len(t, got, 2)
	require.Equal(t, alerts.Critical, got[0].Severity)
	require.Equal(t, alerts.AlertID("late_delivery", "c", []byte("c")), got[0].AlertID)
	require.Equal(t, alerts.Major, got[1].Severity)
	require.Equal(t, alerts.AlertID("late_delivery", "c", []byte("e")), got[1].AlertID)

	v, ok := h.view("c")
	require.True(t, ok)
	require.Len(t, v.Alerts, 3)
	require.Equal(t, got[1].AlertID, v.Alerts[0].AlertID, "newest first")
	require.Equal(t, "major", v.Alerts[0].Severity)
}

func TestCooldownSurvivesReopen(t *testing.T) {
	fs := vfs.NewMem()
	cfg := noPeakEnd(testConfig(t, "late_delivery"))
	store, err := state.Open(state.Options{FS: fs})
	require.NoError(t, err)
	h := newHarness(t, cfg, store)
	h.send(delivery("a", "c", t0, 100))
	require.Len(t, h.commit(), 1)
	h.close()
	require.NoError(t, store.Close())

	h = newHarness(t, cfg, memStore(t, fs))
	h.send(delivery("a", "c", t0, 100)) // a redelivery after a restart
	h.send(delivery("b", "c", t0.Add(time.Hour), 100))
	require.Empty(t, h.commit(), "dedup and cooldown come from the store")
	_, _, dup, _ := h.pt.Stats()
	require.Equal(t, int64(1), dup)
}

func TestPerceived(t *testing.T) {
	h := newHarness(t, testConfig(t, "late_delivery"), memStore(t, vfs.NewMem()))
	for i := range 5 {
		h.send(delivery(fmt.Sprintf("ok%d", i), "c", t0.Add(time.Duration(i)*time.Hour), 1))
	}
	h.commit()
	before, ok := h.view("c")
	require.True(t, ok)
	require.Equal(t, 0.0, before.Perceived, "only good experiences")

	h.send(delivery("bad", "c", t0.Add(10*time.Hour), 100))
	got := h.commit()
	require.Len(t, got, 1)
	require.InDelta(t, 0.7, got[0].Customer.Perceived, 1e-9, "a major experience, now")
	require.Equal(t, "gold", got[0].Customer.Tier)
	require.Equal(t, 250.0, got[0].Customer.Value)
	after, _ := h.view("c")
	require.Greater(t, after.Perceived, before.Perceived)

	// A good experience afterwards lowers the score; the peak still counts.
	h.send(delivery("ok-after", "c", t0.Add(11*time.Hour), 1))
	h.commit()
	later, _ := h.view("c")
	require.Less(t, later.Perceived, after.Perceived)
	require.Greater(t, later.Perceived, 0.3)

	// A critical one is the worst: 1.
	h.send(delivery("worst", "c", t0.Add(200*time.Hour), 500))
	got = h.commit()
	require.Len(t, got, 1)
	require.Equal(t, 1.0, got[0].Customer.Perceived)

	// The peak fades with time.
	c := state.Customer{WorstBad: 1, WorstAt: 0, LastBad: 0}
	require.InDelta(t, 0.5, alerts.Perceived(&c, 0, 0), 1e-9)
	require.InDelta(t, 0.25, alerts.Perceived(&c, int64(alerts.PeakHalfLife), 0), 1e-9)
	for _, a := range h.alerts {
		require.GreaterOrEqual(t, a.Customer.Perceived, 0.0)
		require.LessOrEqual(t, a.Customer.Perceived, 1.0)
	}
}

func TestComplainedBefore(t *testing.T) {
	h := newHarness(t, testConfig(t, "late_delivery"), memStore(t, vfs.NewMem()))
	h.complaint("c", t0)
	h.send(delivery("bad", "c", t0.Add(time.Hour), 100))
	h.send(delivery("bad", "d", t0.Add(time.Hour), 100))
	got := h.commit()
	require.Len(t, got, 2)
	require.True(t, got[0].ComplainedBefore)
	require.False(t, got[1].ComplainedBefore)

	require.True(t, engine.FlaggedBefore(&state.Customer{Alerts: []state.AlertRef{{Time: 10}}}, 20, 10))
	require.False(t, engine.FlaggedBefore(&state.Customer{Alerts: []state.AlertRef{{Time: 10}}}, 21, 10))
	require.False(t, engine.FlaggedBefore(&state.Customer{Alerts: []state.AlertRef{{Time: 10}}}, 9, 10))
}

func TestDiscardLeavesTheStoreAsItWas(t *testing.T) {
	store := memStore(t, vfs.NewMem())
	cfg := testConfig(t, "late_delivery", "rare_wait")
	h := newHarness(t, cfg, store)
	h.send(delivery("k1", "known", t0, 1))
	h.commit()
	known, _ := h.view("known")

	h.send(delivery("n1", "new", t0.Add(time.Hour), 100))
	h.send(delivery("k2", "known", t0.Add(time.Hour), 100))
	for i := range 50 {
		h.send(exp{id: fmt.Sprint("w", i), cust: "waiter", at: t0.Add(time.Hour), journey: "support_call",
			metric: "wait_seconds", value: float64(60 + i)}.String())
	}
	require.Len(t, h.pt.Output().Alerts, 2)
	require.NoError(t, h.pt.Stage())
	require.NoError(t, h.pt.Discard())
	require.Empty(t, h.pt.Output().Alerts)

	_, ok := h.view("new")
	require.False(t, ok, "customer unknown after Discard")
	_, ok = h.view("waiter")
	require.False(t, ok)
	again, ok := h.view("known")
	require.True(t, ok)
	require.Equal(t, known, again)
	require.Equal(t, int64(1), h.pt.Customers())
	n, err := store.Customers(0)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	var buckets int
	require.NoError(t, store.Populations(0, "rare_wait", func(int64, []byte) error { buckets++; return nil }))
	require.Zero(t, buckets, "no population written")
	next, err := store.Offset(0, "experiences")
	require.NoError(t, err)
	require.Equal(t, int64(1), next)

	// The discarded records, processed again, are not duplicates and alert again.
	h.off = 1
	h.send(delivery("n1", "new", t0.Add(time.Hour), 100))
	h.send(delivery("k2", "known", t0.Add(time.Hour), 100))
	got := h.commit()
	require.Len(t, got, 2)
	_, _, dup, _ := h.pt.Stats()
	require.Zero(t, dup)
	v, ok := h.view("known")
	require.True(t, ok)
	require.Equal(t, 2, v.Experiences)
	require.Equal(t, int64(2), h.pt.Customers())
}

// demoRecords returns n synthetic experience records (with some invalid ones).
func demoRecords(n int) []string {
	g := demo.NewGenerator(2000, 7)
	g.InvalidEvery = 997
	out := make([]string, n)
	for i := range out {
		_, v := g.Next(t0.Add(time.Duration(i) * 10 * time.Second))
		out[i] = string(v)
	}
	return out
}

// runRecords processes records in cycles of `cycle`, reopening the
// partition (and, if newStore, the store) at each offset in reopenAt.
func runRecords(t *testing.T, cfg *config.Config, records []string, cycle int, reopenAt map[int]bool, newStore bool) []string {
	fs := vfs.NewMem()
	store, err := state.Open(state.Options{FS: fs, CacheBytes: 4 << 20, MemtableBytes: 4 << 20})
	require.NoError(t, err)
	h := newHarness(t, cfg, store)
	for i, r := range records {
		if reopenAt[i] {
			h.commit()
			h.close()
			if newStore {
				require.NoError(t, h.store.Close())
				h.store, err = state.Open(state.Options{FS: fs, CacheBytes: 4 << 20, MemtableBytes: 4 << 20})
				require.NoError(t, err)
			}
			h.open()
		}
		h.send(r)
		if (i+1)%cycle == 0 {
			h.commit()
		}
	}
	h.commit()
	h.close()
	require.NoError(t, h.store.Close())
	var lines []string
	for _, a := range h.alerts {
		b, err := json.Marshal(a)
		require.NoError(t, err)
		lines = append(lines, string(b))
	}
	return lines
}

func TestStateAndPopulationsContinueAcrossReopen(t *testing.T) {
	records := demoRecords(8_000)
	reopen := map[int]bool{2001: true, 4500: true, 4501: true, 7999: true}
	for _, tc := range []struct {
		name      string
		detectors []string
	}{
		{"rarity", []string{"rare_wait"}},
		{"all", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, tc.detectors...)
			want := runRecords(t, cfg, records, 500, nil, false)
			require.NotEmpty(t, want)
			if tc.name == "rarity" {
				for _, l := range want {
					require.Contains(t, l, `"detector":"rare_wait"`)
				}
				require.Greater(t, len(want), 5, "the population must warm up and fire")
			}
			require.Equal(t, want, runRecords(t, cfg, records, 137, reopen, false), "new OpenPartition on the same store")
			require.Equal(t, want, runRecords(t, cfg, records, 500, reopen, true), "store closed and reopened")
		})
	}
}

// The header cache changes speed, never results: disabled, tiny (evicting
// all the time) or large, with cycles discarded now and then, the alerts are
// the same.
func TestHeaderCacheGivesTheSameAlerts(t *testing.T) {
	records := demoRecords(3000)
	cfg := testConfig(t)
	run := func(cacheBytes int64) []*alerts.Alert {
		store := memStore(t, vfs.NewMem())
		eng, err := engine.New(cfg, store, engine.Options{HeaderCacheBytes: cacheBytes})
		require.NoError(t, err)
		pt, err := eng.OpenPartition(0)
		require.NoError(t, err)
		defer pt.Close()
		var out []*alerts.Alert
		for i, r := range records {
			require.NoError(t, pt.Experience(&engine.Record{Topic: "experiences", Offset: int64(i), Value: []byte(r)}))
			if i%100 == 99 {
				out = append(out, pt.Output().Alerts...)
				require.NoError(t, pt.Stage())
				require.NoError(t, pt.Commit(false))
			}
		}
		return out
	}
	want := run(-1)
	require.NotEmpty(t, want)
	require.Equal(t, want, run(0))
	require.Equal(t, want, run(1))
}

// A discarded cycle leaves nothing in the header cache: the next cycle sees
// the committed header, as it would after a crash.
func TestDiscardLeavesHeaderCacheCommitted(t *testing.T) {
	cfg := testConfig(t, "repeated_failures")
	store := memStore(t, vfs.NewMem())
	eng, err := engine.New(cfg, store, engine.Options{})
	require.NoError(t, err)
	pt, err := eng.OpenPartition(0)
	require.NoError(t, err)
	defer pt.Close()
	fail := func(i int) *engine.Record {
		return &engine.Record{Topic: "experiences", Offset: int64(i), Value: []byte(exp{id: fmt.Sprint("f", i), cust: "c1",
			at: t0.Add(time.Duration(i) * time.Minute), journey: "checkout", outcome: "failed"}.String())}
	}
	require.NoError(t, pt.Experience(fail(0)))
	require.NoError(t, pt.Stage())
	require.NoError(t, pt.Commit(false))
	// A second failure, discarded: the customer's count must not keep it.
	require.NoError(t, pt.Experience(fail(1)))
	require.Len(t, pt.Output().Alerts, 1)
	require.NoError(t, pt.Discard())
	// Redelivered after the discard: the second failure fires exactly once more.
	require.NoError(t, pt.Experience(fail(1)))
	require.Len(t, pt.Output().Alerts, 1, "the discarded failure must not count twice")
	require.NoError(t, pt.Stage())
	require.NoError(t, pt.Commit(false))
	require.NoError(t, pt.Experience(fail(1)))
	require.Empty(t, pt.Output().Alerts, "a committed event is a duplicate")
}

func TestMetricJourneys(t *testing.T) {
	cfg := testConfig(t)
	require.Equal(t, []string{"delivery", "support_call", "checkout", "playback"}, engine.MetricJourneys(cfg))
	cfg.Journeys = nil
	require.Equal(t, []string{"delivery", "checkout", "support_call"}, engine.MetricJourneys(cfg))
}

// TestRarityDoesNotDependOnRestarts builds a population whose 99th
// percentile moves down between two refreshes of the population's cached
// tail threshold, then judges a value just below the old threshold: the
// verdict must be the same whether or not the partition was reopened (as
// after kill -9 and a restart) just before it.
func TestRarityDoesNotDependOnRestarts(t *testing.T) {
	cfg := testConfig(t, "rare_wait") // minor at 0.99, min_samples 200
	var records []string
	add := func(wait float64) {
		i := len(records)
		records = append(records, exp{id: fmt.Sprint("w", i), cust: fmt.Sprint("c", i), at: t0.Add(time.Duration(i) * time.Second),
			journey: "support_call", outcome: "ok", metric: "wait_seconds", value: wait}.String())
	}
	// 200 samples: 197 in distinct bins, then 3 in one tail bin that holds
	// the 99th percentile (0.99·199 = 197.01).
	for i := range 197 {
		add(100 * math.Pow(1.03, float64(i)))
	}
	const tail = 1e6
	for range 3 {
		add(tail)
	}
	// The 201st sample is the first judged: the tail threshold is cached now.
	// 110 small samples later (fewer than the refresh interval), a value
	// just below the tail bin ranks above 0.99: (197+110)/310 = 0.9903.
	for range 110 {
		add(1)
	}
	add(tail / 1.05)
	continuous := runRecords(t, cfg, records, 10_000, nil, false)
	restarted := runRecords(t, cfg, records, 10_000, map[int]bool{len(records) - 1: true}, false)
	require.Equal(t, continuous, restarted)
}

// SREs see the header cache work: a customer's first event misses (read
// from Pebble), the next cycle's event hits, and the bytes held are exported.
func TestHeaderCacheMetrics(t *testing.T) {
	cfg := testConfig(t)
	m := metrics.New(engine.MetricJourneys(cfg), nil)
	eng, err := engine.New(cfg, memStore(t, vfs.NewMem()), engine.Options{Metrics: m})
	require.NoError(t, err)
	pt, err := eng.OpenPartition(0)
	require.NoError(t, err)
	defer pt.Close()
	for i := range 2 {
		r := &engine.Record{Topic: "experiences", Offset: int64(i), Value: []byte(exp{id: fmt.Sprint("e", i), cust: "c1",
			at: t0.Add(time.Duration(i) * time.Hour), journey: "checkout", outcome: "ok"}.String())}
		require.NoError(t, pt.Experience(r))
		require.NoError(t, pt.Stage())
		require.NoError(t, pt.Commit(false))
	}
	value := func(c prometheus.Metric) float64 {
		var d dto.Metric
		require.NoError(t, c.Write(&d))
		if d.Counter != nil {
			return d.Counter.GetValue()
		}
		return d.Gauge.GetValue()
	}
	require.Equal(t, 1.0, value(m.HeaderCache.WithLabelValues("miss")))
	require.Equal(t, 1.0, value(m.HeaderCache.WithLabelValues("hit")))
	require.Positive(t, value(m.HeaderCacheBytes))
}
