package engine

// SetUnparkChunk sets how many parked journeys one journey event unparks,
// and returns a function that restores it.
func SetUnparkChunk(n int) (restore func()) {
	old := unparkChunk
	unparkChunk = n
	return func() { unparkChunk = old }
}
