package partitioner_test

import (
	"context"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/partitioner"
)

// neg is the bit pattern of a negative Java int.
func neg(v int32) uint32 { return uint32(v) }

// Kafka's murmur2 on the Java client's own unit-test keys and
// librdkafka's (rdmurmur2.c, java_murmur2_results).
func TestMurmur2KnownValues(t *testing.T) {
	for _, c := range []struct {
		key  string
		want uint32
	}{
		{"21", neg(-973932308)},
		{"foobar", neg(-790332482)},
		{"a-little-bit-long-string", neg(-985981536)},
		{"abc", 479470107},
		{"kafka", 0xd067cf64},
		{"giberish123456789", 0x8f552b0c},
		{"1234", 0x9fc97b14},
		{"234", 0xe7c009ca},
		{"34", 0x873930da},
		{"4", 0x5a4b5ca1},
		{"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1c},
		{"AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8b43f},
		{"", 0x106e08d9},
	} {
		require.Equal(t, c.want, partitioner.Murmur2Hash([]byte(c.key)), "murmur2(%q)", c.key)
	}
	// The sign bit is masked off (Java toPositive), not negated.
	require.Equal(t, int32(0x5067cf64%7), partitioner.Murmur2([]byte("kafka"), 7))
}

// CRC-32 of the key, as librdkafka's consistent_random computes it (IEEE,
// as zlib: the check value of "123456789" is 0xcbf43926).
func TestCRC32KnownValues(t *testing.T) {
	require.Equal(t, uint32(0xcbf43926), crc32.ChecksumIEEE([]byte("123456789")))
	p, ok := partitioner.CRC32([]byte("123456789"), 10)
	require.True(t, ok)
	require.Equal(t, int32(0xcbf43926%10), p)
	p, ok = partitioner.CRC32([]byte("kafka"), 10)
	require.True(t, ok)
	require.Equal(t, int32(0x5bbc7517%10), p)
	_, ok = partitioner.CRC32(nil, 10)
	require.False(t, ok, "an empty key goes to a random partition")
	f, err := partitioner.ByName("crc32")
	require.NoError(t, err)
	p, ok = f([]byte("kafka"), 10)
	require.True(t, ok)
	require.Equal(t, int32(9), p)
	_, err = partitioner.ByName("fnv")
	require.ErrorContains(t, err, `"fnv"`)
}

// Records produced with franz-go's default partitioner to an N-partition
// topic land where Murmur2 says, for customer ids like the demo's and odd
// ones, and for several partition counts.
func TestMurmur2AgreesWithFranzGo(t *testing.T) {
	counts := []int{1, 3, 4, 7, 12}
	var topics []string
	for _, n := range counts {
		topics = append(topics, fmt.Sprintf("t%d", n))
	}
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	for i, n := range counts {
		opts = append(opts, kfake.SeedTopics(int32(n), topics[i]))
	}
	c, err := kfake.NewCluster(opts...)
	require.NoError(t, err)
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys := [][]byte{[]byte("kafka"), []byte("é-ü-客户"), []byte("x"), []byte("a-customer-id-that-is-rather-long-0123456789")}
	for i := range 500 {
		keys = append(keys, fmt.Appendf(nil, "cust-%05d", i))
	}
	var recs []*kgo.Record
	for _, tp := range topics {
		for _, k := range keys {
			recs = append(recs, &kgo.Record{Topic: tp, Key: k})
		}
	}
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
	for i, r := range recs {
		n := counts[i/len(keys)]
		require.Equal(t, r.Partition, partitioner.Murmur2(r.Key, n), "key %q over %d partitions", r.Key, n)
	}
}
