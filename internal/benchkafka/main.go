// Command benchkafka measures peakend end to end against a real Kafka broker
// (`make bench-kafka`): sustained events/s from produce to alert, and the
// latency from a record's append to its alert's arrival, at full and half load.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/demo"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:19092", "the broker")
	events := flag.Int("events", 200_000, "events per phase")
	customers := flag.Int("customers", 20_000, "distinct customers")
	exactlyOnce := flag.Bool("exactly-once", false, "kafka.exactly_once (transactions; the alerts are then read read_committed)")
	flag.Parse()
	if err := run(strings.Split(*brokers, ","), *events, *customers, *exactlyOnce); err != nil {
		fmt.Fprintln(os.Stderr, "bench-kafka:", err)
		os.Exit(1)
	}
}

func run(brokers []string, n, customers int, eos bool) error {
	fmt.Printf("== peakend end to end on Kafka at %s: %d events over %d customers per phase, exactly_once=%v\n", brokers[0], n, customers, eos)
	full, err := phase(brokers, n, customers, 0, eos)
	if err != nil {
		return err
	}
	full.print("full load")
	half, err := phase(brokers, n, customers, full.rate/2, eos)
	if err != nil {
		return err
	}
	half.print(fmt.Sprintf("half load (%.0f events/s offered)", full.rate/2))
	return nil
}

type result struct {
	rate      float64 // events/s, first produce to last event processed
	latencies []time.Duration
	alerts    int
}

func (r result) print(name string) {
	slices.Sort(r.latencies)
	q := func(f float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(f*float64(len(r.latencies))))]
	}
	fmt.Printf("%-40s %8.0f events/s end to end; append→alert latency p50 %v, p99 %v (%d alerts)\n",
		name+":", r.rate, q(0.50).Round(100*time.Microsecond), q(0.99).Round(100*time.Microsecond), r.alerts)
}

// phase runs the pipeline in-process on fresh topics and state, produces n
// events (as fast as possible if rate is 0, else at rate events/s), and
// measures until every event is processed and its alerts have arrived.
func phase(brokers []string, n, customers int, rate float64, eos bool) (result, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tag := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	dir, err := os.MkdirTemp("", "peakend-bench-kafka")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MaxBufferedRecords(100_000), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return result{}, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	exp := tag + "-experiences"
	if _, err := adm.CreateTopics(ctx, 4, 1, map[string]*string{"message.timestamp.type": ptr("LogAppendTime")}, exp); err != nil {
		return result{}, fmt.Errorf("create %s: %w", exp, err)
	}
	defer adm.DeleteTopics(context.Background(), exp, tag+"-alerts", tag+"-dlq") //nolint:errcheck // best effort

	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.Group = tag
	cfg.Kafka.ExactlyOnce = eos
	cfg.Kafka.Topics = config.Topics{Experiences: exp, Complaints: config.Disabled, Feedback: tag + "-feedback", Alerts: tag + "-alerts", DLQ: tag + "-dlq"}
	cfg.Kafka.Replication = 1
	cfg.State.Dir = dir
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Alerting.Sinks = []config.Sink{{Type: config.SinkKafka}}
	var keep []config.Detector
	for _, d := range cfg.Detectors {
		if d.Type != config.TypeOverdue && d.Type != config.TypeDeadline { // not active yet
			keep = append(keep, d)
		}
	}
	cfg.Detectors = keep
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return result{}, err
	}
	addr := make(chan string, 1)
	appDone := make(chan error, 1)
	go func() {
		appDone <- app.Run(ctx, app.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Listening: func(a string) { addr <- a }})
	}()
	httpAddr := <-addr

	// Append times by event time (unique per generated event).
	var mu sync.Mutex
	appended := make(map[int64]time.Time, n)
	gen := demo.NewGenerator(customers, uint64(time.Now().UnixNano()))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// Alerts as they arrive.
	var res result
	alertsDone := make(chan struct{})
	watch, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(tag+"-alerts"),
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

	start := time.Now()
	var produceErr error
	var perr sync.Once
	every := time.Duration(0)
	if rate > 0 {
		every = time.Duration(float64(time.Second) / rate * 100) // batches of 100
	}
	next := time.Now()
	for i := range n {
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
	for {
		if v := scrape(httpAddr, `peakend_events_total{journey=`); v >= float64(n) {
			break
		}
		select {
		case err := <-appDone:
			return result{}, fmt.Errorf("peakend stopped: %w", errors.Join(err, errors.New("before processing every event")))
		case <-time.After(10 * time.Millisecond):
		}
	}
	res.rate = float64(n) / time.Since(start).Seconds()
	time.Sleep(time.Second) // the last alerts' arrival
	cancel()
	<-appDone
	<-alertsDone
	watchMu.Lock()
	defer watchMu.Unlock()
	return res, nil
}

// scrape sums the samples of /metrics lines starting with prefix.
func scrape(addr, prefix string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
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
