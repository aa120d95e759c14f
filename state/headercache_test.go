package state

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHeaderCacheGetPutDelete(t *testing.T) {
	b := NewCacheBudget(1 << 20)
	c := NewHeaderCache(b)
	defer c.Close()

	_, ok := c.Get("alice")
	require.False(t, ok, "empty cache")
	c.Put("alice", []byte("v1"))
	v, ok := c.Get("alice")
	require.True(t, ok)
	require.Equal(t, "v1", string(v))

	// Replacing in the same size class and in a bigger one.
	c.Put("alice", []byte("v2"))
	v, _ = c.Get("alice")
	require.Equal(t, "v2", string(v))
	big := bytes.Repeat([]byte("x"), 700)
	c.Put("alice", big)
	v, _ = c.Get("alice")
	require.Equal(t, big, v)

	// Too large to cache: forgotten, so a reader goes to the store.
	c.Put("alice", bytes.Repeat([]byte("y"), maxCached))
	_, ok = c.Get("alice")
	require.False(t, ok)

	c.Put("bob", []byte("b"))
	c.Delete("bob")
	_, ok = c.Get("bob")
	require.False(t, ok)
	hits, misses, _ := c.Stats()
	require.Equal(t, int64(3), hits)
	require.Equal(t, int64(3), misses)
}

// Over its budget the cache keeps serving the right bytes for what it holds,
// evicts rather than grows, and keeps recently read entries (CLOCK).
func TestHeaderCacheEvictsWithinBudget(t *testing.T) {
	b := NewCacheBudget(2 * cacheChunkSize)
	c := NewHeaderCache(b)
	defer c.Close()
	val := func(i int) []byte { return fmt.Appendf(nil, "header-%06d-%s", i, bytes.Repeat([]byte{'.'}, 60)) }
	const n = 20_000 // about 5× what two chunks of 96-byte slots hold
	for i := range n {
		id := fmt.Sprintf("cust-%06d", i)
		c.Put(id, val(i))
		if i%10 == 0 {
			// keep customer 0 hot: read it often
			_, ok := c.Get("cust-000000")
			require.True(t, ok, "a customer read between every few writes is kept (i=%d)", i)
		}
	}
	require.LessOrEqual(t, b.Used(), int64(2*cacheChunkSize))
	held := 0
	for i := range n {
		if v, ok := c.Get(fmt.Sprintf("cust-%06d", i)); ok {
			require.Equal(t, val(i), v)
			held++
		}
	}
	per := cacheChunkSize / slotSizes[classFor(slotHeader+11+len(val(0)))]
	chunks := int((c.bytes - c.index.bytes()) / cacheChunkSize)
	require.Equal(t, chunks*per, held, "every slot of the cache holds an entry")
	require.Equal(t, held, c.index.n, "the index holds exactly the cached entries")
}

// A cache opened when the budget is spent still gets its equal share, and
// takes memory from another size class of its own when one class has none.
func TestHeaderCacheShareAndClasses(t *testing.T) {
	b := NewCacheBudget(4 * cacheChunkSize)
	first := NewHeaderCache(b)
	defer first.Close()
	for i := range 50_000 {
		first.Put(fmt.Sprintf("c%d", i), make([]byte, 40))
	}
	require.LessOrEqual(t, b.Used(), int64(4*cacheChunkSize))
	usedByFirst := b.Used()

	late := NewHeaderCache(b)
	for i := range 50_000 {
		late.Put(fmt.Sprintf("c%d", i), make([]byte, 40))
	}
	_, _, bytesLate := late.Stats()
	require.LessOrEqual(t, bytesLate, int64(2*cacheChunkSize), "at most an equal share of the budget")
	require.Greater(t, bytesLate, int64(cacheChunkSize), "an equal share of the budget")
	// Entries of another class reuse the late cache's own chunks.
	late.Put("large", make([]byte, 900))
	v, ok := late.Get("large")
	require.True(t, ok)
	require.Len(t, v, 900)
	_, _, after := late.Stats()
	require.Equal(t, bytesLate, after)
	late.Close()
	require.Equal(t, usedByFirst, b.Used(), "Close returns the late cache's share")
}

