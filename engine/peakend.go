package engine

import (
	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/state"
)

// badness of an experience by its worst finding, for the peak-end score.
var badness = [4]float64{alerts.None: 0, alerts.Minor: 0.4, alerts.Major: 0.7, alerts.Critical: 1}

// feel folds an experience at event time t into the customer's peak-end
// memory and returns the score. If found, f is the experience's finding:
// the policy first raises it if the customer still remembers a recent bad
// experience (alerts.Policy.PeakEnd). The score is the mean of the worst
// recent experience (fading with alerting.peak_half_life) and the latest
// one; an experience older than the customer's latest (out of order) can
// be the worst, never the latest.
func (p *Partition) feel(c *state.Customer, t int64, f *alerts.Finding, found bool) float64 {
	hl := p.e.halfLife
	sev := alerts.None
	if found {
		*f = p.e.policy.PeakEnd(*f, worstAt(c, t, hl))
		sev = f.Severity
	}
	b := badness[sev]
	if b >= worstAt(c, t, hl) {
		c.WorstBad, c.WorstAt = b, t
	}
	if t >= c.LastAt {
		c.LastBad = b
	}
	return (max(worstAt(c, t, hl), c.LastBad) + c.LastBad) / 2
}
