package sinks

import (
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"github.com/peakend/peakend/alerts"
)

// Backoff defaults.
const (
	DefaultBackoffBase = 500 * time.Millisecond
	DefaultBackoffMax  = 5 * time.Minute
	// MaxRetryAfter is the longest server-given wait Delay honours.
	MaxRetryAfter = time.Hour
)

// DefaultBackoff is exponential from 500ms to 5m with full jitter.
var DefaultBackoff = Backoff{Base: DefaultBackoffBase, Max: DefaultBackoffMax, Jitter: 1}

// Backoff computes waits between delivery attempts.
type Backoff struct {
	Base   time.Duration // first wait; zero means 500ms
	Max    time.Duration // cap on the exponential wait; zero means 5m
	Jitter float64       // share of the wait that is random: 1 = full jitter, 0 = none
}

// Delay returns the wait before the next attempt after attempt failed
// attempts (1 for the first failure): Base·2^(attempt-1), capped at Max, of
// which the Jitter share is drawn uniformly (full jitter: uniform in
// [0, cap]). If err carries an *alerts.RetryAfterError, the wait is at
// least its After, even beyond Max, up to MaxRetryAfter.
//
// rnd nil uses the global source; a *rand.Rand is not safe for concurrent
// use, so give each goroutine its own. Do not retry errors for which
// Retryable is false.
func (b Backoff) Delay(attempt int, err error, rnd *rand.Rand) time.Duration {
	base, maxD := b.Base, b.Max
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if maxD <= 0 {
		maxD = DefaultBackoffMax
	}
	d := base
	for i := 1; i < attempt && d < maxD && d <= math.MaxInt64/2; i++ {
		d *= 2
	}
	d = min(d, maxD)

	if j := min(max(b.Jitter, 0), 1); j > 0 {
		f := rand.Float64()
		if rnd != nil {
			f = rnd.Float64()
		}
		d -= time.Duration(float64(d) * j * f)
	}

	var ra *alerts.RetryAfterError
	if errors.As(err, &ra) {
		d = max(d, min(ra.After, MaxRetryAfter))
	}
	return d
}

// Retryable reports whether another attempt could succeed: false for nil
// and for errors wrapping alerts.ErrPermanent (park those; do not drop them
// silently).
func Retryable(err error) bool {
	return err != nil && !errors.Is(err, alerts.ErrPermanent)
}
