package hotspots

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/internal/human"
)

// Aggregator sums the partial counts of every source partition and
// decides: a window is decided only once every source's watermark has
// passed its end. It is safe for concurrent use (one mutex: the partitions
// ask OpenHotspot only when an alert fires). Its state is serialisable
// (Encode, Decode) for the next slice's Pebble store and changelog.
type Aggregator struct {
	mu      sync.Mutex
	rules   []*Rule
	byName  map[string]int
	sources int
	wm      map[int32]int64 // per source: the latest watermark
	// last: per source, the counts of its last live partial (Partial.Base),
	// to replace them if the same cycle comes again after a crash.
	last map[int32]*Partial
	rs   []*ruleState
	// dirty: what changed since the last Changes, per key.
	dirty map[string]*dirtyKey
	// Now gives detected_at for live use; nil (replay) uses the window's end.
	Now func() time.Time
}

type ruleState struct {
	keys    map[string]*series // by hotspot key
	total   map[int64]*counts  // per step: every key (the journey's overall rate)
	next    int64              // end of the next window to decide; 0 = nothing seen yet
	decided bool               // a window has been decided
}

type series struct {
	values []string
	steps  map[int64]*counts
	hot    *episode
}

type counts struct {
	events, bad int64
	customers   []uint64 // sorted, distinct, at most MaxStepCustomers
	alerted     []string // at most MaxAlerted
}

// episode is an open hotspot.
type episode struct {
	id       string
	start    int64 // the window start at opening
	severity alerts.Severity
	usual    float64 // the usual rate at opening: escalation and closing compare with it
}

// NewAggregator returns an aggregator of rules over sources partitions.
func NewAggregator(rules []*Rule, sources int) *Aggregator {
	a := &Aggregator{rules: rules, byName: map[string]int{}, sources: sources, wm: map[int32]int64{}, last: map[int32]*Partial{},
		dirty: map[string]*dirtyKey{}}
	for i, r := range rules {
		a.byName[r.Name] = i
		a.rs = append(a.rs, &ruleState{keys: map[string]*series{}, total: map[int64]*counts{}})
	}
	return a
}

// Add folds one partial in and returns the hotspot alerts of every window
// the sources' watermarks now all have passed, in decision order.
//
// A live partial (Partial.Live) adds its cells to their keys and its
// Totals to the journey's; a replay partial adds each cell to both. A live
// partial of a cycle older than the source's last one counted is a repeat
// and is dropped; one of the same cycle (the same Base: the cycle was done
// again after a crash, at least once) replaces the last one's counts.
func (a *Aggregator) Add(p *Partial) []*alerts.Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p.Live {
		if int(p.Sources) > a.sources {
			a.sources = int(p.Sources)
		}
		if l := a.last[p.Source]; l != nil {
			if p.Base < l.Base {
				return nil
			}
			if p.Base == l.Base {
				a.sub(l)
			}
		}
		a.last[p.Source] = p.counts()
	}
	for i := range p.Cells {
		a.addCell(&p.Cells[i], !p.Live)
	}
	for _, t := range p.Totals {
		if ri, ok := a.byName[t.Rule]; ok {
			a.addTotal(ri, t.Step, t.Events, t.Bad)
		}
	}
	if p.Watermark > a.wm[p.Source] {
		a.wm[p.Source] = p.Watermark
	} else if _, ok := a.wm[p.Source]; !ok {
		a.wm[p.Source] = p.Watermark
	}
	return a.decide()
}

// dirtyKey is what changed of one key: its own part (values, episode),
// and steps.
type dirtyKey struct {
	meta  bool
	steps map[int64]bool
}

// noStep marks a key's own part in touch.
const noStep = math.MinInt64

// touch notes a change of key's step, or of its own part (noStep), for
// Changes.
func (a *Aggregator) touch(key string, step int64) {
	d := a.dirty[key]
	if d == nil {
		d = &dirtyKey{steps: map[int64]bool{}}
		a.dirty[key] = d
	}
	if step == noStep {
		d.meta = true
	} else {
		d.steps[step] = true
	}
}

// Repeat reports whether a live partial is of a cycle of its source
// already counted (Add replaces or drops it).
func (a *Aggregator) Repeat(p *Partial) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.last[p.Source]
	return p.Live && l != nil && p.Base <= l.Base
}

