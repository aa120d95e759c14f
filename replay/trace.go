package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/state"
)

// Trace holds the judgements of many settings of a configuration's
// detectors over one Decoded input, recorded in one engine pass
// (NewTrace). Run then gives, for any setting it covers, the alerts and the
// Summary that RunDecoded gives for that setting, by running only the
// alert policy (cooldown, peak-end memory, alert building) over the
// recorded judgements: `peakend tune` pays one replay for a whole grid.
//
// Why one pass is enough: no detector reads what the policy writes (the
// customer's cooldown, alert list and peak-end memory), so the state the
// detectors keep (windows, populations, baselines, bad marks, journeys and
// timers) evolves alike whatever the policy decides. Each variant of a
// detector judges beside it on the same history: a variant without a
// population reads the customer state its detector keeps and learns
// nothing (engine.Options.NoLearn); a rarity or overdue variant keeps its
// own population and journeys, under its own internal name, as a replay
// of that setting would.
type Trace struct {
	base    *config.Config
	d       *Decoded
	names   []string       // union detector → its configured name
	byKey   map[string]int // detectorKey → union index
	custs   []string       // customer ids, by index
	points  []point
	finds   []found
	infos   []info
	fbs     []fbPoint // recovered outcomes, by point.fb-1
	shared  Summary   // Lines, Events, Customers...: the same for every setting
	withEvi bool
}

// point is one judgement point: an experience (with or without findings:
// one without still fades the customer's peak-end memory) or a timer.
type point struct {
	cust     int32
	timer    bool
	t        int64 // event time of the experience, or the timer's
	gen      int64 // the customer's FirstAt: a customer expired and back is a new one
	lastAt   int64 // the customer's LastAt as the policy read it
	info     int32 // in Trace.infos; -1 for an experience without findings
	from, to int32 // in Trace.finds
	fb       int32 // 1 + index in Trace.fbs: a recovered outcome, not a judgement
}

// fbPoint is a "recovered" outcome as the engine read it: whether it names
// one of the customer's alerts depends on the setting (Partition.Feedback).
type fbPoint struct {
	alertID string
	t       int64
}

// info is what building an alert at a point needs beyond its finding.
type info struct {
	tier      string
	value     float64
	complaint int64
	identity  []byte // experience: event_id or record bytes
	journey   string // the experience's, or the timed detector's
	felt      bool   // timer: Timed.Felt
	start     int64  // timer: the journey's start
	key       string // timer: the journey's key
}

type found struct {
	det      int32 // union detector index
	f        alerts.Finding
	evidence []alerts.Evidence // with TraceOptions.Evidence
}

// TraceOptions configures NewTrace.
type TraceOptions struct {
	DecodedOptions
	// Evidence records every finding's evidence, so that Run's alerts carry
	// it as RunDecoded's do. Off, they carry none: `tune` scores alerts by
	// their time, customer, detector and severity.
	Evidence bool
}

// variantSep joins a detector's name and a variant number in the engine's
// internal names: it sorts before every other byte, so timers of a variant
// fire in the same order against other detectors' as its detector's would.
const variantSep = "\x00"

// NewTrace replays d once under base with every variant judging beside the
// detector it varies (each variant is a config.Detector with the name and
// type of one of base's detectors and other settings). A base with hotspot
// rules cannot be traced (their counts follow the findings).
func NewTrace(ctx context.Context, base *config.Config, variants []config.Detector, d *Decoded, o TraceOptions) (*Trace, error) {
	if len(base.Hotspots) > 0 {
		return nil, fmt.Errorf("replay: trace: hotspot rules count findings: replay each setting")
	}
	t := &Trace{base: base, d: d, byKey: map[string]int{}, withEvi: o.Evidence}
	union := *base
	union.Detectors = slices.Clone(base.Detectors)
	for _, det := range base.Detectors {
		t.names = append(t.names, det.Name)
		t.byKey[detectorKey(det)] = len(t.names) - 1
	}
	var noLearn []string
	for n, v := range variants {
		k := detectorKey(v)
		if _, dup := t.byKey[k]; dup {
			continue
		}
		i := slices.IndexFunc(base.Detectors, func(b config.Detector) bool { return b.Name == v.Name })
		if i < 0 || base.Detectors[i].Type != v.Type {
			return nil, fmt.Errorf("replay: trace: variant %d: no %s detector %q", n, v.Type, v.Name)
		}
		t.byKey[k] = len(t.names)
		t.names = append(t.names, v.Name)
		v.Name += variantSep + strconv.Itoa(n)
		union.Detectors = append(union.Detectors, v)
		switch v.Type {
		case config.TypeRarity, config.TypeOverdue, config.TypeDeadline:
			// own population and journeys
		default:
			noLearn = append(noLearn, v.Name)
		}
	}
	rec := &recorder{t: t, ids: map[string]int32{}, order: map[string]int32{}}
	for i, det := range union.Detectors {
		rec.order[det.Name] = int32(i)
	}
	sum, err := runDecoded(ctx, &union, d, o.DecodedOptions, engine.Options{Judge: rec, NoLearn: noLearn})
	if err != nil {
		return nil, err
	}
	t.shared = Summary{Lines: sum.Lines, Events: sum.Events, Invalid: d.Invalid, // applyFeedback adds the unknown alerts it met
		Duplicates: sum.Duplicates,
		Complaints: sum.Complaints, Customers: sum.Customers, First: sum.First, Last: sum.Last, Sorted: sum.Sorted}
	return t, nil
}

