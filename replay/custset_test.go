package replay

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCustSetCountsExactly: the distinct-customer count of the report is
// exact across merges (pending filled many times over), whatever the order
// and repetition of the hashes, including hashes at the bucket edges.
func TestCustSetCountsExactly(t *testing.T) {
	var c custSet
	defer c.free()
	want := map[uint64]bool{}
	r := rand.New(rand.NewPCG(1, 2))
	edge := []uint64{0, 1, 1<<56 - 1, 1 << 56, 1<<64 - 1, 1<<64 - 2}
	for i := range 3*custSetPending + 12345 {
		var h uint64
		switch {
		case i%7 == 0 && len(want) > 0:
			h = uint64(r.IntN(i)) * 0x9e3779b97f4a7c15 // often a repeat of an earlier one
		case i < len(edge):
			h = edge[i]
		default:
			h = r.Uint64()
		}
		want[h] = true
		c.add(h)
		if i == custSetPending/2 {
			require.Equal(t, int64(len(want)), c.count(), "a count mid-way merges what is pending")
		}
	}
	require.Equal(t, int64(len(want)), c.count())
	require.Equal(t, int64(len(want)), c.count(), "count twice: the same")
	for h := range want { // every one again: nothing new
		c.add(h)
	}
	require.Equal(t, int64(len(want)), c.count())
}