func (a *Aggregator) addCell(c *Cell, total bool) {
	ri, ok := a.byName[c.Rule]
	if !ok || len(c.Values) != len(a.rules[ri].By) {
		return // a rule no longer configured
	}
	r, st := a.rules[ri], a.rs[ri]
	key := r.Key(c.Values)
	s := st.keys[key]
	if s == nil {
		s = &series{values: slices.Clone(c.Values), steps: map[int64]*counts{}}
		st.keys[key] = s
		a.touch(key, noStep)
	}
	a.touch(key, c.Step)
	x := s.steps[c.Step]
	if x == nil {
		x = &counts{}
		s.steps[c.Step] = x
	}
	x.events += c.Events
	x.bad += c.Bad
	for _, h := range c.Customers {
		x.addCustomer(h)
	}
	for _, id := range c.Alerted {
		if len(x.alerted) < MaxAlerted && !slices.Contains(x.alerted, id) {
			x.alerted = append(x.alerted, id)
		}
	}
	if total {
		a.addTotal(ri, c.Step, c.Events, c.Bad)
	}
}

// addTotal counts into the journey's counts of rule ri.
func (a *Aggregator) addTotal(ri int, step, events, bad int64) {
	r, st := a.rules[ri], a.rs[ri]
	t := st.total[step]
	if t == nil {
		t = &counts{}
		st.total[step] = t
	}
	t.events += events
	t.bad += bad
	// Nothing decided yet: start at the end of the earliest step seen. Once
	// deciding, a late step is counted (later windows include it), never
	// decided again.
	if !st.decided && (st.next == 0 || step+r.Step < st.next) {
		st.next = step + r.Step
	}
}

// sub takes a live partial's event and bad counts back out (customer sets
// are unions: adding the same customers again changes nothing). Steps
// already pruned are passed over.
func (a *Aggregator) sub(p *Partial) {
	for i := range p.Cells {
		c := &p.Cells[i]
		ri, ok := a.byName[c.Rule]
		if !ok || len(c.Values) != len(a.rules[ri].By) {
			continue
		}
		key := a.rules[ri].Key(c.Values)
		if s := a.rs[ri].keys[key]; s != nil {
			a.touch(key, c.Step)
			if x := s.steps[c.Step]; x != nil {
				x.events -= c.Events
				x.bad -= c.Bad
			}
		}
	}
	for _, t := range p.Totals {
		if ri, ok := a.byName[t.Rule]; ok {
			if x := a.rs[ri].total[t.Step]; x != nil {
				x.events -= t.Events
				x.bad -= t.Bad
			}
		}
	}
}

// counts is p without its customer sets: what sub needs.
func (p *Partial) counts() *Partial {
	q := &Partial{Source: p.Source, Watermark: p.Watermark, Live: p.Live, Sources: p.Sources, Base: p.Base,
		Totals: slices.Clone(p.Totals), Cells: make([]Cell, len(p.Cells))}
	for i, c := range p.Cells {
		q.Cells[i] = Cell{Rule: c.Rule, Values: c.Values, Step: c.Step, Events: c.Events, Bad: c.Bad}
	}
	return q
}

func (x *counts) addCustomer(h uint64) {
	i, found := slices.BinarySearch(x.customers, h)
	if !found && len(x.customers) < MaxStepCustomers {
		x.customers = slices.Insert(x.customers, i, h)
	}
}

// low is the lowest watermark of the sources, once every source has one.
func (a *Aggregator) low() (int64, bool) {
	if len(a.wm) < a.sources {
		return 0, false
	}
	low, first := int64(0), true
	for _, w := range a.wm {
		if first || w < low {
			low, first = w, false
		}
	}
	return low, true
}

// Watermark is the watermark every source has passed (false until each
// has reported one).
func (a *Aggregator) Watermark() (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	low, ok := a.low()
	return time.Unix(0, low).UTC(), ok
}

func (a *Aggregator) decide() []*alerts.Alert {
	low, ok := a.low()
	if !ok {
		return nil
	}
	var out []*alerts.Alert
	for ri, r := range a.rules {
		st := a.rs[ri]
		if st.next == 0 {
			continue
		}
		for st.next <= low {
			if !st.anyHot() {
				// Skip the windows with nothing in them (a gap in the input,
				// or a watermark far ahead): they would decide nothing.
				first, ok := firstStep(st.total, st.next-r.Window)
				if !ok {
					st.next = floorStep(low, r.Step) + r.Step
					a.prune(ri)
					break
				}
				if first+r.Step > st.next {
					st.next = first + r.Step
					if st.next > low {
						break
					}
				}
			}
			out = a.evaluate(ri, st.next, out)
			st.decided = true
			st.next += r.Step
			a.prune(ri)
		}
	}
	return out
}

