package testkit

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
)

// HotspotTraffic is days of deliveries (one every step) by four carriers in
// four regions, 1% late (over a day: the default late_delivery), except
// carrier "rapid" in region "east" for two days from day days/2, 40%
// late. Every delivery goes to a random one of 5,000 customers (the key),
// so the bad carrier's customers are on every partition.
func HotspotTraffic(days int, step time.Duration, seed uint64, start time.Time) (recs []Record, badFrom, badTo time.Time) {
	rng := rand.New(rand.NewPCG(seed, seed))
	badFrom = start.Add(time.Duration(days/2) * 24 * time.Hour)
	badTo = badFrom.Add(48 * time.Hour)
	carriers := []string{"rapid", "steady", "courier", "swift"}
	regions := []string{"north", "south", "east", "west"}
	n := 0
	for at := start; at.Before(start.Add(time.Duration(days) * 24 * time.Hour)); at = at.Add(step) {
		n++
		carrier, region := carriers[rng.IntN(4)], regions[rng.IntN(4)]
		late := rng.Float64() < 0.01
		if carrier == "rapid" && region == "east" && !at.Before(badFrom) && at.Before(badTo) {
			late = rng.Float64() < 0.40
		}
		delay := rng.Float64() * 3
		if late {
			delay = 30 + rng.Float64()*20
		}
		cust := fmt.Sprintf("c-%d", rng.IntN(5000))
		v := fmt.Sprintf(`{"event_id":"e-%d","customer_id":%q,"time":%q,"journey":"delivery","outcome":"delivered",`+
			`"metrics":{"delay_hours":%.2f},"attributes":{"order_id":"o-%d","carrier":%q,"region":%q}}`,
			n, cust, at.Format(time.RFC3339), delay, n, carrier, region)
		recs = append(recs, Record{Key: []byte(cust), Value: []byte(v)})
	}
	return recs, badFrom, badTo
}

// HotspotConfig is Config with the late_delivery detector and one hotspot
// rule, carrier_trouble, by carrier and region, on its findings (the other
// fields at their defaults: 6h window, 168h baseline).
func HotspotConfig(t testing.TB, brokers []string) *config.Config {
	t.Helper()
	cfg := Config(t, brokers, "late_delivery")
	cfg.Hotspots = []config.Hotspot{{Name: "carrier_trouble", Journey: "delivery", By: []string{"carrier", "region"},
		Bad: config.HotspotBad{Detectors: []string{"late_delivery"}}}}
	cfg.ApplyDefaults()
	require.NoError(t, cfg.Validate())
	return cfg
}
