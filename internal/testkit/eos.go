package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// FakeCluster is Cluster, returning the kfake cluster too (for fault
// injection and compaction).
func FakeCluster(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1),
		kfake.SeedTopics(Partitions, "experiences", "complaints")}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// ReadCommitted reads topic from the start up to its last stable offsets as
// a read_committed consumer does: records of aborted transactions are not
// returned, nor are transaction markers.
func ReadCommitted(t testing.TB, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	adm := kadm.NewClient(Client(t, brokers))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	require.NoError(t, err)
	require.NoError(t, ends.Error())
	want := map[int32]kgo.Offset{}
	end := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = kgo.NewOffset().AtStart()
			end[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil
	}
	cl := Client(t, brokers, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: want}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.FetchMaxPartitionBytes(8<<20))
	defer cl.Close()
	var out []*kgo.Record
	for left := len(want); left > 0; {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "reading %s: %d partitions not read to the end", topic, left)
		fs.EachError(func(_ string, p int32, err error) { require.NoError(t, err, "reading %s/%d", topic, p) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end[r.Partition] {
				return
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if r.Offset == end[r.Partition]-1 {
				left--
			}
		})
	}
	return out
}

// EOSClientOpts are pipeline client options for exactly-once tests: a short
// group session, so that a killed member's partitions move within seconds,
// and a transaction timeout below it.
func EOSClientOpts() []kgo.Opt {
	return []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond),
		kgo.TransactionTimeout(4 * time.Second)}
}