func (st *ruleState) anyHot() bool {
	for _, s := range st.keys {
		if s.hot != nil {
			return true
		}
	}
	return false
}

// firstStep is the earliest step at or after from with counts.
func firstStep(steps map[int64]*counts, from int64) (int64, bool) {
	first, ok := int64(0), false
	for s := range steps {
		if s >= from && (!ok || s < first) {
			first, ok = s, true
		}
	}
	return first, ok
}

// sum adds the counts of steps [from, to).
func sum(steps map[int64]*counts, from, to, step int64) (events, bad int64) {
	if int64(len(steps)) < (to-from)/step {
		for s, x := range steps {
			if s >= from && s < to {
				events, bad = events+x.events, bad+x.bad
			}
		}
		return events, bad
	}
	for s := from; s < to; s += step {
		if x := steps[s]; x != nil {
			events, bad = events+x.events, bad+x.bad
		}
	}
	return events, bad
}

func rate(bad, events int64) float64 {
	if events <= 0 {
		return 0
	}
	return float64(bad) / float64(events)
}

// evaluate decides the window ending at end for every key of rule ri.
func (a *Aggregator) evaluate(ri int, end int64, out []*alerts.Alert) []*alerts.Alert {
	r, st := a.rules[ri], a.rs[ri]
	ws := end - r.Window
	bs := ws - r.Baseline
	je, jb := sum(st.total, ws, end, r.Step)
	jbe, jbb := sum(st.total, bs, ws, r.Step)
	for _, key := range slices.Sorted(maps.Keys(st.keys)) {
		s := st.keys[key]
		ev, bad := sum(s.steps, ws, end, r.Step)
		if ev == 0 && s.hot == nil {
			continue
		}
		be, bb := sum(s.steps, bs, ws, r.Step)
		usual, known := rate(bb, be), be >= r.MinEvents
		if !known { // a value never (or hardly) seen before: the journey's overall rate
			usual, known = rate(jbb, jbe), jbe >= r.MinEvents
		}
		w := window{ri: ri, key: key, s: s, start: ws, end: end, events: ev, bad: bad,
			rate: rate(bad, ev), usual: usual, others: rate(jb-bad, je-ev)}
		switch ep := s.hot; {
		case ep == nil:
			if known && ev >= r.MinEvents && w.rate >= r.MinRate && w.rate >= r.Factor*usual {
				sev := r.Severity
				if w.rate >= 2*r.Factor*usual && w.rate > 0 {
					sev = alerts.Critical
				}
				s.hot = &episode{id: episodeID(r.Name, key, ws), start: ws, severity: sev, usual: usual}
				a.touch(key, noStep)
				out = append(out, a.alert(&w, alerts.HotspotOpen))
			}
		case w.rate < r.Factor*ep.usual/2 || w.rate < r.MinRate/2:
			out = append(out, a.alert(&w, alerts.HotspotClosed))
			s.hot = nil
			a.touch(key, noStep)
		case ep.severity < alerts.Critical && ev >= r.MinEvents && w.rate >= 2*r.Factor*ep.usual && w.rate >= r.MinRate:
			ep.severity = alerts.Critical
			a.touch(key, noStep)
			out = append(out, a.alert(&w, alerts.HotspotEscalated))
		}
	}
	return out
}

// window is one key's figures for one decided window.
type window struct {
	ri                  int
	key                 string
	s                   *series
	start, end          int64
	events, bad         int64
	rate, usual, others float64
}

// prune forgets steps no window will need again, and keys left empty.
func (a *Aggregator) prune(ri int) {
	r, st := a.rules[ri], a.rs[ri]
	oldest := st.next - r.Window - r.Baseline
	for s := range st.total {
		if s < oldest {
			delete(st.total, s)
		}
	}
	for key, s := range st.keys {
		for step := range s.steps {
			if step < oldest {
				delete(s.steps, step)
				a.touch(key, step)
			}
		}
		if len(s.steps) == 0 && s.hot == nil {
			delete(st.keys, key)
			a.touch(key, noStep)
		}
	}
}

