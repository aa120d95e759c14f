package state

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

// A batch's writes come back from Ops in order, deletes as nil values, and
// Apply of them into another store's batch reproduces the state.
func TestOpsApplyWipe(t *testing.T) {
	src, err := Open(Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer src.Close()
	b := src.NewBatch(2)
	require.NoError(t, b.PutCustomer(&Customer{ID: "c-1", Seq: 3}))
	require.NoError(t, b.PutOffset("experiences", 42))
	require.NoError(t, b.PutPopulation("rare", 7, []byte("sketch")))
	require.NoError(t, b.DeletePopulation("rare", 6))
	type op struct{ k, v string }
	var ops []op
	require.NoError(t, b.Ops(func(k, v []byte) error {
		if v == nil {
			ops = append(ops, op{string(k), "<delete>"})
		} else {
			require.NoError(t, ValidateRecord(2, k, v))
			ops = append(ops, op{string(k), string(v)})
		}
		return nil
	}))
	require.Len(t, ops, 4)
	require.Equal(t, "<delete>", ops[3].v)
	require.NoError(t, b.Commit(false))

	dst, err := Open(Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer dst.Close()
	db := dst.NewBatch(2)
	for _, o := range ops {
		var v []byte
		if o.v != "<delete>" {
			v = []byte(o.v)
		}
		require.NoError(t, db.Apply([]byte(o.k), v))
	}
	require.ErrorIs(t, db.Apply(customerKey(nil, 3, "c-9"), []byte("x")), ErrChangelogRecord, "another partition's key")
	require.NoError(t, db.Commit(false))
	next, err := dst.Offset(2, "experiences")
	require.NoError(t, err)
	require.EqualValues(t, 42, next)

	// Wipe removes every kind of partition 2, a kind this package does not
	// know included, and nothing of partition 3. It keeps partition 2's
	// outbox, which is not state: HasState does not count it either.
	require.NoError(t, dst.DB().Set([]byte{'z', 0, 2, 'x'}, []byte("helper state"), pebble.Sync))
	other := dst.NewBatch(3)
	require.NoError(t, other.PutOffset("experiences", 9))
	require.NoError(t, other.Commit(false))
	ob := dst.NewBatch(2)
	require.NoError(t, ob.PutOutbox("webhook", 7, 1, []byte(`{"alert_id":"a"}`)))
	require.NoError(t, ob.PutOutboxSeq(8))
	require.NoError(t, ob.Commit(true))
	require.NoError(t, dst.WipePartition(2))
	has, err := dst.HasState(2)
	require.NoError(t, err)
	require.False(t, has)
	var queued []uint64
	require.NoError(t, dst.Outbox("webhook", func(e *OutboxEntry) bool { queued = append(queued, e.Seq); return true }))
	require.Equal(t, []uint64{7}, queued, "the outbox after a wipe")
	seq, err := dst.OutboxSeq(2)
	require.NoError(t, err)
	require.EqualValues(t, 8, seq, "the outbox seq after a wipe")
	next, err = dst.Offset(3, "experiences")
	require.NoError(t, err)
	require.EqualValues(t, 9, next)
}

func TestValidateRecord(t *testing.T) {
	require.ErrorIs(t, ValidateRecord(0, []byte("c"), []byte("x")), ErrChangelogRecord)
	require.ErrorIs(t, ValidateRecord(0, customerKey(nil, 0, "c"), []byte("not a header")), ErrChangelogRecord)
	require.ErrorIs(t, ValidateRecord(0, offsetKey(0, "t"), []byte("short")), ErrChangelogRecord)
	require.NoError(t, ValidateRecord(0, customerKey(nil, 0, "c"), nil), "a delete")
	require.NoError(t, ValidateRecord(0, []byte{'z', 0, 0}, []byte("unknown kind")))
}
