//go:build integration

package integration

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/state"
)

// TestCrashSafety: over 100,000 events with planted bad experiences, a run
// killed with SIGKILL at several random moments and restarted each time
// produces exactly the alert set of an uninterrupted run (and of replay).
// Alerts are at-least-once for now: a cycle killed between its produce and
// its state commit is produced again with the same alert_ids; the test
// counts and reports those repeats.
func TestCrashSafety(t *testing.T) {
	bs := brokers(t)
	const events, customers, kills = 100_000, 2_000, 4
	recs := testkit.Generate(events, customers, 23, time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), 2*time.Second)

	a := newNames(t, "a")
	createTopics(t, bs, 4, a.Experiences)
	testkit.Produce(t, testkit.Client(t, bs), a.Experiences, recs)

	// Run A: uninterrupted.
	cfgA, cfg := writeConfig(t, bs, a, "")
	began := time.Now()
	pa := startPeakend(t, cfgA)
	waitMetric(t, pa, 5*time.Minute, events, "peakend_events_total", "result", "processed")
	pa.terminate(t, 10*time.Second)
	setA, dupA := readAlerts(t, bs, a.Alerts)
	require.Zero(t, dupA, "an uninterrupted run repeated an alert_id")
	t.Logf("run A: %d events, %d alerts in %s", events, len(setA), time.Since(began))
	want := testkit.Replay(t, cfg, recs)
	everyDetector(t, cfg, want)
	sameAlertSet(t, want, setA)

	// Run B: same input topic, its own group, state and alerts topic; killed
	// with SIGKILL at random points of its progress, restarted each time.
	b := newNames(t, "b")
	b.Experiences = a.Experiences
	cfgB, _ := writeConfig(t, bs, b, "")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for i := range kills {
		p := startPeakend(t, cfgB)
		// Each life processes between 2,000 and 15,000 events (counted from
		// its start, after its restart) before it dies: 4 lives stay below
		// 100,000, so every kill lands mid-stream.
		at := float64(2_000 + rng.IntN(13_000))
		waitMetric(t, p, 2*time.Minute, at, "peakend_events_total", "result", "processed")
		p.kill(t)
		t.Logf("run B life %d: SIGKILL after %.0f+ events", i+1, at)
	}
	// The last life must process exactly what state had not, from where
	// each partition resumes: Pebble's offsets (read while no process
	// runs), or further on where the changelog holds a cycle whose Pebble
	// commit the kill cut off (it follows the cycle's Kafka acks and is not
	// synced): the restore rolls state forward to it, whose alerts were
	// produced already.
	ends := testkit.EndOffsets(t, bs, b.Experiences)
	stored := storedOffsets(t, b.State, b.Experiences)
	began = time.Now()
	p := startPeakend(t, cfgB)
	resumed := resumedOffsets(t, p, 4, 2*time.Minute)
	left, rolled := int64(0), int64(0)
	for part, end := range ends {
		require.GreaterOrEqual(t, resumed[part], stored[part], "partition %d: the last life resumes before its state's offset", part)
		left += end - max(resumed[part], 0)
		rolled += max(resumed[part], 0) - max(stored[part], 0)
	}
	t.Logf("after %d SIGKILLs, state holds %d of %d events (%d of them restored from the changelog, their Pebble commit lost with a kill)",
		kills, events-int(left), events, rolled)
	waitMetric(t, p, 5*time.Minute, float64(left), "peakend_events_total", "result", "processed")
	processed := p.metric("peakend_events_total", "result", "processed")
	p.terminate(t, 10*time.Second)
	require.EqualValues(t, left, processed, "events processed by the last life")
	t.Logf("run B's last life processed the remaining %d events in %s", left, time.Since(began))
	stored = storedOffsets(t, b.State, b.Experiences)
	for part, end := range ends {
		require.Equal(t, end, stored[part], "partition %d: state's next offset after the last life", part)
	}

	setB, dupB := readAlerts(t, bs, b.Alerts)
	t.Logf("run B (%d SIGKILLs): %d alert records, %d repeated alert_ids (at-least-once; exactly-once removes them)", kills, len(setB), dupB)
	sameAlertSet(t, setA, setB)
}

// storedOffsets reads the next offset per partition from a peakend state
// directory (no process may have it open); -1 where there is none.
func storedOffsets(t *testing.T, dir, topic string) map[int32]int64 {
	t.Helper()
	store, err := state.Open(state.Options{Dir: dir})
	require.NoError(t, err)
	defer store.Close()
	out := map[int32]int64{}
	for p := range int32(4) {
		next, err := store.Offset(p, topic)
		require.NoError(t, err)
		out[p] = next
	}
	return out
}

// TestCrashSafetyExactlyOnce: the same kills under exactly_once: a
// read_committed consumer of the alerts topic sees every alert_id of the
// uninterrupted run exactly once (docs/reference.md, "Guarantees"), although each life
// dies mid-transaction and state may be rolled forward from the changelog.
func TestCrashSafetyExactlyOnce(t *testing.T) {
	bs := brokers(t)
	const events, customers, kills = 60_000, 2_000, 3
	recs := testkit.Generate(events, customers, 29, time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), 2*time.Second)
	n := newNames(t, "eos")
	createTopics(t, bs, 4, n.Experiences)
	testkit.Produce(t, testkit.Client(t, bs), n.Experiences, recs)
	cfgPath, cfg := writeConfig(t, bs, n, "  exactly_once: true\n")
	require.True(t, cfg.Kafka.ExactlyOnce)
	want := testkit.Replay(t, cfg, recs)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for i := range kills {
		p := startPeakend(t, cfgPath)
		at := float64(2_000 + rng.IntN(12_000))
		waitMetric(t, p, 2*time.Minute, at, "peakend_events_total", "result", "processed")
		p.kill(t)
		t.Logf("life %d: SIGKILL after %.0f+ events", i+1, at)
	}
	p := startPeakend(t, cfgPath)
	// Under exactly-once the group's offsets are committed in each cycle's
	// transaction: caught up means every event is in a committed transaction.
	testkit.WaitConsumed(t, bs, n.Group, 3*time.Minute, n.Experiences)
	p.terminate(t, 10*time.Second)

	got := testkit.Alerts(t, testkit.ReadCommitted(t, bs, n.Alerts))
	_, dup := testkit.ByID(got)
	require.Zero(t, dup, "a read_committed consumer saw an alert_id twice")
	sameAlertSet(t, want, got)
	t.Logf("exactly-once after %d SIGKILLs: %d alerts, none twice", kills, len(got))
}
