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
