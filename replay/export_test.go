package replay

import "time"

// SetProgressEvery makes the progress line be rewritten every d, for a test;
// it returns a function that restores the interval.
func SetProgressEvery(d time.Duration) func() {
	old := progressEvery
	progressEvery = d
	return func() { progressEvery = old }
}

// Reborn counts the customers a trace saw expire and come back (judged
// under two FirstAt values).
func (t *Trace) Reborn() int {
	gen := map[int32]int64{}
	n := map[int32]bool{}
	for _, p := range t.points {
		if g, ok := gen[p.cust]; ok && g != p.gen {
			n[p.cust] = true
		}
		gen[p.cust] = p.gen
	}
	return len(n)
}
