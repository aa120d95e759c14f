// Package demo runs peakend with no set-up: an embedded Kafka-protocol broker
// (kfake), synthetic customer traffic with rare bad experiences planted in it,
// and the full pipeline. For replay it also makes the traffic as a file and
// the complaints of the customers who would complain (Complainer).
package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Generator makes realistic, skewed customer experiences. Most are fine;
// a few are bad in each of the ways peakend's detectors look for. It is
// deterministic for a seed and not safe for concurrent use.
type Generator struct {
	rnd       *rand.Rand
	customers int
	seq       int
	// PlantEvery plants one bad experience every this many events (default 100).
	PlantEvery int
	// InvalidEvery emits one malformed record every this many events (0 = never).
	InvalidEvery int
	planted      int
	again        int // customer owed a second failure (repeat), or -1
	// Sequential visits customers in turn (0, 1, 2, ...) instead of with a
	// skew: n events then cover n distinct customers (state fill for
	// benchmarks). It implies NoOrders.
	Sequential bool
	// NoOrders makes deliveries single "delivered" events instead of order
	// journeys (promised, shipped, delivered): the replay benchmark's
	// workload, unchanged since before the timer detectors.
	NoOrders bool
	// LateEvery: one order in LateEvery is not delivered before its promise
	// breaks (NewGenerator sets the package's LateEvery; 0 = none is late).
	LateEvery int
	// DelaySigma is the spread (log-normal sigma) of ordinary deliveries'
	// delay_hours, around a median of 0.8 hours (NewGenerator: 0.8, where 1
	// delivery in 150 is 12 hours late or more; 0.5 makes that 1 in 25,000).
	DelaySigma float64
	// OnBad, if set, is told of every bad experience the generator plants,
	// and of every order that will miss its promise (at the time it breaks),
	// as it generates them: what happened to whom, and when. It is how
	// complaints are made (Complainer) without looking at peakend's alerts.
	OnBad func(b Bad)
	// queue holds orders' follow-ups (shipped, delivered), by due time.
	queue  []followUp
	orders int
	// recent holds the customers of the last deliveries (a ring): the
	// baseline plant picks one, a customer with a usual to be worse than.
	recent  [256]int32
	nRecent int
}

// Bad is one bad experience the generator planted.
type Bad struct {
	Customer string
	Time     time.Time
	What     string // "late delivery", "failed checkout", "long wait", "worse than usual", "repeated failures", "broken promise"
}

// followUp is an order event due later: deliveries are journeys of three
// events (promised, shipped, delivered) for the overdue and deadline detectors.
type followUp struct {
	at      time.Time
	c       int
	order   string
	outcome string
	delay   float64 // delivered: delay_hours
	where   string  // the order's carrier and region attributes (`,"carrier":…,"region":…`)
}

// Order timing, on the demo's time scale (seconds, so the demo shows timer
// alerts within a minute or two): a promise of 3 minutes, shipping after
// 10 s, delivery about a minute later; 1 order in LateEvery is not
// delivered before its promise breaks (fewer than 1 in 100, so that the
// 99th percentile overdue learns is the normal orders').
const (
	promiseIn = 3 * time.Minute
	shipIn    = 10 * time.Second
	LateEvery = 150
)

// NewGenerator returns a generator over n customers.
func NewGenerator(n int, seed uint64) *Generator {
	return &Generator{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), customers: n, PlantEvery: 100, again: -1,
		LateEvery: LateEvery, DelaySigma: 0.8}
}

var tiers = []string{"bronze", "bronze", "bronze", "silver", "silver", "gold"}

// customer picks a customer with a skew: a few customers are much more active.
func (g *Generator) customer() int {
	if g.Sequential {
		return g.seq % g.customers
	}
	// Zipf-like: square a uniform draw to favour low ids.
	u := g.rnd.Float64()
	return int(u * u * float64(g.customers))
}

func custID(i int) string { return fmt.Sprintf("cust-%05d", i) }

func custBlock(i int) string {
	t := tiers[i%len(tiers)]
	// Value is log-normal around 300, fixed per customer.
	r := rand.New(rand.NewPCG(uint64(i), 7))
	v := math.Round(math.Exp(5.7 + 0.9*r.NormFloat64()))
	return `"customer":{"tier":"` + t + `","value":` + strconv.FormatFloat(v, 'f', -1, 64) + `}`
}

