package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/app"
)

// Options configures the demo.
type Options struct {
	Listen    string // HTTP address; default ":8080"
	Rate      int    // events per second; default 300
	Customers int    // default 5000
	Stdout    io.Writer
	Color     bool
	Logger    *slog.Logger
	Seed      uint64
	// Listening is called with the HTTP address once it listens.
	Listening func(addr string)
}

// Run starts the embedded broker, the traffic generator and the pipeline,
// and stops them all when ctx is done.
func Run(ctx context.Context, o Options) error {
	if o.Rate <= 0 {
		o.Rate = 300
	}
	if o.Customers <= 0 {
		o.Customers = 5000
	}
	if o.Listen == "" {
		o.Listen = ":8080"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cfg := demoConfig()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(cfg.Kafka.Partitions),
		cfg.Kafka.Topics.Experiences, cfg.Kafka.Topics.Complaints))
	if err != nil {
		return fmt.Errorf("demo: embedded broker: %w", err)
	}
	defer cluster.Close()
	dir, err := os.MkdirTemp("", "peakend-demo-")
	if err != nil {
		return fmt.Errorf("demo: state dir: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Kafka.ExactlyOnce = false
	cfg.State.Dir = dir
	cfg.HTTP.Listen = o.Listen
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo: built-in config: %w", err)
	}
	fmt.Fprintf(o.Stdout, "peakend demo: embedded broker on %s, %d customers, %d events/s; alerts below. Ctrl-C stops.\n",
		cfg.Kafka.Brokers[0], o.Customers, o.Rate)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var genErr error
	wg.Go(func() {
		genErr = generate(ctx, cfg, o)
		if genErr != nil {
			cancel()
		}
	})
	err = app.Run(ctx, app.Options{Config: cfg, Logger: o.Logger, Stdout: o.Stdout, Color: o.Color, Listening: func(addr string) {
		fmt.Fprintf(o.Stdout, "peakend demo: metrics on http://%s/metrics, a customer at http://%s/customers/cust-00001\n", addr, addr)
		if o.Listening != nil {
			o.Listening(addr)
		}
	}})
	cancel()
	wg.Wait()
	if err == nil && genErr != nil && !errors.Is(genErr, context.Canceled) {
		err = genErr
	}
	return err
}

// demoConfig returns the demo's configuration, without brokers, state
// directory or HTTP address: the defaults, with the demo's order timing.
func demoConfig() *config.Config {
	cfg := config.Default()
	// The demo's orders run on a time scale of seconds (see Generator):
	// a short lateness, idle timeout and grace let its timers fire while
	// you watch. Timer reasons speak of the event time the timer fell due
	// at ("10 seconds past the promise"); the line is printed at processing
	// time, up to the allowed lateness later. The generator's event times
	// never go back within a partition, so one second is plenty, and the
	// two agree to the second.
	cfg.Events.AllowedLateness = config.Duration(time.Second)
	cfg.Events.IdleTimeout = config.Duration(5 * time.Second)
	for i := range cfg.Detectors {
		if cfg.Detectors[i].Type == config.TypeDeadline {
			cfg.Detectors[i].Grace = config.Duration(10 * time.Second)
		}
	}
	return cfg
}

// newGenerator returns the demo's traffic generator.
func newGenerator(o Options) *Generator {
	g := NewGenerator(o.Customers, o.Seed+1)
	g.PlantEvery = 50
	g.InvalidEvery = 2000
	return g
}

// Warm-up: the demo starts with a burst of history, so that rarity
// detectors have their populations at once: warmEvents experiences with
// event times over the hour before the start, so the history looks real.
//
// Timers run on event time, and the history's event times are up to an
// hour old when the demo reads it: an order journey in it whose promise
// broke there would be reported at start-up, long after the fact, by a demo
// that has just begun (and overdue would predict, at start-up, orders the
// same burst then shows delivered). So deliveries in the history are single
// delivered events, except in its last promiseIn: orders placed then are
// open at the start, and one in warmLateEvery is late; their promises
// break after the start, while you watch, between seconds and three
// minutes in. overdue learns from the orders delivered live.
const (
	warmEvents    = 3000
	warmSpan      = time.Hour
	warmLateEvery = 4
)

// warmUp emits the history before now.
func warmUp(g *Generator, now time.Time, emit func(key, value []byte)) {
	noOrders, late := g.NoOrders, g.LateEvery
	defer func() { g.NoOrders, g.LateEvery = noOrders, late }()
	for i := range warmEvents {
		t := now.Add(-warmSpan + time.Duration(i)*warmSpan/warmEvents)
		g.NoOrders = !t.Add(promiseIn).After(now)
		g.LateEvery = warmLateEvery
		emit(g.Next(t))
	}
}

// generate produces synthetic traffic at the configured rate until ctx ends.
func generate(ctx context.Context, cfg *config.Config, o Options) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...), kgo.DefaultProduceTopic(cfg.Kafka.Topics.Experiences),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return fmt.Errorf("demo: generator client: %w", err)
	}
	defer cl.Close()
	g := newGenerator(o)
	warmUp(g, time.Now(), func(k, v []byte) { cl.Produce(ctx, &kgo.Record{Key: k, Value: v}, nil) })
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	perTick := max(1, o.Rate/20)
	for {
		select {
		case <-ctx.Done():
			return nil
		case t := <-tick.C:
			for range perTick {
				k, v := g.Next(t)
				cl.Produce(ctx, &kgo.Record{Key: k, Value: v}, func(_ *kgo.Record, err error) {
					if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, kgo.ErrClientClosed) {
						o.Logger.Warn("demo: produce", "err", err)
					}
				})
			}
		}
	}
}
