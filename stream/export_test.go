package stream

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// CrashBeforeStateCommit makes the runner fail, as a crash would, in the
// first cycle that fires alerts, once its records are written to Kafka and
// before its state is committed to Pebble. Tests that call it must not run
// in parallel with others of the package.
func CrashBeforeStateCommit(t *testing.T, err error) {
	fired := false
	beforeApply = func(alerts int) error {
		if alerts == 0 || fired {
			return nil
		}
		fired = true
		return err
	}
	t.Cleanup(func() { beforeApply = nil })
}

// HoldBeforeStateCommit makes the first cycle that reaches its Pebble
// commit wait there, its records processed and produced but its offsets
// not yet committed, until release is called (or 30 s have passed, so
// that a failing test still stops its app). held is closed when the cycle
// waits. Tests that call it must not run in parallel with others of the
// package.
func HoldBeforeStateCommit(t *testing.T) (held <-chan struct{}, release func()) {
	h, r := make(chan struct{}), make(chan struct{})
	var once, first sync.Once
	release = func() { once.Do(func() { close(r) }) }
	beforeApply = func(int) error {
		first.Do(func() {
			close(h)
			select {
			case <-r:
			case <-time.After(30 * time.Second):
			}
		})
		return nil
	}
	t.Cleanup(func() { release(); beforeApply = nil })
	return h, release
}

// CrashBeforeMarkers makes the runner fail, as a crash would, in the
// first at-least-once cycle whose records match, once they are in Kafka and
// before its changelog markers: the restart does the cycle again. Tests
// that call it must not run in parallel with others of the package.
func CrashBeforeMarkers(t *testing.T, match func(*kgo.Record) bool, err error) {
	fired := false
	beforeMarkers = func(out []*kgo.Record) error {
		if fired || !slices.ContainsFunc(out, match) {
			return nil
		}
		fired = true
		return err
	}
	t.Cleanup(func() { beforeMarkers = nil })
}
