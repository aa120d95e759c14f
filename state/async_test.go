package state_test

import (
	"fmt"
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
