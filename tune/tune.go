// Package tune searches neighbouring detector settings for the ones that
// flag the most future complainers, earliest, within the frontline's
// capacity, scored on a held-out later period (`peakend tune`).
package tune

import (
	"context"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/replay"
)

// DefaultHoldOut is the share of the event-time span held out for scoring.
const DefaultHoldOut = 1.0 / 3

// maxExtensions bounds how far a knob's grid grows beyond its first grid
// when the best setting keeps sitting at its edge.
const maxExtensions = 3

// Options configures one search.
type Options struct {
	Config *config.Config  // the current, validated configuration
	Input  *replay.Decoded // the history (and any feedback), decoded once
	// Capacity is the frontline's alerts per day; 0 is unlimited.
	Capacity float64
	// HoldOut is the later share of the event-time span kept for scoring
	// (default DefaultHoldOut); the search chooses on the rest.
	HoldOut float64
	// Workers bounds the settings scored at once (from the trace, or
	// replays for a configuration with hotspot rules). Default GOMAXPROCS.
	Workers int
	// InMemory keeps the replays' state in memory (replay.DecodedOptions).
	InMemory bool
	// MaxSettings stops the search after this many settings (0: no limit);
	// the knobs not reached keep their current values.
	MaxSettings int
	// Progress, if set, is called as each setting's replay ends.
	Progress func(s *Setting, done int, took time.Duration)
	// Traced, if set, is called after each trace pass: the one replay that
	// records the judgements of every detector setting in it (variants),
	// from which each setting is scored by running only the alert policy.
	Traced func(variants int, took time.Duration)
}

// Score is one setting's figures over one period.
type Score struct {
	Alerts      int     // alerts detected in the period
	PerDay      float64 // Alerts per day of the period
	Complainers int     // customers whose first complaint is in the period
	Flagged     int     // of those, flagged by an alert detected in the period at most alerting.lookback before it
	Coverage    float64 // Flagged / Complainers
	LeadMedian  time.Duration
	WithFeed    int     // alerts with at least one feedback event
	FeedShare   float64 // WithFeed / Alerts
	Outcomes    int     // alerts with an outcome (recovered, declined, unreachable, false_alarm)
	Precision   float64 // 1 − false alarms / Outcomes; meaningful when Outcomes > 0
	Fits        bool    // PerDay within the capacity (always, when unlimited)
}

// Setting is one point of the grid.
type Setting struct {
	N      int    // 1-based, in the order tried
	Label  string // what differs from the setting it was derived from
	Config *config.Config
	Tune   Score // the tuning period: the search chooses on this
	Held   Score // the held-out period: shown for the current and the chosen setting only
}

// Result is a search's outcome.
type Result struct {
	Settings []*Setting // in the order tried
	Current  *Setting
	Chosen   *Setting // best on the tuning period
	// Recommended is Chosen, unless Chosen does worse than Current on the
	// held-out period: then Current (KeptCurrent).
	Recommended *Setting
	KeptCurrent bool
	Capacity    float64
	// Start, Split, End: the tuning period is [Start, Split), the held-out
	// period [Split, End].
	Start, Split, End time.Time
	Events            int
	Workers           int
	Truncated         bool // MaxSettings stopped the search
	// Traces is the number of trace passes (replays) the search made; 0
	// when each setting was replayed (a configuration with hotspot rules).
	Traces int
}

