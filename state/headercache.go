package state

import (
	"encoding/binary"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// HeaderCache keeps one partition's encoded customer headers in memory, so
// that the header read every event needs costs a hash lookup instead of a
// Pebble Get (which, over a million customers, walks memtables and several
// LSM levels and decompresses a block on a miss: most of the time per event).
//
// It is a row cache, like RocksDB's: entries are the exact bytes last
// committed to Pebble (write-through at commit, read-through on a miss), so it
// is never stale as long as every write of a header goes through Put or
// Delete. Memory comes in fixed-size chunks from outside the Go heap (so a
// large cache neither doubles the GC's heap goal nor is scanned), cut into
// slots of a few size classes; a full class evicts by CLOCK. It is owned by
// the partition's goroutine and not safe for concurrent use.
type HeaderCache struct {
	budget  *CacheBudget
	index   refTable // xxhash(id) → slot ref (chunk<<16 | slot)
	classes [len(slotSizes)]sizeClass
	chunks  []cacheChunk
	bytes   int64 // chunk bytes held
	hits    int64
	misses  int64
	lost    int64 // entries put but not kept: evicted, too large, no room, or a hash collision
	onLost  func(id []byte)
}

// OnLost makes the cache call fn with the id of every entry it loses: one
// Put or Warm could not keep, or one it evicted or replaced since (two ids
// can share an index entry). A cache that must know whether a miss means
// "none" (the journey cache) keeps those ids. id is only valid during the
// call.
func (c *HeaderCache) OnLost(fn func(id []byte)) { c.onLost = fn }

func (c *HeaderCache) lose(id []byte) {
	c.lost++
	if c.onLost != nil {
		c.onLost(id)
	}
}

func (c *HeaderCache) loseString(id string) {
	c.lost++
	if c.onLost != nil {
		c.onLost(unsafe.Slice(unsafe.StringData(id), len(id)))
	}
}

// CacheBudget is the memory shared by the header caches of all partitions.
// Each cache may take chunks while the total is under the limit, and always
// up to an equal share of it (limit / caches open), so a partition assigned
// late is not starved; over its share, a cache recycles its own memory.
type CacheBudget struct {
	limit int64
	used  atomic.Int64
	users atomic.Int64
}

// NewCacheBudget returns a budget of limit bytes (0 disables the caches).
func NewCacheBudget(limit int64) *CacheBudget { return &CacheBudget{limit: limit} }

// Used is the memory the caches hold now, in bytes.
func (b *CacheBudget) Used() int64 { return b.used.Load() }

const cacheChunkSize = 256 << 10

// slotSizes are the size classes: a slot holds a 5-byte slot header, the
// customer id and the encoded header. Larger entries are not cached.
var slotSizes = [...]int{40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 144, 160, 176, 192, 224, 256, 320, 384,
	448, 512, 640, 768, 1024, 1536, 2048, 4096}

// maxCached is the largest id+value a slot can hold.
var maxCached = slotSizes[len(slotSizes)-1] - slotHeader

const (
	slotHeader = 5 // flags byte, uint16 id length, uint16 value length
	slotUsed   = 1 // the slot holds an entry
	slotRef    = 2 // CLOCK's reference bit: read since the hand last passed
)

type cacheChunk struct {
	mem   []byte
	class int
	used  int // slots holding an entry
}

type sizeClass struct {
	chunks []uint32 // chunk indexes of this class, in allocation order
	free   []uint64 // refs of free slots
	hand   int      // CLOCK hand: a position over the class's slots
}

// NewHeaderCache returns an empty cache drawing on budget (nil: no caching).
func NewHeaderCache(budget *CacheBudget) *HeaderCache {
	c := &HeaderCache{budget: budget}
	if budget != nil {
		budget.users.Add(1)
	}
	return c
}

func classFor(n int) int {
	for i, s := range slotSizes {
		if n <= s {
			return i
		}
	}
	return -1
}

func (c *HeaderCache) slot(ref uint64) []byte {
	ch := &c.chunks[ref>>16]
	size := slotSizes[ch.class]
	off := int(ref&0xffff) * size
	return ch.mem[off : off+size : off+size]
}

// Get returns the cached header of id. The slice is only valid until the
// next Put, Delete or Close.
func (c *HeaderCache) Get(id string) ([]byte, bool) {
	ref, ok := c.index.get(xxhash.Sum64String(id))
	if !ok {
		c.misses++
		return nil, false
	}
	s := c.slot(ref)
	kl := int(binary.LittleEndian.Uint16(s[1:]))
	vl := int(binary.LittleEndian.Uint16(s[3:]))
	if string(s[slotHeader:slotHeader+kl]) != id { // a hash collision: another id
		c.misses++
		return nil, false
	}
	s[0] |= slotRef
	c.hits++
	return s[slotHeader+kl : slotHeader+kl+vl], true
}

// Put caches val as id's header, replacing any previous one.
func (c *HeaderCache) Put(id string, val []byte) {
	if c.budget == nil || c.budget.limit <= 0 {
		c.loseString(id)
		return
	}
	h := xxhash.Sum64String(id)
	n := slotHeader + len(id) + len(val)
	if len(id)+len(val) > maxCached {
		c.remove(h, id)
		c.loseString(id)
		return
	}
	class := classFor(n)
	ref, ok := c.index.get(h)
	if ok {
		if other := c.slotID(ref); string(other) != id {
			c.lose(other) // another id with the same index entry: replaced
		}
	}
	if ok && c.chunks[ref>>16].class != class {
		c.freeSlot(ref)
		c.index.del(h)
		ok = false
	}
	flags := byte(slotUsed | slotRef) // an update: the entry is in use
	if !ok {
		if ref, ok = c.alloc(class); !ok {
			c.loseString(id)
			return
		}
		c.account(c.index.put(h, ref))
		flags = slotUsed // a new entry earns its reference bit when read
	}
	s := c.slot(ref)
	s[0] = flags
	binary.LittleEndian.PutUint16(s[1:], uint16(len(id)))
	binary.LittleEndian.PutUint16(s[3:], uint16(len(val)))
	copy(s[copy(s[slotHeader:], id)+slotHeader:], val)
}

// Warm caches val as id's header if there is room without evicting
// anything, and reports whether there was: it fills a new cache from the
// store until the budget is spent.
func (c *HeaderCache) Warm(id string, val []byte) bool {
	if c.budget == nil || c.budget.limit <= 0 || len(id)+len(val) > maxCached {
		c.loseString(id)
		return c.budget != nil && c.budget.limit > 0
	}
	if cl := &c.classes[classFor(slotHeader+len(id)+len(val))]; len(cl.free) == 0 && !c.canGrow() {
		c.loseString(id)
		return false
	}
	c.Put(id, val)
	return true
}

func (c *HeaderCache) canGrow() bool {
	b := c.budget
	return b.used.Load()+cacheChunkSize <= b.limit || c.bytes+cacheChunkSize <= b.limit/max(1, b.users.Load())
}

// Delete forgets id's header.
func (c *HeaderCache) Delete(id string) { c.remove(xxhash.Sum64String(id), id) }

// remove forgets id's entry (h is its hash); the entry of another id that
// shares its index entry stays.
func (c *HeaderCache) remove(h uint64, id string) {
	if ref, ok := c.index.get(h); ok && string(c.slotID(ref)) == id {
		c.freeSlot(ref)
		c.index.del(h)
	}
}

func (c *HeaderCache) freeSlot(ref uint64) {
	s := c.slot(ref)
	s[0] = 0
	c.chunks[ref>>16].used--
	cl := &c.classes[c.chunks[ref>>16].class]
	cl.free = append(cl.free, ref)
}

// alloc returns a free slot of class: a free one, one in a new chunk, or an
// evicted one.
func (c *HeaderCache) alloc(class int) (uint64, bool) {
	cl := &c.classes[class]
	if n := len(cl.free); n > 0 {
		ref := cl.free[n-1]
		cl.free = cl.free[:n-1]
		c.chunks[ref>>16].used++
		return ref, true
	}
	if c.grow() {
		c.newChunk(class, allocChunk(cacheChunkSize))
		return c.alloc(class)
	}
	// Over budget. Headers grow as customers age (more dedup hashes, more
	// baseline values), so they move up a size class and leave free slots
	// behind: a class with a chunk's worth of free slots gives up its
	// emptiest chunk before anything live is evicted here.
	donor, donorFree := -1, 0
	for i := range c.classes {
		per := cacheChunkSize / slotSizes[i]
		if free := len(c.classes[i].free); i != class && free >= per && free*slotSizes[i] > donorFree {
			donor, donorFree = i, free*slotSizes[i]
		}
	}
	if donor < 0 && len(cl.chunks) == 0 {
		// Nothing of this class at all: take from the class with the most chunks.
		for i := range c.classes {
			if len(c.classes[i].chunks) > 0 && (donor < 0 || len(c.classes[i].chunks) > len(c.classes[donor].chunks)) {
				donor = i
			}
		}
		if donor < 0 {
			return 0, false
		}
	}
	if donor >= 0 {
		c.newChunk(class, c.takeChunk(donor))
		return c.alloc(class)
	}
	return c.evict(class), true
}

// account charges the index's growth to the budget: it counts like the
// slots it indexes.
func (c *HeaderCache) account(grown int64) {
	if grown != 0 {
		c.bytes += grown
		c.budget.used.Add(grown)
	}
}

// grow reports whether the cache may take another chunk from the budget,
// and takes it.
func (c *HeaderCache) grow() bool {
	b := c.budget
	if len(c.chunks) >= maxChunks {
		return false
	}
	share := b.limit / max(1, b.users.Load())
	if b.used.Add(cacheChunkSize) <= b.limit || c.bytes+cacheChunkSize <= share {
		c.bytes += cacheChunkSize
		return true
	}
	b.used.Add(-cacheChunkSize)
	return false
}

// maxChunks keeps slot refs (chunk<<16 | slot) within 32 bits: 16 GiB.
const maxChunks = 1 << 16

func (c *HeaderCache) newChunk(class int, mem []byte) {
	idx := uint32(len(c.chunks))
	for i, ch := range c.chunks {
		if ch.mem == nil {
			idx = uint32(i)
			break
		}
	}
	if int(idx) == len(c.chunks) {
		c.chunks = append(c.chunks, cacheChunk{})
	}
	c.chunks[idx] = cacheChunk{mem: mem, class: class}
	cl := &c.classes[class]
	cl.chunks = append(cl.chunks, idx)
	per := cacheChunkSize / slotSizes[class]
	for i := per - 1; i >= 0; i-- {
		cl.free = append(cl.free, uint64(idx)<<16|uint64(i))
	}
}

// takeChunk empties the chunk of class holding the fewest entries and
// returns its memory.
func (c *HeaderCache) takeChunk(class int) []byte {
	cl := &c.classes[class]
	at := 0
	for i, idx := range cl.chunks {
		if c.chunks[idx].used < c.chunks[cl.chunks[at]].used {
			at = i
		}
	}
	idx := cl.chunks[at]
	cl.chunks = slices.Delete(cl.chunks, at, at+1)
	cl.hand = 0
	per := cacheChunkSize / slotSizes[class]
	for i := range per {
		ref := uint64(idx)<<16 | uint64(i)
		if s := c.slot(ref); s[0]&slotUsed != 0 {
			c.dropIndex(ref, s)
		}
	}
	cl.free = slices.DeleteFunc(cl.free, func(ref uint64) bool { return uint32(ref>>16) == idx })
	mem := c.chunks[idx].mem
	c.chunks[idx] = cacheChunk{}
	clear(mem) // slots of another size lie at other offsets: no stale flags
	return mem
}

// evict frees one slot of class by CLOCK and returns it.
func (c *HeaderCache) evict(class int) uint64 {
	cl := &c.classes[class]
	per := cacheChunkSize / slotSizes[class]
	total := per * len(cl.chunks)
	for {
		pos := cl.hand % total
		cl.hand = pos + 1
		ref := uint64(cl.chunks[pos/per])<<16 | uint64(pos%per)
		s := c.slot(ref)
		if s[0]&slotRef != 0 {
			s[0] &^= slotRef
			continue
		}
		if s[0]&slotUsed != 0 {
			c.dropIndex(ref, s)
			s[0] = 0
		}
		return ref
	}
}

// slotID is the id of the entry in the slot at ref.
func (c *HeaderCache) slotID(ref uint64) []byte {
	s := c.slot(ref)
	return s[slotHeader : slotHeader+int(binary.LittleEndian.Uint16(s[1:]))]
}

// dropIndex removes the index entry of the entry in slot s at ref (which
// is evicted).
func (c *HeaderCache) dropIndex(ref uint64, s []byte) {
	kl := int(binary.LittleEndian.Uint16(s[1:]))
	c.lose(s[slotHeader : slotHeader+kl])
	h := xxhash.Sum64(s[slotHeader : slotHeader+kl])
	if r, ok := c.index.get(h); ok && r == ref {
		c.index.del(h)
	}
}

// Lost is the number of entries Put or Warm could not keep, or evicted since:
// while it is 0, the cache holds every entry ever put and not deleted.
func (c *HeaderCache) Lost() int64 { return c.lost }

// Stats returns hits, misses, and the memory held in bytes.
func (c *HeaderCache) Stats() (hits, misses, bytes int64) { return c.hits, c.misses, c.bytes }

// Close returns the cache's memory to the budget.
func (c *HeaderCache) Close() {
	for _, ch := range c.chunks {
		if ch.mem != nil {
			freeChunk(ch.mem)
		}
	}
	c.index.free()
	if c.budget != nil {
		c.budget.used.Add(-c.bytes)
		c.budget.users.Add(-1)
	}
	*c = HeaderCache{}
}
