package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/demo"
	"github.com/peakend/peakend/stream"
)

// catchUp measures how fast peakend drains a backlog: b.n events, order
// journeys included (promised, shipped, delivered), are in the topic
// before peakend starts, with every default detector on (the deadline and
// overdue detectors' timers included); the drain is timed from the start
// of the instance to the last event processed. The event time advances one
// second per event, so the demo's three-minute promises fall due within the
// backlog: more timers per event than a real backlog has.
func (b bench) catchUp(modes string) error {
	fmt.Printf("== catch-up at %s: a backlog of %d events over %d customers (order journeys, every default detector)\n", b.brokers[0], b.n, b.customers)
	for _, m := range strings.Split(modes, ",") {
		eos := strings.TrimSpace(m) == "on"
		if !eos && strings.TrimSpace(m) != "off" {
			return fmt.Errorf("-exactly-once: %q is neither off nor on", m)
		}
		if err := b.drain(eos); err != nil {
			return err
		}
	}
	return nil
}

func (b bench) drain(eos bool) error {
	ctx := context.Background()
	tag := fmt.Sprintf("bench-backlog-%d", time.Now().UnixNano())
	cfg := b.config(tag, eos)
	// Every default detector, timed ones too, on the demo's order timing
	// (promises minutes out: the deadline's grace 10 s, the worst 1 in
	// 1,000 overdue), as `peakend demo` runs them.
	cfg.Detectors = config.Default().Detectors
	cfg.Events.AllowedLateness = config.Duration(time.Second)
	for i := range cfg.Detectors {
		d := &cfg.Detectors[i]
		switch d.Type {
		case config.TypeDeadline:
			d.Grace = config.Duration(10 * time.Second)
		case config.TypeOverdue:
			d.Minor, d.Major, d.MinSamples = ptrf(0.999), ptrf(0.9999), 1000
		}
	}
	exp := cfg.Kafka.Topics.Experiences
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.brokers...), kgo.MaxBufferedRecords(100_000), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopics(ctx, 4, 1, nil, exp); err != nil {
		return fmt.Errorf("create %s: %w", exp, err)
	}
	defer adm.DeleteTopics(context.Background(), exp, cfg.Kafka.Topics.Alerts, cfg.Kafka.Topics.DLQ, cfg.Kafka.Topics.Feedback, stream.ChangelogTopic(tag)) //nolint:errcheck // best effort

	orders, err := b.produceAll(ctx, cl, exp, demo.NewGenerator(b.customers, uint64(time.Now().UnixNano())))
	if err != nil {
		return err
	}

	stopProfile := b.startProfile(map[bool]string{false: "alo", true: "eos"}[eos] + "-backlog")
	start := time.Now()
	in, err := b.start(cfg)
	if err != nil {
		return err
	}
	defer in.stop() //nolint:errcheck // stopped below; a second stop is harmless
	if err := in.ready(); err != nil {
		return err
	}
	ready := time.Since(start)
	readyAt := time.Now()
	stages0 := scrapeStages(in.addr)
	cpu0 := cpuTime()
	for scrape(in.addr, `peakend_events_total{journey=`) < float64(b.n) {
		select {
		case err := <-in.done:
			return fmt.Errorf("peakend stopped: %w", errors.Join(err, errors.New("before processing every event")))
		case <-time.After(scrapeEvery):
		}
	}
	took := time.Since(start)
	cpu := cpuTime() - cpu0
	stopProfile()
	stages := scrapeStages(in.addr).since(stages0)
	// The rate from ready (group joined, nothing to restore) to the last
	// event: the start-up is a constant, not part of a backlog's cost.
	rate := float64(b.n) / time.Since(readyAt).Seconds()
	var timed []string
	for _, d := range []string{"broken_promise", "running_late"} {
		timed = append(timed, fmt.Sprintf("%s %.0f", d, scrape(in.addr, `peakend_alerts_total{detector="`+d+`"`)))
	}
	alerts := scrape(in.addr, `peakend_alerts_total{`)
	if err := in.stop(); err != nil {
		return err
	}
	on := map[bool]string{false: "off", true: "on"}[eos]
	fmt.Printf("| %s | %d events (%d orders) drained in %.1f s (%.1f s of it start-up to ready) | %.0f events/s from ready | alerts %.0f (timer detectors: %s) |\n",
		on, b.n, orders, took.Seconds(), ready.Seconds(), rate, alerts, strings.Join(timed, ", "))
	fmt.Println(stages)
	fmt.Printf("   peakend's CPU per event (from ready): %.1f µs\n", float64(cpu.Microseconds())/float64(b.n))
	// A two-hour outage at 50,000 events/s leaves 360M events; while
	// peakend drains them, new ones keep arriving at 50,000/s.
	const backlog, arriving = 2 * 3600 * 50_000.0, 50_000.0
	if rate > arriving {
		fmt.Printf("   extrapolated: a two-hour backlog at 50,000 events/s (360M events) drains in %.1f h at this rate with traffic still arriving (%.1f h if it stops)\n",
			backlog/(rate-arriving)/3600, backlog/rate/3600)
	} else {
		fmt.Printf("   extrapolated: at this rate (below 50,000 events/s) a two-hour backlog at 50,000 events/s never drains while traffic arrives (%.1f h if it stops)\n", backlog/rate/3600)
	}
	return nil
}

func ptrf(v float64) *float64 { return &v }
