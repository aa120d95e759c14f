package stream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/state"
	"github.com/peakend/peakend/stream"
)

// These tests run against kfake in-process. Instances that must die
// abruptly run as child processes of the test binary (TestMain) and are
// killed with SIGKILL: no commit, no leaving the group, a transaction
// possibly open.

const childEnv = "PEAKEND_TEST_CHILD" // brokers,statedir,clientid

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	if os.Getenv(faultChildEnv) != "" {
		os.Exit(runFaultChild())
	}
	os.Exit(m.Run())
}

// runChild runs one exactly-once pipeline until SIGTERM or SIGKILL.
func runChild(spec string) int {
	f := strings.Split(spec, ",")
	brokers, dir, clientID := strings.Split(f[0], ";"), f[1], f[2]
	cfg, err := eosConfig(brokers, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg.Kafka.ClientID = clientID
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	// Small fetches: many short cycles, so that a kill lands mid-stream.
	opts := append(testkit.EOSClientOpts(), kgo.FetchMaxPartitionBytes(8<<10))
	if err := app.Run(ctx, app.Options{Config: cfg, Logger: testkit.Discard(), ClientOpts: opts}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// eosConfig is perCustomerConfig without a *testing.T, exactly-once on.
func eosConfig(brokers []string, dir string) (*config.Config, error) {
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.ExactlyOnce = true
	cfg.State.Dir = dir
	cfg.HTTP.Listen = config.Disabled
	cfg.Alerting.Sinks = []config.Sink{{Type: config.SinkKafka}}
	cfg.Alerting.Cooldown = config.Duration(6 * time.Hour)
	var keep []config.Detector
	for _, d := range cfg.Detectors {
		if slices.Contains(testkit.PerCustomer, d.Name) {
			keep = append(keep, d)
		}
	}
	cfg.Detectors = keep
	cfg.ApplyDefaults()
	return cfg, cfg.Validate()
}

func testEOSConfig(t *testing.T, brokers []string) *config.Config {
	cfg, err := eosConfig(brokers, t.TempDir())
	require.NoError(t, err)
	return cfg
}

// child is a pipeline in a child process.
type child struct {
	cmd *exec.Cmd
	out *testkit.SyncBuffer
}

func startChild(t *testing.T, brokers []string, dir, clientID string) *child {
	t.Helper()
	c := &child{out: &testkit.SyncBuffer{}}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(brokers, ";")+","+dir+","+clientID)
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

// kill ends the child with SIGKILL.
func (c *child) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Kill())
	_ = c.cmd.Wait()
	t.Logf("child killed; its output: %q", c.out.String())
}

// committed returns the group's committed offset per experiences partition.
func committed(t *testing.T, brokers []string, group, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(testkit.Client(t, brokers))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := adm.FetchOffsets(ctx, group)
	out := map[int32]int64{}
	if err != nil {
		return out
	}
	got.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			out[o.Partition] = o.At
		}
	})
	return out
}

// plantSpanning replaces records of recs with the history of n customers
// that spans index h: three ordinary deliveries and a dropped support call
// before h; after h+gap, a second dropped call (a repeat, with the first)
// and then a delivery far worse than their usual (a baseline finding).
// Both detections need the history from before h.
func plantSpanning(recs []testkit.Record, n, h, gap int) []string {
	var ids []string
	ev := func(i int, cust, journey, outcome, metric string, v float64) {
		tm := start.Add(time.Duration(i) * 10 * time.Second).UTC().Format(time.RFC3339Nano)
		recs[i] = testkit.Record{Key: []byte(cust), Value: fmt.Appendf(nil,
			`{"event_id":"plant-%d","customer_id":%q,"time":%q,"journey":%q,"outcome":%q,"metrics":{%q:%g}}`,
			i, cust, tm, journey, outcome, metric, v)}
	}
	for k := range n {
		cust := fmt.Sprintf("span-%02d", k)
		ids = append(ids, cust)
		for j := range 3 {
			ev(h-3000+j*100+k, cust, "delivery", "delivered", "delay_hours", 2)
		}
		ev(h-2000+k, cust, "support_call", "dropped", "wait_seconds", 100)
		ev(h+gap+k, cust, "support_call", "dropped", "wait_seconds", 100)
		ev(h+gap+2200+k, cust, "delivery", "delivered", "delay_hours", 20)
	}
	return ids
}

