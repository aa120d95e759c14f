package alerts

// RecentPain is how much of a bad experience the customer must still
// remember for the next one to hurt more: the worst recent badness (minor
// 0.4, major 0.7, critical 1), halving every alerting.peak_half_life. With
// the default 14 days, a minor failure is remembered enough for 14 days, a
// major one for 25 days, a critical one for 32 days.
const RecentPain = 0.2

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
