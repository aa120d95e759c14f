package state_test

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/state"
)

func openMem(t *testing.T, fs vfs.FS) *state.Store {
	t.Helper()
	s, err := state.Open(state.Options{FS: fs, Dir: "", CacheBytes: 1 << 20, MemtableBytes: 1 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func load(t *testing.T, s *state.Store, p int32, id string) (state.Customer, bool) {
	t.Helper()
	c := state.Customer{ID: id}
	ok, err := s.LoadCustomer(p, &c, nil)
	require.NoError(t, err)
	return c, ok
}

func offset(t *testing.T, s *state.Store, p int32, topic string) int64 {
	t.Helper()
	o, err := s.Offset(p, topic)
	require.NoError(t, err)
	return o
}

func TestBatchCommitIsAtomic(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	require.Equal(t, int64(-1), offset(t, s, 0, "experiences"), "unset offset")

	c := fullCustomer("cust-1")
	b := s.NewBatch(0)
	defer b.Close()
	require.True(t, b.Empty())
	require.NoError(t, b.PutCustomer(&c))
	require.NoError(t, b.PutOffset("experiences", 42))
	require.NoError(t, b.PutCustomers(1))
	require.False(t, b.Empty())
	require.Positive(t, b.Len())

	// Nothing is visible before the commit...
	_, ok := load(t, s, 0, "cust-1")
	require.False(t, ok)
	require.Equal(t, int64(-1), offset(t, s, 0, "experiences"))
	n, err := s.Customers(0)
	require.NoError(t, err)
	require.Zero(t, n)

	// ...and everything after it.
	require.NoError(t, b.Commit(false))
	got, ok := load(t, s, 0, "cust-1")
	require.True(t, ok)
	require.Equal(t, c, got)
	require.Equal(t, int64(42), offset(t, s, 0, "experiences"))
	n, err = s.Customers(0)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)

	// Commit resets the batch: it is reusable and empty.
	require.True(t, b.Empty())
	require.NoError(t, b.PutOffset("experiences", 0))
	require.NoError(t, b.Commit(true))
	require.Equal(t, int64(0), offset(t, s, 0, "experiences"), "offset 0 is not unset")

	// Other partitions and topics are untouched.
	_, ok = load(t, s, 1, "cust-1")
	require.False(t, ok)
	require.Equal(t, int64(-1), offset(t, s, 1, "experiences"))
	require.Equal(t, int64(-1), offset(t, s, 0, "complaints"))
	require.Equal(t, int64(-1), offset(t, s, 0, "experience"), "topic names that are prefixes")
}

func TestBatchResetDiscards(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	b := s.NewBatch(3)
	defer b.Close()
	c := state.Customer{ID: "c", Seq: 1}
	require.NoError(t, b.PutCustomer(&c))
	require.NoError(t, b.PutExperience("c", 1, 50, state.AppendExperience(nil, 1, &event.Event{Time: 1, Journey: "j"})))
	require.NoError(t, b.PutOffset("t", 7))
	require.NoError(t, b.PutPopulation("pop", 1, []byte("x")))
	b.Reset()
	require.True(t, b.Empty())
	require.NoError(t, b.Commit(false))

	_, ok := load(t, s, 3, "c")
	require.False(t, ok)
	require.Equal(t, int64(-1), offset(t, s, 3, "t"))
	require.Empty(t, window(t, s, 3, "c"))
	require.Empty(t, populations(t, s, 3, "pop"))
}

func window(t *testing.T, s *state.Store, p int32, cust string) []string {
	t.Helper()
	var out []string
	require.NoError(t, s.Window(p, cust, func(seq uint64, b []byte) bool {
		var ev event.Event
		require.NoError(t, state.DecodeExperience(b, cust, &ev))
		out = append(out, fmt.Sprintf("%d:%s", seq, ev.EventID))
		return true
	}))
	return out
}

func populations(t *testing.T, s *state.Store, p int32, name string) []string {
	t.Helper()
	var out []string
	require.NoError(t, s.Populations(p, name, func(bucket int64, b []byte) error {
		out = append(out, fmt.Sprintf("%d:%s", bucket, b))
		return nil
	}))
	return out
}

func putExperience(t *testing.T, b *state.Batch, cust string, seq uint64, window int) {
	t.Helper()
	ev := event.Event{EventID: fmt.Sprintf("%s#%d", cust, seq), Time: int64(seq), Journey: "j"}
	require.NoError(t, b.PutExperience(cust, seq, window, state.AppendExperience(nil, seq, &ev)))
}

func TestWindowNewestFirstAndOnlyThatCustomer(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	b := s.NewBatch(0)
	defer b.Close()
	// Customer ids that are prefixes of each other; seqs past the ring's size.
	for _, cust := range []string{"a", "ab", "abc", "b", "東京"} {
		for seq := uint64(1); seq <= 7; seq++ {
			putExperience(t, b, cust, seq, 5)
		}
	}
	require.NoError(t, b.Commit(false))
	b1 := s.NewBatch(1)
	defer b1.Close()
	putExperience(t, b1, "ab", 1000, 5)
	require.NoError(t, b1.Commit(false))

	for _, cust := range []string{"a", "ab", "abc", "東京"} {
		var want []string
		for seq := 7; seq >= 3; seq-- {
			want = append(want, fmt.Sprintf("%d:%s#%d", seq, cust, seq))
		}
		require.Equal(t, want, window(t, s, 0, cust), "customer %q", cust)
	}
	require.Equal(t, []string{"1000:ab#1000"}, window(t, s, 1, "ab"), "partition 1 is separate")
	require.Empty(t, window(t, s, 0, "abcd"))
	require.Empty(t, window(t, s, 0, ""))
	require.Empty(t, window(t, s, 2, "a"))

	// fn returning false stops the iteration.
	var seen []uint64
	require.NoError(t, s.Window(0, "abc", func(seq uint64, _ []byte) bool {
		seen = append(seen, seq)
		return len(seen) < 2
	}))
	require.Equal(t, []uint64{7, 6}, seen)

	// A long history keeps exactly the last `window` entries.
	for seq := uint64(8); seq <= 300; seq++ {
		putExperience(t, b, "ab", seq, 5)
	}
	require.NoError(t, b.Commit(false))
	require.Equal(t, []string{"300:ab#300", "299:ab#299", "298:ab#298", "297:ab#297", "296:ab#296"}, window(t, s, 0, "ab"))
	require.Len(t, window(t, s, 0, "abc"), 5, "neighbours untouched")
}

func TestWindowSurvivesAResizedRing(t *testing.T) {
	// After a window change, slots of the old ring may hold older entries:
	// Window still returns newest first, and readers drop seq <= Seq-window.
	s := openMem(t, vfs.NewMem())
	b := s.NewBatch(0)
	defer b.Close()
	for seq := uint64(1); seq <= 10; seq++ {
		putExperience(t, b, "c", seq, 10)
	}
	for seq := uint64(11); seq <= 14; seq++ {
		putExperience(t, b, "c", seq, 3)
	}
	require.NoError(t, b.Commit(false))
	got := window(t, s, 0, "c")
	require.Equal(t, []string{"14:c#14", "13:c#13", "12:c#12"}, got[:3])
	for i := 1; i < len(got); i++ {
		var a, b uint64
		fmt.Sscanf(got[i-1], "%d:", &a)
		fmt.Sscanf(got[i], "%d:", &b)
		require.Greater(t, a, b, "newest first: %v", got)
	}
}

func TestCustomersArePerPartitionAndUnicode(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	b := s.NewBatch(7)
	defer b.Close()
	ids := []string{"a", "ab", "Zoë", "🙂", string(make([]byte, 256))}
	for i, id := range ids {
		c := state.Customer{ID: id, Seq: uint64(i + 1), Tier: id}
		require.NoError(t, b.PutCustomer(&c))
	}
	require.NoError(t, b.PutCustomers(int64(len(ids))))
	require.NoError(t, b.Commit(false))
	for i, id := range ids {
		c, ok := load(t, s, 7, id)
		require.True(t, ok, "%q", id)
		require.Equal(t, uint64(i+1), c.Seq)
		require.Equal(t, id, c.Tier)
		_, ok = load(t, s, 6, id)
		require.False(t, ok)
	}
	_, ok := load(t, s, 7, "abc")
	require.False(t, ok)

	n, err := s.Customers(7)
	require.NoError(t, err)
	require.Equal(t, int64(len(ids)), n)
	n, err = s.Customers(8)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestLoadCorruptCustomer(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	// Write a valid header, then overwrite it with garbage through the raw DB.
	b := s.NewBatch(0)
	defer b.Close()
	c := state.Customer{ID: "c"}
	require.NoError(t, b.PutCustomer(&c))
	require.NoError(t, b.Commit(false))
	var key []byte
	it, err := s.DB().NewIter(nil)
	require.NoError(t, err)
	for ok := it.First(); ok; ok = it.Next() {
		key = append([]byte(nil), it.Key()...)
	}
	require.NoError(t, it.Close())
	require.NotNil(t, key)
	require.NoError(t, s.DB().Set(key, []byte{1, 0xff}, nil))

	got := state.Customer{ID: "c"}
	ok, err := s.LoadCustomer(0, &got, nil)
	require.ErrorIs(t, err, state.ErrCorrupt)
	require.False(t, ok)
}

func TestPopulations(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	b := s.NewBatch(2)
	defer b.Close()
	for _, name := range []string{"rare", "rare_wait", "r"} {
		for _, bucket := range []int64{300, 1, 256, 0} {
			require.NoError(t, b.PutPopulation(name, bucket, []byte(fmt.Sprint(name, bucket))))
		}
	}
	require.NoError(t, b.Commit(false))
	other := s.NewBatch(3)
	defer other.Close()
	require.NoError(t, other.PutPopulation("rare", 5, []byte("p3")))
	require.NoError(t, other.Commit(false))

	// Ascending buckets, only that name and partition.
	require.Equal(t, []string{"0:rare0", "1:rare1", "256:rare256", "300:rare300"}, populations(t, s, 2, "rare"))
	require.Equal(t, []string{"0:r0", "1:r1", "256:r256", "300:r300"}, populations(t, s, 2, "r"))
	require.Equal(t, []string{"5:p3"}, populations(t, s, 3, "rare"))
	require.Empty(t, populations(t, s, 2, "ra"))

	require.NoError(t, b.DeletePopulation("rare", 1))
	require.NoError(t, b.Commit(false))
	require.Equal(t, []string{"0:rare0", "256:rare256", "300:rare300"}, populations(t, s, 2, "rare"))

	// An error from fn stops the iteration and is returned.
	stop := fmt.Errorf("stop")
	calls := 0
	err := s.Populations(2, "rare", func(int64, []byte) error { calls++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, calls)
}

func TestReopenKeepsCommittedState(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(t *testing.T) state.Options
	}{
		{"mem", func(t *testing.T) state.Options { return state.Options{FS: vfs.NewMem()} }},
		{"disk", func(t *testing.T) state.Options { return state.Options{Dir: t.TempDir()} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts(t)
			o.CacheBytes = 1 << 20
			s, err := state.Open(o)
			require.NoError(t, err)
			b := s.NewBatch(0)
			c := fullCustomer("cust-é")
			require.NoError(t, b.PutCustomer(&c))
			require.NoError(t, b.PutOffset("experiences", 99))
			require.NoError(t, b.Commit(false))
			uncommitted := state.Customer{ID: "lost"}
			require.NoError(t, b.PutCustomer(&uncommitted))
			require.NoError(t, b.Close())
			require.NoError(t, s.Close())
			require.NoError(t, s.Close(), "closing twice is safe")

			s, err = state.Open(o)
			require.NoError(t, err)
			defer s.Close()
			got, ok := load(t, s, 0, "cust-é")
			require.True(t, ok)
			require.Equal(t, c, got)
			_, ok = load(t, s, 0, "lost")
			require.False(t, ok)
			require.Equal(t, int64(99), offset(t, s, 0, "experiences"))
			require.NotNil(t, s.Metrics())
		})
	}
}

func TestCloseTwice(t *testing.T) {
	s, err := state.Open(state.Options{FS: vfs.NewMem(), Dir: ""})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
}
