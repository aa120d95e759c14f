package state_test

import (
	"fmt"
	"os"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/state"
)

// TestStateSizeDir measures what a state directory costs on disk once
// compacted: it runs only with PEAKEND_STATE_DIR set
// (scripts/bench-state-growth.sh sets it), compacts the whole key space
// and logs the files' size, and keys and bytes by kind.
func TestStateSizeDir(t *testing.T) {
	dir := os.Getenv("PEAKEND_STATE_DIR")
	if dir == "" {
		t.Skip("set PEAKEND_STATE_DIR to a state directory")
	}
	s, err := state.Open(state.Options{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	db := s.DB()
	require.NoError(t, db.Compact(t.Context(), []byte{0}, []byte{0xff}, true))
	type kind struct{ n, key, val int64 }
	kinds := map[byte]*kind{}
	it, err := db.NewIter(nil)
	require.NoError(t, err)
	for it.First(); it.Valid(); it.Next() {
		k := kinds[it.Key()[0]]
		if k == nil {
			k = &kind{}
			kinds[it.Key()[0]] = k
		}
		k.n++
		k.key += int64(len(it.Key()))
		k.val += int64(len(it.Value()))
	}
	require.NoError(t, it.Close())
	var names []int
	for b := range kinds {
		names = append(names, int(b))
	}
	sort.Ints(names)
	for _, b := range names {
		k := kinds[byte(b)]
		// On disk: the tables' bytes in the kind's key range (blocks,
		// index and filter), per key of the kind.
		disk, err := db.EstimateDiskUsage([]byte{byte(b)}, []byte{byte(b + 1)})
		require.NoError(t, err)
		t.Logf("KIND %c keys %d, key bytes %.1f, value bytes %.1f (averages), on disk %.1f bytes per key", b, k.n, float64(k.key)/float64(k.n), float64(k.val)/float64(k.n), float64(disk)/float64(k.n))
	}
	m := db.Metrics()
	var size uint64
	for _, l := range m.Levels {
		size += uint64(l.TablesSize)
	}
	size += m.BlobFiles.LiveSize
	custs := int64(0)
	if k := kinds['c']; k != nil {
		custs = k.n
	}
	t.Logf("SIZE %d bytes in tables after compaction, %d customers, %s bytes per customer", size, custs, perCustomer(size, custs))
}

func perCustomer(size uint64, n int64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(size)/float64(n))
}
