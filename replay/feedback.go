package replay

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/peakend/peakend/event"
)

// feedbackLine is one decoded line of the feedback file.
type feedbackLine struct {
	f    event.Feedback
	line int
	raw  []byte
}

// readFeedback loads the feedback file (staff act on few alerts), sending
// malformed lines to the DLQ. It is read before the replay so that a
// missing file fails at once.
func readFeedback(o Options, s *Summary) ([]feedbackLine, error) {
	if o.Feedback == "" {
		return nil, nil
	}
	s.eval.feedback = true
	f, err := os.Open(o.Feedback)
	if err != nil {
		return nil, fmt.Errorf("replay: feedback: %w", err)
	}
	defer f.Close()
	var fs []feedbackLine
	err = eachLine(f, func(line int, _ int64, b []byte) error {
		if len(bytes.TrimSpace(b)) == 0 {
			return nil
		}
		fb, err := event.DecodeFeedback(b, o.Config.Events.MaxBytes)
		if err != nil {
			s.Invalid++
			s.eval.fbInvalid++
			return writeDead(o.DLQ, line, "feedback", err, b)
		}
		fs = append(fs, feedbackLine{f: fb, line: line, raw: append([]byte(nil), b...)})
		return nil
	})
	return fs, err
}

// withFeedback adds the feedback events to the complaints, in event-time
// order: the engine reads both (recovered_before, as live reads the
// feedback topic), each before the first experience at or after its time.
func withFeedback(cs []complaint, fs []feedbackLine) []complaint {
	if len(fs) == 0 {
		return cs
	}
	for _, f := range fs {
		cs = append(cs, complaint{t: f.f.Time, line: f.line, raw: f.raw, cust: f.f.CustomerID, fb: true})
	}
	slices.SortStableFunc(cs, func(a, b complaint) int { return cmp.Compare(a.t, b.t) })
	return cs
}

// applyFeedback applies the feedback to the replay's alerts by event time,
// as a live run reads it: an event names an alert raised (detected_at) at
// or before its time, else the alert is unknown then, and the event goes to
// the DLQ. The latest outcome of an alert by event time is its outcome (a
// later one corrects an earlier); money spent adds up over all its events.
func applyFeedback(o Options, s *Summary, fs []feedbackLine) error {
	slices.SortStableFunc(fs, func(a, b feedbackLine) int { return cmp.Compare(a.f.Time, b.f.Time) })
	e := &s.eval
	for i := range fs {
		f := &fs[i].f
		var reason string
		ai, ok := e.byID[f.AlertID]
		switch {
		case !ok:
			reason = fmt.Sprintf("unknown alert_id %q", f.AlertID)
		case e.alerts[ai].detected > f.Time:
			reason = fmt.Sprintf("unknown alert_id %q at %s: the replay raises it at %s", f.AlertID,
				time.Unix(0, f.Time).UTC().Format(time.RFC3339), time.Unix(0, e.alerts[ai].detected).UTC().Format(time.RFC3339))
		case e.alerts[ai].cust != f.CustomerID:
			reason = fmt.Sprintf("customer_id %q is not the alert's", f.CustomerID)
		}
		if reason != "" {
			s.Invalid++
			e.fbUnknown++
			if err := writeDead(o.DLQ, fs[i].line, "feedback", fmt.Errorf("%s", reason), fs[i].raw); err != nil {
				return err
			}
			continue
		}
		a := &e.alerts[ai]
		e.fbEvents++
		a.feedback = true
		if f.IsOutcome() {
			a.outcome, a.outcomeAt = f.Outcome, f.Time
		}
		if f.Spent != nil && f.Spent.Amount > 0 {
			a.spent = append(a.spent, *f.Spent)
		}
	}
	return nil
}
