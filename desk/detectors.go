package desk

import (
	"math"
	"net/http"
	"slices"
	"time"
)

// DetectorsWindow is the sliding window of /api/detectors.
const DetectorsWindow = 30 * 24 * time.Hour

// Detectors is the JSON of /api/detectors: how each detector's alerts
// fared with staff over the last DetectorsWindow, from the desk's view
// (docs/desk.md, "How the detectors do").
type Detectors struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Note is set when the view holds less than the window: closed cases
	// are kept desk.keep.
	Note string `json:"note,omitempty"`
	// Detectors: detector name → "all" and each severity seen → figures.
	Detectors map[string]map[string]*DetectorStats `json:"detectors"`
}

// DetectorStats are one detector's (and severity's) figures. Ratios are
// null when there is nothing to divide by.
type DetectorStats struct {
	// Alerts raised (detected_at) in the window.
	Alerts int `json:"alerts"`
	// WithFeedback: of those, the alerts whose case staff acted on: an
	// outcome, a claim held or an approval decided.
	WithFeedback  int      `json:"alerts_with_feedback"`
	FeedbackShare *float64 `json:"feedback_share"`
	// Outcomes recorded in the window, by kind, each counted once under
	// the detector and severity of the alert it named (as
	// peakend_feedback_total counts them).
	Outcomes         map[string]int `json:"outcomes"`
	OutcomesTotal    int            `json:"outcomes_total"`
	Precision        *float64       `json:"precision"`     // 1 − false_alarm / outcomes
	RecoveryRate     *float64       `json:"recovery_rate"` // recovered / outcomes
	UnreachableShare *float64       `json:"unreachable_share"`
	// Spent and Budget: money spent on the outcomes, and the playbook
	// budget of the alerts they named, per currency.
	Spent  map[string]float64 `json:"spent"`
	Budget map[string]float64 `json:"budget"`
	// MedianSecondsToOutcome: from the case's first alert to its outcome.
	MedianSecondsToOutcome *float64 `json:"median_seconds_to_outcome"`

	waits []float64
}

func newStats() *DetectorStats {
	s := &DetectorStats{Outcomes: map[string]int{}, Spent: map[string]float64{}, Budget: map[string]float64{}}
	for _, o := range Outcomes {
		s.Outcomes[o] = 0
	}
	return s
}

func ratio(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	v := math.Round(float64(n)/float64(d)*1000) / 1000
	return &v
}

func (s *DetectorStats) finish() {
	s.FeedbackShare = ratio(s.WithFeedback, s.Alerts)
	if n := s.OutcomesTotal; n > 0 {
		s.Precision = ratio(n-s.Outcomes[OutcomeFalseAlarm], n)
		s.RecoveryRate = ratio(s.Outcomes[OutcomeRecovered], n)
		s.UnreachableShare = ratio(s.Outcomes[OutcomeUnreachable], n)
	}
	if len(s.waits) > 0 {
		slices.Sort(s.waits)
		n := len(s.waits)
		m := s.waits[n/2]
		if n%2 == 0 {
			m = (s.waits[n/2-1] + s.waits[n/2]) / 2
		}
		s.MedianSecondsToOutcome = &m
	}
}

// DetectorFigures computes /api/detectors as of now: alerts raised since
// now − DetectorsWindow in open and closed cases, and outcomes recorded
// since then.
func (d *Desk) DetectorFigures() (*Detectors, error) {
	now := d.o.Now().UTC()
	from := now.Add(-DetectorsWindow)
	out := &Detectors{From: from, To: now, Detectors: map[string]map[string]*DetectorStats{}}
	if d.keep < DetectorsWindow {
		out.Note = "desk.keep is " + d.keep.String() + ": closed cases older than that are gone, so the figures cover less than 30 days"
	}
	stats := func(det, sev string) []*DetectorStats {
		m := out.Detectors[det]
		if m == nil {
			m = map[string]*DetectorStats{"all": newStats()}
			out.Detectors[det] = m
		}
		if m[sev] == nil {
			m[sev] = newStats()
		}
		return []*DetectorStats{m["all"], m[sev]}
	}
	add := func(e *entry) {
		acted := e.c.Outcome != nil || e.c.Claim != nil || e.c.Approval != nil && e.c.Approval.State != "pending"
		for _, m := range e.meta {
			if m.Kind == "hotspot" || m.DetectedAt.Before(from) {
				continue
			}
			for _, s := range stats(m.Detector, m.Severity) {
				s.Alerts++
				if acted {
					s.WithFeedback++
				}
			}
		}
		o := e.c.Outcome
		if o == nil || e.c.ClosedAt == nil || e.c.ClosedAt.Before(from) {
			return
		}
		named, ok := e.has(o.AlertID)
		if !ok {
			named = e.highest()
		}
		if named == nil {
			return
		}
		for _, s := range stats(named.Detector, named.Severity) {
			s.Outcomes[o.Outcome]++
			s.OutcomesTotal++
			if o.Spent != nil && o.Spent.Amount > 0 {
				s.Spent[o.Spent.Currency] += o.Spent.Amount
			}
			if named.Recovery.Budget > 0 {
				s.Budget[named.Recovery.Currency] += named.Recovery.Budget
			}
			s.waits = append(s.waits, e.c.ClosedAt.Sub(e.c.OpenedAt).Seconds())
		}
	}
	d.mu.RLock()
	for _, e := range d.open {
		add(e)
	}
	d.mu.RUnlock()
	// Closed cases, by closing time, from the start of the window: a case
	// closed before it holds only alerts raised before it closed.
	err := scan(d.db, dkey(subClosed), false, func(k, _ []byte) (bool, error) {
		rest := k[2:]
		if len(rest) < 10 {
			return true, nil
		}
		closed := int64(beUint64(rest[:8]))
		if closed < from.UnixNano() {
			return true, nil
		}
		v, err := get(d.db, historyKey(string(rest[10:]), closed))
		if err != nil || v == nil {
			return err == nil, err
		}
		e, err := decodeEntry(v)
		if err != nil {
			return false, err
		}
		add(e)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	for _, m := range out.Detectors {
		for _, s := range m {
			s.finish()
		}
	}
	return out, nil
}

func (d *Desk) detectors(w http.ResponseWriter, _ *http.Request) {
	f, err := d.DetectorFigures()
	if err != nil {
		d.log.Error("desk: detector figures", "err", err)
		writeErr(w, http.StatusInternalServerError, "the desk's view could not be read")
		return
	}
	writeJSON(w, http.StatusOK, f)
}
