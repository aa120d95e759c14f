package testkit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
	return readTopic(t, brokers, topic, true)
}

// EOSClientOpts are pipeline client options for exactly-once tests: a short
// group session, so that a killed member's partitions move within seconds,
// and a transaction timeout below it.
func EOSClientOpts() []kgo.Opt {
	return []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond),
		kgo.TransactionTimeout(4 * time.Second)}
}
