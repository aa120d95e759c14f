package stream_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/alerts/sinks"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/demo"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/state"
	"github.com/peakend/peakend/stream"
)

// A pipeline whose Pebble store fails under it: Pebble's own errorfs makes
// a WAL write or sync fail after N of them. Pebble cannot go on after a
// failed commit (its logger's Fatalf: peakend's panics), and alerts reach
// Kafka before the state commit by design, so the pipeline runs in a child
// process (the test binary, TestMain) that dies of it; the parent owns the
// kfake broker and the webhook receiver, and restarts a child without
// faults on the same state directory.

// faultChildEnv runs the test binary as a fault-injection child; the
// PEAKEND_TEST_FAULT_* variables below say how.
const faultChildEnv = "PEAKEND_TEST_FAULT_CHILD"

// faultMarker starts the child's line saying that it injected the fault.
const faultMarker = "FAULT INJECTED:"

// runFaultChild runs one pipeline until SIGTERM, or until it dies of the
// injected fault.
func runFaultChild() int {
	env := os.Getenv
	eos := env("PEAKEND_TEST_FAULT_EOS") == "1"
	cfg, err := faultConfig(strings.Split(env("PEAKEND_TEST_FAULT_BROKERS"), ";"), env("PEAKEND_TEST_FAULT_DIR"),
		eos, env("PEAKEND_TEST_FAULT_WEBHOOK"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var fs vfs.FS
	if spec := env("PEAKEND_TEST_FAULT_FAIL"); spec != "" {
		kind, n, _ := strings.Cut(spec, ":")
		after, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "PEAKEND_TEST_FAULT_FAIL:", err)
			return 2
		}
		fs = errorfs.Wrap(vfs.Default, walFault(kind, after))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	opts := testkit.FastCommits()
	if eos {
		opts = testkit.EOSClientOpts()
	} else {
		opts = append(opts, kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond))
	}
	opts = append(opts, kgo.FetchMaxPartitionBytes(8<<10)) // many short cycles
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fast := sinks.Backoff{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: 1}
	if err := app.Run(ctx, app.Options{Config: cfg, Logger: log, ClientOpts: opts, Backoff: fast, FS: fs}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// walFault fails every WAL (*.log) write ("write") or sync ("sync") after
// the first `after` of them, and says so once on stderr.
func walFault(kind string, after int64) errorfs.Injector {
	var n atomic.Int64
	var said atomic.Bool
	return errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !strings.HasSuffix(op.Path, ".log") {
			return nil
		}
		switch op.Kind {
		case errorfs.OpFileWrite, errorfs.OpFileWriteAt:
			if kind != "write" {
				return nil
			}
		case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			if kind != "sync" {
				return nil
			}
		default:
			return nil
		}
		if n.Add(1) <= after {
			return nil
		}
		if !said.Swap(true) {
			fmt.Fprintf(os.Stderr, "%s WAL %s #%d of %s\n", faultMarker, kind, n.Load(), op.Path)
		}
		return errorfs.ErrInjected
	})
}

// faultConfig: the per-customer detectors, alerts to Kafka and, if
// webhook is set, to a signed webhook (through the outbox, whose commits
// are synced).
func faultConfig(brokers []string, dir string, eos bool, webhook string) (*config.Config, error) {
	cfg, err := eosConfig(brokers, dir)
	if err != nil {
		return nil, err
	}
	cfg.Kafka.ExactlyOnce = eos
	if webhook != "" {
		cfg.Alerting.Sinks = append(cfg.Alerting.Sinks, config.Sink{Type: "webhook", URL: webhook,
			SecretEnv: "PEAKEND_TEST_WEBHOOK_SECRET"})
	}
	cfg.ApplyDefaults()
	return cfg, cfg.Validate()
}

// TestPebbleFaultLosesNothing: a WAL write or sync fails mid-run and the
// instance dies of it; a restart on the same state directory and broker
// ends with the alert_ids of an uninterrupted run over the same input, none
// missing and none extra; every input record is reflected exactly once, in
// state (each customer's experience count, the partitions' input offsets)
// or in the dead-letter topic; every alert on the topic reached the webhook.
func TestPebbleFaultLosesNothing(t *testing.T) {
	t.Setenv("PEAKEND_TEST_WEBHOOK_SECRET", testkit.WebhookSecret) // the children's too
	recs := faultInput()
	want := uninterrupted(t, recs)
	require.NotEmpty(t, want)
	for _, tc := range []struct {
		name string
		eos  bool
		fail string // kind:after
	}{
		{"at-least-once, WAL write fails", false, "write:25"},
		{"exactly-once, WAL write fails", true, "write:25"},
		{"at-least-once, outbox WAL sync fails", false, "sync:5"},
		{"exactly-once, outbox WAL sync fails", true, "sync:5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testPebbleFault(t, tc.eos, tc.fail, recs, want)
		})
	}
}