// spanningDetections requires that the planted customers got both the
// repeat and the baseline alert, which only their history makes possible.
func spanningDetections(t *testing.T, ids []string, live []*alerts.Alert) {
	t.Helper()
	got := map[string]int{}
	for _, a := range live {
		if slices.Contains(ids, a.CustomerID) {
			got[a.Detector]++
		}
	}
	t.Logf("alerts of the planted customers: %v", got)
	require.Equal(t, len(ids), got["repeated_failures"], "repeat alerts of the planted customers")
	require.Equal(t, len(ids), got["worse_than_usual"], "baseline alerts of the planted customers")
}

// noDuplicates requires each alert_id once among read_committed alerts.
// committedAsReplay asserts that the alerts topic, read_committed, holds
// each alert_id once, and the same alerts as a replay of recs, with every
// detector of cfg among them; it returns the committed alerts.
func committedAsReplay(t *testing.T, brokers []string, cfg *config.Config, recs []testkit.Record) []*alerts.Alert {
	t.Helper()
	live := testkit.Alerts(t, testkit.ReadCommitted(t, brokers, cfg.Kafka.Topics.Alerts))
	noDuplicates(t, live)
	want := testkit.Replay(t, cfg, recs)
	everyDetector(t, cfg, want)
	sameAlerts(t, want, live)
	return live
}

func noDuplicates(t *testing.T, live []*alerts.Alert) {
	t.Helper()
	_, dup := testkit.ByID(live)
	require.Zero(t, dup, "an alert_id appears twice under read_committed")
}

// TestExactlyOnceAcrossAbortAndKill: a transaction the broker refuses to
// commit is aborted and its cycle done again; the instance is then killed
// (SIGKILL) mid-stream and restarted on the same state. A read_committed
// consumer of the alerts topic sees every alert_id exactly once, and the
// set is replay's; the aborted alerts are in the log, but not visible.
func TestExactlyOnceAcrossAbortAndKill(t *testing.T) {
	t.Parallel()
	c, brokers := testkit.FakeCluster(t)
	// The first transaction's offset commit is refused as a rebalance
	// would: the session must abort the transaction and do the cycle again.
	aborted := make(chan struct{})
	c.ControlKey(int16(kmsg.TxnOffsetCommit), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.TxnOffsetCommitRequest)
		resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewTxnOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.RebalanceInProgress.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		close(aborted)
		return resp, nil, true
	})

	cfg := testEOSConfig(t, brokers)
	recs := testkit.Generate(events, customers, seed+7, start, 10*time.Second)
	prod := testkit.Client(t, brokers)
	testkit.Produce(t, prod, cfg.Kafka.Topics.Experiences, recs[:events/2])
	ch := startChild(t, brokers, cfg.State.Dir, "peakend-first")
	testkit.Eventually(t, 60*time.Second, "progress before the kill", func() bool {
		n := int64(0)
		for _, o := range committed(t, brokers, cfg.Kafka.Group, cfg.Kafka.Topics.Experiences) {
			n += o
		}
		return n > events/8
	})
	select {
	case <-aborted:
	default:
		require.FailNow(t, "the refused transaction never happened")
	}
	ch.kill(t)
	testkit.Produce(t, prod, cfg.Kafka.Topics.Experiences, recs[events/2:])
	ch = startChild(t, brokers, cfg.State.Dir, "peakend-first")
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 90*time.Second, cfg.Kafka.Topics.Experiences)
	require.NoError(t, ch.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, ch.cmd.Wait(), "child output: %s", ch.out.String())

	committedAsReplay(t, brokers, cfg, recs)
}

