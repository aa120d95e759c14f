package engine_test

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/state"
)

// shopGen is a shop's delivery journeys as an endless stream, in event-time
// order: orders placed evenly, each by one of `customers` customers chosen
// at random, promised 15–30 days out, shipped within 1–4 days and delivered
// 2 days or more later, 1 in 40 after its promise (3 hours to 4 days after
// it), with the delay in hours on the delivered event. An order is open
// from its promise to its delivery: about 13.5 days on average, so
// orders/day × 13.5 are open at once once the stream has run for a month.
// Only the rate scales with the open population; the shape does not.
type shopGen struct {
	r         *rand.Rand
	customers int
	step      time.Duration // between two orders
	nextOrder time.Time
	orders    int
	later     shopHeap // shipped and delivered events to come
	open      int      // orders promised and not yet delivered
	buf       []byte
}

type shopEv struct {
	at       time.Time
	order    int
	cust     int
	outcome  byte // 's' shipped, 'd' delivered
	promised time.Time
}

type shopHeap []shopEv

func (h shopHeap) Len() int           { return len(h) }
func (h shopHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h shopHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *shopHeap) Push(x any)        { *h = append(*h, x.(shopEv)) }
func (h *shopHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// shopLateOneIn: one order in shopLateOneIn is delivered after its promise.
const shopLateOneIn = 40

// shopOpenDays is the average number of days an order stays open.
const shopOpenDays = 13.5

// newShopGen returns a stream in which about `open` orders are open at once
// (after a month of it), over as many customers.
func newShopGen(open int) *shopGen {
	perDay := float64(open) / shopOpenDays
	return &shopGen{
		r:         rand.New(rand.NewPCG(1, 2)),
		customers: open,
		step:      time.Duration(float64(24*time.Hour) / perDay),
		nextOrder: t0,
	}
}

// next fills evs (reusing its slices' memory) with the next len(evs) events.
func (g *shopGen) next(evs [][]byte) {
	const day = 24 * time.Hour
	g.buf = g.buf[:0]
	ends := make([]int, len(evs))
	for i := range evs {
		if len(g.later) > 0 && !g.later[0].at.After(g.nextOrder) {
			e := heap.Pop(&g.later).(shopEv)
			if e.outcome == 's' {
				g.buf = g.event(g.buf, 's', e.order, e.cust, e.at, "shipped", nil, -1)
				var delivered time.Time
				if g.r.IntN(shopLateOneIn) == 0 {
					delivered = e.promised.Add(3*time.Hour + time.Duration(g.r.Int64N(int64(4*day))))
				} else {
					room := e.promised.Add(-2*time.Hour).Sub(e.at) - 2*day // at least 9 days
					delivered = e.at.Add(2*day + time.Duration(g.r.Int64N(int64(room))))
				}
				heap.Push(&g.later, shopEv{at: delivered, order: e.order, cust: e.cust, outcome: 'd', promised: e.promised})
			} else {
				delay := max(e.at.Sub(e.promised).Hours(), 0)
				g.buf = g.event(g.buf, 'd', e.order, e.cust, e.at, "delivered", nil, delay)
				g.open--
			}
		} else {
			at, id, cust := g.nextOrder, g.orders, g.r.IntN(g.customers)
			g.orders++
			g.nextOrder = at.Add(g.step)
			promised := at.Add(15*day + time.Duration(g.r.Int64N(int64(15*day))))
			shipped := at.Add(day + time.Duration(g.r.Int64N(int64(3*day))))
			g.buf = g.event(g.buf, 'p', id, cust, at, "promised", &promised, -1)
			heap.Push(&g.later, shopEv{at: shipped, order: id, cust: cust, outcome: 's', promised: promised})
			g.open++
		}
		ends[i] = len(g.buf)
	}
	start := 0
	for i, end := range ends {
		evs[i] = g.buf[start:end:end]
		start = end
	}
}

func (g *shopGen) event(b []byte, kind byte, order, cust int, at time.Time, outcome string, promised *time.Time, delay float64) []byte {
	b = append(b, `{"event_id":"`...)
	b = strconv.AppendInt(append(b, kind), int64(order), 10)
	b = append(b, `","customer_id":"c`...)
	b = strconv.AppendInt(b, int64(cust), 10)
	b = at.UTC().AppendFormat(append(b, `","time":"`...), time.RFC3339Nano)
	b = append(append(append(b, `","journey":"delivery","outcome":"`...), outcome...), '"')
	if delay >= 0 {
		b = strconv.AppendFloat(append(b, `,"metrics":{"delay_hours":`...), delay, 'f', 1, 64)
		b = append(b, '}')
	}
	b = strconv.AppendInt(append(b, `,"attributes":{"order_id":"o-`...), int64(order), 10)
	b = append(b, '"')
	if promised != nil {
		b = promised.UTC().AppendFormat(append(b, `,"promised_by":"`...), time.RFC3339)
		b = append(b, '"')
	}
	return append(b, "}}"...)
}

// shopDetectors is the detector set of a shop watching its deliveries: a
// broken promise (deadline), two predictions (overdue: dispatch and
// delivery), a rarity and a threshold on the delay.
func shopDetectors() []config.Detector {
	f := func(x float64) *float64 { return &x }
	return []config.Detector{
		{Name: "late_delivery", Type: config.TypeThreshold, Journey: "delivery", Metric: "delay_hours", Minor: f(24), Major: f(72), Critical: f(168)},
		{Name: "rare_delay", Type: config.TypeRarity, Journey: "delivery", Metric: "delay_hours", Minor: f(0.99), Major: f(0.999), Over: config.Duration(720 * time.Hour), MinSamples: 500},
		{Name: "broken_promise", Type: config.TypeDeadline, Journey: "delivery", Start: &config.Match{Outcome: "promised"},
			DeadlineAttribute: "promised_by", Grace: config.Duration(2 * time.Hour), Until: &config.Match{Outcome: "delivered"}, Severity: "major"},
		{Name: "slow_dispatch", Type: config.TypeOverdue, Journey: "delivery", Start: &config.Match{Outcome: "promised"},
			Until: &config.Match{Outcome: "shipped"}, Minor: f(0.99), Major: f(0.999), Over: config.Duration(720 * time.Hour), MinSamples: 200},
		{Name: "running_late", Type: config.TypeOverdue, Journey: "delivery", Start: &config.Match{Outcome: "shipped"},
			Until: &config.Match{Outcome: "delivered"}, Minor: f(0.99), Major: f(0.999), Over: config.Duration(720 * time.Hour), MinSamples: 200},
	}
}

// shopWarmUp is the event time a shop benchmark runs before it measures: a
// month, so that the open population, the overdue populations (over 30
// days) and the stored state are in their steady state.
const shopWarmUp = 30 * 24 * time.Hour

// BenchmarkShopJourneys is the cost per event of a shop's delivery journeys
// (shopGen) with the timed detectors (shopDetectors) against the same
// events with the threshold alone, in 4,096-event cycles like a replay, at
// 10k, 100k and 1M orders open at once. Each sub-benchmark first runs a
// month of the stream (not measured), then measures the events that follow.
// The timed figure over the threshold-only one is the cost of timers (goal:
// at least 0.6), and the per-event cost should stay flat as more journeys
// are open at once (goal: within 20% from 10k to 1M).
func BenchmarkShopJourneys(b *testing.B) {
	for _, open := range []int{10_000, 100_000, 1_000_000} {
		for _, set := range []string{"threshold", "timed"} {
			name := fmt.Sprintf("open=%dk/%s", open/1000, set)
			if open >= 1_000_000 {
				name = fmt.Sprintf("open=%dM/%s", open/1_000_000, set)
			}
			b.Run(name, func(b *testing.B) {
				cfg := config.Default()
				cfg.Detectors = shopDetectors()
				if set == "threshold" {
					cfg.Detectors = cfg.Detectors[:1]
				}
				pt := benchPartition(b, cfg, state.Options{FS: vfs.NewMem()}, engine.Options{})
				runShop(b, pt, newShopGen(open))
			})
		}
	}
}

// runShop runs g's first shopWarmUp of events through pt, then measures
// the events that follow, in 4,096-event cycles (staged and committed as a
// replay does). Generating events is not measured. It reports events/s,
// alerts per measured event and the orders open at the start of the
// measurement.
func runShop(b *testing.B, pt *engine.Partition, g *shopGen) {
	const cycle = 4096
	evs := make([][]byte, cycle)
	rec := engine.Record{Topic: "bench"}
	run := func(evs [][]byte) int {
		for _, v := range evs {
			rec.Value = v
			if err := pt.Experience(&rec); err != nil {
				b.Fatal(err)
			}
			rec.Offset++
		}
		fired := len(pt.Output().Alerts)
		if err := pt.Stage(); err != nil {
			b.Fatal(err)
		}
		if err := pt.Commit(false); err != nil {
			b.Fatal(err)
		}
		return fired
	}
	for {
		g.next(evs)
		run(evs)
		if wm, ok := pt.Watermark(); ok && wm.Sub(t0) >= shopWarmUp {
			break
		}
	}
	open := g.open
	fired, i := 0, cycle
	var genCPU int64 // CPU time spent generating events, taken out below
	cpu0 := cpuTime()
	b.ReportAllocs()
	// Labelled, so that a CPU profile can leave out the warm-up
	// (go tool pprof -tagfocus phase=measure).
	pprof.SetGoroutineLabels(pprof.WithLabels(b.Context(), pprof.Labels("phase", "measure")))
	defer pprof.SetGoroutineLabels(b.Context())
	for b.Loop() {
		if i == cycle {
			b.StopTimer()
			g0 := cpuTime()
			g.next(evs)
			genCPU += cpuTime() - g0
			i = 0
			b.StartTimer()
		}
		rec.Value = evs[i]
		if err := pt.Experience(&rec); err != nil {
			b.Fatal(err)
		}
		rec.Offset++
		if i++; i == cycle {
			fired += len(pt.Output().Alerts)
			if err := pt.Stage(); err != nil {
				b.Fatal(err)
			}
			if err := pt.Commit(false); err != nil {
				b.Fatal(err)
			}
		}
	}
	cpu := cpuTime() - cpu0 - genCPU
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/event")
	b.ReportMetric(float64(fired)/float64(b.N), "alerts/event")
	b.ReportMetric(float64(open), "open_orders")
}
