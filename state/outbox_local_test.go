package state

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

// Outbox entries stay out of the changelog: their deletes happen outside
// batches, so a changelog copy would outlive delivery and be sent again by
// whoever restores the partition.
func TestOutboxStaysOutOfTheChangelog(t *testing.T) {
	s, err := Open(Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer s.Close()
	b := s.NewBatch(2)
	defer b.Close()
	require.NoError(t, b.PutOutbox("hook", 7, 1, []byte(`{}`)))
	require.NoError(t, b.PutOutboxSeq(8))
	require.NoError(t, b.PutOffset("experiences", 42))
	var kinds []byte
	require.NoError(t, b.Ops(func(k, _ []byte) error { kinds = append(kinds, k[0]); return nil }))
	require.Equal(t, []byte{kindOffset}, kinds)
}
