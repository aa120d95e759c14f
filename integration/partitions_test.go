//go:build integration

package integration

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/partitioner"
)

// timerDetectors are the population and timer detectors, with the order
// timing of the demo's traffic (promises 3 minutes out: a minute's grace),
// for writeConfigWith; partitionEvents gives a lateness of 2 minutes and no
// idle tick during a test.
const (
	timerDetectors = `  - {name: rare_wait, type: rarity, journey: support_call, metric: wait_seconds,
     minor: 0.99, major: 0.999, critical: 0.9999, over: 168h, min_samples: 200}
  - {name: running_late, type: overdue, journey: delivery, start: {outcome: shipped},
     until: {outcome: delivered}, minor: 0.99, major: 0.999, over: 720h, min_samples: 200}
  - {name: broken_promise, type: deadline, journey: delivery, start: {outcome: promised},
     deadline_attribute: promised_by, grace: 1m, until: {outcome: delivered}, severity: major}
`
	partitionEvents = "events: {allowed_lateness: 2m, idle_timeout: 1h}\n"
)

// TestReplayPartitionsPredictsLiveKafka: `peakend replay --partitions 4`
// gives the alerts (ids and severities) of `peakend run` over a 4-partition
// topic of a real broker holding the same file, produced by franz-go
// (murmur2, the default) and by kcat (librdkafka: --partitioner crc32),
// with every detector, rarity and timers included. The live run consumed
// everything with no idle time: the timer alerts due between its last
// watermarks and the partitions' last event times, which replay's Drain
// fires, are left out (testkit.FiredLive), and required to exist.
func TestReplayPartitionsPredictsLiveKafka(t *testing.T) {
	bs := brokers(t)
	recs := testkit.PartitionTraffic(30_000, 4_000, 13, time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	for _, c := range []struct{ producer, partitioner string }{{"franz-go", "murmur2"}, {"kcat", "crc32"}} {
		t.Run(c.producer, func(t *testing.T) {
			n := newNames(t, "p")
			createTopics(t, bs, 4, n.Experiences)
			cfgPath, cfg := writeConfigWith(t, bs, n, "", extraYAML{Top: partitionEvents, Detectors: timerDetectors})
			pf, err := partitioner.ByName(c.partitioner)
			require.NoError(t, err)
			if c.producer == "kcat" {
				kcat, err := exec.LookPath("kcat")
				require.NoError(t, err, "kcat is needed (Debian package kcat; .ci/install-deps.sh installs it)")
				var keyed bytes.Buffer
				for _, r := range recs {
					keyed.Write(r.Key)
					keyed.WriteByte('\t')
					keyed.Write(r.Value)
					keyed.WriteByte('\n')
				}
				// Idempotence keeps each partition in the order given: without
				// it, librdkafka retrying a failed batch (the topic is new)
				// was seen to put it after later ones.
				produce := exec.Command(kcat, "-P", "-b", bs[0], "-t", n.Experiences, "-K", "\t",
					"-X", "enable.idempotence=true")
				produce.Stdin = &keyed
				out, err := produce.CombinedOutput()
				require.NoError(t, err, "kcat -P: %s", out)
			} else {
				testkit.Produce(t, testkit.Client(t, bs), n.Experiences, recs)
			}
			stored := testkit.ReadTopic(t, bs, n.Experiences)
			require.Len(t, stored, len(recs))
			inFile := map[int32][]string{}
			for _, r := range recs {
				p, ok := pf(r.Key, 4)
				require.True(t, ok)
				inFile[p] = append(inFile[p], string(r.Value))
			}
			onTopic := map[int32][]string{}
			for _, r := range stored {
				p, _ := pf(r.Key, 4)
				require.Equal(t, p, r.Partition, "%s put key %q elsewhere than %s says", c.producer, r.Key, c.partitioner)
				onTopic[r.Partition] = append(onTopic[r.Partition], string(r.Value))
			}
			for p, want := range inFile {
				got := onTopic[p]
				require.Len(t, got, len(want), "records in partition %d", p)
				for i := range want {
					require.Equal(t, want[i], got[i], "partition %d does not hold its records in file order: offset %d", p, i)
				}
			}

			p := startPeakend(t, cfgPath)
			waitMetric(t, p, 2*time.Minute, float64(len(recs)), "peakend_events_total")
			// SIGTERM finishes the cycle in hand: after a clean exit every alert is on the topic.
			p.terminate(t, 20*time.Second)
			live, _ := readAlerts(t, bs, n.Alerts)

			input := testkit.WriteJSONL(t, recs)
			replayOut := filepath.Join(t.TempDir(), "alerts.jsonl")
			out, err := exec.Command(bin, "replay", "--config", cfgPath, "--input", input, "--out", replayOut,
				"--partitions", "4", "--partitioner", c.partitioner).CombinedOutput()
			require.NoError(t, err, "peakend replay: %s", out)
			want, pending := testkit.FiredLive(t, readJSONL(t, replayOut), recs, pf, 4, time.Duration(cfg.Events.AllowedLateness))
			everyDetector(t, cfg, want)
			require.NotEmpty(t, pending, "no alert due after the live watermarks: the test would not check Drain")
			testkit.SameIDsAndSeverities(t, want, live)
			t.Logf("%s: %d live alerts equal to replay --partitions 4 --partitioner %s; %d more due after the live watermarks",
				c.producer, len(live), c.partitioner, len(pending))
		})
	}
}
