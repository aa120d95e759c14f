package state

import "unsafe"

// refTable maps a 64-bit hash to a 32-bit slot ref, by linear probing in
// memory from allocChunk (outside the Go heap, like the slots it indexes): a
// million-entry Go map would add tens of MiB to the heap and, through the
// GC's heap goal, as much again. Each entry is 8 bytes: a 31-bit tag of the
// hash (which also picks the home position) and the ref. Two hashes with the
// same tag share an entry; the cache verifies the id in the slot, so that
// costs at most a miss. 0 marks an empty entry (tags are odd).
type refTable struct {
	mem   []byte
	slots []uint64 // tag<<32 | ref
	mask  int      // len(slots) - 1 (a power of two)
	n     int
}

const minTableSlots = 1 << 13

func tagOf(h uint64) uint32 { return uint32(h>>32) | 1 }

func (t *refTable) bytes() int64 { return int64(len(t.mem)) }

func (t *refTable) init(n int) {
	t.mem = allocChunk(n * 8)
	t.slots = unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(t.mem))), n)
	clear(t.slots)
	t.mask = n - 1
	t.n = 0
}

func (t *refTable) home(tag uint32) int { return int(tag>>1) & t.mask }

func (t *refTable) get(h uint64) (uint64, bool) {
	if t.slots == nil {
		return 0, false
	}
	tag := tagOf(h)
	for i := t.home(tag); ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s == 0 {
			return 0, false
		}
		if uint32(s>>32) == tag {
			return uint64(uint32(s)), true
		}
	}
}

// put sets h's ref (which must fit in 32 bits) and reports the change in
// the table's memory.
func (t *refTable) put(h, ref uint64) (grown int64) {
	if t.slots == nil {
		t.init(minTableSlots)
		grown = t.bytes()
	} else if (t.n+1)*4 > (t.mask+1)*3 { // load above 3/4: double
		old, oldMem := t.slots, t.mem
		before := t.bytes()
		t.init((t.mask + 1) * 2)
		for _, s := range old {
			if s != 0 {
				t.insert(uint32(s>>32), uint32(s))
			}
		}
		freeChunk(oldMem)
		grown = t.bytes() - before
	}
	t.insert(tagOf(h), uint32(ref))
	return grown
}

func (t *refTable) insert(tag, ref uint32) {
	v := uint64(tag)<<32 | uint64(ref)
	for i := t.home(tag); ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s == 0 {
			t.slots[i] = v
			t.n++
			return
		}
		if uint32(s>>32) == tag {
			t.slots[i] = v
			return
		}
	}
}

// del removes h, shifting later entries of its probe run back so that no
// tombstones are needed.
func (t *refTable) del(h uint64) {
	if t.slots == nil {
		return
	}
	tag := tagOf(h)
	i := t.home(tag)
	for uint32(t.slots[i]>>32) != tag {
		if t.slots[i] == 0 {
			return
		}
		i = (i + 1) & t.mask
	}
	for {
		t.slots[i] = 0
		j := i
		for {
			j = (j + 1) & t.mask
			s := t.slots[j]
			if s == 0 {
				t.n--
				return
			}
			home := t.home(uint32(s >> 32))
			// Move s back to i unless its home lies cyclically in (i, j].
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				t.slots[i] = s
				i = j
				break
			}
		}
	}
}

func (t *refTable) free() {
	if t.mem != nil {
		freeChunk(t.mem)
	}
	*t = refTable{}
}
