package replay

import "time"

// SetProgressEvery makes the progress line be rewritten every d, for a test;
// it returns a function that restores the interval.
func SetProgressEvery(d time.Duration) func() {
	old := progressEvery
	progressEvery = d
	return func() { progressEvery = old }
}
