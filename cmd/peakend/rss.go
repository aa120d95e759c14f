package main

import "syscall"

// peakRSSMiB is the process's peak resident set size.
func peakRSSMiB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss >> 10 // KiB on Linux
}
