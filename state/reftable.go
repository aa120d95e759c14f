package state

import "unsafe"

// refTable maps a 64-bit hash to a slot ref, by linear probing in memory
// from allocChunk (outside the Go heap, like the slots it indexes): a
// million-entry Go map would add tens of MiB to the heap and, through the
// GC's heap goal, as much again. Key 0 marks an empty slot (hash 0 is
// stored as 1: lookups verify the id in the slot anyway).
type refTable struct {
	mem   []byte
	slots []uint64 // key, ref pairs
	mask  int      // pairs - 1 (a power of two)
	n     int
}

const minTablePairs = 1 << 12

func tableKey(h uint64) uint64 { return max(h, 1) }

func (t *refTable) bytes() int64 { return int64(len(t.mem)) }

func (t *refTable) init(pairs int) {
	t.mem = allocChunk(pairs * 16)
	t.slots = unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(t.mem))), pairs*2)
	clear(t.slots)
	t.mask = pairs - 1
	t.n = 0
}

func (t *refTable) get(h uint64) (uint64, bool) {
	if t.slots == nil {
		return 0, false
	}
	k := tableKey(h)
	for i := int(k) & t.mask; ; i = (i + 1) & t.mask {
		switch t.slots[2*i] {
		case k:
			return t.slots[2*i+1], true
		case 0:
			return 0, false
		}
	}
}

// put sets h's ref and reports the change in the table's memory.
func (t *refTable) put(h, ref uint64) (grown int64) {
	if t.slots == nil {
		t.init(minTablePairs)
		grown = t.bytes()
	} else if (t.n+1)*4 > (t.mask+1)*3 { // load above 3/4: double
		old, oldMem := t.slots, t.mem
		before := t.bytes()
		t.init((t.mask + 1) * 2)
		for i := 0; i < len(old); i += 2 {
			if old[i] != 0 {
				t.insert(old[i], old[i+1])
			}
		}
		freeChunk(oldMem)
		grown = t.bytes() - before
	}
	t.insert(tableKey(h), ref)
	return grown
}

func (t *refTable) insert(k, ref uint64) {
	for i := int(k) & t.mask; ; i = (i + 1) & t.mask {
		switch t.slots[2*i] {
		case k:
			t.slots[2*i+1] = ref
			return
		case 0:
			t.slots[2*i], t.slots[2*i+1] = k, ref
			t.n++
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
	k := tableKey(h)
	i := int(k) & t.mask
	for t.slots[2*i] != k {
		if t.slots[2*i] == 0 {
			return
		}
		i = (i + 1) & t.mask
	}
	for {
		t.slots[2*i], t.slots[2*i+1] = 0, 0
		j := i
		for {
			j = (j + 1) & t.mask
			kj := t.slots[2*j]
			if kj == 0 {
				t.n--
				return
			}
			home := int(kj) & t.mask
			// Move kj back to i unless its home lies cyclically in (i, j].
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				t.slots[2*i], t.slots[2*i+1] = kj, t.slots[2*j+1]
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