// OpenHotspot implements Lookup.
func (a *Aggregator) OpenHotspot(key string, t int64) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ri, r := range a.rules {
		if !strings.HasPrefix(key, "hotspot/"+r.Name+"/") {
			continue
		}
		if s := a.rs[ri].keys[key]; s != nil && s.hot != nil && s.hot.start <= t {
			return s.hot.id, true
		}
	}
	return "", false
}

// episodeID is a hotspot episode's id: the rule, the key and the window
// start at opening.
func episodeID(name, key string, start int64) string {
	h := sha256.Sum256([]byte("hotspot\x00" + name + "\x00" + key + "\x00" + strconv.FormatInt(start, 10)))
	return hex.EncodeToString(h[:16])
}

func round(x float64) float64 { return math.Round(x*1e4) / 1e4 }

func (a *Aggregator) alert(w *window, state string) *alerts.Alert {
	r, s, ep := a.rules[w.ri], w.s, w.s.hot
	var customers []uint64
	for step := w.start; step < w.end; step += r.Step {
		if x := s.steps[step]; x != nil {
			customers = append(customers, x.customers...)
		}
	}
	slices.Sort(customers)
	customers = slices.Compact(customers)
	values := make(map[string]string, len(r.By))
	for i, attr := range r.By {
		values[attr] = s.values[i]
	}
	info := &alerts.HotspotInfo{Name: r.Name, Values: values, Journey: r.Journey,
		WindowStart: time.Unix(0, w.start).UTC(), WindowEnd: time.Unix(0, w.end).UTC(),
		Events: w.events, Bad: w.bad, Rate: round(w.rate), UsualRate: round(ep.usual), OthersRate: round(w.others),
		Customers: int64(len(customers)), State: state, Key: w.key}
	if state == alerts.HotspotOpen {
		var ids []string
		for step := w.start; step < w.end; step += r.Step {
			if x := s.steps[step]; x != nil {
				ids = append(ids, x.alerted...)
			}
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		if len(ids) > MaxAlerted {
			ids = ids[:MaxAlerted]
		}
		info.AlertedCustomers = ids
	}
	end := time.Unix(0, w.end).UTC()
	detected := end
	if a.Now != nil {
		detected = a.Now().UTC()
	}
	return &alerts.Alert{
		AlertID:    alerts.AlertID(r.Name, "", []byte(ep.id+"\x00"+state+"\x00"+ep.severity.String())),
		Detector:   r.Name,
		Journey:    r.Journey,
		Severity:   ep.severity,
		Score:      round(math.Min(1, w.rate)),
		Reason:     reason(r, s.values, info, w.end-w.start),
		EventTime:  end,
		DetectedAt: detected,
		Evidence:   []alerts.Evidence{},
		Kind:       alerts.KindHotspot,
		HotspotID:  ep.id,
		Hotspot:    info,
	}
}

// reason phrases a hotspot alert: "carrier Y in region X: 38% of
// deliveries bad (late_delivery, broken_promise) in the last 6 hours,
// usually 4%; 212 customers affected".
func reason(r *Rule, values []string, h *alerts.HotspotInfo, window int64) string {
	var who strings.Builder
	for i, attr := range r.By {
		if i > 0 {
			who.WriteString(" in ")
		}
		who.WriteString(strings.ReplaceAll(attr, "_", " ") + " " + values[i])
	}
	what := "bad (" + strings.Join(r.Detectors, ", ") + ")"
	if len(r.Outcomes) > 0 {
		what = strings.Join(r.Outcomes, " or ")
	}
	figures := fmt.Sprintf("%s of %s %s in the last %s (to %s), usually %s; %d customers affected",
		percent(h.Rate), human.Journeys(r.Journey), what, human.Duration(time.Duration(window)),
		h.WindowEnd.Format("Jan 2 15:04 UTC"), percent(h.UsualRate), h.Customers)
	switch h.State {
	case alerts.HotspotEscalated:
		return who.String() + ": getting worse: " + figures
	case alerts.HotspotClosed:
		return who.String() + ": back to normal: " + figures
	}
	return who.String() + ": " + figures
}

// percent is a rate as a person reads it at once: "38%", "4.2%", "0.3%".
func percent(r float64) string {
	p := r * 100
	if p >= 10 {
		return strconv.FormatFloat(math.Round(p), 'f', 0, 64) + "%"
	}
	return strings.TrimSuffix(strconv.FormatFloat(p, 'f', 1, 64), ".0") + "%"
}