// TestFailoverRestoresState: two exactly-once instances share four
// partitions; one is killed with SIGKILL mid-stream and its state thrown
// away. The other takes its partitions over, restores their state from the
// changelog, and the alerts equal replay's (one instance over everything),
// including repeat and baseline detections of customers whose history
// began before the move.
func TestFailoverRestoresState(t *testing.T) {
	t.Parallel()
	brokers := testkit.Cluster(t)
	cfg := testEOSConfig(t, brokers)
	cfg.HTTP.Listen = "127.0.0.1:0"
	exp := cfg.Kafka.Topics.Experiences
	recs := testkit.Generate(events, customers, seed+8, start, 10*time.Second)
	h := events / 2
	ids := plantSpanning(recs, 12, h, 500)
	prod := testkit.Client(t, brokers)
	testkit.Produce(t, prod, exp, recs[:h])

	victim := startChild(t, brokers, t.TempDir(), "peakend-victim")
	survivor := testkit.StartApp(t, app.Options{Config: cfg, ClientOpts: testkit.EOSClientOpts()})
	var moved []int32
	testkit.Eventually(t, 60*time.Second, "two members sharing the partitions", func() bool {
		as := testkit.Assignment(t, brokers, cfg.Kafka.Group)
		moved = nil
		for member, tps := range as {
			if strings.HasPrefix(member, "peakend-victim") {
				moved = tps[exp]
			}
		}
		return len(as) == 2 && len(moved) > 0
	})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, exp)
	// Mid-stream: the victim is killed while it works on the next records.
	testkit.Produce(t, prod, exp, recs[h:h+400])
	before := committed(t, brokers, cfg.Kafka.Group, exp)
	testkit.Eventually(t, 30*time.Second, "the victim working on new records", func() bool {
		now := committed(t, brokers, cfg.Kafka.Group, exp)
		for _, p := range moved {
			if now[p] > before[p] {
				return true
			}
		}
		return false
	})
	victim.kill(t)
	t.Logf("victim owned %v", moved)
	testkit.Produce(t, prod, exp, recs[h+400:])
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 120*time.Second, exp)

	_, body := testkit.Get(t, survivor.Addr, "/metrics")
	restored, _ := testkit.Metric(body, "peakend_restore_records_total")
	t.Logf("survivor restored %v records", restored)
	require.Positive(t, restored, "the survivor restored nothing")
	code, _ := testkit.Get(t, survivor.Addr, "/readyz")
	require.Equal(t, 200, code, "/readyz after the takeover")
	survivor.Stop(t, 10*time.Second)

	live := committedAsReplay(t, brokers, cfg, recs)
	spanningDetections(t, ids, live)
}

// TestInstanceAddedMidStream (at-least-once): a second instance joins while
// the first is consuming; the partitions it takes bring their state along
// through the changelog, and the alerts equal replay's.
func TestInstanceAddedMidStream(t *testing.T) {
	t.Parallel()
	brokers := testkit.Cluster(t)
	cfg1 := perCustomerConfig(t, brokers)
	cfg2 := perCustomerConfig(t, brokers)
	cfg2.HTTP.Listen = "127.0.0.1:0"
	exp := cfg1.Kafka.Topics.Experiences
	recs := testkit.Generate(events, customers, seed+9, start, 10*time.Second)
	h := events / 2
	ids := plantSpanning(recs, 12, h, 500)
	prod := testkit.Client(t, brokers)
	testkit.Produce(t, prod, exp, recs[:h])
	a1 := testkit.StartApp(t, app.Options{Config: cfg1})
	testkit.WaitConsumed(t, brokers, cfg1.Kafka.Group, 60*time.Second, exp)

	a2 := testkit.StartApp(t, app.Options{Config: cfg2})
	testkit.Eventually(t, 30*time.Second, "the new instance ready with partitions", func() bool {
		code, _ := testkit.Get(t, a2.Addr, "/readyz")
		_, body := testkit.Get(t, a2.Addr, "/metrics")
		n, _ := testkit.Metric(body, "peakend_partitions_owned")
		return code == 200 && n > 0
	})
	testkit.Produce(t, prod, exp, recs[h:])
	testkit.WaitConsumed(t, brokers, cfg1.Kafka.Group, 60*time.Second, exp)
	require.Len(t, testkit.Assignment(t, brokers, cfg1.Kafka.Group), 2, "members")
	_, body := testkit.Get(t, a2.Addr, "/metrics")
	restored, _ := testkit.Metric(body, "peakend_restore_records_total")
	require.Positive(t, restored, "the new instance restored nothing")
	a2.Stop(t, 10*time.Second)
	a1.Stop(t, 10*time.Second)

	live := testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg1.Kafka.Topics.Alerts))
	want := testkit.Replay(t, cfg1, recs)
	everyDetector(t, cfg1, want)
	sameAlerts(t, want, live)
	spanningDetections(t, ids, live)
}

