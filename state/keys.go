package state

import "encoding/binary"

// Key layout. Every key starts with a one-byte kind and the partition
// (big-endian uint16), so a partition's state is one contiguous range per
// kind and can be scanned, restored or dropped as a unit.
//
//	'c' p cust                      customer header (Customer)
//	'e' p len(cust) cust slot       one experience of the window, in ring slot seq%window
//	'o' p topic                     next offset to consume on topic/p
//	'q' p name bucket               population sketch bucket of a detector
//	'm' p                           partition meta (customer count)
//
// Event-time state ('t' timers, 'j' journeys, 'x' activity index, 'w'
// clock) is laid out in time.go.
const (
	kindCustomer   = 'c'
	kindExperience = 'e'
	kindOffset     = 'o'
	kindPopulation = 'q'
	kindMeta       = 'm'
)

func prefix(buf []byte, kind byte, p int32) []byte {
	return binary.BigEndian.AppendUint16(append(buf, kind), uint16(p))
}

func customerKey(buf []byte, p int32, cust string) []byte {
	return append(prefix(buf, kindCustomer, p), cust...)
}

func experiencePrefix(buf []byte, p int32, cust string) []byte {
	b := prefix(buf, kindExperience, p)
	b = binary.BigEndian.AppendUint16(b, uint16(len(cust)))
	return append(b, cust...)
}

// experienceKey is the ring slot of window entry seq: each new experience
// overwrites the one `window` places before it, so appending costs one Set
// and leaves no tombstone behind. The entry's value carries its seq.
func experienceKey(buf []byte, p int32, cust string, slot uint16) []byte {
	return binary.BigEndian.AppendUint16(experiencePrefix(buf, p, cust), slot)
}

func offsetKey(p int32, topic string) []byte {
	return append(prefix(nil, kindOffset, p), topic...)
}

func populationKey(p int32, name string, bucket int64) []byte {
	b := prefix(nil, kindPopulation, p)
	b = binary.BigEndian.AppendUint16(b, uint16(len(name)))
	b = append(b, name...)
	return binary.BigEndian.AppendUint64(b, uint64(bucket))
}

func populationPrefix(p int32, name string) []byte {
	b := prefix(nil, kindPopulation, p)
	b = binary.BigEndian.AppendUint16(b, uint16(len(name)))
	return append(b, name...)
}

func metaKey(p int32) []byte { return prefix(nil, kindMeta, p) }

// upperBound returns the smallest key greater than every key with prefix p.
func upperBound(p []byte) []byte {
	b := append([]byte(nil), p...)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return b[:i+1]
		}
	}
	return nil
}
