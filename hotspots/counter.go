package hotspots

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/event"
)

// Partial is one source partition's counts of one cycle, with its
// watermark: the unit the next slice produces to `peakend-<group>-hotspots`
// (each Cell keyed by its hotspot key) and the Aggregator consumes.
type Partial struct {
	Source    int32  `json:"source"`    // the input partition
	Watermark int64  `json:"watermark"` // unix ns: the source's watermark after this cycle
	Cells     []Cell `json:"cells,omitempty"`
	// Live partials (the hotspots topic, live.go) carry the rest: each
	// destination partition gets the cells of its keys (Split), and the
	// totals of every key, so that the journey's overall rate is the same
	// on every owner.
	Live bool `json:"live,omitempty"`
	// Sources is the number of source partitions (the input topic's).
	Sources int32 `json:"sources,omitempty"`
	// Base identifies the source's cycle: the sequence number of its
	// partial, kept in the source partition's state. A cycle done again
	// after a crash has the same Base, so the Aggregator replaces its
	// counts instead of adding them twice.
	Base   int64   `json:"base,omitempty"`
	Totals []Total `json:"totals,omitempty"`
}

// Total is one cycle's counts of every key of one rule in one step.
type Total struct {
	Rule   string `json:"rule"`
	Step   int64  `json:"step"`
	Events int64  `json:"e"`
	Bad    int64  `json:"b"`
}

// Cell is the counts of one hotspot key in one event-time step, added by
// one cycle of one partition (deltas).
type Cell struct {
	Rule   string   `json:"rule"`
	Values []string `json:"values"` // in the rule's `by` order; None for a missing attribute
	Step   int64    `json:"step"`   // the step's start, unix ns
	Events int64    `json:"e"`
	Bad    int64    `json:"b"`
	// Customers are hashes (xxhash64 of the id) of the distinct customers
	// with a bad experience, at most MaxStepCustomers per cell.
	Customers []uint64 `json:"c,omitempty"`
	// Alerted are the ids of customers whose alert came from a bad
	// experience counted here, at most MaxAlerted per cell.
	Alerted []string `json:"a,omitempty"`
}

// MaxStepCustomers bounds the distinct customers counted per key and step
// (in a Cell and in the Aggregator): beyond it a hotspot's `customers` is a
// lower bound.
const MaxStepCustomers = 512

// MaxAlerted bounds the customer ids a hotspot alert lists.
const MaxAlerted = 100

// Lookup tells a partition which hotspots are open, so that a customer
// alert names the one its experience falls in. The Aggregator is one.
type Lookup interface {
	// OpenHotspot returns the id of the open hotspot with this key, if its
	// window started at or before t (unix ns).
	OpenHotspot(key string, t int64) (id string, ok bool)
}

// Counter counts one partition's experiences for every rule. It is owned
// by the partition's goroutine. The steady state allocates nothing per
// event: one map lookup (by the key's bytes) per rule that matches.
type Counter struct {
	rules  []*Rule
	index  map[string]int32 // rule, step and values → cells
	cells  []cell
	keyBuf []byte
	last   []int32 // per rule: the cell of the last counted experience if it was bad, else -1
	lookup Lookup
	// flushed: the cycle's counts went out (Flush); the Reset that follows
	// the commit has nothing to drop.
	flushed bool
}

type cell struct {
	rule      int32
	step      int64
	values    []string
	key       string // in index
	events    int64
	bad       int64
	customers []uint64
	alerted   []string
	touched   bool
}

// NewCounter returns a counter for rules; lookup may be nil.
func NewCounter(rules []*Rule, lookup Lookup) *Counter {
	c := &Counter{rules: rules, index: map[string]int32{}, last: make([]int32, len(rules)), lookup: lookup}
	c.clearLast()
	return c
}

func (c *Counter) clearLast() {
	for i := range c.last {
		c.last[i] = -1
	}
}

// Event counts one experience (after the detectors judged it: findings are
// theirs), at its event time.
func (c *Counter) Event(ev *event.Event, findings []alerts.Finding) {
	c.clearLast()
	for ri, r := range c.rules {
		if ev.Journey != r.Journey {
			continue
		}
		bad := slices.Contains(r.Outcomes, ev.Outcome) && ev.Outcome != ""
		for i := range findings {
			if !bad && r.badFinding(&findings[i]) {
				bad = true
			}
		}
		c.add(ri, ev.Time, ev, bad, ev.CustomerID)
	}
}

