// Command peakend-bench measures peakend end to end against a real Kafka broker
// (`make bench-kafka`): sustained events/s from produce to alert and the
// latency from a record's append to its alert's arrival, at full and half
// load, with exactly_once off and on; and the rate at which a fresh instance
// restores a partition's changelog from the broker, in keys/s. With -peer it
// is peakend's side of `make bench-peer` (peer.go).
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/demo"
	"github.com/peakend/peakend/state"
	"github.com/peakend/peakend/stream"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:19192", "the broker")
	events := flag.Int("events", 200_000, "events per phase")
	customers := flag.Int("customers", 20_000, "distinct customers")
	modes := flag.String("exactly-once", "off,on", "exactly_once settings to measure, in order: off, on, or both")
	restoreCust := flag.Int("restore-customers", 100_000, "customers in the restored changelog partition (3 keys each); 0 skips the restore")
	loads := flag.String("loads", "full,half", "phases per exactly_once setting: full, half, or both (half needs -half-rate without full)")
	halfRate := flag.Float64("half-rate", 0, "events/s offered in the half-load phase; 0: half the full-load rate just measured")
	profile := flag.String("cpuprofile", "", "write a CPU profile of each phase to PREFIX-<phase>.pprof")
	feedbackEvery := flag.Int("feedback-every", 0, "also produce one staff outcome (recovered) to the feedback topic after every N events, for the event's customer; 0: none")
	peer := flag.String("peer", "", "the peer comparison (make bench-peer): produce (-events to -topic), run (peakend over all of -topic, per -exactly-once) or count (the alerts in -topic)")
	topic := flag.String("topic", "", "-peer: the topic")
	seed := flag.Uint64("seed", 1, "-peer produce: the generator's seed")
	memtable := flag.Int("memtable-mib", 0, "peakend's state.memtable_mib (0: the default), with state.cache_mib raised to fit")
	backlog := flag.Int("backlog", 0, "measure catch-up instead: produce this many events (order journeys included) before peakend starts, with every default detector (deadline and overdue timers included), and time the drain, per -exactly-once")
	flag.Parse()
	// CPU profiles tell peakend's samples (label side=peakend) from the
	// load generator's and the alert watcher's (side=bench): goroutines
	// inherit the labels of the goroutine that starts them, franz-go's
	// too.
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("side", "bench")))
	b := bench{brokers: strings.Split(*brokers, ","), n: *events, customers: *customers, profile: *profile, halfRate: *halfRate, loads: *loads,
		feedbackEvery: *feedbackEvery, memtableMiB: *memtable}
	if *backlog > 0 {
		b.n = *backlog
		if err := b.catchUp(*modes); err != nil {
			fmt.Fprintln(os.Stderr, "bench-kafka -backlog:", err)
			os.Exit(1)
		}
		return
	}
	if *peer != "" {
		if err := b.peerMain(*peer, *topic, *modes, *seed); err != nil {
			fmt.Fprintln(os.Stderr, "bench-peer:", err)
			os.Exit(1)
		}
		return
	}
	if err := b.run(*modes, *restoreCust); err != nil {
		fmt.Fprintln(os.Stderr, "bench-kafka:", err)
		os.Exit(1)
	}
}

type bench struct {
	brokers      []string
	n, customers int
	profile      string
	halfRate     float64
	loads        string
	// feedbackEvery > 0 adds feedback traffic: one outcome per that many
	// events (the feedback input's cost end to end, docs/performance.md).
	feedbackEvery int
	memtableMiB   int // state.memtable_mib; 0: the default
}