// Next returns the next record (key, value) at event time t.
func (g *Generator) Next(t time.Time) (key, value []byte) {
	g.seq++
	if g.InvalidEvery > 0 && g.seq%g.InvalidEvery == 0 {
		return []byte("garbage"), g.invalid()
	}
	if g.PlantEvery > 0 && g.seq%g.PlantEvery == 0 && g.again < 0 { // before any follow-up due: exactly 1 in PlantEvery
		return g.plant(t)
	}
	if len(g.queue) > 0 && !g.queue[0].at.After(t) {
		f := g.queue[0]
		g.queue = g.queue[1:]
		s := g.head(f.c, t, "delivery") + `,"outcome":"` + f.outcome + `"`
		if f.outcome == "delivered" {
			g.delivered(f.c)
			s += `,"metrics":{"delay_hours":` + num(f.delay) + `}`
		}
		return []byte(custID(f.c)), []byte(s + `,"attributes":{"order_id":"` + f.order + `"` + f.where + `},` + custBlock(f.c) + "}")
	}
	if c := g.again; c >= 0 { // the second of two failures in a row: the call about it drops too
		g.again = -1
		g.bad(c, t, "repeated failures")
		return []byte(custID(c)), []byte(g.head(c, t, "support_call") + `,"outcome":"dropped","metrics":{"wait_seconds":` +
			num(60+g.rnd.Float64()*240) + `},"attributes":{"channel":"phone"},` + custBlock(c) + "}")
	}
	c := g.customer()
	return []byte(custID(c)), g.normal(c, t)
}

func (g *Generator) head(c int, t time.Time, journey string) string {
	return `{"event_id":"ev-` + strconv.Itoa(g.seq) + `","customer_id":"` + custID(c) + `","time":"` +
		t.UTC().Format(time.RFC3339Nano) + `","journey":"` + journey + `"`
}

// delivered notes a delivery to customer c.
func (g *Generator) delivered(c int) {
	g.recent[g.nRecent%len(g.recent)] = int32(c)
	g.nRecent++
}

// bad tells OnBad of a bad experience.
func (g *Generator) bad(c int, t time.Time, what string) {
	if g.OnBad != nil {
		g.OnBad(Bad{Customer: custID(c), Time: t, What: what})
	}
}

