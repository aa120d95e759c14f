package tune

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/peakend/peakend/event"
)

// Feedback is what ReadFeedback found in a feedback file.
type Feedback struct {
	Outcomes []event.Feedback // the outcome records (action "outcome", or none)
	Other    int              // claims, releases, approvals, refusals: not outcomes
	Bad      int              // lines that are not a valid feedback event
}

// ReadFeedback reads a file of feedback events (docs/reference.md,
// "Feedback event"), one per line. Only outcomes count for precision: a
// record whose action is not "outcome" (a claim, a release, ...) is
// counted in Other; one without an action is taken as an outcome. Bad
// lines are counted and skipped; blank lines are ignored. Precision is
// computed from these by alert id (Score.Precision).
func ReadFeedback(path string, maxBytes int) (*Feedback, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tune: feedback: %w", err)
	}
	defer f.Close()
	out := &Feedback{}
	r := bufio.NewReader(f)
	for {
		line, rerr := r.ReadBytes('\n')
		if b := bytes.TrimSpace(line); len(b) > 0 {
			var a struct {
				Action *string `json:"action"`
			}
			switch err := json.Unmarshal(b, &a); {
			case err == nil && a.Action != nil && *a.Action != "outcome":
				out.Other++
			default:
				// Too long, not JSON, a missing field: DecodeFeedback says which.
				if fb, err := event.DecodeFeedback(b, maxBytes); err != nil {
					out.Bad++
				} else {
					out.Outcomes = append(out.Outcomes, fb)
				}
			}
		}
		if rerr == io.EOF {
			return out, nil
		}
		if rerr != nil {
			return nil, fmt.Errorf("tune: feedback: %w", rerr)
		}
	}
}
