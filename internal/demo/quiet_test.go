package demo

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDemoIsQuiet runs ten minutes of the default demo (simulated) and
// reads it as a person watching would: a few alerts a minute, none about
// the history replayed at start-up, every configured detector within the
// first few minutes, and most customers never alerted.
func TestDemoIsQuiet(t *testing.T) {
	const run = 10 * time.Minute
	sim := simulate(t, Options{Rate: DefaultRate, Customers: DefaultCustomers, Seed: 1}, run)
	require.Empty(t, sim.warm, "no alert about the history at start-up")

	perMinute := make([]int, int(run/time.Minute))
	first := map[string]time.Duration{}
	customers := map[string]bool{}
	for _, a := range sim.live {
		// When it is printed: timers at detected_at (on the simulated
		// clock), the others as their experience arrives.
		at := a.EventTime.Sub(sim.start)
		if d := a.DetectedAt.Sub(sim.start); d > at && d <= run+time.Minute {
			at = d
		}
		perMinute[min(int(at/time.Minute), len(perMinute)-1)]++
		if _, ok := first[a.Detector]; !ok {
			first[a.Detector] = at.Round(time.Second)
		}
		customers[a.CustomerID] = true
	}
	byDetector := map[string]int{}
	for _, a := range sim.live {
		byDetector[a.Detector]++
	}
	t.Logf("%d alerts in %s, per minute %v; by detector %v; first seen %v", len(sim.live), run, perMinute,
		byDetector, first)
	t.Logf("%d of %d customers alerted (%.2f%%; %d customers had an experience, %.2f%% of them); %d bad experiences planted",
		len(customers), DefaultCustomers, 100*float64(len(customers))/DefaultCustomers, len(sim.seen),
		100*float64(len(customers))/float64(len(sim.seen)), len(sim.bad))

	for m, n := range perMinute {
		require.LessOrEqual(t, n, 10, "minute %d: a person can read a few alerts a minute, not %d", m+1, n)
	}
	require.GreaterOrEqual(t, len(sim.live), 10, "alerts in %s: the demo must show something", run)
	require.LessOrEqual(t, len(sim.live), 60, "alerts in %s", run)
	var missing []string
	for _, d := range demoConfig().Detectors {
		if at, ok := first[d.Name]; !ok || at > 6*time.Minute {
			missing = append(missing, fmt.Sprintf("%s (%v)", d.Name, at))
		}
	}
	require.Empty(t, missing, "detectors not seen within 6 minutes; seen: %v", slices.Sorted(maps.Keys(first)))
	require.Less(t, float64(len(customers)), 0.02*DefaultCustomers, "most customers never get an alert")
}