// Variants is the number of detector settings traced (the configuration's
// detectors and their variants).
func (t *Trace) Variants() int { return len(t.names) }

// detectorKey identifies a detector's settings.
func detectorKey(d config.Detector) string {
	b, _ := json.Marshal(d)
	return string(b)
}

// recorder is the engine.Judge that records a Trace.
type recorder struct {
	t     *Trace
	ids   map[string]int32 // customer id → index, for customers with a finding
	order map[string]int32 // engine detector name → union index
}

func (r *recorder) cust(id string, add bool) (int32, bool) {
	if i, ok := r.ids[id]; ok || !add {
		return i, ok
	}
	i := int32(len(r.t.custs))
	r.t.custs = append(r.t.custs, id)
	r.ids[id] = i
	return i, true
}

func (r *recorder) info(j *engine.Judgement) int32 {
	c := j.Customer
	in := info{tier: c.Tier, value: c.Value, complaint: c.Complaint}
	if j.Timed != nil {
		in.journey, in.felt, in.start, in.key = j.Timed.JourneyName(), j.Timed.Felt(), j.Start, j.Key
	} else {
		in.journey, in.identity = j.Event.Journey, slices.Clone(j.Identity)
	}
	r.t.infos = append(r.t.infos, in)
	return int32(len(r.t.infos) - 1)
}

func (r *recorder) add(j *engine.Judgement, f alerts.Finding) error {
	fd := found{det: r.order[f.Detector], f: f}
	if r.t.withEvi {
		var err error
		if fd.evidence, err = j.Evidence(f); err != nil {
			return err
		}
	}
	r.t.finds = append(r.t.finds, fd)
	return nil
}

func (r *recorder) Experience(j *engine.Judgement) error {
	c := j.Customer
	ci, ok := r.cust(c.ID, len(j.Findings) > 0)
	if !ok {
		return nil // never judged bad: no policy state to fade
	}
	p := point{cust: ci, t: j.Event.Time, gen: c.FirstAt, lastAt: c.LastAt, info: -1, from: int32(len(r.t.finds))}
	if len(j.Findings) > 0 {
		p.info = r.info(j)
		for _, f := range j.Findings {
			if err := r.add(j, f); err != nil {
				return err
			}
		}
	}
	p.to = int32(len(r.t.finds))
	r.t.points = append(r.t.points, p)
	return nil
}

// feedback records a "recovered" outcome of a customer judged bad before
// (no other customer has alerts it could name), in the engine's order.
// One difference is left: live and in a replay, a recovery that names an
// alert also counts as the customer's activity for retention (touch); under
// the trace it does not, so a customer whose only activity for
// state.retention is such an outcome expires in the trace and not in that
// setting's replay.
func (r *recorder) feedback(cust, alertID string, t int64) {
	ci, ok := r.cust(cust, false)
	if !ok {
		return
	}
	r.t.fbs = append(r.t.fbs, fbPoint{alertID: alertID, t: t})
	r.t.points = append(r.t.points, point{cust: ci, t: t, info: -1, fb: int32(len(r.t.fbs))})
}

func (r *recorder) Timer(j *engine.Judgement) error {
	c := j.Customer
	ci, _ := r.cust(c.ID, true)
	p := point{cust: ci, timer: true, t: j.At, gen: c.FirstAt, lastAt: c.LastAt, info: r.info(j), from: int32(len(r.t.finds))}
	if err := r.add(j, j.Finding); err != nil {
		return err
	}
	p.to = int32(len(r.t.finds))
	r.t.points = append(r.t.points, p)
	return nil
}

// Covers reports whether Run can give cfg's alerts: cfg equals the traced
// configuration but for its detectors' settings, each traced (as the
// detector or one of its variants, at the same position), and the
// alerting section.
func (t *Trace) Covers(cfg *config.Config) bool {
	_, err := t.selection(cfg)
	return err == nil
}

// selection maps each union detector to cfg's detector index (-1: unused).
func (t *Trace) selection(cfg *config.Config) ([]int, error) {
	a, b := *cfg, *t.base
	a.Detectors, b.Detectors = nil, nil
	a.Alerting, b.Alerting = config.Alerting{}, config.Alerting{}
	if !reflect.DeepEqual(a, b) || len(cfg.Detectors) != len(t.base.Detectors) {
		return nil, fmt.Errorf("replay: trace: the configuration differs from the traced one beyond detector settings and alerting")
	}
	sel := make([]int, len(t.names))
	for i := range sel {
		sel[i] = -1
	}
	for i, det := range cfg.Detectors {
		u, ok := t.byKey[detectorKey(det)]
		if !ok || t.names[u] != t.base.Detectors[i].Name {
			return nil, fmt.Errorf("replay: trace: detector %q at this setting was not traced", det.Name)
		}
		sel[u] = i
	}
	return sel, nil
}

