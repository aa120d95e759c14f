package engine

import "github.com/peakend/peakend/state"

// Batch is the partition's Pebble batch for the cycle in hand: after Stage it
// holds every write of the cycle, for the runner to copy into the changelog
// and to add the changelog offset to before Commit.
func (p *Partition) Batch() *state.Batch { return p.batch }
