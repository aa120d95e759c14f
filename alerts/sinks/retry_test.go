package sinks

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
)

func TestBackoffNoJitter(t *testing.T) {
	b := Backoff{Base: 500 * time.Millisecond, Max: 5 * time.Minute}
	want := []time.Duration{500 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 16 * time.Second, 32 * time.Second, 64 * time.Second, 128 * time.Second, 256 * time.Second,
		5 * time.Minute, 5 * time.Minute}
	for attempt, w := range want {
		require.Equal(t, w, b.Delay(attempt, errors.New("x"), nil), "attempt %d", attempt)
	}
	require.Equal(t, 5*time.Minute, b.Delay(1<<30, nil, nil), "no overflow")
	require.Equal(t, DefaultBackoffBase, Backoff{}.Delay(1, nil, nil), "zero Base and Max take the defaults")
	require.Equal(t, DefaultBackoffMax, Backoff{}.Delay(100, nil, nil))
	huge := Backoff{Base: time.Second, Max: time.Duration(1<<63 - 1)}
	require.Positive(t, huge.Delay(200, nil, nil), "no overflow with a huge Max")
}

func TestBackoffJitterBounds(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, jitter := range []float64{1, 0.5} {
		b := DefaultBackoff
		b.Jitter = jitter
		for attempt := 1; attempt <= 20; attempt++ {
			ceil := min(DefaultBackoffBase<<(attempt-1), DefaultBackoffMax)
			floor := time.Duration(float64(ceil) * (1 - jitter))
			var sum time.Duration
			const n = 200
			for range n {
				d := b.Delay(attempt, errors.New("x"), rnd)
				require.GreaterOrEqual(t, d, floor, "attempt %d", attempt)
				require.LessOrEqual(t, d, ceil, "attempt %d", attempt)
				sum += d
			}
			mean := sum / n
			require.InDelta(t, float64(ceil)*(1-jitter/2), float64(mean), float64(ceil)*0.1, "attempt %d: the draws spread over the range", attempt)
		}
	}
	// Same seed, same delays.
	a, c := rand.New(rand.NewPCG(7, 7)), rand.New(rand.NewPCG(7, 7))
	for attempt := 1; attempt < 10; attempt++ {
		require.Equal(t, DefaultBackoff.Delay(attempt, nil, a), DefaultBackoff.Delay(attempt, nil, c))
	}
}

func TestBackoffRetryAfter(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	ra := func(d time.Duration) error {
		return fmt.Errorf("wrapped: %w", &alerts.RetryAfterError{After: d, Err: errors.New("429")})
	}
	tests := []struct {
		name     string
		attempt  int
		err      error
		min, max time.Duration
	}{
		{"longer than backoff", 1, ra(7 * time.Second), 7 * time.Second, 7 * time.Second},
		{"shorter than backoff", 12, ra(time.Second), time.Second, 5 * time.Minute},
		{"beyond Max", 3, ra(20 * time.Minute), 20 * time.Minute, 20 * time.Minute},
		{"beyond an hour", 3, ra(5 * time.Hour), time.Hour, time.Hour},
		{"zero", 1, ra(0), 0, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 50 {
				d := DefaultBackoff.Delay(tt.attempt, tt.err, rnd)
				require.GreaterOrEqual(t, d, tt.min)
				require.LessOrEqual(t, d, tt.max)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	require.False(t, Retryable(nil))
	require.False(t, Retryable(fmt.Errorf("x: %w", alerts.ErrPermanent)))
	require.True(t, Retryable(errors.New("503")))
	require.True(t, Retryable(&alerts.RetryAfterError{After: time.Second, Err: errors.New("429")}))
}
