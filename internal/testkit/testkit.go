// Package testkit holds helpers for peakend's end-to-end tests: an in-process
// Kafka-protocol broker (kfake), a test configuration, producing synthetic
// traffic, reading a topic to its end, waiting for a consumer group to catch
// up, running the pipeline, running replay as an oracle, and scraping metrics.
// Everything is real: no mocks.
package testkit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/demo"
	"github.com/peakend/peakend/replay"
)

// Partitions is the partition count of the seeded input topics.
const Partitions = 4

// Cluster starts an in-process single-broker cluster with the experiences
// and complaints topics seeded with Partitions partitions, and returns its
// addresses. It is closed when the test ends.
func Cluster(t testing.TB) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(Partitions, "experiences", "complaints"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// Config is config.Default() for a test on brokers: state in a fresh
// temporary directory, HTTP off, at-least-once, alerts to Kafka only, and
// only the named detectors (all of the default ones if none are named).
func Config(t testing.TB, brokers []string, detectors ...string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.ExactlyOnce = false
	cfg.State.Dir = t.TempDir()
	cfg.HTTP.Listen = config.Disabled
	cfg.Alerting.Sinks = []config.Sink{{Type: config.SinkKafka}}
	if len(detectors) > 0 {
		var keep []config.Detector
		for _, d := range cfg.Detectors {
			if slices.Contains(detectors, d.Name) {
				keep = append(keep, d)
			}
		}
		require.Len(t, keep, len(detectors), "unknown detector among %v", detectors)
		cfg.Detectors = keep
	}
	cfg.ApplyDefaults()
	require.NoError(t, cfg.Validate())
	return cfg
}

// PerCustomer are the default detectors whose results depend only on each
// customer's own history (not on the partition's population).
var PerCustomer = []string{"late_delivery", "failed_checkout", "worse_than_usual", "repeated_failures"}

// Logger logs warnings and errors to the test log. Use it only for
// components that stop before the test returns.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// Discard is a logger that drops everything.
func Discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Record is one input record: key and value.
type Record struct {
	Key, Value []byte
}

// Generate returns n records of the demo generator (seed, over customers
// customers) with event times step apart from start.
func Generate(n, customers int, seed uint64, start time.Time, step time.Duration) []Record {
	g := demo.NewGenerator(customers, seed)
	out := make([]Record, n)
	for i := range out {
		k, v := g.Next(start.Add(time.Duration(i) * step))
		out[i] = Record{Key: k, Value: v}
	}
	return out
}

// Client returns a franz-go client on brokers, closed when the test ends.
func Client(t testing.TB, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

// Produce writes recs to topic, keyed as given (the default partitioner
// sends equal keys to equal partition numbers), and returns the produced
// records with their partitions and offsets. Order per key is kept.
func Produce(t testing.TB, cl *kgo.Client, topic string, recs []Record) []*kgo.Record {
	t.Helper()
	out := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		out[i] = &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value}
	}
	const chunk = 2000 // keep the buffered bytes bounded
	for i := 0; i < len(out); i += chunk {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := cl.ProduceSync(ctx, out[i:min(i+chunk, len(out))]...).FirstErr()
		cancel()
		require.NoError(t, err)
	}
	return out
}

// WriteJSONL writes the records' values, one per line, to a new file in a
// temporary directory and returns its path.
func WriteJSONL(t testing.TB, recs []Record) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	var b bytes.Buffer
	for _, r := range recs {
		require.NotContains(t, string(r.Value), "\n")
		b.Write(r.Value)
		b.WriteByte('\n')
	}
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	return path
}

// Replay runs `peakend replay` over the records with cfg and returns its alerts.
func Replay(t testing.TB, cfg *config.Config, recs []Record) []*alerts.Alert {
	t.Helper()
	var out bytes.Buffer
	_, err := replay.Run(context.Background(), replay.Options{Config: cfg, Input: WriteJSONL(t, recs), Out: &out})
	require.NoError(t, err)
	var as []*alerts.Alert
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		a := new(alerts.Alert)
		require.NoError(t, json.Unmarshal(sc.Bytes(), a))
		as = append(as, a)
	}
	require.NoError(t, sc.Err())
	return as
}

// EndOffsets returns the end offset of every partition of topic.
func EndOffsets(t testing.TB, brokers []string, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(Client(t, brokers))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	require.NoError(t, ends.Error())
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// ReadTopic reads topic from the start up to the end offsets it has now.
func ReadTopic(t testing.TB, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	return readTopic(t, brokers, topic, false)
}

// readTopic reads topic from the start up to its end offsets, or as a
// read_committed consumer up to its last stable offsets (records of aborted
// transactions left out). Transaction markers are never returned.
func readTopic(t testing.TB, brokers []string, topic string, committed bool) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(Client(t, brokers))
	list, isolation := adm.ListEndOffsets, kgo.ReadUncommitted()
	if committed {
		list, isolation = adm.ListCommittedOffsets, kgo.ReadCommitted()
	}
	ends, err := list(ctx, topic)
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
		kgo.FetchIsolationLevel(isolation), kgo.KeepControlRecords(), kgo.FetchMaxPartitionBytes(8<<20))
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

// Alerts decodes the alerts of alerts-topic records, in record order, and
// requires each record's key: the customer id, or a hotspot alert's key.
func Alerts(t testing.TB, recs []*kgo.Record) []*alerts.Alert {
	t.Helper()
	out := make([]*alerts.Alert, 0, len(recs))
	for _, r := range recs {
		a := new(alerts.Alert)
		require.NoError(t, json.Unmarshal(r.Value, a), "alert record %s/%d/%d", r.Topic, r.Partition, r.Offset)
		if a.Kind == alerts.KindHotspot {
			require.True(t, strings.HasPrefix(string(r.Key), "hotspot/"+a.Detector+"/"), "hotspot alert record key %q", r.Key)
		} else {
			require.Equal(t, a.CustomerID, string(r.Key), "alert record key")
		}
		out = append(out, a)
	}
	return out
}