// faultInput is the demo's traffic with a malformed record every 97, and
// then one more experience on each partition, keyed "after-<partition>".
func faultInput() []testkit.Record {
	g := demo.NewGenerator(300, 17)
	g.InvalidEvery = 97
	recs := make([]testkit.Record, 8000)
	for i := range recs {
		k, v := g.Next(start.Add(time.Duration(i) * time.Minute))
		recs[i] = testkit.Record{Key: k, Value: v}
	}
	for p := range testkit.Partitions {
		cust := fmt.Sprintf("after-%d", p)
		recs = append(recs, testkit.Record{Key: []byte(cust), Value: fmt.Appendf(nil,
			`{"event_id":"after-%d","customer_id":%q,"time":%q,"journey":"checkout","outcome":"ok"}`,
			p, cust, start.Add(time.Duration(len(recs))*time.Minute).Format(time.RFC3339))})
	}
	return recs
}

// produceFault produces recs but the last testkit.Partitions (the
// "after-<p>" records), and returns the produced records and a function
// that produces those last ones, each to its own partition.
func produceFault(t *testing.T, brokers []string, topic string, recs []testkit.Record) ([]*kgo.Record, func() []*kgo.Record) {
	n := len(recs) - testkit.Partitions
	produced := testkit.Produce(t, testkit.Client(t, brokers), topic, recs[:n])
	return produced, func() []*kgo.Record {
		manual := testkit.Client(t, brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		var more []*kgo.Record
		for i, r := range recs[n:] {
			more = append(more, &kgo.Record{Topic: topic, Partition: int32(i), Key: r.Key, Value: r.Value})
		}
		require.NoError(t, manual.ProduceSync(context.Background(), more...).FirstErr())
		return more
	}
}

// uninterrupted runs the pipeline over recs without a fault, in process,
// and returns its alerts by id; replay agrees with it.
func uninterrupted(t *testing.T, recs []testkit.Record) map[string]*alerts.Alert {
	brokers := testkit.Cluster(t)
	cfg, err := faultConfig(brokers, t.TempDir(), false, "")
	require.NoError(t, err)
	_, rest := produceFault(t, brokers, cfg.Kafka.Topics.Experiences, recs)
	rest()
	a := testkit.StartApp(t, app.Options{Config: cfg})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, cfg.Kafka.Topics.Experiences)
	a.Stop(t, 10*time.Second)
	live, _ := testkit.ByID(testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts)))
	replayed, _ := testkit.ByID(testkit.Replay(t, cfg, recs))
	require.Equal(t, ids(replayed), ids(live), "an uninterrupted run's alert_ids are replay's")
	return live
}

