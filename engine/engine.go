// Package engine is peakend's processing core, shared by `run` and `replay`:
// one Partition per input partition folds records into state, runs the
// detectors and the alert policy, and stages everything in one Pebble batch.
package engine

import (
	"fmt"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/alerts/outbox"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/detectors"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/hotspots"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/state"
)

// Engine is the immutable, shared part: configuration, detectors, policy and
// the store. Partitions do the work.
type Engine struct {
	cfg      *config.Config
	store    *state.Store
	dets     []detectors.Detector
	policy   *alerts.Policy
	metrics  *metrics.Metrics
	window   int
	live     bool
	async    bool               // Options.AsyncCommit
	journeys map[string]bool    // journeys with their own metric label
	tailQ    []float64          // per detector: lowest quantile (population detectors)
	headers  *state.CacheBudget // memory of the partitions' header caches
	// journeyCache is the memory of the partitions' journey caches (nil: none).
	journeyCache *state.CacheBudget
	outbox       *outbox.Book
	allows       map[string]func(*alerts.Alert) bool

	timed []int // indexes in dets of the detectors.Timed ones
	// sweepEvery: watermark advance between sweeps of parked journeys (the
	// smallest timed `over` / PopulationBuckets; a day if none).
	sweepEvery int64
	lateness   int64 // events.allowed_lateness, ns
	idle       time.Duration
	retention  int64 // state.retention, ns
	halfLife   int64 // alerting.peak_half_life, ns

	hsRules  []*hotspots.Rule // Options.Hotspots: the rules partitions count for
	hsLookup hotspots.Lookup
	hsLive   bool  // each partition owns an Aggregator and a View (hotspots.go)
	judge    Judge // Options.Judge
}

// Options configures an Engine.
type Options struct {
	// Live sets alerts' detected_at to processing time; otherwise (replay) it
	// equals the event time.
	Live bool
	// Metrics receives counts; nil records nothing.
	Metrics *metrics.Metrics
	// Outbox, if set, queues every alert for its sinks in the partition's
	// state batch (the durable outbox; see internal/outbox).
	Outbox *outbox.Book
	// OutboxAllows holds per-sink filters: an alert a sink would drop is
	// never queued for it. A sink without one takes every alert.
	OutboxAllows map[string]func(*alerts.Alert) bool
	// HeaderCacheBytes overrides state.header_cache_mib (0: the config's;
	// negative disables the cache).
	HeaderCacheBytes int64
	// AsyncCommit lets Partition.Commit return while Pebble still inserts
	// the cycle's batch (state.Batch.CommitAsync), so that the next cycle is
	// processed on one core while the memtable insert runs on another.
	// Reads of the store wait for it. Writes are not synced: for replay,
	// whose store is rebuilt after a crash, never for live.
	AsyncCommit bool
	// Hotspots makes every partition count experiences for the
	// configuration's hotspot rules: partial counts in Output.Hotspots at
	// Stage (docs/hotspots.md). With Live, each partition also owns the
	// partition of the same number of the hotspots topic: it sums the
	// partials sent to it (Partition.Hotspot) and keeps a view of the open
	// hotspots for its customer alerts' hotspot_id.
	Hotspots bool
	// HotspotLookup, with Hotspots and not Live (replay), tells partitions
	// which hotspots are open, so that customer alerts carry the
	// hotspot_id (may be nil).
	HotspotLookup hotspots.Lookup
	// Judge, if set, takes the alert policy's place: it receives every
	// judgement point and the engine makes no alert (judge.go). For tune.
	Judge Judge
	// NoLearn names detectors that judge but learn nothing (with Judge:
	// variants of a detector that learns for them). Only detectors without
	// a population or timers.
	NoLearn []string
}

