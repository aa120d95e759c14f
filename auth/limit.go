package auth

import (
	"sync"
	"time"
)

// limiter counts failed sign-ins per key (a user name, a client address)
// over a sliding window. Its memory is bounded: beyond maxKeys keys with
// recent failures, it first forgets expired ones, then the key whose last
// failure is oldest.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	fails  map[string][]time.Time // oldest first, at most max
	swept  time.Time
}

const maxKeys = 200_000

func newLimiter(max int, window time.Duration, now func() time.Time) *limiter {
	return &limiter{max: max, window: window, now: now, fails: map[string][]time.Time{}}
}

// blocked reports whether key has used up its failures, and when it may
// try again.
func (l *limiter) blocked(key string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.recentLocked(key, now)
	if len(f) < l.max {
		return 0, false
	}
	return f[0].Add(l.window).Sub(now), true
}

// fail records a failed sign-in for key.
func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.recentLocked(key, now)
	if len(f) >= l.max {
		f = f[1:]
	}
	if _, ok := l.fails[key]; !ok && len(l.fails) >= maxKeys {
		l.evictLocked(now)
	}
	l.fails[key] = append(f, now)
}

// reset forgets key's failures (a successful sign-in of that user).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

// recentLocked drops key's failures older than the window.
func (l *limiter) recentLocked(key string, now time.Time) []time.Time {
	f := l.fails[key]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= l.window {
		i++
	}
	if i == len(f) {
		delete(l.fails, key)
		return nil
	}
	f = f[i:]
	l.fails[key] = f
	return f
}

func (l *limiter) evictLocked(now time.Time) {
	if now.Sub(l.swept) >= time.Second {
		l.swept = now
		for k := range l.fails {
			l.recentLocked(k, now)
		}
	}
	if len(l.fails) < maxKeys {
		return
	}
	oldest, when := "", now
	for k, f := range l.fails {
		if last := f[len(f)-1]; !last.After(when) {
			oldest, when = k, last
		}
	}
	delete(l.fails, oldest)
}