// Headers grow as customers age and move up a size class. Over budget, the
// slots they leave behind are given back (whole chunks) to the class they
// move to, instead of the cache evicting live entries while holding free memory.
func TestHeaderCacheMovesMemoryBetweenClasses(t *testing.T) {
	b := NewCacheBudget(16 * cacheChunkSize)
	c := NewHeaderCache(b)
	defer c.Close()
	id := func(i int) string { return fmt.Sprintf("cust-%06d", i) }
	n := 0
	for c.Warm(id(n), make([]byte, 60)) { // fill the budget with small headers
		n++
	}
	for i := range n { // every customer's header grows into the next classes
		c.Put(id(i), make([]byte, 120))
	}
	held := 0
	for i := range n {
		if v, ok := c.Get(id(i)); ok {
			require.Len(t, v, 120)
			held++
		}
	}
	per := cacheChunkSize / slotSizes[classFor(slotHeader+11+120)]
	chunks := int((c.bytes - c.index.bytes()) / cacheChunkSize)
	require.GreaterOrEqual(t, held, (chunks-2)*per, "nearly all the memory holds the grown headers")
	require.LessOrEqual(t, b.Used(), int64(16*cacheChunkSize))
}

// Whatever the mix of sizes, updates, deletes and evictions, a hit is always
// the latest value put for that id: the cache may forget, never lie.
func TestHeaderCacheNeverStale(t *testing.T) {
	b := NewCacheBudget(6 * cacheChunkSize)
	c := NewHeaderCache(b)
	defer c.Close()
	other := NewHeaderCache(b) // a second partition competing for the budget
	defer other.Close()
	want := map[string][]byte{}
	rng := uint64(7)
	next := func(n uint64) uint64 { rng = rng*6364136223846793005 + 1442695040888963407; return (rng >> 33) % n }
	for i := range 100_000 {
		id := fmt.Sprintf("c%d", next(8_000))
		switch op := next(10); {
		case op == 0:
			c.Delete(id)
			delete(want, id)
		case op < 6:
			v := bytes.Repeat([]byte{byte(i)}, int(next(600)))
			c.Put(id, v)
			want[id] = v
		default:
			if got, ok := c.Get(id); ok {
				require.Equal(t, want[id], got, "id %s at op %d", id, i)
			}
		}
		if i%7 == 0 {
			other.Put(fmt.Sprintf("o%d", next(50_000)), make([]byte, next(300)))
		}
	}
	require.LessOrEqual(t, b.Used(), int64(6*cacheChunkSize)+2*cacheChunkSize, "within the budget, give or take a share's rounding")
}

// The index deletes without tombstones: after any mix of puts and deletes,
// it answers exactly like a Go map.
func TestRefTableMatchesMap(t *testing.T) {
	var tab refTable
	defer tab.free()
	want := map[uint64]uint64{}
	rng := uint64(1)
	for i := range 200_000 {
		rng = rng*6364136223846793005 + 1442695040888963407
		h := (rng>>50 + 1) << 33 // few distinct tags, long probe runs: deletes shift often
		if i%3 == 0 {
			tab.del(h)
			delete(want, h)
		} else {
			tab.put(h, uint64(i))
			want[h] = uint64(i)
		}
	}
	require.Equal(t, len(want), tab.n)
	for k := uint64(1); k <= 1<<14+1; k++ {
		h := k << 33
		got, ok := tab.get(h)
		w, wok := want[h]
		require.Equal(t, wok, ok, "key %d", h)
		require.Equal(t, w, got, "key %d", h)
	}
}

func TestHeaderCacheDisabled(t *testing.T) {
	for _, b := range []*CacheBudget{nil, NewCacheBudget(0)} {
		c := NewHeaderCache(b)
		c.Put("a", []byte("x"))
		_, ok := c.Get("a")
		require.False(t, ok)
		c.Close()
	}
}

func BenchmarkHeaderCacheGetPut(b *testing.B) {
	c := NewHeaderCache(NewCacheBudget(256 << 20))
	defer c.Close()
	ids := make([]string, 1<<20)
	val := make([]byte, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("cust-%07d", i)
		c.Put(ids[i], val)
	}
	b.ResetTimer()
	for i := range b.N {
		id := ids[(i*7919)&(len(ids)-1)]
		v, _ := c.Get(id)
		c.Put(id, v)
	}
}
