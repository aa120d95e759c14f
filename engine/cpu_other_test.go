//go:build !unix

package engine_test

// cpuTime is not measured here: benchmarks report 0 CPU per event.
func cpuTime() int64 { return 0 }
