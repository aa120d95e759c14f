package alerts

// Finding is a detector's verdict on one experience: how bad, how sure,
// and why, in one sentence. The policy turns the best finding of an event
// into at most one alert.
type Finding struct {
	Detector string   // the configured detector's name
	Order    int      // the detector's position in the config (ties go to the first)
	Severity Severity // Minor..Critical
	Score    float64  // 0..1; for rarity detectors the estimated percentile rank
	Reason   string   // one sentence a frontline person understands
	// Evidence selects which window entries back the finding (see EvidenceKind).
	Evidence EvidenceKind
	// Since bounds EvidenceBad: only bad experiences at or after this event
	// time (unix ns) were counted.
	Since int64
}

// EvidenceKind says which of the customer's recent experiences explain a finding.
type EvidenceKind uint8

const (
	// EvidenceJourney: the trigger and recent experiences of the same journey.
	EvidenceJourney EvidenceKind = iota
	// EvidenceBad: the recent bad experiences counted by a repeat detector.
	EvidenceBad
)

// Better reports whether f should win over g for the same event: higher
// severity, then higher score, then earlier in the config.
func (f Finding) Better(g Finding) bool {
	if f.Severity != g.Severity {
		return f.Severity > g.Severity
	}
	if f.Score != g.Score {
		return f.Score > g.Score
	}
	return f.Order < g.Order
}
