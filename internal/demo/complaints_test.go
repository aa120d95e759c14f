package demo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Complaints come from planted bad experiences, later than them, with the
// configured chance; noise adds complaints from customers with nothing
// planted; and nothing in it looks at peakend's alerts (there are none).
func TestComplaintsComeFromPlantedBadExperiences(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run := func(noise float64) ([]Bad, []Complaint) {
		g := NewGenerator(5000, 3)
		c := NewComplainer(5000, 3)
		c.Noise = noise
		var bad []Bad
		g.OnBad = func(b Bad) { bad = append(bad, b); c.Bad(b) }
		for i := range 100_000 {
			g.Next(t0.Add(time.Duration(i) * 10 * time.Second))
		}
		return bad, c.Complaints(t0.Add(100 * 24 * time.Hour))
	}

	bad, cs := run(0)
	require.Greater(t, len(bad), 1000, "bad experiences planted (1 in 100 events, and 1 order in 150)")
	whats := map[string]int{}
	for _, b := range bad {
		whats[b.What]++
	}
	require.Len(t, whats, 6, "every kind of bad experience: %v", whats)
	first := map[string]time.Time{}
	for _, b := range bad {
		if f, ok := first[b.Customer]; !ok || b.Time.Before(f) {
			first[b.Customer] = b.Time
		}
	}
	for _, c := range cs {
		f, ok := first[c.CustomerID]
		require.True(t, ok, "complaint %s from %s, who had no bad experience", c.ComplaintID, c.CustomerID)
		require.True(t, c.Time.After(f), "complaint %s before the bad experience", c.ComplaintID)
	}
	share := float64(len(cs)) / float64(len(bad))
	require.InDelta(t, 0.3, share, 0.05, "complaints per bad experience")

	_, noisy := run(0.15)
	var noise int
	for _, c := range noisy {
		if _, ok := first[c.CustomerID]; !ok {
			noise++
		}
	}
	require.Greater(t, noise, len(noisy)/20, "complaints from customers with nothing planted: %d of %d", noise, len(noisy))
	require.Less(t, noise, len(noisy)/4, "noise: %d of %d", noise, len(noisy))
}
