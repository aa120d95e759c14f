package stream_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/state"
	"github.com/peakend/peakend/stream"
)

// lagEvery is the lag interval of these tests (10 s in production).
const lagEvery = 100 * time.Millisecond

// lagSeries returns the instance's peakend_consumer_lag_records series,
// "topic/partition" → value.
func lagSeries(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	_, body := testkit.Get(t, addr, "/metrics")
	out := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		series, val, ok := strings.Cut(strings.TrimSpace(line), " ")
		name, labels, _ := strings.Cut(series, "{")
		if !ok || name != "peakend_consumer_lag_records" {
			continue
		}
		var topic, part string
		for _, kv := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
			k, v, _ := strings.Cut(kv, "=")
			v = strings.Trim(v, `"`)
			switch k {
			case "topic":
				topic = v
			case "partition":
				part = v
			}
		}
		f, err := strconv.ParseFloat(val, 64)
		require.NoError(t, err, line)
		out[topic+"/"+part] = f
	}
	return out
}

// caughtUp is every partition of the three input topics at lag 0.
func caughtUp() map[string]float64 {
	want := map[string]float64{}
	for p := range testkit.Partitions {
		want[fmt.Sprintf("experiences/%d", p)] = 0
		want[fmt.Sprintf("complaints/%d", p)] = 0
		want[fmt.Sprintf("peakend-feedback/%d", p)] = 0
	}
	return want
}

// eventuallyLag waits until the instance exports exactly want.
func eventuallyLag(t *testing.T, addr string, want map[string]float64, what string) {
	t.Helper()
	var got map[string]float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = lagSeries(t, addr)
		if maps.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			require.Equal(t, want, got, "consumer lag series: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An instance restarted at the end of its partitions exports lag 0 for
// every assigned partition of both input topics, although no cycle
// processes a record (before, it exported no series at all).
func TestLagZeroAfterRestartAtEnd(t *testing.T) {
	t.Parallel()
	brokers := testkit.Cluster(t)
	cfg := perCustomerConfig(t, brokers)
	cfg.HTTP.Listen = "127.0.0.1:0"
	recs := testkit.Generate(2000, 100, seed+11, start, 10*time.Second)
	testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences, recs)
	a := testkit.StartApp(t, app.Options{Config: cfg, LagInterval: lagEvery})
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 60*time.Second, cfg.Kafka.Topics.Experiences)
	eventuallyLag(t, a.Addr, caughtUp(), "caught up")
	a.Stop(t, 10*time.Second)

	b := testkit.StartApp(t, app.Options{Config: cfg, LagInterval: lagEvery})
	eventuallyLag(t, b.Addr, caughtUp(), "restarted at the end")
	b.Stop(t, 10*time.Second)
}

// While a cycle cannot finish (held before its Pebble commit, as a slow
// store or a hung broker would hold it), lag is still measured and grows
// with every record produced; once the cycle goes on, it returns to 0.
// Not parallel: HoldBeforeStateCommit is package-wide.
func TestLagGrowsWhileRecordsWait(t *testing.T) {
	held, release := stream.HoldBeforeStateCommit(t)
	brokers := testkit.Cluster(t)
	cfg := perCustomerConfig(t, brokers)
	cfg.HTTP.Listen = "127.0.0.1:0"
	exp := cfg.Kafka.Topics.Experiences
	a := testkit.StartApp(t, app.Options{Config: cfg, LagInterval: lagEvery})
	t.Cleanup(release) // before the app's cleanup stops it
	testkit.Eventually(t, 30*time.Second, "ready", func() bool { c, _ := testkit.Get(t, a.Addr, "/readyz"); return c == 200 })
	eventuallyLag(t, a.Addr, caughtUp(), "empty topics")

	prod := testkit.Client(t, brokers)
	waiting := func(ends map[int32]int64) map[string]float64 {
		want := caughtUp()
		for p, end := range ends {
			want[fmt.Sprintf("%s/%d", exp, p)] = float64(end) // nothing committed yet: position 0
		}
		return want
	}
	// Small enough to be read whole by the lag goroutine (≤ 64 per partition).
	testkit.Produce(t, prod, exp, testkit.Generate(100, 40, seed+12, start, 10*time.Second))
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		require.FailNow(t, "no cycle reached its commit")
	}
	first := testkit.EndOffsets(t, brokers, exp)
	eventuallyLag(t, a.Addr, waiting(first), "first records waiting")

	testkit.Produce(t, prod, exp, testkit.Generate(1000, 40, seed+13, start.Add(time.Hour), 10*time.Second))
	second := testkit.EndOffsets(t, brokers, exp)
	for p := range first {
		require.Greater(t, second[p], first[p], "partition %d got more records", p)
	}
	eventuallyLag(t, a.Addr, waiting(second), "more records waiting")

	release()
	eventuallyLag(t, a.Addr, caughtUp(), "after the cycle went on")
	a.Stop(t, 10*time.Second)
}