// Run gives the Summary (and, to o.OnAlert, the alerts) RunDecoded gives
// for cfg, which the trace must cover (Covers), from the recorded
// judgements. It is safe to call concurrently.
func (t *Trace) Run(ctx context.Context, cfg *config.Config, o DecodedOptions) (*Summary, error) {
	sel, err := t.selection(cfg)
	if err != nil {
		return nil, err
	}
	policy := alerts.NewPolicy(cfg.Alerting, cfg.HTTP.PublicURL)
	hl := time.Duration(cfg.Alerting.PeakHalfLife)
	if hl <= 0 {
		hl = alerts.PeakHalfLife
	}
	s := t.shared
	s.eval.init(cfg)
	s.eval.feedback = t.d.feedGiven
	for i := range t.d.complaints {
		if c := &t.d.complaints[i]; !c.fb {
			s.eval.complaint(c.cust, c.t)
		}
	}
	type pstate struct {
		c   state.Customer
		gen int64
	}
	custs := make([]pstate, len(t.custs))
	var identity []byte
	for pi := range t.points {
		if pi&65535 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p := &t.points[pi]
		if p.fb != 0 {
			// As engine.Partition.Feedback: a recovery of one of the
			// customer's alerts, at or after it, under this setting.
			f := &t.fbs[p.fb-1]
			c := &custs[p.cust].c
			for _, a := range c.Alerts {
				if a.ID == f.alertID && a.Time <= f.t {
					c.Recovered = max(c.Recovered, f.t)
					break
				}
			}
			continue
		}
		// The setting's finding here: the best of its detectors' (an
		// experience), or the timer's if its detector is the setting's.
		var best found
		ok := false
		for _, fd := range t.finds[p.from:p.to] {
			i := sel[fd.det]
			if i < 0 {
				continue
			}
			fd.f.Detector, fd.f.Order = cfg.Detectors[i].Name, i
			if !ok || fd.f.Better(best.f) {
				best, ok = fd, true
			}
		}
		if p.timer && !ok {
			continue
		}
		ps := &custs[p.cust]
		if ps.gen != p.gen { // first seen, or expired and back: a fresh header
			ps.c, ps.gen = state.Customer{ID: t.custs[p.cust]}, p.gen
		}
		c := &ps.c
		c.LastAt = p.lastAt
		if p.info >= 0 {
			in := &t.infos[p.info]
			c.Tier, c.Value, c.Complaint = in.tier, in.value, in.complaint
		}
		f := best.f
		var a *alerts.Alert
		if !p.timer {
			// As engine.Partition.Apply: feel, then at most one alert.
			perceived := policy.Feel(c, p.t, hl, &f, ok)
			if !ok || policy.Decide(f, c, p.t) == alerts.Suppressed {
				continue
			}
			in := &t.infos[p.info]
			et := time.Unix(0, p.t)
			a = policy.Build(f, c, in.journey, in.identity, et, et, best.evidence, perceived)
			ref := state.AlertRef{ID: a.AlertID, Detector: a.Detector, Severity: uint8(a.Severity), Time: p.t, Reason: a.Reason}
			c.Cooldown = ref
			c.PushAlert(ref)
		} else {
			// As the engine's timerAlert.
			in := &t.infos[p.info]
			at := max(p.t, in.start)
			var perceived float64
			if in.felt {
				perceived = policy.Feel(c, at, hl, &f, true)
			} else {
				perceived = alerts.Perceived(c, at, hl)
			}
			if policy.Decide(f, c, at) == alerts.Suppressed {
				continue
			}
			identity = append(identity[:0], "timer\x00"...)
			identity = append(identity, in.key...)
			identity = strconv.AppendInt(append(identity, 0), in.start, 10)
			identity = strconv.AppendInt(append(identity, 0), int64(f.Severity), 10)
			a = policy.Build(f, c, in.journey, identity, time.Unix(0, in.start), time.Unix(0, at), best.evidence, perceived)
			a.ComplainedBefore = policy.ComplainedBefore(c, at)
			a.RecoveredBefore = policy.RecoveredBefore(c, at)
			ref := state.AlertRef{ID: a.AlertID, Detector: a.Detector, Severity: uint8(a.Severity), Time: at, Reason: a.Reason}
			if in.felt {
				c.Cooldown = ref
			}
			c.PushAlert(ref)
		}
		s.Alerts[a.Severity]++
		s.eval.alert(a)
		if o.OnAlert != nil {
			o.OnAlert(a)
		}
	}
	if err := applyFeedback(Options{Config: cfg}, &s, slices.Clone(t.d.feedback)); err != nil {
		return nil, err
	}
	return &s, nil
}