// dump returns every key and value of a store, but the changelog offsets
// (which record where each store's copy was read up to).
func dump(t *testing.T, dir, changelog string) map[string]string {
	t.Helper()
	s, err := state.Open(state.Options{Dir: dir})
	require.NoError(t, err)
	defer s.Close()
	it, err := s.DB().NewIter(nil)
	require.NoError(t, err)
	defer it.Close()
	out := map[string]string{}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if k[0] == 'o' && bytes.HasSuffix(k, []byte(changelog)) {
			continue
		}
		out[string(k)] = string(it.Value())
	}
	require.NoError(t, it.Error())
	return out
}

// copyDir copies a closed Pebble directory.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return to
}

// TestRestoreRollsForward: local state behind the changelog (the crash
// window between a cycle's last write to Kafka and its Pebble commit, which
// is not synced; here many cycles wide) is rolled forward
// from the changelog's tail, not wiped and not reprocessed. Both modes:
// at-least-once, the state's offsets alone say where consuming resumes.
func TestRestoreRollsForward(t *testing.T) {
	t.Parallel()
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprint("eos=", eos), func(t *testing.T) {
			t.Parallel()
			brokers := testkit.Cluster(t)
			cfg := testEOSConfig(t, brokers)
			cfg.Kafka.ExactlyOnce = eos
			var opts []kgo.Opt
			if !eos {
				opts = testkit.FastCommits()
			}
			exp := cfg.Kafka.Topics.Experiences
			recs := testkit.Generate(events/2, customers, seed+10, start, 10*time.Second)
			prod := testkit.Client(t, brokers)
			testkit.Produce(t, prod, exp, recs[:len(recs)/2])
			a := testkit.StartApp(t, app.Options{Config: cfg, ClientOpts: opts})
			testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, exp)
			a.Stop(t, 10*time.Second)
			behind := copyDir(t, cfg.State.Dir)
			changelog := stream.ChangelogTopic(cfg.Kafka.Group)
			firstRun := len(testkit.ReadCommitted(t, brokers, changelog))

			testkit.Produce(t, prod, exp, recs[len(recs)/2:])
			a = testkit.StartApp(t, app.Options{Config: cfg, ClientOpts: opts})
			testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, exp)
			a.Stop(t, 10*time.Second)
			alertsBefore := len(testkit.ReadCommitted(t, brokers, cfg.Kafka.Topics.Alerts))

			total := len(testkit.ReadCommitted(t, brokers, changelog))
			cfgB := *cfg
			cfgB.State.Dir = behind
			cfgB.HTTP.Listen = "127.0.0.1:0"
			b := testkit.StartApp(t, app.Options{Config: &cfgB, ClientOpts: opts})
			testkit.Eventually(t, 30*time.Second, "ready", func() bool {
				code, _ := testkit.Get(t, b.Addr, "/readyz")
				return code == 200
			})
			_, body := testkit.Get(t, b.Addr, "/metrics")
			restored, _ := testkit.Metric(body, "peakend_restore_records_total")
			processed, _ := testkit.Metric(body, "peakend_events_total", "result", "processed")
			b.Stop(t, 10*time.Second)
			t.Logf("restored %v of the changelog's %d records", restored, total)
			require.Positive(t, restored, "nothing rolled forward")
			require.LessOrEqual(t, int(restored), total-firstRun, "more than the second run's records restored: a full restore?")
			require.Zero(t, processed, "events processed again")
			require.Equal(t, alertsBefore, len(testkit.ReadCommitted(t, brokers, cfg.Kafka.Topics.Alerts)), "alerts produced again")
			require.Equal(t, dump(t, cfg.State.Dir, changelog), dump(t, behind, changelog), "rolled-forward state differs")
		})
	}
}