// ByID indexes alerts by alert_id and returns how many ids were repeated.
func ByID(as []*alerts.Alert) (map[string]*alerts.Alert, int) {
	m := make(map[string]*alerts.Alert, len(as))
	dup := 0
	for _, a := range as {
		if _, ok := m[a.AlertID]; ok {
			dup++
		}
		m[a.AlertID] = a
	}
	return m, dup
}

// WaitConsumed waits until the consumer group has committed, for every
// partition of every topic, the topic's end offset as it is now. The runner
// commits an offset only after the records before it are in state and their
// alerts and DLQ records are acknowledged, so this means all that is done.
// Pass kgo.AutoCommitInterval to the app to make commits prompt.
func WaitConsumed(t testing.TB, brokers []string, group string, timeout time.Duration, topics ...string) {
	t.Helper()
	want := map[string]map[int32]int64{}
	for _, tp := range topics {
		want[tp] = EndOffsets(t, brokers, tp)
	}
	adm := kadm.NewClient(Client(t, brokers))
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		got, err := adm.FetchOffsets(ctx, group)
		cancel()
		behind := 0
		var b strings.Builder
		if err == nil {
			for tp, ends := range want {
				for p, end := range ends {
					o, ok := got.Lookup(tp, p)
					at := int64(0)
					if ok && o.Err == nil {
						at = o.At
					}
					if at < end {
						behind++
						fmt.Fprintf(&b, " %s/%d at %d of %d;", tp, p, at, end)
					}
				}
			}
			last = b.String()
		} else {
			behind, last = -1, err.Error()
		}
		if behind == 0 {
			return
		}
		if time.Now().After(deadline) {
			require.FailNowf(t, "consumer group did not catch up", "group %s after %s:%s", group, timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Assignment returns the group's current assignment: member id → topic →
// partitions (sorted); empty while the group does not exist yet.
func Assignment(t testing.TB, brokers []string, group string) map[string]map[string][]int32 {
	t.Helper()
	adm := kadm.NewClient(Client(t, brokers))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gs, err := adm.DescribeGroups(ctx, group)
	require.NoError(t, err)
	out := map[string]map[string][]int32{}
	for _, g := range gs {
		if g.Err != nil {
			continue
		}
		for _, m := range g.Members {
			as, ok := m.Assigned.AsConsumer()
			if !ok {
				continue
			}
			tps := map[string][]int32{}
			for _, tp := range as.Topics {
				tps[tp.Topic] = slices.Sorted(slices.Values(tp.Partitions))
			}
			out[m.MemberID] = tps
		}
	}
	return out
}

// FastCommits are client options for the pipeline under test: commit marked
// offsets often, so that WaitConsumed sees progress promptly.
func FastCommits() []kgo.Opt { return []kgo.Opt{kgo.AutoCommitInterval(100 * time.Millisecond)} }

// App is a running pipeline (app.Run in a goroutine).
type App struct {
	Addr   string // HTTP address, if HTTP is on
	cancel context.CancelFunc
	done   chan error
}

// StartApp runs app.Run with o (Config required) until Stop. If HTTP is on,
// it returns once the server listens, with Addr set. The test fails if the
// app is still running when it ends.
func StartApp(t testing.TB, o app.Options) *App {
	t.Helper()
	if o.Logger == nil {
		o.Logger = Logger(t)
	}
	if o.ClientOpts == nil {
		o.ClientOpts = FastCommits()
	}
	addr := make(chan string, 1)
	o.Listening = func(a string) { addr <- a }
	ctx, cancel := context.WithCancel(context.Background())
	a := &App{cancel: cancel, done: make(chan error, 1)}
	go func() { a.done <- app.Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-a.done:
		case <-time.After(20 * time.Second):
			t.Error("app.Run did not return after the test")
		}
	})
	if l := o.Config.HTTP.Listen; l != "" && l != config.Disabled {
		select {
		case a.Addr = <-addr:
		case err := <-a.done:
			a.done <- err
			require.FailNowf(t, "app.Run returned before listening", "%v", err)
		case <-time.After(20 * time.Second):
			require.FailNow(t, "app did not start listening")
		}
	}
	return a
}

// Stop cancels the app and requires app.Run to return nil within within;
// it returns how long that took.
func (a *App) Stop(t testing.TB, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	a.cancel()
	select {
	case err := <-a.done:
		a.done <- err // for the cleanup
		require.NoError(t, err, "app.Run after cancel")
	case <-time.After(within):
		require.FailNowf(t, "app.Run did not return", "within %s of cancel", within)
	}
	return time.Since(start)
}

// Done reports whether app.Run has returned, and its result.
func (a *App) Done() (bool, error) {
	select {
	case err := <-a.done:
		a.done <- err
		return true, err
	default:
		return false, nil
	}
}

// Get fetches http://addr+path and returns status and body.
func Get(t testing.TB, addr, path string) (int, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// Metric sums the samples of the named series in a Prometheus text
// exposition whose labels include every name="value" pair of labels
// (given as "name", "value", ...). found is false if no sample matched.
func Metric(exposition []byte, name string, labels ...string) (sum float64, found bool) {
	for line := range strings.Lines(string(exposition)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		series, val := line[:sp], line[sp+1:]
		n, lbl, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(lbl, labels[i]+`="`+labels[i+1]+`"`) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// Eventually polls cond every 20ms until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNowf(t, "timed out", "waiting %s for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SyncBuffer is a bytes.Buffer safe for concurrent use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns the contents so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
