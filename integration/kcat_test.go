//go:build integration

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/internal/testkit"
)

// TestKcatInterop produces events with kcat (librdkafka: a client nobody
// here wrote, with its own partitioner), runs the peakend binary on them and
// requires exactly the alerts `peakend replay` finds in the same file.
func TestKcatInterop(t *testing.T) {
	bs := brokers(t)
	kcat, err := exec.LookPath("kcat")
	require.NoError(t, err, "kcat is needed (Debian package kcat; .ci/install-deps.sh installs it)")
	n := newNames(t, "a")
	createTopics(t, bs, 4, n.Experiences)
	cfgPath, cfg := writeConfig(t, bs, n, "")

	const events, customers = 20_000, 400
	recs := testkit.Generate(events, customers, 7, time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), 10*time.Second)
	var keyed bytes.Buffer
	for _, r := range recs {
		keyed.Write(r.Key)
		keyed.WriteByte('\t')
		keyed.Write(r.Value)
		keyed.WriteByte('\n')
	}
	produce := exec.Command(kcat, "-P", "-b", bs[0], "-t", n.Experiences, "-K", "\t")
	produce.Stdin = &keyed
	out, err := produce.CombinedOutput()
	require.NoError(t, err, "kcat -P: %s", out)
	ends := testkit.EndOffsets(t, bs, n.Experiences)
	total := int64(0)
	for p, end := range ends {
		require.Positive(t, end, "kcat put nothing in partition %d: the test would not cover partitioning", p)
		total += end
	}
	require.EqualValues(t, events, total, "records kcat produced")

	p := startPeakend(t, cfgPath)
	waitMetric(t, p, 2*time.Minute, events, "peakend_events_total", "result", "processed")
	fired := p.metric("peakend_alerts_total")
	// SIGTERM finishes the cycle in hand: after a clean exit every alert is on the topic.
	took := p.terminate(t, 10*time.Second)
	live, dup := readAlerts(t, bs, n.Alerts)
	require.Zero(t, dup, "an alert_id appeared twice on the alerts topic of an uninterrupted run")
	require.EqualValues(t, len(live), fired, "peakend_alerts_total")

	// The oracle: the binary's replay over the same events as a file.
	input := testkit.WriteJSONL(t, recs)
	replayOut := filepath.Join(t.TempDir(), "alerts.jsonl")
	out, err = exec.Command(bin, "replay", "--config", cfgPath, "--input", input, "--out", replayOut).CombinedOutput()
	require.NoError(t, err, "peakend replay: %s", out)
	want := readJSONL(t, replayOut)
	everyDetector(t, cfg, want)
	sameAlertSet(t, want, live)
	require.Empty(t, testkit.ReadTopic(t, bs, n.DLQ), "nothing should go to the DLQ")
	t.Logf("%d events from kcat, %d alerts equal to replay's; exit after SIGTERM in %s", events, len(live), took)
	_ = os.Remove(input)
}