// TestRestoreSkipsCorruptRecords: records in the changelog that cannot be
// restored are skipped and counted; the restore finishes and the state is
// the one the changelog describes.
func TestRestoreSkipsCorruptRecords(t *testing.T) {
	t.Parallel()
	brokers := testkit.Cluster(t)
	cfg := testEOSConfig(t, brokers)
	exp := cfg.Kafka.Topics.Experiences
	testkit.Produce(t, testkit.Client(t, brokers), exp, testkit.Generate(4000, 200, seed+11, start, 10*time.Second))
	a := testkit.StartApp(t, app.Options{Config: cfg})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, exp)
	a.Stop(t, 10*time.Second)

	changelog := stream.ChangelogTopic(cfg.Kafka.Group)
	bad := []*kgo.Record{
		{Topic: changelog, Partition: 0, Key: []byte("c\x00\x00cust-x"), Value: []byte("not a header")},
		{Topic: changelog, Partition: 0, Key: []byte("c\x00\x03cust-y"), Value: []byte("partition 3's key in partition 0")},
		{Topic: changelog, Partition: 1, Key: []byte("c"), Value: []byte("key too short")},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, testkit.Client(t, brokers, kgo.RecordPartitioner(kgo.ManualPartitioner())).ProduceSync(ctx, bad...).FirstErr())

	cfgB := *cfg
	cfgB.State.Dir = t.TempDir()
	cfgB.HTTP.Listen = "127.0.0.1:0"
	b := testkit.StartApp(t, app.Options{Config: &cfgB})
	testkit.Eventually(t, 30*time.Second, "ready", func() bool {
		code, _ := testkit.Get(t, b.Addr, "/readyz")
		return code == 200
	})
	_, body := testkit.Get(t, b.Addr, "/metrics")
	skipped, _ := testkit.Metric(body, "peakend_restore_skipped_total")
	b.Stop(t, 10*time.Second)
	require.EqualValues(t, len(bad), skipped, "peakend_restore_skipped_total")
	require.Equal(t, dump(t, cfg.State.Dir, changelog), dump(t, cfgB.State.Dir, changelog), "restored state differs")
}

// TestChangelogSeededFromLocalState: local state that is the only copy (the
// changelog was deleted and created again, or the state predates it) is
// written into the empty changelog instead of being wiped, so that another
// instance taking the partitions over restores it: its repeat and baseline
// detections still see the history from before.
func TestChangelogSeededFromLocalState(t *testing.T) {
	for _, predates := range []bool{false, true} {
		t.Run(fmt.Sprintf("predates=%v", predates), func(t *testing.T) {
			t.Parallel()
			brokers := testkit.Cluster(t)
			cfg := perCustomerConfig(t, brokers)
			exp := cfg.Kafka.Topics.Experiences
			changelog := stream.ChangelogTopic(cfg.Kafka.Group)
			recs := testkit.Generate(events, customers, seed+12, start, 10*time.Second)
			h := events / 2
			ids := plantSpanning(recs, 12, h, 500)
			prod := testkit.Client(t, brokers)
			testkit.Produce(t, prod, exp, recs[:h])
			a := testkit.StartApp(t, app.Options{Config: cfg})
			testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, exp)
			a.Stop(t, 10*time.Second)

			// The changelog is lost; with predates, the local state also
			// forgets that it was ever in one.
			adm := kadm.NewClient(testkit.Client(t, brokers))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, err := adm.DeleteTopic(ctx, changelog)
			require.NoError(t, err)
			if predates {
				s, err := state.Open(state.Options{Dir: cfg.State.Dir})
				require.NoError(t, err)
				for p := range int32(4) {
					require.NoError(t, s.DB().Delete(state.OffsetKey(p, changelog), nil))
				}
				require.NoError(t, s.Close())
			}
			before := dump(t, cfg.State.Dir, changelog)

			// The same instance starts again: it seeds the new changelog.
			a = testkit.StartApp(t, app.Options{Config: cfg})
			testkit.Eventually(t, 30*time.Second, "every changelog partition seeded", func() bool {
				// Committed seeds only (the last stable offsets): a stop
				// while a seed is in flight aborts it.
				ends, err := adm.ListCommittedOffsets(ctx, changelog)
				if err != nil || ends.Error() != nil {
					return false // not created again yet
				}
				seeded := 0
				ends.Each(func(o kadm.ListedOffset) {
					if o.Offset > 0 {
						seeded++
					}
				})
				return seeded == 4
			})
			a.Stop(t, 10*time.Second)
			require.Equal(t, before, dump(t, cfg.State.Dir, changelog), "seeding changed the local state")

			// A new instance, with no state of its own, restores it all and
			// carries on with the second half.
			cfgB := *cfg
			cfgB.State.Dir = t.TempDir()
			cfgB.HTTP.Listen = "127.0.0.1:0"
			b := testkit.StartApp(t, app.Options{Config: &cfgB})
			testkit.Produce(t, prod, exp, recs[h:])
			testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, exp)
			_, body := testkit.Get(t, b.Addr, "/metrics")
			restored, _ := testkit.Metric(body, "peakend_restore_records_total")
			b.Stop(t, 10*time.Second)
			require.Positive(t, restored, "the new instance restored nothing")

			live := testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts))
			want := testkit.Replay(t, cfg, recs)
			sameAlerts(t, want, live)
			spanningDetections(t, ids, live)
		})
	}
}

