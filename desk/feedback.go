package desk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/peakend/peakend/event"
)

// Feedback actions (docs/reference.md, the feedback topic).
const (
	ActionClaim   = event.ActionClaim
	ActionRelease = event.ActionRelease
	ActionApprove = event.ActionApprove
	ActionRefuse  = event.ActionRefuse
	ActionOutcome = event.ActionOutcome
)

// Outcomes of action "outcome".
const (
	OutcomeRecovered   = event.FeedbackRecovered
	OutcomeDeclined    = event.FeedbackDeclined
	OutcomeUnreachable = event.FeedbackUnreachable
	OutcomeFalseAlarm  = event.FeedbackFalseAlarm
)

// Outcomes lists the valid outcomes, in the order the page offers them.
var Outcomes = []string{OutcomeRecovered, OutcomeDeclined, OutcomeUnreachable, OutcomeFalseAlarm}

// Money is an amount in a currency.
type Money = event.Money

// Feedback is one event of the feedback topic: what staff did about an
// alert. Key = customer id.
type Feedback struct {
	FeedbackID string    `json:"feedback_id,omitempty"`
	AlertID    string    `json:"alert_id"`
	CustomerID string    `json:"customer_id"`
	Time       time.Time `json:"time"`
	Action     string    `json:"action"`
	Outcome    string    `json:"outcome,omitempty"`
	By         string    `json:"by,omitempty"`
	Note       string    `json:"note,omitempty"`
	Spent      *Money    `json:"spent,omitempty"`
	// Mute, on a hotspot's claim (its acknowledgement), also mutes its
	// grouped customer alerts in Slack.
	Mute bool `json:"mute,omitempty"`
}

// errBadFeedback is wrapped by DecodeFeedback's errors.
var errBadFeedback = errors.New("desk: bad feedback event")

// DecodeFeedback reads one feedback event with the engine's decoder
// (event.DecodeFeedback: the same rules wherever a feedback record is read)
// under its default size limit, 64 KiB: alert_id, customer_id (1–256
// bytes), time (RFC 3339) and a known action are required; action outcome
// needs a known outcome; spent, if given, a non-negative amount and, above
// 0, a currency. An event without action but with an outcome is an outcome
// (the older form). Unknown fields are ignored.
func DecodeFeedback(b []byte) (*Feedback, error) {
	e, err := event.DecodeFeedback(b, 0)
	if err != nil {
		reason := err.Error()
		var ee *event.Error
		if errors.As(err, &ee) {
			reason = ee.Reason
		}
		return nil, fmt.Errorf("%w: %s", errBadFeedback, reason)
	}
	f := &Feedback{FeedbackID: e.FeedbackID, AlertID: e.AlertID, CustomerID: e.CustomerID,
		Time: time.Unix(0, e.Time).UTC(), Action: e.Action, Outcome: e.Outcome, By: e.By, Note: e.Note, Mute: e.Mute}
	if f.Action == "" {
		f.Action = ActionOutcome
	}
	if e.Spent != nil {
		f.Spent = e.Spent
	}
	return f, nil
}

func validOutcome(o string) bool {
	for _, v := range Outcomes {
		if o == v {
			return true
		}
	}
	return false
}

// Encode returns f as the feedback topic's JSON.
func (f *Feedback) Encode() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		panic(err) // strings, a time and numbers always encode
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
