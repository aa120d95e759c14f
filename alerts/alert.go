// Package alerts turns detector findings into alerts (docs/reference.md, "Alert"):
// the policy (cooldown, escalation, priority, playbook), reasons, ids, and sinks.
package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/peakend/peakend/event"

	"github.com/peakend/peakend/config"
)

// Severity orders how bad an experience was. The zero value is None.
type Severity uint8

// Severities, in increasing order.
const (
	None Severity = iota
	Minor
	Major
	Critical
)

var severityNames = [...]string{"none", "minor", "major", "critical"}

func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

// ParseSeverity reads "minor", "major" or "critical".
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames[1:] {
		if s == n {
			return Severity(i + 1), nil
		}
	}
	return None, fmt.Errorf("unknown severity %q (want minor, major or critical)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// Alert is what peakend emits (docs/reference.md, "Alert"). Field order is the JSON
// order, and encoding is deterministic: replay output is byte-identical.
type Alert struct {
	AlertID          string          `json:"alert_id"`
	CustomerID       string          `json:"customer_id"`
	Detector         string          `json:"detector"`
	Journey          string          `json:"journey"`
	Severity         Severity        `json:"severity"`
	Score            float64         `json:"score"`
	Priority         float64         `json:"priority"`
	Reason           string          `json:"reason"`
	EventTime        time.Time       `json:"event_time"`
	DetectedAt       time.Time       `json:"detected_at"`
	Evidence         []Evidence      `json:"evidence"`
	Recovery         config.Recovery `json:"recovery"`
	Customer         Customer        `json:"customer"`
	ComplainedBefore bool            `json:"complained_before"`
	RecoveredBefore  bool            `json:"recovered_before"`
	DeskURL          string          `json:"desk_url,omitempty"`
	// Kind is KindCustomer for an alert about one customer, KindHotspot for
	// a cause found across customers (then Hotspot is set).
	Kind string `json:"kind"`
	// HotspotID, on a customer alert, is the id of the open hotspot its bad
	// experience falls in; on a hotspot alert, the episode's id, shared by
	// its open, escalated and closed alerts.
	HotspotID string       `json:"hotspot_id,omitempty"`
	Hotspot   *HotspotInfo `json:"hotspot,omitempty"`
}

// Alert kinds.
const (
	KindCustomer = "customer"
	KindHotspot  = "hotspot"
)

// Hotspot states.
const (
	HotspotOpen      = "open"
	HotspotEscalated = "escalated"
	HotspotClosed    = "closed"
)

// HotspotInfo is the hotspot block of a hotspot alert (docs/hotspots.md):
// the window the decision was made on and its figures.
type HotspotInfo struct {
	Name        string            `json:"name"`
	Values      map[string]string `json:"values"`
	Journey     string            `json:"journey"`
	WindowStart time.Time         `json:"window_start"`
	WindowEnd   time.Time         `json:"window_end"`
	Events      int64             `json:"events"`
	Bad         int64             `json:"bad"`
	Rate        float64           `json:"rate"`
	UsualRate   float64           `json:"usual_rate"`
	OthersRate  float64           `json:"others_rate"`
	Customers   int64             `json:"customers"` // distinct customers with a bad experience in the window
	State       string            `json:"state"`
	// AlertedCustomers lists (at most 100, sorted) the customers alerted in
	// the window before the hotspot opened: their alerts could not carry
	// its hotspot_id. Only on the open alert.
	AlertedCustomers []string `json:"alerted_customers,omitempty"`
	// Key is the hotspot key, "hotspot/<name>/<attr=value,...>": the
	// alert's record key on the alerts topic (not in the JSON: Name and
	// Values say the same).
	Key string `json:"-"`
}

// Evidence is one experience event behind an alert, in the input's shape.
type Evidence struct {
	EventID    string             `json:"event_id,omitempty"`
	CustomerID string             `json:"customer_id"`
	Time       time.Time          `json:"time"`
	Journey    string             `json:"journey"`
	Outcome    string             `json:"outcome,omitempty"`
	Metrics    map[string]float64 `json:"metrics,omitempty"`
	Attributes map[string]string  `json:"attributes,omitempty"`
}

// Customer is the customer block of an alert.
type Customer struct {
	Tier      string  `json:"tier,omitempty"`
	Value     float64 `json:"value"`
	Perceived float64 `json:"perceived"` // peak-end score at alert time, 0 good .. 1 worst
}

// Sink delivers alerts to one channel. Deliver is called from one goroutine
// per sink at a time unless the sink says otherwise; it must honour ctx.
//
// A Sink reports failures as errors: errors.Is(err, ErrPermanent) means
// retrying cannot help (the payload was rejected); a *RetryAfterError asks
// the caller to wait at least After before the next attempt; any other error
// is retried with exponential backoff.
type Sink interface {
	Name() string
	Deliver(ctx context.Context, a *Alert) error
}

// FilteringSink is the optional interface of a sink that takes only some
// alerts: an outbox skips storing an alert the sink would drop.
type FilteringSink interface {
	Sink
	Allows(a *Alert) bool
}

// WrappingSink is the optional interface of a sink that wraps another
// (filters, retries): Unwrap returns the inner sink.
type WrappingSink interface {
	Sink
	Unwrap() Sink
}

// GroupingSink is the optional interface of a sink that posts some alerts
// as one message per group (Slack: a hotspot's customer alerts). The
// outbox holds an alert of a group until the group is due (Group's every
// after its oldest pending alert, and after the group's last message),
// then calls DeliverGroup with all the group's pending alerts and deletes
// them only when it returns nil, so a crash before then sends them again.
type GroupingSink interface {
	Sink
	// Group returns a's group and how often at most the group is posted;
	// "" (or every <= 0) delivers a on its own with Deliver.
	Group(a *Alert) (key string, every time.Duration)
	// DeliverGroup delivers as (one group's alerts, oldest first) as one
	// message. Errors are those of Deliver, and ErrMuted: the group is
	// muted, its alerts are done without a message.
	DeliverGroup(ctx context.Context, key string, as []*Alert) error
}

// ErrMuted is returned by a GroupingSink's DeliverGroup for a muted group:
// the alerts are dropped for this sink only (counted as result "muted").
var ErrMuted = errors.New("alerts: group muted")

// ErrPermanent marks a delivery failure that retrying will not fix.
var ErrPermanent = errors.New("alerts: permanent delivery failure")

// RetryAfterError is a delivery failure with a server-given wait (HTTP 429/503 Retry-After).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// EvidenceOf is the evidence form of a decoded experience.
func EvidenceOf(ev *event.Event) Evidence {
	e := Evidence{EventID: ev.EventID, CustomerID: ev.CustomerID, Time: time.Unix(0, ev.Time).UTC(),
		Journey: ev.Journey, Outcome: ev.Outcome}
	if len(ev.Metrics) > 0 {
		e.Metrics = make(map[string]float64, len(ev.Metrics))
		for _, m := range ev.Metrics {
			e.Metrics[m.Name] = m.Value
		}
	}
	if len(ev.Attrs) > 0 {
		e.Attributes = make(map[string]string, len(ev.Attrs))
		for _, a := range ev.Attrs {
			e.Attributes[a.Key] = a.Value
		}
	}
	return e
}