func (b bench) run(modes string, restoreCust int) error {
	fmt.Printf("== peakend end to end on Kafka at %s: %d events over %d customers per phase\n", b.brokers[0], b.n, b.customers)
	if b.feedbackEvery > 0 {
		fmt.Printf("   with one staff outcome on the feedback topic per %d events\n", b.feedbackEvery)
	}
	var rows []string
	for _, m := range strings.Split(modes, ",") {
		eos := strings.TrimSpace(m) == "on"
		if !eos && strings.TrimSpace(m) != "off" {
			return fmt.Errorf("-exactly-once: %q is neither off nor on", m)
		}
		var full result
		if strings.Contains(b.loads, "full") {
			var err error
			if full, err = b.phase(0, eos); err != nil {
				return err
			}
			rows = append(rows, full.row(eos, "full"))
			fmt.Println(rows[len(rows)-1])
			fmt.Println(full.stages)
			fmt.Printf("   changelog records per event: %.2f; CPU of peakend and the load generator per event: %.1f µs\n",
				float64(full.changelog)/float64(full.n), float64(full.cpu.Microseconds())/float64(full.n))
		}
		if !strings.Contains(b.loads, "half") {
			continue
		}
		rate := full.rate / 2
		if b.halfRate > 0 {
			rate = b.halfRate
		}
		if rate <= 0 {
			return errors.New("-loads half needs -half-rate")
		}
		half, err := b.phase(rate, eos)
		if err != nil {
			return err
		}
		rows = append(rows, half.row(eos, fmt.Sprintf("half (%.0f/s offered)", rate)))
		fmt.Println(rows[len(rows)-1])
		fmt.Println(half.stages)
		fmt.Printf("   CPU of peakend and the load generator per event: %.1f µs\n", float64(half.cpu.Microseconds())/float64(half.n))
	}
	var restore string
	if restoreCust > 0 {
		r, err := b.restore(restoreCust)
		if err != nil {
			return err
		}
		restore = r
		fmt.Println(restore)
	}
	fmt.Println("\n| exactly_once | load | events/s end to end | append → alert p50 | p99 | alerts | cycles | records/cycle | ms/cycle |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Println(r)
	}
	if restore != "" {
		fmt.Println("\n" + restore)
	}
	return nil
}

type result struct {
	n         int     // events
	rate      float64 // events/s, first produce to last event processed
	latencies []time.Duration
	alerts    int
	cycles    float64 // runner cycles in the phase
	cycleSecs float64 // their total duration
	stages    stageFigures
	cpu       time.Duration // this process's CPU time (peakend and the load generator) over the phase
	changelog int64         // records in the changelog topic after the phase (transaction markers included)
}

func (r result) row(eos bool, load string) string {
	slices.Sort(r.latencies)
	q := func(f float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(f*float64(len(r.latencies))))]
	}
	on := map[bool]string{false: "off", true: "on"}[eos]
	return fmt.Sprintf("| %s | %s | %.0f | %v | %v | %d | %.0f | %.0f | %.1f |", on, load, r.rate,
		q(0.50).Round(100*time.Microsecond), q(0.99).Round(100*time.Microsecond), r.alerts,
		r.cycles, safeDiv(float64(r.n), r.cycles), 1000*safeDiv(r.cycleSecs, r.cycles))
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// instance is peakend running in-process on its own state directory.
type instance struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
	dir    string
	once   sync.Once
	err    error
}

func (b bench) start(cfg *config.Config) (*instance, error) {
	dir, err := os.MkdirTemp("", "peakend-bench-kafka")
	if err != nil {
		return nil, err
	}
	cfg.State.Dir = dir
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{cancel: cancel, done: make(chan error, 1), dir: dir}
	addr := make(chan string, 1)
	go func() {
		pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("side", "peakend")))
		in.done <- app.Run(ctx, app.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Listening: func(a string) { addr <- a }})
	}()
	select {
	case in.addr = <-addr:
	case err := <-in.done:
		return nil, fmt.Errorf("peakend stopped: %w", errors.Join(err, errors.New("before listening")))
	}
	return in, nil
}

