package desk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// Feedback actions (contract section 6).
const (
	ActionClaim   = "claim"
	ActionRelease = "release"
	ActionApprove = "approve"
	ActionRefuse  = "refuse"
	ActionOutcome = "outcome"
)

// Outcomes of action "outcome".
const (
	OutcomeRecovered   = "recovered"
	OutcomeDeclined    = "declined"
	OutcomeUnreachable = "unreachable"
	OutcomeFalseAlarm  = "false_alarm"
)

// Outcomes lists the valid outcomes, in the order the page offers them.
var Outcomes = []string{OutcomeRecovered, OutcomeDeclined, OutcomeUnreachable, OutcomeFalseAlarm}

// Money is an amount in a currency.
type Money struct {
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency"`
}

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

// maxFeedbackBytes bounds one feedback record.
const maxFeedbackBytes = 64 << 10

// errBadFeedback is wrapped by DecodeFeedback's errors.
var errBadFeedback = errors.New("desk: bad feedback event")

// DecodeFeedback reads one feedback event and checks it: alert_id,
// customer_id (1–256 bytes), time (RFC 3339) and a known action are
// required; action outcome needs a known outcome; spent, if given, a
// non-negative amount and a currency. An event without action but with an
// outcome is an outcome (the older form). Unknown fields are ignored.
func DecodeFeedback(b []byte) (*Feedback, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", errBadFeedback, fmt.Sprintf(format, a...))
	}
	if len(b) > maxFeedbackBytes {
		return nil, bad("record too large (%d bytes, limit %d)", len(b), maxFeedbackBytes)
	}
	if !utf8.Valid(b) {
		return nil, bad("invalid UTF-8")
	}
	var raw struct {
		FeedbackID *string         `json:"feedback_id"`
		AlertID    *string         `json:"alert_id"`
		CustomerID *string         `json:"customer_id"`
		Time       *string         `json:"time"`
		Action     *string         `json:"action"`
		Outcome    *string         `json:"outcome"`
		By         *string         `json:"by"`
		Note       *string         `json:"note"`
		Spent      json.RawMessage `json:"spent"`
		Mute       bool            `json:"mute"`
	}
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		return nil, bad("want a JSON object")
	}
	if err := json.Unmarshal(t, &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, bad("field %q: want %s", te.Field, te.Type.String())
		}
		return nil, bad("invalid JSON: %v", err)
	}
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	f := &Feedback{FeedbackID: s(raw.FeedbackID), AlertID: s(raw.AlertID), CustomerID: s(raw.CustomerID),
		Action: s(raw.Action), Outcome: s(raw.Outcome), By: s(raw.By), Note: s(raw.Note), Mute: raw.Mute}
	switch {
	case f.AlertID == "":
		return nil, bad(`missing field "alert_id"`)
	case f.CustomerID == "":
		return nil, bad(`missing field "customer_id"`)
	case len(f.CustomerID) > 256:
		return nil, bad(`field "customer_id": longer than 256 bytes`)
	case raw.Time == nil:
		return nil, bad(`missing field "time"`)
	}
	tm, err := time.Parse(time.RFC3339Nano, *raw.Time)
	if err != nil {
		return nil, bad(`field "time": want RFC 3339, not %q`, *raw.Time)
	}
	f.Time = tm.UTC()
	if f.Action == "" && f.Outcome != "" {
		f.Action = ActionOutcome
	}
	switch f.Action {
	case ActionClaim, ActionRelease, ActionApprove, ActionRefuse:
		if f.Outcome != "" {
			return nil, bad(`field "outcome": only for action "outcome", not %q`, f.Action)
		}
	case ActionOutcome:
		if !validOutcome(f.Outcome) {
			return nil, bad(`field "outcome": want one of recovered, declined, unreachable, false_alarm, not %q`, f.Outcome)
		}
	case "":
		return nil, bad(`missing field "action"`)
	default:
		return nil, bad(`field "action": want one of claim, release, approve, refuse, outcome, not %q`, f.Action)
	}
	if len(raw.Spent) > 0 && string(raw.Spent) != "null" {
		var m Money
		if err := json.Unmarshal(raw.Spent, &m); err != nil {
			return nil, bad(`field "spent": want {"amount": number, "currency": string}`)
		}
		if m.Amount < 0 || math.IsNaN(m.Amount) || math.IsInf(m.Amount, 0) {
			return nil, bad(`field "spent": amount %v is negative`, m.Amount)
		}
		if m.Amount > 0 && m.Currency == "" {
			return nil, bad(`field "spent": missing currency`)
		}
		f.Spent = &m
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