// delay is an ordinary delivery's delay_hours: log-normal, median 0.8 hours.
func (g *Generator) delay() float64 {
	return math.Max(0, math.Exp(0.6+g.DelaySigma*g.rnd.NormFloat64())-1)
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func (g *Generator) normal(c int, t time.Time) []byte {
	r := g.rnd
	var s string
	switch x := r.IntN(100); {
	case x < 35 && (g.NoOrders || g.Sequential): // delivery as one event: a few hours late at worst, log-normal
		g.delivered(c)
		s = g.head(c, t, "delivery") + `,"outcome":"delivered","metrics":{"delay_hours":` +
			num(g.delay()) + `},"attributes":{"order_id":"o-` +
			strconv.Itoa(g.seq) + `","region":"` + []string{"north", "south", "east", "west"}[r.IntN(4)] + `","carrier":"` + g.carrier() + `"}`
	case x < 35: // delivery: promised now, shipped and delivered later (a few hours late at worst, log-normal)
		order := "o-" + strconv.Itoa(g.seq)
		where := `,"carrier":"` + g.carrier() + `","region":"` + []string{"north", "south", "east", "west"}[r.IntN(4)] + `"`
		s = g.head(c, t, "delivery") + `,"outcome":"promised","attributes":{"order_id":"` + order +
			`","promised_by":"` + t.Add(promiseIn).UTC().Format(time.RFC3339Nano) + `"` + where + `}`
		// Delivered about a minute after shipping (log-normal); an ordinary
		// order is never late (the late ones are LateEvery's, told to OnBad).
		took := min(time.Duration(60*math.Exp(0.3*r.NormFloat64())*float64(time.Second)), promiseIn-shipIn-5*time.Second)
		if g.orders++; g.LateEvery > 0 && g.orders%g.LateEvery == 0 {
			took = 2 * promiseIn
			g.bad(c, t.Add(promiseIn), "broken promise")
		}
		g.follow(followUp{at: t.Add(shipIn), c: c, order: order, outcome: "shipped", where: where})
		g.follow(followUp{at: t.Add(shipIn + took), c: c, order: order, outcome: "delivered", delay: g.delay(), where: where})
	case x < 60: // support call: wait log-normal around two minutes
		s = g.head(c, t, "support_call") + `,"outcome":"` + []string{"ok", "ok", "ok", "ok", "dropped"}[r.IntN(5)] +
			`","metrics":{"wait_seconds":` + num(math.Exp(4.8+0.6*r.NormFloat64())) + `},"attributes":{"channel":"phone"}`
		if r.IntN(50) != 0 {
			s = replaceOutcomeOK(s)
		}
	case x < 85: // checkout
		s = g.head(c, t, "checkout") + `,"outcome":"ok","metrics":{"latency_seconds":` + num(math.Exp(0.2*r.NormFloat64())) + `}`
	default: // playback
		s = g.head(c, t, "playback") + `,"outcome":"ok","metrics":{"rebuffer_ratio":` + num(math.Abs(0.01*r.NormFloat64())) + `}`
	}
	return []byte(s + "," + custBlock(c) + "}")
}

// carriers deliver the demo's orders (the `carrier` attribute, for hotspot
// rules such as by: [carrier, region]).
var carriers = []string{"parcelco", "swiftship", "roadrunner"}

// carrier picks a delivery's carrier from the event's sequence number, not
// the random source, so that adding it changed no other draw.
func (g *Generator) carrier() string { return carriers[(g.seq*7)%len(carriers)] }

func (g *Generator) follow(f followUp) {
	i := len(g.queue)
	for i > 0 && g.queue[i-1].at.After(f.at) {
		i--
	}
	g.queue = append(g.queue, followUp{})
	copy(g.queue[i+1:], g.queue[i:])
	g.queue[i] = f
}

// replaceOutcomeOK keeps most support calls fine: dropped calls are rare.
func replaceOutcomeOK(s string) string {
	const d = `"outcome":"dropped"`
	for i := 0; i+len(d) <= len(s); i++ {
		if s[i:i+len(d)] == d {
			return s[:i] + `"outcome":"ok"` + s[i+len(d):]
		}
	}
	return s
}

// plant returns one bad experience, cycling through the detector kinds.
func (g *Generator) plant(t time.Time) (key, value []byte) {
	g.planted++
	c := g.customer()
	if g.planted%5 == 3 && g.nRecent > 0 { // baseline: a customer who has had deliveries (the busier, the likelier)
		c = int(g.recent[g.rnd.IntN(min(g.nRecent, len(g.recent)))])
	}
	var s string
	what := [...]string{"late delivery", "failed checkout", "long wait", "worse than usual", "repeated failures"}[g.planted%5]
	if g.planted%5 != 4 { // repeat: told at the second failure
		g.bad(c, t, what)
	}
	switch g.planted % 5 {
	case 0: // a very late delivery: threshold
		s = g.head(c, t, "delivery") + `,"outcome":"delivered","metrics":{"delay_hours":` +
			num([]float64{30, 90, 200}[g.rnd.IntN(3)]+g.rnd.Float64()*10) + `},"attributes":{"order_id":"o-` + strconv.Itoa(g.seq) + `"}`
	case 1: // a failed checkout: outcome threshold, and a step towards repeat
		s = g.head(c, t, "checkout") + `,"outcome":"failed","metrics":{"latency_seconds":` + num(20+g.rnd.Float64()*20) + `}`
	case 2: // a support call with an hour's wait: rarity
		s = g.head(c, t, "support_call") + `,"outcome":"ok","metrics":{"wait_seconds":` + num(2400+g.rnd.Float64()*3600) + `}`
	case 3: // a delivery far worse than this customer's usual, but under the threshold: baseline
		s = g.head(c, t, "delivery") + `,"outcome":"delivered","metrics":{"delay_hours":` + num(14+g.rnd.Float64()*8) +
			`},"attributes":{"order_id":"o-` + strconv.Itoa(g.seq) + `"}`
	case 4: // a dropped playback, then a dropped support call for the same customer: repeat
		s = g.head(c, t, "playback") + `,"outcome":"dropped","metrics":{"rebuffer_ratio":` + num(0.3+g.rnd.Float64()*0.3) + `}`
		g.again = c
	}
	return []byte(custID(c)), []byte(s + "," + custBlock(c) + "}")
}

func (g *Generator) invalid() []byte {
	switch g.seq / g.InvalidEvery % 4 {
	case 0:
		return []byte(`{"customer_id":"cust-1","journey":"delivery"}`) // no time
	case 1:
		return []byte(`{"customer_id":"cust-1","time":"yesterday","journey":"delivery"}`)
	case 2:
		return []byte(`not json at all`)
	default:
		return []byte(`{"customer_id":"cust-1","time":"2026-01-01T00:00:00Z","journey":"delivery","metrics":{"delay_hours":"late"}}`)
	}
}
