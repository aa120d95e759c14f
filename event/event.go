// Package event defines peakend's input records (experience, complaint and
// feedback events, docs/reference.md) and their strict, allocation-lean decoders.
package event

import (
	"errors"
	"fmt"
)

// DefaultMaxBytes is the default size limit of one record (64 KiB).
const DefaultMaxBytes = 64 << 10

// Event is one decoded experience event. Name fields (Journey, Outcome,
// metric names) are interned by the Decoder; a decoded Event does not
// reference the input buffer, so it may be retained.
type Event struct {
	EventID    string   // optional; empty when absent
	CustomerID string   // 1–256 bytes
	Time       int64    // event time, unix nanoseconds (UTC)
	Journey    string   // free-form unless the config lists journeys
	Outcome    string   // optional
	Metrics    []Metric // in input order; a repeated name keeps its last value
	Attrs      []Attr   // in input order; a repeated key keeps its last value
	Tier       string   // customer.tier, optional
	Value      float64  // customer.value, optional
	HasValue   bool     // whether customer.value was present
}

// Metric is one entry of the event's "metrics" object.
type Metric struct {
	Name  string
	Value float64
}

// Attr is one entry of the event's "attributes" object.
type Attr struct {
	Key, Value string
}

// Reset clears e for reuse, keeping the capacity of its slices.
func (e *Event) Reset() {
	*e = Event{Metrics: e.Metrics[:0], Attrs: e.Attrs[:0]}
}

// Metric returns the named metric's value.
func (e *Event) Metric(name string) (float64, bool) {
	for i := range e.Metrics {
		if e.Metrics[i].Name == name {
			return e.Metrics[i].Value, true
		}
	}
	return 0, false
}

// Attr returns the named attribute's value.
func (e *Event) Attr(key string) (string, bool) {
	for i := range e.Attrs {
		if e.Attrs[i].Key == key {
			return e.Attrs[i].Value, true
		}
	}
	return "", false
}

// ErrInvalid is wrapped by every decoding error: the record is bad input and
// belongs in the DLQ. The *Error's Reason is the human-readable cause.
var ErrInvalid = errors.New("event: invalid record")

// Error is a decoding or validation failure. Reason is one short phrase
// suitable for the DLQ's peakend-error header, e.g. `missing field "time"`.
type Error struct {
	Reason string
}

func (e *Error) Error() string { return "invalid record: " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

func invalidf(format string, args ...any) *Error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}
