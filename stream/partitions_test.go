package stream_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/partitioner"
	"github.com/peakend/peakend/replay"
)

// timersConfig is the default configuration, every detector (population
// ones and timers included), with the order timing of the demo's traffic:
// promises 3 minutes out, so a minute's grace; a lateness of 2 minutes; no idle
// tick during the test (idle_timeout 1h).
func timersConfig(t *testing.T, brokers []string) *config.Config {
	cfg := testkit.Config(t, brokers)
	cfg.Events.AllowedLateness = config.Duration(2 * time.Minute)
	cfg.Events.IdleTimeout = config.Duration(time.Hour)
	cfg.Alerting.Cooldown = config.Duration(6 * time.Hour)
	for i := range cfg.Detectors {
		if cfg.Detectors[i].Type == config.TypeDeadline {
			cfg.Detectors[i].Grace = config.Duration(time.Minute)
		}
	}
	require.NoError(t, cfg.Validate())
	return cfg
}

// replayPartitions runs replay --partitions n over recs and returns its alerts.
func replayPartitions(t *testing.T, cfg *config.Config, recs []testkit.Record, n int, name string) []*alerts.Alert {
	t.Helper()
	var out bytes.Buffer
	_, err := replay.Run(context.Background(), replay.Options{Config: cfg, Input: testkit.WriteJSONL(t, recs), Out: &out,
		Partitions: n, Partitioner: name})
	require.NoError(t, err)
	return testkit.AlertsJSONL(t, out.Bytes())
}

// `replay --partitions 4` predicts a live run over a 4-partition topic that
// franz-go's default partitioner filled from the same file (records out of
// event-time order now and then; testkit.PartitionTraffic): the same
// alert_ids with the same severities, rarity (populations per partition)
// and timers (watermarks per partition) included. The live run has consumed
// every record and had no idle time, so its watermarks stop at each
// partition's last event time − allowed_lateness; the timer alerts replay's
// Drain fires beyond that are the only ones live has not fired yet
// (testkit.FiredLive). One replay in event-time order over one partition,
// as `replay` without --partitions, does not predict it.
func TestReplayPartitionsPredictsLive(t *testing.T) {
	_, brokers := testkit.FakeCluster(t)
	cfg := timersConfig(t, brokers)
	const n = testkit.Partitions
	recs := testkit.PartitionTraffic(40_000, 5_000, 11, start)
	produced := testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences, recs)
	for _, r := range produced {
		require.Equal(t, partitioner.Murmur2(r.Key, n), r.Partition, "franz-go put key %q elsewhere", r.Key)
	}

	a := testkit.StartApp(t, app.Options{Config: cfg})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 2*time.Minute, cfg.Kafka.Topics.Experiences)
	a.Stop(t, 20*time.Second)
	live := testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts))

	mm, _ := partitioner.ByName(partitioner.NameMurmur2)
	want, pending := testkit.FiredLive(t, replayPartitions(t, cfg, recs, n, ""), recs, mm, n, time.Duration(cfg.Events.AllowedLateness))
	testkit.SameIDsAndSeverities(t, want, live)
	byDetector := map[string]int{}
	for _, a := range want {
		byDetector[a.Detector]++
	}
	t.Logf("alerts by detector: %v; %d timer alerts due after the live watermarks", byDetector, len(pending))
	require.NotEmpty(t, pending, "no alert due between the live watermarks and the last event times: the test would not check Drain")
	for _, d := range cfg.Detectors {
		require.Positive(t, byDetector[d.Name], "no alert of %s: the comparison would prove nothing for it", d.Name)
	}

	// The replay of today (one partition, event-time order) does not
	// predict a partitioned live run: populations differ.
	one, _ := testkit.ByID(testkit.Replay(t, cfg, recs))
	differ := 0
	for _, a := range live {
		if one[a.AlertID] == nil {
			differ++
		}
	}
	require.Positive(t, differ, "one population predicted four: the test would not tell the two replays apart")
}
