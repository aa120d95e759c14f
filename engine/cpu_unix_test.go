//go:build unix

package engine_test

import "syscall"

// cpuTime is the CPU time the process has used (user and system, every
// thread: Pebble's compactions included), in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
