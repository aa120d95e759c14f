package state

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

// Compacted state carries no bloom filters on the bottom level (Pebble
// never reads them for a Get), and point reads there still find every
// customer and miss the ones never stored; the upper levels keep theirs.
func TestNoFiltersOnBottomLevel(t *testing.T) {
	s, err := Open(Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	const n = 20000
	for half := range 2 { // two overlapping tables: the compaction rewrites them
		b := s.NewBatch(0)
		for i := half; i < n; i += 2 {
			c := Customer{ID: fmt.Sprintf("cust-%06d", i), Seq: 1, LastAt: int64(i) * 1e9, FirstAt: int64(i) * 1e9}
			require.NoError(t, b.PutCustomer(&c))
		}
		require.NoError(t, b.Commit(false))
		require.NoError(t, s.DB().Flush())
	}
	require.NoError(t, s.DB().Compact(t.Context(), []byte{0}, []byte{0xff}, true))
	tables, err := s.DB().SSTables(pebble.WithProperties())
	require.NoError(t, err)
	bottom := tables[len(tables)-1]
	require.NotEmpty(t, bottom, "compacted to the bottom level")
	for _, tb := range bottom {
		require.Zero(t, tb.Properties.FilterSize, "table %s", tb.FileNum)
	}
	for _, i := range []int{0, 777, n - 1} {
		c := Customer{ID: fmt.Sprintf("cust-%06d", i)}
		found, err := s.LoadCustomer(0, &c, nil)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, int64(i)*1e9, c.LastAt)
	}
	c := Customer{ID: "cust-never"}
	found, err := s.LoadCustomer(0, &c, nil)
	require.NoError(t, err)
	require.False(t, found)

	// A flush that stays above the bottom level keeps its filter.
	b := s.NewBatch(0)
	require.NoError(t, b.PutCustomer(&Customer{ID: "cust-new", Seq: 1}))
	require.NoError(t, b.Commit(false))
	require.NoError(t, s.DB().Flush())
	tables, err = s.DB().SSTables(pebble.WithProperties())
	require.NoError(t, err)
	var upper int
	for _, level := range tables[:len(tables)-1] {
		for _, tb := range level {
			require.NotZero(t, tb.Properties.FilterSize, "table %s", tb.FileNum)
			upper++
		}
	}
	require.Equal(t, 1, upper)
}