func ids(m map[string]*alerts.Alert) []string {
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func testPebbleFault(t *testing.T, eos bool, fail string, recs []testkit.Record, want map[string]*alerts.Alert) {
	brokers := testkit.Cluster(t)
	hook := testkit.NewWebhook(t)
	hookURL := hook.URL
	dir := t.TempDir()
	cfg, err := faultConfig(brokers, dir, eos, hookURL)
	require.NoError(t, err)
	produced, produceRest := produceFault(t, brokers, cfg.Kafka.Topics.Experiences, recs)

	run := func(fail string) *child {
		c := &child{out: &testkit.SyncBuffer{}}
		c.cmd = exec.Command(os.Args[0], "-test.run=^$")
		c.cmd.Env = append(os.Environ(), faultChildEnv+"=1",
			"PEAKEND_TEST_FAULT_BROKERS="+strings.Join(brokers, ";"), "PEAKEND_TEST_FAULT_DIR="+dir,
			"PEAKEND_TEST_FAULT_EOS="+map[bool]string{true: "1"}[eos], "PEAKEND_TEST_FAULT_WEBHOOK="+hookURL,
			"PEAKEND_TEST_FAULT_FAIL="+fail)
		c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
		require.NoError(t, c.cmd.Start())
		t.Cleanup(func() {
			if c.cmd.ProcessState == nil {
				_ = c.cmd.Process.Kill()
				_ = c.cmd.Wait()
			}
		})
		return c
	}
	readAlerts := func() []*alerts.Alert {
		if eos {
			return testkit.Alerts(t, testkit.ReadCommitted(t, brokers, cfg.Kafka.Topics.Alerts))
		}
		return testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts))
	}

	// 1. The fault: the child dies of it, mid-run.
	faulty := run(fail)
	exited := make(chan error, 1)
	go func() { exited <- faulty.cmd.Wait() }()
	select {
	case err := <-exited:
		require.Error(t, err, "the child dies of the fault: %s", faulty.out)
	case <-time.After(60 * time.Second):
		require.FailNow(t, "the child did not die of the fault", "output: %s", faulty.out.String())
	}
	out := faulty.out.String()
	require.Contains(t, out, faultMarker, "the child died of the injected fault: %s", out)
	line, _, _ := strings.Cut(out[strings.Index(out, faultMarker):], "\n")
	atDeath, _ := testkit.ByID(readAlerts())
	t.Logf("child died: %s; %d alert_ids in Kafka by then", line, len(atDeath))

	// Traffic goes on: one more experience on every partition. (A partition
	// the dead instance had processed to its end in Pebble, but whose group
	// offset it never committed, would otherwise show the old group offset
	// until its next record: group offsets are a hint; see DESIGN.md.)
	produced = append(produced, produceRest()...)

	// 2. A restart without faults, on the same state and broker, to the end.
	restarted := run("")
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 90*time.Second, cfg.Kafka.Topics.Experiences)
	onTopic, _ := testkit.ByID(readAlerts())
	testkit.Eventually(t, 30*time.Second, "every alert on the topic delivered to the webhook", func() bool {
		return hook.Has(onTopic)
	})
	require.NoError(t, restarted.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, restarted.cmd.Wait(), "clean shutdown: %s", restarted.out)

	// 3. The alerts: an uninterrupted run's, no more, no fewer.
	got, dup := testkit.ByID(readAlerts())
	require.Less(t, len(atDeath), len(want), "the fault came mid-run")
	for id, a := range want {
		require.Contains(t, got, id, "missing alert %s (%s for %s)", id, a.Detector, a.CustomerID)
	}
	for id, a := range got {
		require.Contains(t, want, id, "extra alert %s (%s for %s)", id, a.Detector, a.CustomerID)
	}
	if eos {
		require.Zero(t, dup, "exactly-once: each alert_id once under read_committed")
	}
	t.Logf("%d alerts (%d duplicate deliveries on the topic)", len(got), dup)

	// 4. No input lost: every record in state or in the DLQ, once.
	wantSeq := map[int32]map[string]uint64{}
	wantDead := map[string]bool{}
	for _, r := range produced {
		if string(r.Key) == "garbage" {
			wantDead[fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset)] = true
			continue
		}
		if wantSeq[r.Partition] == nil {
			wantSeq[r.Partition] = map[string]uint64{}
		}
		wantSeq[r.Partition][string(r.Key)]++
	}
	gotDead := map[string]bool{}
	for _, r := range testkit.ReadCommitted(t, brokers, cfg.Kafka.Topics.DLQ) {
		for _, h := range r.Headers {
			if h.Key == stream.HeaderSource {
				gotDead[string(h.Value)] = true
			}
		}
	}
	require.Equal(t, wantDead, gotDead, "every malformed record in the DLQ")

	store, err := state.Open(state.Options{Dir: dir})
	require.NoError(t, err)
	defer store.Close()
	ends := testkit.EndOffsets(t, brokers, cfg.Kafka.Topics.Experiences)
	for p, end := range ends {
		at, err := store.Offset(p, cfg.Kafka.Topics.Experiences)
		require.NoError(t, err)
		require.Equal(t, end, at, "partition %d: state's input offset", p)
		n := 0
		require.NoError(t, store.Headers(p, func(id string, enc []byte) bool {
			var c state.Customer
			require.NoError(t, c.UnmarshalBinary(enc))
			require.Equal(t, wantSeq[p][id], c.Seq, "partition %d, %s: experiences counted", p, id)
			n++
			return true
		}))
		require.Len(t, wantSeq[p], n, "partition %d: customers in state", p)
	}
}
