package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/crypto/bcrypt"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/app"
)

// Options configures the demo.
type Options struct {
	Listen    string // HTTP address; default ":8080"
	Rate      int    // events per second; default DefaultRate
	Customers int    // default DefaultCustomers
	Stdout    io.Writer
	Color     bool
	Logger    *slog.Logger
	Seed      uint64
	// Listening is called with the HTTP address once it listens.
	Listening func(addr string)
}

// The demo's defaults: a shop of 5,000 customers having 40 experiences a
// second between them. With the generator's rates (newGenerator) and the
// demo's quantiles (demoConfig), that is a few alerts a minute, on fewer
// than 1 customer in 100 over ten minutes. --rate and --customers make load.
const (
	DefaultRate      = 40
	DefaultCustomers = 5000
)

// Run starts the embedded broker, the traffic generator and the pipeline,
// and stops them all when ctx is done.
func Run(ctx context.Context, o Options) error {
	if o.Rate <= 0 {
		o.Rate = DefaultRate
	}
	if o.Customers <= 0 {
		o.Customers = DefaultCustomers
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
	password, err := demoAccounts(cfg)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo: built-in config: %w", err)
	}
	fmt.Fprintf(o.Stdout, "peakend demo: %d synthetic customers, %d experiences a second, a few of them bad; embedded broker on %s\n",
		o.Customers, o.Rate, cfg.Kafka.Brokers[0])

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
		fmt.Fprint(o.Stdout, startup(app.BrowseURL(addr, cfg.HTTP.TLS.CertFile != ""), o.Rate, password))
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

// startup is what the demo prints once its HTTP server listens at base
// (a URL such as http://localhost:8080).
func startup(base string, rate int, password string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "peakend demo: the recovery desk at %s/ - sign in as %s (agent) or %s (supervisor), password %s\n",
		base, DemoAgent, DemoSupervisor, password)
	fmt.Fprintf(&b, "peakend demo: metrics at %s/metrics; a customer (signed in) at %s/customers/cust-00001\n", base, base)
	if rate == DefaultRate {
		fmt.Fprintf(&b, "peakend demo: alerts below as they fire, a few a minute (--rate for load). Ctrl-C stops.\n")
	} else {
		fmt.Fprintf(&b, "peakend demo: alerts below as they fire. Ctrl-C stops.\n")
	}
	return b.String()
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
		d := &cfg.Detectors[i]
		switch d.Type {
		case config.TypeDeadline:
			d.Grace = config.Duration(10 * time.Second)
		case config.TypeRarity, config.TypeOverdue:
			// Alert on the worst 1 in 1,000 (not 1 in 100: a
			// hundredth of every support call and order is a flood,
			// not a call worth making), and only once a thousand
			// samples make a 99.9th percentile mean something (a
			// smaller population also caps the rank below 0.999).
			d.Minor, d.Major = ptr(0.999), ptr(0.9999)
			if d.Critical != nil {
				d.Critical = ptr(0.99999)
			}
			d.MinSamples = demoMinSamples
		}
	}
	return cfg
}

func ptr(v float64) *float64 { return &v }

// newGenerator returns the demo's traffic generator, at realistic rates:
// one experience in 1,200 is a planted bad one (at the default rate, two a
// minute, cycling through the detectors' kinds); one order in 1,000 misses
// its promise; ordinary deliveries are under an hour late at the median
// and 12 hours late about once in 25,000; one record in 2,000 is
// malformed (for the DLQ). NewGenerator's denser defaults (1 in 100 bad,
// 1 order in 150 late) stay for --emit and the tests.
func newGenerator(o Options) *Generator {
	g := NewGenerator(o.Customers, o.Seed+1)
	g.PlantEvery = 1200
	g.LateEvery = 1000
	g.DelaySigma = 0.5
	g.InvalidEvery = 2000
	return g
}

// Warm-up: the demo starts with a burst of history, so that the rarity
// and overdue detectors have most of their populations at once: an hour of
// ordinary traffic before the start, nothing planted in it (no alert about
// an hour-old experience at start-up).
//
// Populations are per partition, and the demo's detectors judge only
// once a partition has seen min_samples (1,000) support calls or finished
// orders. The history holds a little fewer (about 880 of each per
// partition), so that not even their natural tail can fire in it; the live
// traffic fills them up within the first two minutes. The arithmetic, from
// the generator's mix (35% deliveries, 25% support calls): first 1,000 ×
// partitions events with deliveries as single delivered events (250 calls
// per partition), then 4,270 × partitions events with deliveries as order
// journeys (promised, shipped, delivered: an order takes three events, so
// 0.206 orders and 0.147 calls per event).
//
// Timers run on event time, and the history's event times are up to an
// hour old when the demo reads it: an order in it whose promise broke
// there would be reported at start-up, long after the fact. So every order
// in the history is delivered on time, except in its last promiseIn: orders
// placed then are open at the start, and one in warmLateEvery is late (a
// handful); their promises break after the start, while you watch, between
// seconds and three minutes in.
// TestDemoIsQuiet checks that nothing fires in the history.
const (
	warmSpan         = time.Hour
	warmSingleEvents = 1000 // per partition
	warmOrderEvents  = 4270 // per partition
	warmLateEvery    = 50
	demoMinSamples   = 1000
)

// warmUp emits the history before now, for a topic of partitions.
func warmUp(g *Generator, now time.Time, partitions int, emit func(key, value []byte)) {
	noOrders, late, plant, invalid := g.NoOrders, g.LateEvery, g.PlantEvery, g.InvalidEvery
	defer func() { g.NoOrders, g.LateEvery, g.PlantEvery, g.InvalidEvery = noOrders, late, plant, invalid }()
	g.PlantEvery, g.InvalidEvery = 0, 0
	single, n := warmSingleEvents*partitions, (warmSingleEvents+warmOrderEvents)*partitions
	for i := range n {
		t := now.Add(-warmSpan + time.Duration(i)*warmSpan/time.Duration(n))
		g.NoOrders = i < single
		g.LateEvery = 0
		if t.Add(promiseIn).After(now) {
			g.LateEvery = warmLateEvery
		}
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
	warmUp(g, time.Now(), cfg.Kafka.Partitions, func(k, v []byte) { cl.Produce(ctx, &kgo.Record{Key: k, Value: v}, nil) })
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

// The demo's desk accounts: an agent and a supervisor, sharing one password
// made at start and printed with the desk's URL.
const (
	DemoAgent      = "demo"
	DemoSupervisor = "lead"
)

// demoAccounts adds the demo's desk accounts to cfg with a fresh random
// password, and returns it. Only its bcrypt hash is in the configuration.
func demoAccounts(cfg *config.Config) (string, error) {
	raw := make([]byte, 9)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("demo: password: %w", err)
	}
	password := base64.RawURLEncoding.EncodeToString(raw)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("demo: password hash: %w", err)
	}
	cfg.Desk.Accounts = []config.Account{
		{User: DemoAgent, PasswordHash: string(hash), Role: config.RoleAgent},
		{User: DemoSupervisor, PasswordHash: string(hash), Role: config.RoleSupervisor},
	}
	return password, nil
}
