package state_test

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/state"
)

// TestCommitAsyncReadsSeeEveryWrite: after CommitAsync returns, every read
// through the Store sees the batch, whether it wrote the customer read
// (customer fence), another customer, or partition-wide state (offsets,
// windows), while the next batch is filled; and Close waits for the last.
func TestCommitAsyncReadsSeeEveryWrite(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	b := s.NewBatch(3)
	const rounds = 300
	for i := range rounds {
		// Customer i%7 changes every round; the offset too.
		id := fmt.Sprintf("cust-%d", i%7)
		c := state.Customer{ID: id, Seq: uint64(i + 1), Tier: fmt.Sprint(i)}
		require.NoError(t, b.PutCustomer(&c))
		ev := event.Event{CustomerID: id, Journey: "delivery", Time: int64(i), EventID: fmt.Sprint(i)}
		require.NoError(t, b.PutExperience(id, c.Seq, 4, state.AppendExperience(nil, c.Seq, &ev)))
		require.NoError(t, b.PutOffset("experiences", int64(i)))
		require.NoError(t, b.CommitAsync())

		got, ok := load(t, s, 3, id)
		require.True(t, ok, "round %d", i)
		require.Equal(t, fmt.Sprint(i), got.Tier, "round %d: the header just handed over", i)
		require.Equal(t, int64(i), offset(t, s, 3, "experiences"), "round %d", i)
		var seqs []uint64
		require.NoError(t, s.Window(3, id, func(seq uint64, _ []byte) bool { seqs = append(seqs, seq); return true }))
		require.NotEmpty(t, seqs)
		require.Equal(t, c.Seq, seqs[0], "round %d: the newest window entry", i)
		if i > 0 {
			// A customer the batch in flight did not write: no wait needed,
			// and still its latest committed state.
			prev := fmt.Sprintf("cust-%d", (i-1)%7)
			got, ok := load(t, s, 3, prev)
			require.True(t, ok)
			require.Equal(t, fmt.Sprint(i-1), got.Tier)
		}
	}
	// The batch is reusable after async commits, synchronously too.
	c := state.Customer{ID: "last", Tier: "gold"}
	require.NoError(t, b.PutCustomer(&c))
	require.NoError(t, b.CommitAsync())
	require.NoError(t, b.Close(), "Close waits for the commit in flight")
	got, ok := load(t, s, 3, "last")
	require.True(t, ok)
	require.Equal(t, "gold", got.Tier)
}

// TestTimersWhileCommitAsyncRuns: the due-timer scan, which replay runs
// after nearly every event, does not wait for the batch in flight; it
// still sees exactly the timers that batch leaves: the ones it set, not
// the ones it cancelled (set in an earlier batch, or set and cancelled in
// the same one), in key order, and a scan stopped early stops there.
func TestTimersWhileCommitAsyncRuns(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	b := s.NewBatch(1)
	other := s.NewBatch(2) // another partition's timers are never listed
	want := map[state.Timer]bool{}
	const rounds = 200
	for i := range rounds {
		for j := range 20 {
			tm := state.Timer{Due: int64((i*7 + j*13) % 97), Customer: fmt.Sprintf("c%02d", (i+j)%11), Detector: "d", Key: fmt.Sprint(j % 3)}
			switch (i + j) % 4 {
			case 0, 1:
				require.NoError(t, b.PutTimer(&tm))
				want[tm] = true
			case 2:
				require.NoError(t, b.DeleteTimer(&tm))
				delete(want, tm)
			case 3: // set, then cancelled in the same batch
				require.NoError(t, b.PutTimer(&tm))
				require.NoError(t, b.DeleteTimer(&tm))
				delete(want, tm)
			}
			require.NoError(t, other.PutTimer(&state.Timer{Due: tm.Due, Customer: "other", Detector: "d"}))
		}
		require.NoError(t, b.CommitAsync())
		require.NoError(t, other.Commit(false))

		from, upTo := int64(i%50), int64(i%50+40)
		var got []state.Timer
		require.NoError(t, s.Timers(1, from, upTo, func(tm state.Timer) bool { got = append(got, tm); return true }))
		var exp []state.Timer
		for tm := range want {
			if tm.Due >= from && tm.Due <= upTo {
				exp = append(exp, tm)
			}
		}
		slices.SortFunc(exp, func(a, b state.Timer) int {
			return cmp.Or(cmp.Compare(a.Due, b.Due), cmp.Compare(a.Customer, b.Customer), cmp.Compare(a.Key, b.Key))
		})
		require.Equal(t, exp, got, "round %d", i)

		if len(exp) > 0 {
			var first []state.Timer
			require.NoError(t, s.Timers(1, from, upTo, func(tm state.Timer) bool { first = append(first, tm); return false }))
			require.Equal(t, exp[:1], first, "round %d: stopped after the first", i)
		}
	}
	require.NoError(t, b.Close())
	require.NoError(t, other.Close())
}