// A seed that was aborted (the instance revoked or crashed mid-seed, or the
// seed timed out) leaves its hidden records and an abort marker in the
// changelog. The next start must still see an empty changelog and seed it
// again from local state, not wipe local state, the only copy, and
// "restore" nothing.
func TestAbortedSeedDoesNotWipeLocalState(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := perCustomerConfig(t, brokers)
	exp := cfg.Kafka.Topics.Experiences
	changelog := stream.ChangelogTopic(cfg.Kafka.Group)
	cfg.HTTP.Listen = "127.0.0.1:0"
	recs := testkit.Generate(2000, 200, seed+13, start, 10*time.Second)
	prod := testkit.Client(t, brokers)
	testkit.Produce(t, prod, exp, recs)
	a := testkit.StartApp(t, app.Options{Config: cfg})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, exp)
	a.Stop(t, 10*time.Second)

	// The changelog is recreated, and the local state forgets it was ever
	// in one; every partition then gets an aborted seed.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(testkit.Client(t, brokers))
	_, err := adm.DeleteTopic(ctx, changelog)
	require.NoError(t, err)
	s, err := state.Open(state.Options{Dir: cfg.State.Dir})
	require.NoError(t, err)
	for p := range int32(4) {
		require.NoError(t, s.DB().Delete(state.OffsetKey(p, changelog), nil))
	}
	require.NoError(t, s.Close())
	testkit.Eventually(t, 30*time.Second, "the changelog created again", func() bool {
		_, err := adm.CreateTopic(ctx, 4, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, changelog)
		return err == nil || errors.Is(err, kerr.TopicAlreadyExists)
	})
	txn, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("peakend-"+cfg.Kafka.Group+"-seed-x"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer txn.Close()
	require.NoError(t, txn.BeginTransaction())
	for p := range int32(4) {
		for i := range 3 {
			require.NoError(t, txn.ProduceSync(ctx, &kgo.Record{Topic: changelog, Partition: p,
				Key: []byte(fmt.Sprintf("junk-%d", i)), Value: []byte("x")}).FirstErr())
		}
	}
	require.NoError(t, txn.EndTransaction(ctx, kgo.TryAbort))
	before := dump(t, cfg.State.Dir, changelog)
	require.NotEmpty(t, before)

	// Started again, it seeds every partition from its state.
	a = testkit.StartApp(t, app.Options{Config: cfg})
	testkit.Eventually(t, 30*time.Second, "ready: every partition seeded or restored", func() bool {
		code, _ := testkit.Get(t, a.Addr, "/readyz")
		return code == 200
	})
	a.Stop(t, 10*time.Second)
	require.Equal(t, before, dump(t, cfg.State.Dir, changelog), "local state lost or changed")
	cl := testkit.ReadCommitted(t, brokers, changelog)
	require.Greater(t, len(cl), len(before)/2, "the changelog was not seeded")
}
