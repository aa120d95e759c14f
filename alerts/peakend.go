package alerts

import (
	"math"
	"time"

	"github.com/peakend/peakend/state"
)

// The peak-end rule, in one place: a customer remembers an experience by its
// worst moment and its latest one. Everything peakend computes about that
// memory is here: the badness of a finding, how the worst fades, the score
// shown on alerts and /customers/{id}, and the rise of a second failure.

// PeakHalfLife is the default of alerting.peak_half_life: how fast the
// memory of a customer's worst experience fades in the peak-end score.
const PeakHalfLife = 14 * 24 * time.Hour

// RecentPain is how much of a bad experience the customer must still
// remember for the next one to hurt more: the worst recent badness (minor
// 0.4, major 0.7, critical 1), halving every alerting.peak_half_life. With
// the default 14 days, a minor failure is remembered enough for 14 days, a
// major one for 25 days, a critical one for 32 days.
const RecentPain = 0.2

// badness of an experience by its worst finding, for the peak-end score.
var badness = [4]float64{None: 0, Minor: 0.4, Major: 0.7, Critical: 1}

// PeakEnd applies the peak-end rule to a finding: a second failure hurts
// more than the first. memory is the customer's worst recent badness as
// remembered just before this experience (0..1, already faded by the
// half-life). At RecentPain or more, the finding rises one severity level
// (minor → major → critical) and its reason says why. Findings whose
// severity already counts earlier failures (repeat detectors) are left as
// they are.
func (p *Policy) PeakEnd(f Finding, memory float64) Finding {
	if f.Severity == None || f.Severity >= Critical || f.Evidence == EvidenceBad || memory < RecentPain {
		return f
	}
	f.Severity++
	f.Reason += " (raised to " + f.Severity.String() + ": another bad experience recently)"
	return f
}

// Feel folds an experience at event time t into the customer's peak-end
// memory and returns the score. If found, f is the experience's finding:
// the policy first raises it if the customer still remembers a recent bad
// experience (PeakEnd). The score is the mean of the worst recent
// experience (fading with halfLife) and the latest one; an experience older
// than the customer's latest (out of order) can be the worst, never the
// latest.
func (p *Policy) Feel(c *state.Customer, t int64, halfLife time.Duration, f *Finding, found bool) float64 {
	hl := int64(halfLife)
	sev := None
	if found {
		*f = p.PeakEnd(*f, worstAt(c, t, hl))
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

// Perceived is the customer's peak-end score at time t: the mean of their
// worst recent experience (fading with halfLife; PeakHalfLife if zero) and
// their latest one, each a badness in 0..1.
func Perceived(c *state.Customer, t int64, halfLife time.Duration) float64 {
	if halfLife <= 0 {
		halfLife = PeakHalfLife
	}
	return (max(worstAt(c, t, int64(halfLife)), c.LastBad) + c.LastBad) / 2
}

// worstAt is the customer's worst recent badness as remembered at time t:
// it halves every halfLife.
func worstAt(c *state.Customer, t, halfLife int64) float64 {
	if t <= c.WorstAt {
		return c.WorstBad
	}
	return c.WorstBad * math.Exp2(-float64(t-c.WorstAt)/float64(halfLife))
}
