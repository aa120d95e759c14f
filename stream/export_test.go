package stream

import "testing"

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
