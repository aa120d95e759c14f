package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrCorrupt is returned when a stored value cannot be decoded.
var ErrCorrupt = errors.New("state: corrupt value")

// enc appends primitives; dec reads them back. The format is private to this
// package: every stored value starts with a version byte.
type enc []byte

func (e enc) uvarint(v uint64) enc { return binary.AppendUvarint(e, v) }
func (e enc) varint(v int64) enc   { return binary.AppendVarint(e, v) }
func (e enc) f64(v float64) enc    { return binary.LittleEndian.AppendUint64(e, math.Float64bits(v)) }
func (e enc) u64(v uint64) enc     { return binary.LittleEndian.AppendUint64(e, v) }
func (e enc) u32(v uint32) enc     { return binary.LittleEndian.AppendUint32(e, v) }
func (e enc) str(s string) enc     { return append(binary.AppendUvarint(e, uint64(len(s))), s...) }
func (e enc) byte1(b byte) enc     { return append(e, b) }

type dec struct {
	b   []byte
	err error
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = ErrCorrupt
	}
	d.b = nil
}

func (d *dec) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) u64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *dec) u32() uint32 {
	if len(d.b) < 4 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *dec) f64() float64 { return math.Float64frombits(d.u64()) }

func (d *dec) byte1() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// count reads a length prefix and checks it against what is left, so that a
// corrupt value cannot make us allocate gigabytes.
func (d *dec) count(minEach int) int {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)/max(minEach, 1)+1) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *dec) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) str() string { return string(d.bytes()) }

func (d *dec) done(what string) error {
	if d.err != nil {
		return fmt.Errorf("%w: %s", d.err, what)
	}
	return nil
}

// Compact numbers (header version 3, window entries version 3). Most
// metrics are decimals with a few digits (0.532, 12.25, 300) and most event
// times are whole seconds or milliseconds: their float64 or nanosecond
// forms take 8–9 bytes that neither varints nor Pebble's block compression
// shrink. Both are stored as a varint whose low bits say the scale, and
// decode to the exact same value; anything else keeps its full form.

// numRaw marks a float64 stored as its 8 bytes after the varint.
const numRaw = 7

// pow10 are the decimal scales of num: value = mantissa / pow10[k].
var pow10 = [...]float64{1, 10, 100, 1000, 1e4, 1e5, 1e6}

// num appends v as zigzag(m)<<3 | k when v == m / 10^k exactly (k ≤ 6,
// |m| < 2^53), else as the marker numRaw and v's 8 bytes.
func (e enc) num(v float64) enc {
	if !math.Signbit(v) || v != 0 { // -0 keeps its sign: raw
		for k, p := range pow10 {
			m := math.Round(v * p)
			if math.Abs(m) >= 1<<53 {
				break
			}
			if m/p == v {
				return e.uvarint(uint64(zigzag(int64(m)))<<3 | uint64(k))
			}
		}
	}
	return e.uvarint(numRaw).f64(v)
}

func (d *dec) num() float64 {
	x := d.uvarint()
	k := x & 7
	switch {
	case k == numRaw && x == numRaw:
		return d.f64()
	case k >= uint64(len(pow10)):
		d.fail()
		return 0
	}
	return float64(unzigzag(x>>3)) / pow10[k]
}

// nsUnits are the units of when: seconds, milliseconds, microseconds.
var nsUnits = [...]int64{1e9, 1e6, 1e3}

// whenNanos marks a time that needs its nanoseconds: a varint of it follows.
const whenNanos = 3

// when appends t (nanoseconds, or a difference of two) as
// zigzag(t/unit)<<2 | unit index, in the coarsest of nsUnits that holds it
// exactly, or as the marker whenNanos and t's varint.
func (e enc) when(t int64) enc {
	for k, u := range nsUnits {
		if t%u == 0 {
			return e.uvarint(zigzag(t/u)<<2 | uint64(k)) // |t/u| < 2^54: no overflow
		}
	}
	return e.uvarint(whenNanos).varint(t)
}

func (d *dec) when() int64 {
	x := d.uvarint()
	if x&3 == whenNanos {
		if x != whenNanos {
			d.fail()
			return 0
		}
		return d.varint()
	}
	return unzigzag(x>>2) * nsUnits[x&3]
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// time reads a time of a version-3 value (when) or an older one (varint).
func (d *dec) time(v3 bool) int64 {
	if v3 {
		return d.when()
	}
	return d.varint()
}

// number reads a number of a version-3 value (num) or an older one (f64).
func (d *dec) number(v3 bool) float64 {
	if v3 {
		return d.num()
	}
	return d.f64()
}

// numBytes is the fewest bytes a number takes, for count.
func numBytes(v3 bool) int {
	if v3 {
		return 1
	}
	return 8
}
