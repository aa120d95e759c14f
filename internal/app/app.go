// Package app wires peakend's components for `run` and `demo`: store,
// engine, Kafka runner, sinks and HTTP server, started and stopped as one.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/alerts/outbox"
	"github.com/peakend/peakend/alerts/sinks"
	"github.com/peakend/peakend/auth"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/desk"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/httpapi"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/state"
	"github.com/peakend/peakend/stream"
)

// Options configures a pipeline.
type Options struct {
	Config *config.Config // validated
	Logger *slog.Logger
	Stdout io.Writer // the stdout sink's writer; default os.Stdout
	Color  bool
	// ClientOpts are extra franz-go options (tests).
	ClientOpts []kgo.Opt
	// Ready, if set, is called with the HTTP server's address once it listens.
	Listening func(addr string)
	// Backoff between delivery attempts of the outbox (tests); zero: the default.
	Backoff sinks.Backoff
	// FS is the filesystem of the state store (state.dir on it); nil: the
	// OS's. Tests wrap the OS's in Pebble's errorfs to inject write and
	// sync failures.
	FS vfs.FS
	// LagInterval is how often consumer lag is measured (tests); zero:
	// stream.DefaultLagInterval.
	LagInterval time.Duration
	// DeskGuard, if set, replaces the sign-in check in front of the desk's
	// customer-data paths (tests put a user in the request's context).
	DeskGuard func(http.Handler) http.Handler
	// DeskClock, if set, is the desk's clock (tests).
	DeskClock func() time.Time
}