// New builds the engine of a validated configuration.
func New(cfg *config.Config, store *state.Store, o Options) (*Engine, error) {
	dets, err := detectors.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	e := &Engine{
		cfg: cfg, store: store, dets: dets, metrics: o.Metrics, live: o.Live, async: o.AsyncCommit,
		policy:   alerts.NewPolicy(cfg.Alerting, cfg.HTTP.PublicURL),
		window:   cfg.State.Window,
		journeys: map[string]bool{},
		outbox:   o.Outbox, allows: o.OutboxAllows,
		judge: o.Judge,
	}
	if err := silence(dets, o.NoLearn); err != nil {
		return nil, err
	}
	if o.Hotspots {
		if e.hsRules, err = hotspots.Compile(cfg); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		e.hsLookup = o.HotspotLookup
		e.hsLive = o.Live && len(e.hsRules) > 0
	}
	hc := o.HeaderCacheBytes
	if hc == 0 {
		hc = int64(cfg.State.HeaderCacheMiB) << 20
	}
	e.headers = state.NewCacheBudget(max(0, hc))
	if jc := cfg.State.JourneyCacheMiB; jc > 0 {
		e.journeyCache = state.NewCacheBudget(int64(jc) << 20)
	}
	if e.window <= 0 {
		e.window = 50
	}
	for _, j := range MetricJourneys(cfg) {
		e.journeys[j] = true
	}
	e.lateness, e.idle = int64(cfg.Events.AllowedLateness), cfg.Events.IdleTimeout.D()
	e.retention, e.halfLife = int64(cfg.State.Retention), int64(cfg.Alerting.PeakHalfLife)
	if e.halfLife <= 0 {
		e.halfLife = int64(alerts.PeakHalfLife)
	}
	for i, d := range dets {
		if _, ok := d.(detectors.Timed); ok {
			e.timed = append(e.timed, i)
			if w := int64(d.Population()) / detectors.PopulationBuckets; w > 0 && (e.sweepEvery == 0 || w < e.sweepEvery) {
				e.sweepEvery = w
			}
		}
		q := 0.0
		if t, ok := d.(detectors.TailQuantiler); ok {
			q = t.TailQuantile()
		}
		e.tailQ = append(e.tailQ, q)
	}
	if e.sweepEvery == 0 {
		e.sweepEvery = day
	}
	return e, nil
}

// HotspotRules returns the compiled hotspot rules the partitions count
// for (none without Options.Hotspots).
func (e *Engine) HotspotRules() []*hotspots.Rule { return e.hsRules }

// Detectors returns the names of the engine's detectors, in config order.
func (e *Engine) Detectors() []string {
	names := make([]string, len(e.dets))
	for i, d := range e.dets {
		names[i] = d.Name()
	}
	return names
}

// MetricJourneys lists the journeys that get their own metric label: the
// allow-list if there is one, else the detectors' journeys. Anything else is
// "other", so a free-form journey cannot explode the metric's cardinality.
func MetricJourneys(cfg *config.Config) []string {
	if len(cfg.Journeys) > 0 {
		return cfg.Journeys
	}
	seen := map[string]bool{}
	var js []string
	for _, d := range cfg.Detectors {
		if d.Journey != "" && !seen[d.Journey] {
			seen[d.Journey] = true
			js = append(js, d.Journey)
		}
	}
	return js
}

// OpenPartition loads partition p's populations and returns its processor.
// The Partition is owned by one goroutine at a time.
func (e *Engine) OpenPartition(p int32) (*Partition, error) {
	pt := &Partition{
		e: e, id: p,
		dec:       event.NewDecoder(e.cfg.Events.MaxBytes, e.cfg.Journeys),
		customers: map[string]*entry{},
		hc:        state.NewHeaderCache(e.headers),
		offsets:   map[string]int64{},
		batch:     e.store.NewBatch(p),
		pops:      make([]*detectors.Population, len(e.dets)),
	}
	for i, d := range e.dets {
		over := d.Population()
		if over == 0 {
			continue
		}
		pop := detectors.NewPopulation(d.Name(), over, e.tailQ[i])
		if err := e.store.Populations(p, d.Name(), pop.Load); err != nil {
			return nil, fmt.Errorf("engine: partition %d: %w", p, err)
		}
		pt.pops[i] = pop
	}
	n, err := e.store.Customers(p)
	if err != nil {
		return nil, fmt.Errorf("engine: partition %d: %w", p, err)
	}
	pt.count = n
	if e.outbox != nil {
		if pt.outSeq, err = e.store.OutboxSeq(p); err != nil {
			return nil, fmt.Errorf("engine: partition %d: %w", p, err)
		}
		pt.outCommitted = pt.outSeq
		pt.outPending = map[string]int{}
		e.outbox.Release(p, pt.outSeq)
	}
	if err := pt.openHotspots(); err != nil {
		return nil, fmt.Errorf("engine: partition %d: %w", p, err)
	}
	if err := pt.openTime(); err != nil {
		return nil, fmt.Errorf("engine: partition %d: %w", p, err)
	}
	// Warm the header cache with a sequential scan (a second or so per
	// million customers): without it, a restarted instance pays a random
	// Pebble read for every customer's first event.
	if err := e.store.Headers(p, pt.hc.Warm); err != nil {
		return nil, fmt.Errorf("engine: partition %d: %w", p, err)
	}
	if err := pt.openJourneys(); err != nil {
		pt.hc.Close()
		return nil, fmt.Errorf("engine: partition %d: %w", p, err)
	}
	return pt, nil
}