// Run searches by coordinate descent: from the current configuration, each
// knob in turn (the detectors in config order, then alerting.cooldown) is
// tried at its grid's positions with the others at the best found so far;
// the best setting of the tuning period moves on only if strictly better
// (better). Every setting is scored from one trace (replay.Trace: one
// replay judges them all), which gives the alerts a replay of it gives.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.HoldOut <= 0 || o.HoldOut >= 1 {
		o.HoldOut = DefaultHoldOut
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	d := o.Input
	if d.Events() == 0 {
		return nil, fmt.Errorf("tune: no valid events in the input")
	}
	// The span runs to the last event or complaint, whichever is later: a
	// complaint about the last days belongs to the held-out period.
	end := d.Last
	if n := len(d.Complaints); n > 0 {
		end = max(end, d.Complaints[n-1].Time)
	}
	split := d.First + int64(float64(end-d.First)*(1-o.HoldOut))
	r := &Result{Capacity: o.Capacity, Events: d.Events(), Workers: o.Workers,
		Start: time.Unix(0, d.First).UTC(), Split: time.Unix(0, split).UTC(), End: time.Unix(0, end).UTC()}
	sc := newScorer(o, split, end)
	ks := knobs(o.Config)
	sc.ks = ks

	seen := map[string]*Setting{}
	var mu sync.Mutex
	done := 0
	// eval replays the settings not replayed before, o.Workers at a time.
	eval := func(batch []*Setting) error {
		var todo []*Setting
		for _, s := range batch {
			if o.MaxSettings > 0 && len(r.Settings) >= o.MaxSettings {
				r.Truncated = true
				continue
			}
			seen[fingerprint(s.Config)] = s
			s.N = len(r.Settings) + 1
			r.Settings = append(r.Settings, s)
			todo = append(todo, s)
		}
		if err := sc.prepare(ctx, todo); err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		sem := make(chan struct{}, o.Workers)
		errs := make([]error, len(todo))
		var wg sync.WaitGroup
		for i, s := range todo {
			wg.Go(func() {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					errs[i] = ctx.Err()
					return
				}
				defer func() { <-sem }()
				t0 := time.Now()
				if err := sc.score(ctx, s); err != nil {
					errs[i] = fmt.Errorf("tune: setting %d (%s): %w", s.N, s.Label, err)
					cancel()
					return
				}
				if o.Progress != nil {
					mu.Lock()
					done++
					o.Progress(s, done, time.Since(t0))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}

	cur := &Setting{Label: "current", Config: o.Config}
	if err := eval([]*Setting{cur}); err != nil {
		return nil, err
	}
	r.Current = cur
	best := cur
	for ki, k := range ks {
		sc.knob = ki
		// First grid, then outwards while the best is at an edge.
		tried := map[int]*Setting{0: best}
		var batch []*Setting
		pending := map[string]*Setting{}
		add := func(pos int) {
			cfg, label, ok := k.at(best.Config, pos)
			if !ok || cfg.Validate() != nil {
				return
			}
			fp := fingerprint(cfg)
			if s := seen[fp]; s != nil { // replayed before: the same *Setting
				tried[pos] = s
				return
			}
			if s := pending[fp]; s != nil {
				tried[pos] = s
				return
			}
			s := &Setting{Label: label, Config: cfg}
			pending[fp] = s
			tried[pos] = s
			batch = append(batch, s)
		}
		for pos := k.lo; pos <= k.hi; pos++ {
			if pos != 0 {
				add(pos)
			}
		}
		lo, hi := k.lo, k.hi
		for ext := 0; ; ext++ {
			if err := eval(batch); err != nil {
				return nil, err
			}
			batch = batch[:0]
			for pos, s := range tried {
				if s.N == 0 { // not replayed: MaxSettings
					delete(tried, pos)
				}
			}
			// From the best so far (0), in position order: a tie keeps it.
			bp := 0
			for _, pos := range slices.Sorted(maps.Keys(tried)) {
				if better(tried[pos].Tune, tried[bp].Tune) {
					bp = pos
				}
			}
			if ext >= maxExtensions {
				best = tried[bp]
				break
			}
			n := len(tried)
			switch {
			case bp == hi && bp != 0:
				add(hi + 1)
				add(hi + 2)
				hi += 2
			case bp == lo && bp != 0:
				add(lo - 1)
				add(lo - 2)
				lo -= 2
			}
			if len(tried) == n { // past the ladder's end, or invalid
				best = tried[bp]
				break
			}
		}
	}
	r.Chosen = best
	r.Recommended = best
	r.Traces = sc.traces
	if best != cur && better(cur.Held, best.Held) {
		r.Recommended, r.KeptCurrent = cur, true
	}
	return r, nil
}

// better reports whether a is better than b: within capacity beats over
// it; within it, more complainers flagged, then the earlier (longer median
// lead), then fewer alerts. Over it, the frontline reaches only
// capacity/(alerts per day) of the alerts: more complainers flagged after
// that share (Flagged × capacity / PerDay), then fewer alerts. Leads, shares
// and alert counts within 1% of each other are ties: a difference too small
// to act on does not move the search off the setting it holds.
func better(a, b Score) bool {
	if a.Fits != b.Fits {
		return a.Fits
	}
	if !a.Fits {
		// Flagged_a/PerDay_a against Flagged_b/PerDay_b, cross-multiplied.
		if ea, eb := float64(a.Flagged)*b.PerDay, float64(b.Flagged)*a.PerDay; !near(ea, eb) {
			return ea > eb
		}
		return !near(float64(a.Alerts), float64(b.Alerts)) && a.Alerts < b.Alerts
	}
	if a.Flagged != b.Flagged {
		return a.Flagged > b.Flagged
	}
	if !near(float64(a.LeadMedian), float64(b.LeadMedian)) {
		return a.LeadMedian > b.LeadMedian
	}
	return !near(float64(a.Alerts), float64(b.Alerts)) && a.Alerts < b.Alerts
}

// near reports whether a and b are within 1% of the larger.
func near(a, b float64) bool { return math.Abs(a-b) <= 0.01*math.Max(math.Abs(a), math.Abs(b)) }

// fingerprint identifies a setting by what the search changes.
func fingerprint(c *config.Config) string {
	b, _ := detectorsYAML(c, true)
	return string(b)
}

// scorer replays settings and scores them on both periods.
type scorer struct {
	o          Options
	split, end time.Time
	// tr holds the judgements of every setting in variants (replay.Trace):
	// a setting it covers costs a run of the alert policy, not a replay.
	// nil when the configuration cannot be traced (hotspot rules): then
	// each setting is replayed.
	tr      *replay.Trace
	ks      []knob
	knob    int // the knob the search is at: those before it are settled
	noTrace bool
	traces  int // trace passes made
}

// traceVariants lists the detector settings a trace records for the knobs
// ks: every knob's first grid, and the whole ladder of the cheap knobs, so
// that the search seldom asks for a setting the trace does not hold.
func traceVariants(cfg *config.Config, ks []knob) []config.Detector {
	var out []config.Detector
	for _, k := range ks {
		lo, hi := k.lo, k.hi
		if k.cheap {
			lo, hi = lo-2*maxExtensions, hi+2*maxExtensions
		}
		for pos := lo; pos <= hi; pos++ {
			if c, _, ok := k.at(cfg, pos); ok && c.Validate() == nil {
				out = append(out, c.Detectors...)
			}
		}
	}
	return out
}

// prepare makes sure the trace covers every setting of batch, recording a
// new one if not: the batch's settings and the knobs not settled yet (an
// earlier knob's variants are of no more use: the search holds its best).
func (sc *scorer) prepare(ctx context.Context, batch []*Setting) error {
	if sc.noTrace {
		return nil
	}
	var variants []config.Detector
	for _, s := range batch {
		if sc.tr == nil || !sc.tr.Covers(s.Config) {
			variants = append(variants, s.Config.Detectors...)
		}
	}
	if variants == nil {
		return nil
	}
	for _, s := range batch {
		variants = append(variants, s.Config.Detectors...)
	}
	variants = append(variants, traceVariants(sc.o.Config, sc.ks[sc.knob:])...)
	if len(sc.o.Config.Hotspots) > 0 {
		sc.noTrace = true // hotspot counts follow the findings: replay each setting
		return nil
	}
	t0 := time.Now()
	tr, err := replay.NewTrace(ctx, sc.o.Config, variants, sc.o.Input,
		replay.TraceOptions{DecodedOptions: replay.DecodedOptions{InMemory: sc.o.InMemory}})
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	sc.tr = tr
	sc.traces++
	if sc.o.Traced != nil {
		sc.o.Traced(tr.Variants(), time.Since(t0))
	}
	return nil
}

func newScorer(o Options, split, end int64) *scorer {
	return &scorer{o: o, split: time.Unix(0, split).UTC(), end: time.Unix(0, end+1).UTC()}
}

// score replays s and scores it with the replay report's figures
// (replay.Summary.ReportWindow) over each period: alerts detected in it,
// complainers whose first complaint falls in it, flagged by an alert
// detected in it, feedback applied by event time as replay --feedback
// applies it.
func (sc *scorer) score(ctx context.Context, s *Setting) error {
	var sum *replay.Summary
	var err error
	if sc.tr != nil && sc.tr.Covers(s.Config) {
		sum, err = sc.tr.Run(ctx, s.Config, replay.DecodedOptions{})
	} else {
		sum, err = replay.RunDecoded(ctx, s.Config, sc.o.Input, replay.DecodedOptions{InMemory: sc.o.InMemory})
	}
	if err != nil {
		return err
	}
	s.Tune = sc.period(sum.ReportWindow(time.Time{}, sc.split))
	s.Held = sc.period(sum.ReportWindow(sc.split, sc.end))
	return nil
}

func (sc *scorer) period(r replay.Report) Score {
	t := &r.Totals
	s := Score{Alerts: t.Alerts, Complainers: t.Complainers, Flagged: t.FlaggedBefore, Coverage: t.Coverage,
		LeadMedian: time.Duration(t.LeadMedianSeconds * 1e9), WithFeed: t.Feedback, FeedShare: t.FeedbackShare}
	if t.Precision != nil {
		s.Precision = *t.Precision
		s.Outcomes = t.Total()
	}
	s.PerDay = float64(s.Alerts) / t.Days
	s.Fits = sc.o.Capacity <= 0 || s.PerDay <= sc.o.Capacity
	return s
}
