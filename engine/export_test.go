package engine

import "github.com/peakend/peakend/state"

// SetUnparkChunk sets how many parked journeys one journey event unparks,
// and returns a function that restores it.
func SetUnparkChunk(n int) (restore func()) {
	old := unparkChunk
	unparkChunk = n
	return func() { unparkChunk = old }
}

// SetJourneyCacheBytes gives e's partitions opened from now on a journey
// cache budget of n bytes (0: none).
func SetJourneyCacheBytes(e *Engine, n int64) {
	e.journeyCache = nil
	if n > 0 {
		e.journeyCache = state.NewCacheBudget(n)
	}
}

// JourneyCacheLost reports whether p's journey cache has lost an entry,
// and whether it gave up keeping their ids.
func JourneyCacheLost(p *Partition) (lost, gaveUp bool) {
	return p.jc != nil && p.jc.Lost() > 0, p.jcGaveUp
}

// SetMaxSweep sets how many index entries one cycle's retention sweep
// takes, and returns a function that restores it.
func SetMaxSweep(n int) (restore func()) {
	old := maxSweep
	maxSweep = n
	return func() { maxSweep = old }
}
