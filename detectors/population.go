package detectors

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/store"

	"github.com/peakend/peakend/state"
)

// PopulationBuckets is how many time buckets a population's sliding window
// is cut into: the window slides by over/PopulationBuckets at a time.
const PopulationBuckets = 12

// relativeAccuracy of the DDSketches: values are placed within 1%.
const relativeAccuracy = 0.01

// refreshEvery is how many additions may pass before the cached tail
// threshold is recomputed (it is also recomputed whenever the window slides).
const refreshEvery = 128

// Population is a sliding, time-bucketed quantile sketch of one detector's
// metric in one partition (DataDog's DDSketch, 1% relative accuracy). Time
// is event time, so it slides identically in replay and live. It is owned
// by its partition's goroutine.
type Population struct {
	name    string
	width   int64 // bucket width, ns
	buckets map[int64]*ddsketch.DDSketch
	live    *ddsketch.DDSketch // the merge of all buckets in the window
	newest  int64              // newest bucket index seen
	dirty   map[int64]bool     // buckets to write (true) or delete (false)

	tailQ     float64 // quantile below which Rank need not be computed
	tailIdx   int     // cached sketch index of tailQ
	tailBelow float64 // values in bins below tailIdx at the last refresh
	sinceTail int     // values added since the last refresh
}

// NewPopulation returns an empty population sliding over `over`. tailQ is
// the lowest quantile its detector cares about.
func NewPopulation(name string, over time.Duration, tailQ float64) *Population {
	w := int64(over) / PopulationBuckets
	if w <= 0 {
		w = 1
	}
	return &Population{
		name: name, width: w, buckets: map[int64]*ddsketch.DDSketch{}, live: newSketch(),
		newest: math.MinInt64, dirty: map[int64]bool{}, tailQ: tailQ, tailIdx: math.MinInt,
	}
}

func newSketch() *ddsketch.DDSketch {
	s, err := ddsketch.LogUnboundedDenseDDSketch(relativeAccuracy)
	if err != nil {
		panic(err) // only for an invalid accuracy constant
	}
	return s
}

// Name is the population's storage name (the detector's name).
func (p *Population) Name() string { return p.name }

// Count is the number of values in the window.
func (p *Population) Count() float64 { return p.live.GetCount() }

func (p *Population) inWindow(b int64) bool {
	return p.newest == math.MinInt64 || b > p.newest-PopulationBuckets
}

func (p *Population) bucket(t int64) int64 {
	b := t / p.width
	if t < 0 && t%p.width != 0 {
		b-- // floor division
	}
	return b
}

// Advance slides the window so that it ends at event time t, if t is newer
// than anything seen. Detectors call it before judging an event, so that a
// population is never older than the event it judges.
func (p *Population) Advance(t int64) {
	if b := p.bucket(t); b > p.newest {
		p.slide(b)
	}
}

// Add records value v at event time t (unix ns). Values older than the window are ignored.
func (p *Population) Add(t int64, v float64) {
	p.Advance(t)
	b := p.bucket(t)
	if !p.inWindow(b) || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	s := p.buckets[b]
	if s == nil {
		s = newSketch()
		p.buckets[b] = s
	}
	_ = s.Add(v) // errors only for values beyond the mapping's range (±1e300)
	_ = p.live.Add(v)
	p.dirty[b] = true
	p.sinceTail++
}

// slide moves the window so that b is the newest bucket.
func (p *Population) slide(b int64) {
	p.newest = b
	dropped := false
	for k := range p.buckets {
		if !p.inWindow(k) {
			delete(p.buckets, k)
			p.dirty[k] = false
			dropped = true
		}
	}
	if dropped {
		p.rebuild()
	}
}

func (p *Population) rebuild() {
	p.live = newSketch()
	for _, s := range p.buckets {
		_ = p.live.MergeWith(s)
	}
	p.sinceTail = refreshEvery // force a tail refresh
}

// Rank returns the estimated percentile rank of v in the window: the share
// of values below it (counting values in v's own bin as half). With n
// values, no rank above n/(n+1) is claimed: 500 samples cannot show that
// something is rarer than 1 in 501.
//
// Rank is exact whenever the result is at least the detector's tail
// quantile; below it, Rank may return 0 instead. The shortcut is proven, not
// estimated: since the last refresh at most sinceTail values were added, so
// a value under the cached tail bin has rank at most
// (tailBelow+sinceTail)/n, and only when that bound is under the tail
// quantile is the rank skipped. So a verdict never depends on when the
// cache was refreshed (after a restart, say). v <= 0 is never rare.
func (p *Population) Rank(v float64) float64 {
	n := p.live.GetCount()
	if n == 0 || !(v > p.live.MinIndexableValue()) {
		return 0
	}
	if p.sinceTail >= refreshEvery {
		p.refreshTail()
	}
	idx := p.live.Index(v)
	if idx < p.tailIdx && (p.tailBelow+float64(p.sinceTail))/n < p.tailQ {
		return 0
	}
	below, same := p.countBelow(idx)
	r := (below + same/2) / n
	return math.Min(r, n/(n+1))
}

// countBelow returns how many values lie in bins below idx, and in bin idx.
func (p *Population) countBelow(idx int) (below, same float64) {
	below = p.live.GetNegativeValueStore().TotalCount() + p.live.GetZeroCount()
	p.live.GetPositiveValueStore().ForEach(func(i int, c float64) bool {
		switch {
		case i < idx:
			below += c
		case i == idx:
			same = c
		default:
			return true
		}
		return false
	})
	return below, same
}

func (p *Population) refreshTail() {
	p.sinceTail = 0
	p.tailIdx, p.tailBelow = math.MinInt, 0
	if q, err := p.live.GetValueAtQuantile(p.tailQ); err == nil && q > p.live.MinIndexableValue() {
		p.tailIdx = p.live.Index(q)
		p.tailBelow, _ = p.countBelow(p.tailIdx)
	}
}

// Load merges a stored bucket (written by Flush) into the population.
func (p *Population) Load(bucket int64, b []byte) error {
	s, err := ddsketch.DecodeDDSketch(b, store.DenseStoreConstructor, nil)
	if err != nil {
		return fmt.Errorf("population %s bucket %d: %w: %v", p.name, bucket, state.ErrCorrupt, err)
	}
	p.buckets[bucket] = s
	if bucket > p.newest {
		p.newest = bucket
	}
	for k := range p.buckets {
		if !p.inWindow(k) {
			delete(p.buckets, k)
			p.dirty[k] = false
		}
	}
	p.rebuild()
	return nil
}

// Flush writes the buckets changed since the last Flush into b.
func (p *Population) Flush(b *state.Batch) error {
	if len(p.dirty) == 0 {
		return nil
	}
	keys := make([]int64, 0, len(p.dirty))
	for k := range p.dirty {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var buf []byte
	for _, k := range keys {
		var err error
		if s, ok := p.buckets[k]; ok && p.dirty[k] {
			buf = buf[:0]
			s.Encode(&buf, false)
			err = b.PutPopulation(p.name, k, buf)
		} else {
			err = b.DeletePopulation(p.name, k)
		}
		if err != nil {
			return err
		}
	}
	clear(p.dirty)
	return nil
}

// Quantile returns the estimated value at quantile q of the window, or
// false if the window is empty.
func (p *Population) Quantile(q float64) (float64, bool) {
	if p.live.GetCount() == 0 {
		return 0, false
	}
	v, err := p.live.GetValueAtQuantile(q)
	return v, err == nil
}

// Width is the time the window slides by at a time (over/PopulationBuckets).
func (p *Population) Width() time.Duration { return time.Duration(p.width) }
