package event

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// Complaint is one complaint event (docs/reference.md, "Complaint event").
type Complaint struct {
	CustomerID  string // 1–256 bytes
	Time        int64  // when the customer complained, unix nanoseconds (UTC)
	Channel     string // optional
	ComplaintID string // optional
	Text        string // optional
}

// Feedback outcomes (docs/reference.md, "Feedback event").
const (
	FeedbackRecovered   = "recovered"
	FeedbackDeclined    = "declined"
	FeedbackUnreachable = "unreachable"
	FeedbackFalseAlarm  = "false_alarm"
)

// Feedback actions (docs/reference.md, "Feedback event"). A record without
// an action but with an outcome is an outcome (the older form).
const (
	ActionClaim   = "claim"
	ActionRelease = "release"
	ActionApprove = "approve"
	ActionRefuse  = "refuse"
	ActionOutcome = "outcome"
)

// Money is an amount in a currency (a feedback event's spent).
type Money struct {
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency"`
}

// Feedback is one feedback event (docs/reference.md, "Feedback event"): what became of an
// alert. It marshals to the contract's JSON (see EncodeFeedback).
type Feedback struct {
	FeedbackID string // optional: unique id
	AlertID    string // required
	CustomerID string // 1–256 bytes
	Time       int64  // unix nanoseconds (UTC)
	Action     string // one of the Action* constants; "" with an outcome is an outcome
	Outcome    string // one of the Feedback* constants, with action outcome (or none); else ""
	By         string // optional: staff id
	Note       string // optional
	Spent      *Money // optional: money spent on the recovery
	// Mute, on a hotspot's claim (its acknowledgement), also mutes the
	// hotspot's grouped customer alerts in Slack.
	Mute bool
}

// IsOutcome reports whether f records an outcome (action "outcome", or an
// outcome without action).
func (f *Feedback) IsOutcome() bool { return f.Outcome != "" }

// DecodeComplaint decodes a complaint event. maxBytes is the size limit (0
// means DefaultMaxBytes). Errors are *Error wrapping ErrInvalid, with the
// same JSON, UTF-8 and field rules as Decoder.Decode: keys are
// case-sensitive, the last of a repeated key wins, null is absent.
func DecodeComplaint(b []byte, maxBytes int) (Complaint, error) {
	r, err := readObject(b, maxBytes)
	if err != nil {
		return Complaint{}, err
	}
	var c Complaint
	if c.CustomerID, err = r.customerID(); err != nil {
		return Complaint{}, err
	}
	if c.Time, err = r.time(); err != nil {
		return Complaint{}, err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"channel", &c.Channel}, {"complaint_id", &c.ComplaintID}, {"text", &c.Text}} {
		if *f.dst, _, err = r.str(f.name); err != nil {
			return Complaint{}, err
		}
	}
	return c, nil
}

// DecodeFeedback decodes a feedback event. maxBytes is the size limit (0
// means DefaultMaxBytes). Errors are *Error wrapping ErrInvalid, with the
// same rules as DecodeComplaint. action, if given, is one of the Action*
// constants; an outcome (one of the Feedback* constants) is required with
// action "outcome" or without action, and refused with the other actions;
// spent, if given, has a finite amount ≥ 0 and, when above 0, a currency.
func DecodeFeedback(b []byte, maxBytes int) (Feedback, error) {
	r, err := readObject(b, maxBytes)
	if err != nil {
		return Feedback{}, err
	}
	var f Feedback
	var ok bool
	switch f.AlertID, ok, err = r.str("alert_id"); {
	case err != nil:
		return Feedback{}, err
	case !ok:
		return Feedback{}, missing("alert_id")
	case f.AlertID == "":
		return Feedback{}, empty("alert_id")
	}
	if f.CustomerID, err = r.customerID(); err != nil {
		return Feedback{}, err
	}
	if f.Time, err = r.time(); err != nil {
		return Feedback{}, err
	}
	if f.FeedbackID, _, err = r.str("feedback_id"); err != nil {
		return Feedback{}, err
	}
	if f.Action, _, err = r.str("action"); err != nil {
		return Feedback{}, err
	}
	var hasOutcome bool
	if f.Outcome, hasOutcome, err = r.str("outcome"); err != nil {
		return Feedback{}, err
	}
	switch f.Action {
	case "", ActionOutcome:
		if !hasOutcome {
			return Feedback{}, missing("outcome")
		}
		switch f.Outcome {
		case FeedbackRecovered, FeedbackDeclined, FeedbackUnreachable, FeedbackFalseAlarm:
		default:
			return Feedback{}, invalidf("field %q: want one of recovered, declined, unreachable, false_alarm, not %q", "outcome", f.Outcome)
		}
	case ActionClaim, ActionRelease, ActionApprove, ActionRefuse:
		if hasOutcome {
			return Feedback{}, invalidf("field %q: only with action \"outcome\", not %q", "outcome", f.Action)
		}
	default:
		return Feedback{}, invalidf("field %q: want one of claim, release, approve, refuse, outcome, not %q", "action", f.Action)
	}
	if f.By, _, err = r.str("by"); err != nil {
		return Feedback{}, err
	}
	if f.Note, _, err = r.str("note"); err != nil {
		return Feedback{}, err
	}
	if raw, ok := r["mute"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &f.Mute); err != nil {
			return Feedback{}, invalidf("field %q: want true or false", "mute")
		}
	}
	if raw, ok := r["spent"]; ok && string(raw) != "null" {
		var m struct {
			Amount   *float64 `json:"amount"`
			Currency *string  `json:"currency"`
		}
		const want = `field "spent": want {"amount": number, "currency": string}`
		if err := json.Unmarshal(raw, &m); err != nil || m.Amount == nil {
			return Feedback{}, invalidf("%s", want)
		}
		switch {
		case *m.Amount < 0:
			return Feedback{}, invalidf("field %q: negative amount %v", "spent.amount", *m.Amount)
		case *m.Amount > 0 && (m.Currency == nil || *m.Currency == ""):
			return Feedback{}, missing("spent.currency")
		}
		f.Spent = &Money{Amount: *m.Amount}
		if m.Currency != nil {
			f.Spent.Currency = *m.Currency
		}
	}
	return f, nil
}

