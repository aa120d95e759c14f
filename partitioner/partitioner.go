// Package partitioner computes the partition a Kafka producer sends a keyed
// record to, so that a replay (or the desk, writing feedback) puts a
// customer where the producers do: murmur2 (the Java client, franz-go) or
// CRC32 (librdkafka's default, consistent_random).
package partitioner

import (
	"fmt"
	"hash/crc32"
)

// Func returns the partition, of n, of a record with key. ok is false when
// the partitioner would pick a partition at random (librdkafka, for an empty
// key): that record's partition cannot be reproduced.
type Func func(key []byte, n int) (p int32, ok bool)

// Names of the partitioners.
const (
	NameMurmur2 = "murmur2"
	NameCRC32   = "crc32"
)

// ByName returns the partitioner called name: "murmur2" (also the default
// for "") or "crc32".
func ByName(name string) (Func, error) {
	switch name {
	case "", NameMurmur2:
		return func(key []byte, n int) (int32, bool) { return Murmur2(key, n), true }, nil
	case NameCRC32:
		return CRC32, nil
	}
	return nil, fmt.Errorf("partitioner: unknown partitioner %q (murmur2 or crc32)", name)
}

// Murmur2 is the partition, of n (> 0), of key under Kafka's default
// partitioner for keyed records: the Java client's
// toPositive(murmur2(key)) % n, which franz-go's StickyKeyPartitioner (its
// default) and librdkafka's "murmur2_random" compute too. An empty key is
// hashed like any other (the Java client and franz-go hash a non-null empty
// key).
func Murmur2(key []byte, n int) int32 {
	return int32(int(Murmur2Hash(key)&0x7fffffff) % n)
}

// Murmur2Hash is Kafka's 32-bit murmur2 of b (seed 0x9747b28c), as
// org.apache.kafka.common.utils.Utils.murmur2.
func Murmur2Hash(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for len(b) >= 4 {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		b = b[4:]
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// CRC32 is the partition, of n (> 0), of key under librdkafka's default
// partitioner, consistent_random: CRC-32 (IEEE, as zlib) of the key modulo
// n. It is the default of kcat, confluent-kafka-python and the Go and .NET
// clients built on librdkafka. An empty key is sent to a random partition:
// ok is false.
func CRC32(key []byte, n int) (int32, bool) {
	if len(key) == 0 {
		return 0, false
	}
	return int32(crc32.ChecksumIEEE(key) % uint32(n)), true
}
