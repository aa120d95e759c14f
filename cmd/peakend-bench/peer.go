package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/demo"
)

// The peer comparison (`make bench-peer`, scripts/bench-peer.sh): the same
// demo events produced once to one topic, then peakend and the Kafka
// Streams peer (bench/kstreams) each read all of it from the start, one
// after the other, with the peer detection: the late_delivery threshold and
// the repeated_failures repeat detector of config.Default, its 72 h cooldown.

// peerConfig is peakend's side of the peer comparison, reading topic.
func (b bench) peerConfig(tag, topic string, eos bool) *config.Config {
	cfg := b.config(tag, eos)
	cfg.Kafka.Topics.Experiences = topic
	var keep []config.Detector
	for _, d := range cfg.Detectors {
		if d.Name == "late_delivery" || d.Name == "repeated_failures" {
			keep = append(keep, d)
		}
	}
	cfg.Detectors = keep
	return cfg
}

// peerProduce creates topic (4 partitions) and produces b.n demo events over
// b.customers customers to it, one second of event time apart, keyed by
// customer id (murmur2, as the Java client partitions).
func (b bench) peerProduce(topic string, seed uint64) error {
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.brokers...), kgo.MaxBufferedRecords(100_000), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 4, 1, nil, topic); err != nil {
		return fmt.Errorf("create %s: %w", topic, err)
	}
	if _, err := b.produceAll(ctx, cl, topic, demo.NewGenerator(b.customers, seed)); err != nil {
		return err
	}
	fmt.Printf("produced %d events over %d customers to %s\n", b.n, b.customers, topic)
	return nil
}

// peerRun runs peakend over all of topic (b.n events) from the start and
// prints its rate, from the first event processed to the last (the
// start-up before the first record is not counted; as for the peer), and
// the alerts it wrote.
func (b bench) peerRun(topic string, eos bool) error {
	tag := fmt.Sprintf("bench-peer-%d", time.Now().UnixNano())
	cfg := b.peerConfig(tag, topic, eos)
	in, err := b.start(cfg)
	if err != nil {
		return err
	}
	defer in.stop() //nolint:errcheck // stopped below; a second stop is harmless
	var first, last time.Time
	for {
		n := scrape(in.addr, `peakend_events_total{journey=`)
		if n > 0 && first.IsZero() {
			first = time.Now()
		}
		if n >= float64(b.n) {
			last = time.Now()
			break
		}
		select {
		case err := <-in.done:
			return fmt.Errorf("peakend stopped: %w", errors.Join(err, errors.New("before processing every event")))
		case <-time.After(scrapeEvery):
		}
	}
	if err := in.stop(); err != nil {
		return err
	}
	count, print, err := b.countAlerts(cfg.Kafka.Topics.Alerts)
	if err != nil {
		return err
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(b.brokers...))
	if err == nil {
		kadm.NewClient(adm).DeleteTopics(context.Background(), cfg.Kafka.Topics.Alerts, cfg.Kafka.Topics.DLQ, cfg.Kafka.Topics.Feedback) //nolint:errcheck // best effort
		adm.Close()
	}
	secs := last.Sub(first).Seconds()
	fmt.Printf("peakend exactly_once=%v events=%d seconds=%.2f rate=%.0f alerts=%d fingerprint=%016x\n",
		map[bool]string{false: "off", true: "on"}[eos], b.n, secs, float64(b.n)/secs, count, print)
	return nil
}

// countAlerts reads topic from the start (read_committed) until it has
// been quiet for two seconds, and returns the number of alerts and an
// order-independent fingerprint of their alert ids (the sum of their FNV-1a
// hashes: a duplicate changes it, as a missing or extra alert does).
func (b bench) countAlerts(topic string) (int, uint64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(250*time.Millisecond))
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	n, sum := 0, uint64(0)
	quiet := time.Now()
	for time.Since(quiet) < 2*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = fmt.Errorf("%s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			return 0, 0, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			var a struct {
				AlertID string `json:"alert_id"`
			}
			if json.Unmarshal(r.Value, &a) != nil || a.AlertID == "" {
				ferr = fmt.Errorf("%s[%d]@%d: not an alert: %.80q", r.Topic, r.Partition, r.Offset, r.Value)
				return
			}
			h := fnv.New64a()
			h.Write([]byte(a.AlertID))
			n++
			sum += h.Sum64()
			quiet = time.Now()
		})
		if ferr != nil {
			return 0, 0, ferr
		}
	}
	return n, sum, nil
}

// peerMain is peakend-bench's peer mode: -peer produce|run|count.
func (b bench) peerMain(mode, topic, modes string, seed uint64) error {
	if topic == "" {
		return errors.New("-peer needs -topic")
	}
	switch mode {
	case "produce":
		return b.peerProduce(topic, seed)
	case "run":
		for _, m := range strings.Split(modes, ",") {
			m = strings.TrimSpace(m)
			if m != "on" && m != "off" {
				return fmt.Errorf("-exactly-once: %q is neither off nor on", m)
			}
			if err := b.peerRun(topic, m == "on"); err != nil {
				return err
			}
		}
		return nil
	case "count":
		n, sum, err := b.countAlerts(topic)
		if err != nil {
			return err
		}
		fmt.Printf("alerts=%d fingerprint=%016x\n", n, sum)
		return nil
	}
	return fmt.Errorf("-peer: %q is none of produce, run, count", mode)
}

// produceAll produces b.n events of gen to topic, one second of event time
// apart from 2026-01-01, keyed by customer id, waits for every ack and
// returns how many were order promises.
func (b bench) produceAll(ctx context.Context, cl *kgo.Client, topic string, gen *demo.Generator) (orders int, err error) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var perr error
	var once sync.Once
	for i := range b.n {
		k, v := gen.Next(t0.Add(time.Duration(i) * time.Second))
		if bytes.Contains(v, []byte(`"outcome":"promised"`)) {
			orders++
		}
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: k, Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				once.Do(func() { perr = err })
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return orders, err
	}
	if perr != nil {
		return orders, fmt.Errorf("produce: %w", perr)
	}
	return orders, nil
}