// Under exactly_once, with an input written by a transactional producer
// (so every partition ends in a transaction marker the runner is never
// handed), a caught-up instance shows 0, and so does one restarted there.
func TestLagZeroUnderExactlyOnceWithTransactionalInput(t *testing.T) {
	t.Parallel()
	_, brokers := testkit.FakeCluster(t)
	cfg := perCustomerConfig(t, brokers)
	cfg.Kafka.ExactlyOnce = true
	cfg.HTTP.Listen = "127.0.0.1:0"
	exp := cfg.Kafka.Topics.Experiences

	prod := testkit.Client(t, brokers, kgo.TransactionalID("lag-test-input"))
	records := map[int32]int64{}
	for i := range 2 {
		require.NoError(t, prod.BeginTransaction())
		for _, r := range testkit.Produce(t, prod, exp, testkit.Generate(400, 100, seed+20+uint64(i), start.Add(time.Duration(i)*time.Hour), time.Second)) {
			records[r.Partition]++
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, prod.EndTransaction(ctx, kgo.TryCommit))
		cancel()
	}
	ends := testkit.EndOffsets(t, brokers, exp)
	for p := range int32(testkit.Partitions) {
		require.Equal(t, records[p]+2, ends[p], "partition %d: its records and two commit markers", p)
	}

	run := func(what string) {
		a := testkit.StartApp(t, app.Options{Config: cfg, ClientOpts: testkit.EOSClientOpts(), LagInterval: lagEvery})
		testkit.Eventually(t, 30*time.Second, "every record processed", func() bool {
			_, body := testkit.Get(t, a.Addr, "/metrics")
			n, _ := testkit.Metric(body, "peakend_events_total") // processed, late, duplicate or invalid
			return int(n) == 800 || what != "first run"
		})
		eventuallyLag(t, a.Addr, caughtUp(), what)
		a.Stop(t, 10*time.Second)
	}
	run("first run")

	// The state stands at each partition's last marker, one short of the end.
	store, err := state.Open(state.Options{Dir: cfg.State.Dir})
	require.NoError(t, err)
	for p := range int32(testkit.Partitions) {
		next, err := store.Offset(p, exp)
		require.NoError(t, err)
		require.Equal(t, ends[p]-1, next, "partition %d's position", p)
	}
	require.NoError(t, store.Close())

	run("restarted at the end")
}

// When a second instance joins, the first loses partitions and their lag
// series go with them: each instance exports only the partitions it owns,
// of both input topics.
func TestLagSeriesRemovedOnRevoke(t *testing.T) {
	t.Parallel()
	brokers := testkit.Cluster(t)
	cfg1 := perCustomerConfig(t, brokers)
	cfg2 := perCustomerConfig(t, brokers) // same group, another state dir
	cfg1.HTTP.Listen, cfg2.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	testkit.Produce(t, testkit.Client(t, brokers), cfg1.Kafka.Topics.Experiences,
		testkit.Generate(400, 100, seed+30, start, 10*time.Second))
	a1 := testkit.StartApp(t, app.Options{Config: cfg1, LagInterval: lagEvery})
	eventuallyLag(t, a1.Addr, caughtUp(), "one instance owning every partition")

	a2 := testkit.StartApp(t, app.Options{Config: cfg2, LagInterval: lagEvery})
	// owned lists the experiences partitions of an instance's series, if
	// each is caught up and has its complaints and feedback partitions
	// beside it.
	owned := func(series map[string]float64) ([]string, bool) {
		var ps []string
		for k, v := range series {
			topic, p, _ := strings.Cut(k, "/")
			if v != 0 {
				return nil, false // taking over a partition: catching up
			}
			if topic == "experiences" {
				if _, ok := series["complaints/"+p]; !ok {
					return nil, false
				}
				if _, ok := series["peakend-feedback/"+p]; !ok {
					return nil, false
				}
				ps = append(ps, p)
			}
		}
		slices.Sort(ps)
		return ps, len(series) == 3*len(ps)
	}
	var p1, p2 []string
	testkit.Eventually(t, 30*time.Second, "the partitions split between the two instances, caught up", func() bool {
		var ok1, ok2 bool
		p1, ok1 = owned(lagSeries(t, a1.Addr))
		p2, ok2 = owned(lagSeries(t, a2.Addr))
		all := slices.Sorted(slices.Values(append(slices.Clone(p1), p2...)))
		return ok1 && ok2 && len(p1) > 0 && len(p2) > 0 && slices.Equal(all, []string{"0", "1", "2", "3"})
	})
	t.Logf("first instance: partitions %v, second: %v", p1, p2)
	a2.Stop(t, 10*time.Second)
	eventuallyLag(t, a1.Addr, caughtUp(), "the first instance owning every partition again")
	a1.Stop(t, 10*time.Second)
}
