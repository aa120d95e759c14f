package demo

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The replay benchmark relies on it: n sequential events cover about n
// distinct customers (only the planted repeat failures come twice; no order
// follow-ups), and NoOrders keeps deliveries one event.
func TestSequentialCoversDistinctCustomers(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := NewGenerator(10_000, 1)
	g.Sequential = true
	seen := map[string]bool{}
	for i := range 5000 {
		k, v := g.Next(t0.Add(time.Duration(i) * time.Second))
		seen[string(k)] = true
		var ev struct{ Outcome string }
		require.NoError(t, json.Unmarshal(v, &ev))
		require.NotEqual(t, "promised", ev.Outcome)
	}
	require.Greater(t, len(seen), 4950)

	g = NewGenerator(100, 2)
	g.NoOrders = true
	for i := range 3000 {
		_, v := g.Next(t0.Add(time.Duration(i) * time.Second))
		var ev struct{ Outcome string }
		require.NoError(t, json.Unmarshal(v, &ev))
		require.NotContains(t, []string{"promised", "shipped"}, ev.Outcome)
	}
}
