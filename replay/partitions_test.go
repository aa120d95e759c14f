package replay_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/partitioner"
	"github.com/peakend/peakend/replay"
	"github.com/peakend/peakend/state"
)

// Over one partition and a file in event-time order, --partitions 1 is the
// replay of today: byte-identical alerts.
func TestOnePartitionOfSortedInputIsTodaysReplay(t *testing.T) {
	path := writeLines(t, "events.jsonl", demoLines(20_000))
	a := run(t, replay.Options{Input: path})
	b := run(t, replay.Options{Input: path, Partitions: 1})
	require.NotEmpty(t, a.alerts)
	require.Equal(t, a.alerts, b.alerts)
	require.Equal(t, a.dlq, b.dlq)
	require.Equal(t, a.summary.Events, b.summary.Events)
	require.Equal(t, a.summary.Customers, b.summary.Customers)
	require.True(t, b.summary.Sorted)
}

func promised(id, cust string, at, by time.Time) string {
	return event(id, cust, at, "delivery", fmt.Sprintf(`,"outcome":"promised","attributes":{"order_id":%q,"promised_by":%q}`,
		id, by.Format(time.RFC3339)))
}

// With --partitions, a partition's lines are processed in file order, as a
// consumer reads them: a promise that arrives after its partition's
// watermark passed it is late and arms no timer, as live; without
// --partitions the file is sorted by event time first and the promise
// breaks.
func TestPartitionsFollowFileOrder(t *testing.T) {
	lines := []string{
		lateDelivery("y1", "y", t0.Add(5*time.Hour), 1), // watermark: t0+4h
		promised("x1", "x", t0, t0.Add(30*time.Minute)), // late: older than the watermark
		lateDelivery("y2", "y", t0.Add(6*time.Hour), 1), // the due time (t0+2h30m) is long past
	}
	path := writeLines(t, "events.jsonl", lines)
	sorted := run(t, replay.Options{Input: path})
	require.Contains(t, sorted.alerts, `"detector":"broken_promise"`)
	require.False(t, sorted.summary.Sorted)
	for _, name := range []string{"murmur2", "crc32"} {
		r := run(t, replay.Options{Input: path, Partitions: 1, Partitioner: name})
		require.Empty(t, r.alerts, "partitioner %s", name)
		require.False(t, r.summary.Sorted)
		require.Equal(t, 3, r.summary.Events)
	}
}

// Each partition's watermark moves with its own events only: a promise on
// one partition is not broken by the clock of another. Customers "b" and
// "d" hash to different partitions of 2 (murmur2: 0 and 1).
func TestPartitionsHaveTheirOwnWatermarks(t *testing.T) {
	lines := []string{
		promised("b1", "b", t0, t0.Add(30*time.Minute)),
		lateDelivery("d1", "d", t0.Add(10*time.Hour), 1),
	}
	require.NotEqual(t, partitioner.Murmur2([]byte("b"), 2), partitioner.Murmur2([]byte("d"), 2))
	path := writeLines(t, "events.jsonl", lines)
	one := run(t, replay.Options{Input: path, Partitions: 1})
	require.Contains(t, one.alerts, `"detector":"broken_promise"`, "one partition: d's clock breaks b's promise")
	two := run(t, replay.Options{Input: path, Partitions: 2})
	require.Empty(t, two.alerts, "b's partition saw nothing after the promise")
}

func TestPartitionOptionsChecked(t *testing.T) {
	path := writeLines(t, "events.jsonl", demoLines(10))
	_, err := replay.Run(t.Context(), replay.Options{Config: config.Default(), Input: path, Out: &strings.Builder{},
		Partitions: 2, Partitioner: "fnv"})
	require.ErrorContains(t, err, `unknown partitioner "fnv"`)
	_, err = replay.Run(t.Context(), replay.Options{Config: config.Default(), Input: path, Out: &strings.Builder{},
		Partitions: -1})
	require.ErrorContains(t, err, "partitions must be at least 1")
}

// The report's customers are those seen in the input, also those that
// state.retention forgot before the end (it used to count those left).
func TestReportCountsCustomersSeen(t *testing.T) {
	cfg := config.Default()
	cfg.State.Retention = config.Duration(48 * time.Hour)
	lines := []string{
		lateDelivery("a1", "a", t0, 100),
		lateDelivery("b1", "b", t0.Add(time.Hour), 1),
		lateDelivery("c1", "c", t0.Add(10*24*time.Hour), 1),
	}
	for _, parts := range []int{0, 1} { // one partition: retention runs on its watermark
		dir := t.TempDir()
		r := run(t, replay.Options{Input: writeLines(t, "events.jsonl", lines), Config: cfg, Partitions: parts, StateDir: dir,
			BatchEvents: 1}) // a customer in the batch being staged waits for the next sweep
		rep := r.summary.Report()
		require.Equal(t, int64(3), rep.Totals.Customers, "partitions %d", parts)
		require.Equal(t, 1, rep.Totals.FlaggedCustomers)

		store, err := state.Open(state.Options{Dir: dir})
		require.NoError(t, err)
		var kept int64
		for p := range max(parts, 1) {
			n, err := store.Customers(int32(p))
			require.NoError(t, err)
			kept += n
		}
		require.NoError(t, store.Close())
		require.Equal(t, int64(1), kept, "partitions %d: retention forgot a and b: the state holds c only", parts)
	}
}

// Given somewhere to write it (a terminal, which the command checks), a
// replay rewrites a progress line there while it runs, and erases it at
// the end; the alerts are the same.
func TestProgressLine(t *testing.T) {
	defer replay.SetProgressEvery(time.Millisecond)()
	path := writeLines(t, "events.jsonl", demoLines(20_000))
	for _, parts := range []int{0, 4} {
		var progress syncBuffer
		quiet := run(t, replay.Options{Input: path, Partitions: parts})
		r := run(t, replay.Options{Input: path, Partitions: parts, Progress: &progress})
		require.Equal(t, quiet.alerts, r.alerts)
		out := progress.String()
		require.Contains(t, out, "\rreplay: ", "partitions %d", parts)
		require.Contains(t, out, "% done")
		require.True(t, strings.HasSuffix(out, "\r\033[K"), "the line is erased at the end: %q", out[max(0, len(out)-80):])
		require.NotContains(t, out, "\n", "one line, rewritten")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