// Timer counts a timed detector's finding f (deadline, overdue) at its due
// time at, with the attributes of the journey's start event (nil when it
// is no longer in the customer's window: all attributes then count as
// None). Only rules that list the detector count it: it is one bad unit.
func (c *Counter) Timer(f *alerts.Finding, journey, customer string, at int64, start *event.Event) {
	c.clearLast()
	for ri, r := range c.rules {
		if journey != r.Journey || !r.badFinding(f) {
			continue
		}
		c.add(ri, at, start, true, customer)
	}
}

func (c *Counter) add(ri int, t int64, ev *event.Event, bad bool, customer string) {
	r := c.rules[ri]
	step := floorStep(t, r.Step)
	b := binary.BigEndian.AppendUint32(c.keyBuf[:0], uint32(ri))
	b = binary.BigEndian.AppendUint64(b, uint64(step))
	for _, a := range r.By {
		v, ok := "", false
		if ev != nil {
			v, ok = ev.Attr(a)
		}
		if !ok {
			v = None
		}
		b = append(b, v...)
		b = append(b, 0)
	}
	c.keyBuf = b
	i, ok := c.index[string(b)]
	if !ok {
		i = int32(len(c.cells))
		key := string(b)
		values := make([]string, len(r.By)) // the values again: one may hold a NUL byte
		for j, a := range r.By {
			v, ok := "", false
			if ev != nil {
				v, ok = ev.Attr(a)
			}
			values[j] = None
			if ok {
				values[j] = strings.Clone(v)
			}
		}
		c.cells = append(c.cells, cell{rule: int32(ri), step: step, values: values, key: key})
		c.index[key] = i
	}
	c.flushed = false
	x := &c.cells[i]
	x.touched = true
	x.events++
	if !bad {
		return
	}
	x.bad++
	c.last[ri] = i
	if len(x.customers) < MaxStepCustomers {
		h := xxhash.Sum64String(customer)
		if !slices.Contains(x.customers, h) {
			x.customers = append(x.customers, h)
		}
	}
}

// Alerted notes that customer's alert came from the experience counted
// last (Event or Timer), and returns the id of the open hotspot it falls in
// ("" if none): the first rule's, in config order.
func (c *Counter) Alerted(customer string) string {
	id := ""
	for ri, i := range c.last {
		if i < 0 {
			continue
		}
		x := &c.cells[i]
		if len(x.alerted) < MaxAlerted && !slices.Contains(x.alerted, customer) {
			x.alerted = append(x.alerted, customer)
		}
		if id == "" && c.lookup != nil {
			if h, ok := c.lookup.OpenHotspot(c.rules[ri].Key(x.values), x.step); ok {
				id = h
			}
		}
	}
	return id
}

// Flush appends the cycle's counts to p (deltas since the last Flush or
// Reset) and sets its watermark; the counter starts the next cycle at zero.
// Cells idle for a whole cycle are forgotten.
func (c *Counter) Flush(source int32, watermark int64, p *Partial) {
	p.Source, p.Watermark = source, watermark
	for i := range c.cells {
		x := &c.cells[i]
		if !x.touched {
			continue
		}
		p.Cells = append(p.Cells, Cell{Rule: c.rules[x.rule].Name, Values: x.values, Step: x.step,
			Events: x.events, Bad: x.bad, Customers: slices.Clone(x.customers), Alerted: slices.Clone(x.alerted)})
	}
	c.endCycle()
	c.flushed = true
}

// Reset drops the cycle's counts (a discarded cycle); after a Flush it does
// nothing.
func (c *Counter) Reset() {
	if c.flushed {
		c.flushed = false
		return
	}
	c.endCycle()
}

func (c *Counter) endCycle() {
	c.clearLast()
	n := 0
	for i := range c.cells {
		x := c.cells[i]
		if !x.touched {
			delete(c.index, x.key)
			continue
		}
		x.touched, x.events, x.bad = false, 0, 0
		x.customers, x.alerted = x.customers[:0], x.alerted[:0]
		c.cells[n] = x
		c.index[x.key] = int32(n)
		n++
	}
	clear(c.cells[n:])
	c.cells = c.cells[:n]
}
