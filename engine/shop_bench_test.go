package engine_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/state"
)

// shopOrders is a shop's delivery journeys, in event-time order: orders
// placed evenly over `span`, each promised 15–30 days out, shipped within
// 1–4 days, delivered 2–20 days after shipping (about 1 in 12 after its
// promise), with the delay in hours on the delivered event. About
// orders × 23 days / span journeys are open at once: the hard case for
// timers, promises that stay open for weeks.
func shopOrders(orders int, span time.Duration, customers int) [][]byte {
	type ev struct {
		at time.Time
		v  []byte
	}
	r := rand.New(rand.NewPCG(1, 2))
	evs := make([]ev, 0, 3*orders)
	day := 24 * time.Hour
	for i := range orders {
		at := t0.Add(span * time.Duration(i) / time.Duration(orders))
		cust := fmt.Sprintf("c%07d", r.IntN(customers))
		promised := at.Add(15*day + time.Duration(r.Int64N(int64(15*day))))
		shipped := at.Add(day + time.Duration(r.Int64N(int64(3*day))))
		delivered := shipped.Add(2*day + time.Duration(r.Int64N(int64(18*day))))
		delay := max(delivered.Sub(promised).Hours(), 0)
		id := fmt.Sprint(i)
		evs = append(evs,
			ev{at, []byte(order(id, cust, "promised", at, `,"promised_by":"`+promised.Format(time.RFC3339)+`"`))},
			ev{shipped, []byte(order(id, cust, "shipped", shipped, ""))},
			ev{delivered, []byte(fmt.Sprintf(`{"event_id":"d%s","customer_id":%q,"time":%q,"journey":"delivery","outcome":"delivered","metrics":{"delay_hours":%.1f},"attributes":{"order_id":"o-%s"}}`,
				id, cust, delivered.UTC().Format(time.RFC3339Nano), delay, id))})
	}
	slices.SortStableFunc(evs, func(a, b ev) int { return a.at.Compare(b.at) })
	out := make([][]byte, len(evs))
	for i, e := range evs {
		out[i] = e.v
	}
	return out
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

// BenchmarkShopJourneys is the cost per event of a shop's delivery journeys
// (shopOrders) with the timed detectors (shopDetectors) against the same
// events with the threshold alone, in 4,096-event cycles like a replay, at
// two sizes of the open-journey population. The timed figure over the
// threshold-only one is the cost of timers (goal: at least 0.6), and the
// per-event cost should stay flat as more journeys are open at once.
func BenchmarkShopJourneys(b *testing.B) {
	for _, orders := range []int{20_000, 200_000} {
		events := shopOrders(orders, 60*24*time.Hour, orders/2)
		for _, set := range []string{"threshold", "timed"} {
			b.Run(fmt.Sprintf("open=%dk/%s", orders*23/60/1000, set), func(b *testing.B) {
				cfg := config.Default()
				cfg.Detectors = shopDetectors()
				if set == "threshold" {
					cfg.Detectors = cfg.Detectors[:1]
				}
				pt := benchPartition(b, cfg, state.Options{FS: vfs.NewMem()}, engine.Options{})
				runCycles(b, pt, events, false)
			})
		}
	}
}