// ready waits until /readyz answers 200: partitions assigned and restored.
func (in *instance) ready() error {
	for {
		resp, err := http.Get("http://" + in.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-in.done:
			return fmt.Errorf("peakend stopped: %w", errors.Join(err, errors.New("before it was ready")))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop stops the instance and removes its state; a second call returns
// the first one's result.
func (in *instance) stop() error {
	in.once.Do(func() {
		in.cancel()
		in.err = <-in.done
		os.RemoveAll(in.dir)
	})
	return in.err
}

func (b bench) config(tag string, eos bool) *config.Config {
	cfg := config.Default()
	cfg.Kafka.Brokers = b.brokers
	cfg.Kafka.Group = tag
	cfg.Kafka.ExactlyOnce = eos
	cfg.Kafka.Topics = config.Topics{Experiences: tag + "-experiences", Complaints: config.Disabled, Feedback: tag + "-feedback",
		Alerts: tag + "-alerts", DLQ: tag + "-dlq"}
	cfg.Kafka.Replication = 1
	if b.memtableMiB > 0 {
		cfg.State.MemtableMiB = b.memtableMiB
		cfg.State.CacheMiB = max(64, 4*b.memtableMiB+16)
	}
	cfg.Alerting.Sinks = []config.Sink{{Type: config.SinkKafka}}
	var keep []config.Detector
	for _, d := range cfg.Detectors {
		if d.Type != config.TypeOverdue && d.Type != config.TypeDeadline { // the generator makes no journeys
			keep = append(keep, d)
		}
	}
	cfg.Detectors = keep
	return cfg
}

func (b bench) startProfile(name string) func() {
	if b.profile == "" {
		return func() {}
	}
	f, err := os.Create(b.profile + "-" + name + ".pprof")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpuprofile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "cpuprofile:", err)
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// phase runs peakend on fresh topics and state, waits until it is ready,
// produces b.n events (as fast as possible if rate is 0, else at rate
// events/s), and measures until every event is processed and its alerts
// have arrived.
func (b bench) phase(rate float64, eos bool) (result, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tag := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	cfg := b.config(tag, eos)
	exp := cfg.Kafka.Topics.Experiences
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.brokers...), kgo.MaxBufferedRecords(100_000), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return result{}, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopics(ctx, 4, 1, map[string]*string{"message.timestamp.type": ptr("LogAppendTime")}, exp); err != nil {
		return result{}, fmt.Errorf("create %s: %w", exp, err)
	}
	defer adm.DeleteTopics(context.Background(), exp, cfg.Kafka.Topics.Alerts, cfg.Kafka.Topics.DLQ, cfg.Kafka.Topics.Feedback, stream.ChangelogTopic(tag)) //nolint:errcheck // best effort

	in, err := b.start(cfg)
	if err != nil {
		return result{}, err
	}
	defer in.stop() //nolint:errcheck // stopped below; a second stop is harmless
	if err := in.ready(); err != nil {
		return result{}, err
	}

	// Append times by event time (unique per generated event).
	var mu sync.Mutex
	appended := make(map[int64]time.Time, b.n)
	gen := demo.NewGenerator(b.customers, uint64(time.Now().UnixNano()))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// Alerts as they arrive.
	res := result{n: b.n}
	alertsDone := make(chan struct{})
	watch, err := kgo.NewClient(kgo.SeedBrokers(b.brokers...), kgo.ConsumeTopics(cfg.Kafka.Topics.Alerts),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return result{}, err
	}
	defer watch.Close()
	var watchMu sync.Mutex
	go func() {
		defer close(alertsDone)
		for ctx.Err() == nil {
			fs := watch.PollFetches(ctx)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				var a alerts.Alert
				if json.Unmarshal(r.Value, &a) != nil {
					return
				}
				mu.Lock()
				at, ok := appended[a.EventTime.UnixNano()]
				mu.Unlock()
				watchMu.Lock()
				res.alerts++
				if ok {
					res.latencies = append(res.latencies, now.Sub(at))
				}
				watchMu.Unlock()
			})
		}
	}()

	cycles0, secs0 := scrape(in.addr, "peakend_cycle_seconds_count"), scrape(in.addr, "peakend_cycle_seconds_sum")
	stages0 := scrapeStages(in.addr)
	cpu0 := cpuTime()
	name := map[bool]string{false: "alo", true: "eos"}[eos] + map[bool]string{false: "-half", true: "-full"}[rate == 0]
	stopProfile := b.startProfile(name)
	start := time.Now()
	var produceErr error
	var perr sync.Once
	every := time.Duration(0)
	if rate > 0 {
		every = time.Duration(float64(time.Second) / rate * 100) // batches of 100
	}
	next := time.Now()
	for i := range b.n {
		et := t0.Add(time.Duration(i) * time.Second)
		k, v := gen.Next(et)
		cl.Produce(ctx, &kgo.Record{Topic: exp, Key: k, Value: v}, func(r *kgo.Record, err error) {
			if err != nil {
				perr.Do(func() { produceErr = err })
				return
			}
			mu.Lock()
			appended[et.UnixNano()] = r.Timestamp // LogAppendTime: the broker's append
			mu.Unlock()
		})
		if b.feedbackEvery > 0 && i%b.feedbackEvery == b.feedbackEvery-1 {
			// An outcome for an alert this run never made: counted, and a
			// "recovered" sets the customer's recovered_before all the same.
			fb := fmt.Sprintf(`{"feedback_id":"bench-%d","alert_id":"bench-%d","customer_id":%q,"time":%q,"action":"outcome","outcome":"recovered","by":"bench"}`,
				i, i, k, et.Format(time.RFC3339Nano))
			cl.Produce(ctx, &kgo.Record{Topic: cfg.Kafka.Topics.Feedback, Key: k, Value: []byte(fb)}, func(_ *kgo.Record, err error) {
				if err != nil {
					perr.Do(func() { produceErr = err })
				}
			})
		}
		if every > 0 && i%100 == 99 {
			next = next.Add(every)
			time.Sleep(time.Until(next))
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return result{}, err
	}
	if produceErr != nil {
		return result{}, fmt.Errorf("produce: %w", produceErr)
	}
	// Until every event is processed.
	for scrape(in.addr, `peakend_events_total{journey=`) < float64(b.n) {
		select {
		case err := <-in.done:
			return result{}, fmt.Errorf("peakend stopped: %w", errors.Join(err, errors.New("before processing every event")))
		case <-time.After(scrapeEvery):
		}
	}
	res.rate = float64(b.n) / time.Since(start).Seconds()
	res.cpu = cpuTime() - cpu0
	stopProfile()
	res.cycles = scrape(in.addr, "peakend_cycle_seconds_count") - cycles0
	res.cycleSecs = scrape(in.addr, "peakend_cycle_seconds_sum") - secs0
	time.Sleep(time.Second) // the last alerts' arrival
	res.stages = scrapeStages(in.addr).since(stages0)
	if ends, err := adm.ListEndOffsets(ctx, stream.ChangelogTopic(tag)); err == nil {
		ends.Each(func(o kadm.ListedOffset) { res.changelog += o.Offset })
	}
	if err := in.stop(); err != nil {
		return result{}, err
	}
	cancel()
	<-alertsDone
	watchMu.Lock()
	defer watchMu.Unlock()
	return res, nil
}

// restore writes a changelog partition of custs customers (a header and
// two window slots each, real encodings, a marker after every 10,000
// writes) to the broker, starts a fresh instance whose one partition it is,
// and reports the keys/s of its restore (peakend_restore_records_total over
// peakend_restore_seconds) and the time from start to /readyz.
func (b bench) restore(custs int) (string, error) {
	ctx := context.Background()
	tag := fmt.Sprintf("bench-restore-%d", time.Now().UnixNano())
	cfg := b.config(tag, false)
	topic := stream.ChangelogTopic(tag)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MaxBufferedRecords(200_000), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return "", err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopics(ctx, 1, 1, nil, cfg.Kafka.Topics.Experiences); err != nil {
		return "", fmt.Errorf("create topic: %w", err)
	}
	if _, err := adm.CreateTopics(ctx, 1, 1, map[string]*string{"cleanup.policy": ptr("compact")}, topic); err != nil {
		return "", fmt.Errorf("create changelog: %w", err)
	}
	defer adm.DeleteTopics(context.Background(), cfg.Kafka.Topics.Experiences, topic, cfg.Kafka.Topics.Alerts, cfg.Kafka.Topics.DLQ) //nolint:errcheck // best effort

	src, err := state.Open(state.Options{FS: vfs.NewMem()})
	if err != nil {
		return "", err
	}
	defer src.Close()
	batch := src.NewBatch(0)
	defer batch.Close()
	ev := event.Event{CustomerID: "x", Journey: "delivery", Outcome: "delivered", Time: time.Now().UnixNano(),
		Metrics: []event.Metric{{Name: "delay_hours", Value: 3}}}
	var perr error
	var once sync.Once
	keys, sinceMarker := 0, 0
	produce := func(r *kgo.Record) {
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				once.Do(func() { perr = err })
			}
		})
	}
	for i := range custs {
		id := fmt.Sprintf("cust-%07d", i)
		cu := state.Customer{ID: id, Seq: 2, Tier: "gold", Value: 1200, Recent: []uint64{1, 2}}
		if err := batch.PutCustomer(&cu); err != nil {
			return "", err
		}
		for s := uint64(1); s <= 2; s++ {
			if err := batch.PutExperience(id, s, 50, state.AppendExperience(nil, s, &ev)); err != nil {
				return "", err
			}
		}
		if err := batch.Ops(func(k, v []byte) error {
			produce(&kgo.Record{Topic: topic, Key: append([]byte(nil), k...), Value: append([]byte(nil), v...)})
			keys++
			sinceMarker++
			return nil
		}); err != nil {
			return "", err
		}
		batch.Reset()
		if sinceMarker >= 10_000 || i == custs-1 {
			produce(&kgo.Record{Topic: topic, Key: state.OffsetKey(0, topic),
				Value: binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixMilli()))})
			sinceMarker = 0
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return "", err
	}
	if perr != nil {
		return "", fmt.Errorf("produce changelog: %w", perr)
	}

	stopProfile := b.startProfile("restore")
	began := time.Now()
	in, err := b.start(cfg)
	if err != nil {
		return "", err
	}
	defer in.stop() //nolint:errcheck // a second stop is harmless
	if err := in.ready(); err != nil {
		return "", err
	}
	wall := time.Since(began)
	stopProfile()
	recs, secs := scrape(in.addr, "peakend_restore_records_total"), scrape(in.addr, "peakend_restore_seconds_sum")
	if int(recs) != keys {
		return "", fmt.Errorf("restore applied %v records, want %d", recs, keys)
	}
	return fmt.Sprintf("restore of one changelog partition by a fresh instance: %d keys (%d customers) in %.2f s = %.0f keys/s (start to /readyz: %.2f s)",
		keys, custs, secs, recs/secs, wall.Seconds()), nil
}

// scrapeEvery is how often a phase reads /metrics for the events processed.
// Each read renders every metric of the instance under test, in its
// process: at 20 ms, with gzip, the reads took about a tenth of peakend's
// CPU in a profile of a loaded run; at 50 ms, uncompressed, a few per cent.
// The rate's end is read up to this late (under 2.5% of a 2 s phase).
const scrapeEvery = 50 * time.Millisecond

// metricsClient reads /metrics uncompressed: gzip would cost the
// instance under test CPU the bench then measures.
var metricsClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// scrape sums the samples of /metrics lines starting with prefix.
func scrape(addr, prefix string) float64 {
	resp, err := metricsClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, prefix) {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}

func ptr(s string) *string { return &s }

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
