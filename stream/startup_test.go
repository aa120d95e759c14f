package stream_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/testkit"
)

// TestStartsBeforeItsBrokers: `peakend run` started while no broker listens
// yet (a pod beside a Kafka still starting) keeps running, alive but not
// ready, and starts consuming once the broker is up.
func TestStartsBeforeItsBrokers(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close()) // free again: nothing listens there yet
	brokers := []string{l.Addr().String()}

	cfg := perCustomerConfig(t, brokers)
	cfg.HTTP.Listen = "127.0.0.1:0"
	a := testkit.StartApp(t, app.Options{Config: cfg})
	time.Sleep(1500 * time.Millisecond) // several dial attempts
	code, _ := testkit.Get(t, a.Addr, "/healthz")
	require.Equal(t, 200, code, "/healthz while the broker is down")
	code, _ = testkit.Get(t, a.Addr, "/readyz")
	require.NotEqual(t, 200, code, "/readyz while the broker is down")

	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port),
		kfake.SeedTopics(testkit.Partitions, "experiences", "complaints"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	recs := testkit.Generate(2000, 100, seed+13, start, 10*time.Second)
	testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences, recs)
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, cfg.Kafka.Topics.Experiences)
	testkit.Eventually(t, 30*time.Second, "ready once the broker is up", func() bool {
		code, _ := testkit.Get(t, a.Addr, "/readyz")
		return code == 200
	})
	a.Stop(t, 10*time.Second)
	sameAlerts(t, testkit.Replay(t, cfg, recs), testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts)))
}