// Run runs the pipeline until ctx is done: it opens the store, starts the
// HTTP server and the Kafka runner, and on cancellation stops the runner
// (which commits its last cycle), then the server, then closes the store.
func Run(ctx context.Context, o Options) error {
	cfg := o.Config
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	store, err := state.Open(state.Options{Dir: cfg.State.Dir, FS: o.FS, CacheBytes: int64(cfg.State.CacheMiB) << 20,
		MemtableBytes: uint64(cfg.State.MemtableMiB) << 20, Logger: log})
	if err != nil {
		return err
	}
	abandoned := false // stop timed out: goroutines may still use the store
	defer func() {
		if !abandoned {
			store.Close()
		}
	}()
	m := metrics.New(engine.MetricJourneys(cfg), detectorNames(cfg))
	m.Register(metrics.NewPebbleCollector(store.Metrics))
	// Slack's grouped hotspot messages ask the desk (built below, in this
	// process) for the hotspot's name and whether it is muted.
	var deskRef atomic.Pointer[desk.Desk]
	hotspots := func(id string) (string, map[string]string, bool) {
		if d := deskRef.Load(); d != nil {
			return d.HotspotStatus(id)
		}
		return "", nil, false
	}
	ss, err := buildSinks(cfg, o, hotspots)
	if err != nil {
		return err
	}
	// Frontline sinks deliver from the durable outbox; stdout (the demo's
	// console) is handed each committed alert directly.
	var direct, queued []alerts.Sink
	var names []string
	allows := map[string]func(*alerts.Alert) bool{}
	for _, sk := range ss {
		// Export every sink's delivery series at zero, so dashboards and
		// alert rules see them before the first alert: the results each
		// kind of sink records.
		results := []string{"delivered", "retried", "rejected", "dropped_backlog_full", "muted"}
		if sinks.IsLocal(sk) {
			results = []string{"delivered", "failed"}
		}
		for _, result := range results {
			m.Deliveries.WithLabelValues(sk.Name(), result)
		}
		if sinks.IsLocal(sk) {
			direct = append(direct, sk)
			continue
		}
		queued = append(queued, sk)
		names = append(names, sk.Name())
		if f, ok := sk.(alerts.FilteringSink); ok {
			allows[sk.Name()] = f.Allows
		}
	}
	// Live hotspots: every partition counts, and sums its share of the
	// hotspot keys (stream/hotspots.go).
	eo := engine.Options{Live: true, Metrics: m, Hotspots: len(cfg.Hotspots) > 0}
	var deliverer *outbox.Deliverer
	if len(queued) > 0 {
		book := outbox.NewBook(names, cfg.Alerting.MaxBacklog, log, m)
		book.SetCapacity(cfg.Alerting.MaxPerHour)
		eo.Outbox, eo.OutboxAllows = book, allows
		conc := map[string]int{}
		for _, spec := range cfg.Alerting.Sinks {
			if spec.Type != config.SinkKafka {
				conc[sinkName(spec)] = spec.Concurrency
			}
		}
		deliverer = &outbox.Deliverer{Store: store, Sinks: queued, Book: book, Log: log, Metrics: m, Concurrency: conc,
			Backoff: o.Backoff}
	}
	eng, err := engine.New(cfg, store, eo)
	if err != nil {
		return err
	}
	runner := stream.New(stream.Options{Config: cfg, Engine: eng, Store: store, Metrics: m, Logger: log,
		Sinks: direct, ClientOpts: o.ClientOpts, LagInterval: o.LagInterval})

	// Sign-in guards every customer-data path (docs/desk-access.md).
	authn, err := auth.New(cfg.Desk, auth.Options{Logger: log, Metrics: m, Secure: cfg.HTTP.TLS.CertFile != ""})
	if err != nil {
		return err
	}
	var dk *desk.Desk
	var mount func(*http.ServeMux, func(http.Handler) http.Handler)
	if cfg.Desk.DeskOn() {
		// A claim by a user who no longer exists is released; without
		// sign-in configured (tests with DeskGuard) everyone is known.
		var known func(string) bool
		if authn.Configured() {
			known = authn.Known
		}
		view := httpapi.ViewOptions{Window: cfg.State.Window, HalfLife: cfg.Alerting.PeakHalfLife.D()}
		dk, err = desk.New(desk.Options{Config: cfg, Store: store, Metrics: m.NewDesk(detectorNames(cfg)), Logger: log,
			Now: o.DeskClock, Known: known, Approvers: authn.Supervisors(),
			// The instance holding partition p of the (co-partitioned)
			// experiences topic owns feedback partition p.
			Owns: func(p int32) bool { return slices.Contains(runner.Partitions(), p) },
			Customer: func(id string) (any, error) {
				v, ok, err := httpapi.LookupCustomer(store, view, runner.Partitions(), id)
				if !ok || err != nil {
					return nil, err
				}
				return v, nil
			}})
		if err != nil {
			return err
		}
		deskRef.Store(dk)
		mount = func(mux *http.ServeMux, require func(http.Handler) http.Handler) {
			if o.DeskGuard != nil {
				require = o.DeskGuard
			}
			dk.Mount(mux, require)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var errs []error
	var mu sync.Mutex
	fail := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			cancel()
		}
	}
	if cfg.HTTP.Listen != "" && cfg.HTTP.Listen != "-" {
		if !authn.Configured() {
			log.Info("desk sign-in is not configured (no desk.accounts, no desk.proxy): customer-data paths answer 401")
		}
		srv, err := httpapi.New(httpapi.Options{Listen: cfg.HTTP.Listen, Metrics: m, Store: store,
			Window: cfg.State.Window, HalfLife: cfg.Alerting.PeakHalfLife.D(), Ready: runner.Ready, Partitions: runner.Partitions, Logger: log,
			Auth: authn, TLS: cfg.HTTP.TLS, Mount: mount})
		if err != nil {
			return err
		}
		log.Info("http listening", "addr", srv.Addr(), "url", BrowseURL(srv.Addr(), cfg.HTTP.TLS.CertFile != ""))
		if o.Listening != nil {
			o.Listening(srv.Addr())
		}
		wg.Go(func() { fail(srv.Run(ctx)) })
	}
	if deliverer != nil {
		wg.Go(func() { fail(deliverer.Run(ctx)) })
	}
	if dk != nil {
		wg.Go(func() { fail(dk.Run(ctx)) })
	}
	wg.Go(func() { fail(runner.Run(ctx)) })
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		select {
		case <-done:
		case <-time.After(StopTimeout):
			// A broker that does not answer can hold calls franz-go does
			// not let us bound (a transaction's Begin recovering its
			// producer id). The promise is a stop within 10 s: return
			// without closing the store. Nothing is lost: Pebble replays
			// its write-ahead log, and under exactly-once local state is
			// never ahead of Kafka.
			abandoned = true
			log.Error("stop did not finish in time (brokers not answering); exiting without closing state", "waited", StopTimeout)
			return fmt.Errorf("app: stop did not finish within %s (brokers not answering)", StopTimeout)
		}
	}
	return errors.Join(errs...)
}

// StopTimeout bounds a stop: after it, Run returns even if a call to an
// unresponsive broker is still in flight.
var StopTimeout = 9 * time.Second

func sinkName(spec config.Sink) string {
	if spec.Name != "" {
		return spec.Name
	}
	return spec.Type
}

func detectorNames(cfg *config.Config) []string {
	var names []string
	for _, d := range cfg.Detectors {
		names = append(names, d.Name)
	}
	return names
}

// buildSinks builds the non-Kafka sinks (the alerts topic is written by the
// runner itself).
func buildSinks(cfg *config.Config, o Options, hotspots sinks.HotspotStatus) ([]alerts.Sink, error) {
	var out []alerts.Sink
	for i, spec := range cfg.Alerting.Sinks {
		if spec.Type == config.SinkKafka {
			continue
		}
		d := sinks.Deps{URL: spec.URL, DeskURL: cfg.HTTP.PublicURL, Stdout: o.Stdout, Color: o.Color, Hotspots: hotspots}
		if spec.URLEnv != "" {
			d.URL = os.Getenv(spec.URLEnv)
		}
		if spec.SecretEnv != "" {
			d.Secret = os.Getenv(spec.SecretEnv)
		}
		s, err := sinks.FromConfig(spec, d)
		if err != nil {
			return nil, fmt.Errorf("alerting.sinks[%d]: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}