// feedbackJSON is Feedback as the contract spells it.
type feedbackJSON struct {
	FeedbackID string `json:"feedback_id,omitempty"`
	AlertID    string `json:"alert_id"`
	CustomerID string `json:"customer_id"`
	Time       string `json:"time"`
	Action     string `json:"action,omitempty"`
	Outcome    string `json:"outcome,omitempty"`
	By         string `json:"by,omitempty"`
	Note       string `json:"note,omitempty"`
	Spent      *Money `json:"spent,omitempty"`
	Mute       bool   `json:"mute,omitempty"`
}

// EncodeFeedback returns f as one line of JSON (no newline), with the time
// in RFC 3339 with nanoseconds, UTC. DecodeFeedback reads it back.
func EncodeFeedback(f Feedback) []byte {
	return encode(feedbackJSON{
		FeedbackID: f.FeedbackID,
		AlertID:    f.AlertID,
		CustomerID: f.CustomerID,
		Time:       formatTime(f.Time),
		Action:     f.Action,
		Outcome:    f.Outcome,
		By:         f.By,
		Note:       f.Note,
		Spent:      f.Spent,
		Mute:       f.Mute,
	})
}

// MarshalJSON encodes f as EncodeFeedback does.
func (f Feedback) MarshalJSON() ([]byte, error) { return EncodeFeedback(f), nil }

// complaintJSON is Complaint as the contract spells it.
type complaintJSON struct {
	CustomerID  string `json:"customer_id"`
	Time        string `json:"time"`
	Channel     string `json:"channel,omitempty"`
	ComplaintID string `json:"complaint_id,omitempty"`
	Text        string `json:"text,omitempty"`
}

// EncodeComplaint returns c as one line of JSON (no newline), with the time
// in RFC 3339 with nanoseconds, UTC. DecodeComplaint reads it back.
func EncodeComplaint(c Complaint) []byte {
	return encode(complaintJSON{
		CustomerID:  c.CustomerID,
		Time:        formatTime(c.Time),
		Channel:     c.Channel,
		ComplaintID: c.ComplaintID,
		Text:        c.Text,
	})
}

func formatTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// encode marshals v without HTML escaping and without the newline.
func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // structs of strings always encode
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// object is a decoded JSON object, its values still raw.
type object map[string]json.RawMessage

// readObject checks the size, the UTF-8 and the JSON syntax of b the way
// Decoder.Decode does, then splits the object into raw values.
func readObject(b []byte, maxBytes int) (object, error) {
	limit := maxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	if len(b) > limit {
		return nil, invalidf("record too large (%d bytes, limit %d)", len(b), limit)
	}
	if !utf8.Valid(b) {
		return nil, &Error{Reason: "invalid UTF-8"}
	}
	p := parser{b: b, d: &Decoder{}}
	p.ws()
	switch c := p.peek(); {
	case c == '{':
	case c == '[' || c == '"' || c == 't' || c == 'f' || c == 'n' || c == '-' || c >= '0' && c <= '9':
		p.fail(p.i, "want a JSON object")
		return nil, p.err
	default:
		p.unexpected()
		return nil, p.err
	}
	if p.skip(0) {
		if p.ws(); p.i < len(b) {
			p.unexpected()
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	var o object
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, invalidf("invalid JSON: %v", err) // not expected after the check
	}
	return o, nil
}

// str returns the string field name; ok is false when it is absent or null.
func (o object) str(name string) (s string, ok bool, err error) {
	raw, found := o[name]
	if !found || string(raw) == "null" {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, wantString(name)
	}
	return s, true, nil
}

func (o object) customerID() (string, error) {
	s, ok, err := o.str("customer_id")
	switch {
	case err != nil:
		return "", err
	case !ok:
		return "", missing("customer_id")
	case s == "":
		return "", empty("customer_id")
	case len(s) > maxCustomerID:
		return "", tooLong("customer_id", maxCustomerID)
	}
	return s, nil
}

func (o object) time() (int64, error) {
	s, ok, err := o.str("time")
	if !ok && err == nil {
		return 0, missing("time")
	}
	ns, terr := parseTime([]byte(s))
	switch {
	case err != nil || terr == timeFormat:
		return 0, &Error{Reason: `field "time": want RFC 3339 string`}
	case terr == timeRange:
		return 0, &Error{Reason: `field "time": year outside 1970..2200`}
	}
	return ns, nil
}
