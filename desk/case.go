package desk

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/peakend/peakend/alerts"
)

// Case is one customer's open alerts, worked as one: claimed once, closed
// by one outcome. It is the JSON of the desk's API (docs/desk.md).
type Case struct {
	CustomerID string            `json:"customer_id"`
	Tier       string            `json:"tier"`
	Value      float64           `json:"value"`
	Severity   string            `json:"severity"` // highest of its alerts
	Priority   float64           `json:"priority"` // severity, then customer value: the queue's order
	OpenedAt   time.Time         `json:"opened_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	Alerts     []json.RawMessage `json:"alerts"` // newest first, as on the alerts topic
	Recovery   Recovery          `json:"recovery"`
	Claim      *Claim            `json:"claim"`
	Approval   *Approval         `json:"approval"`
	Approvers  []string          `json:"approvers"`
	Status     string            `json:"status"` // open or closed
	Outcome    *Outcome          `json:"outcome"`
	ClosedAt   *time.Time        `json:"closed_at,omitempty"`
	// Later holds feedback that arrived for the case after it was closed
	// (another outcome, say): recorded, not applied.
	Later []*Feedback `json:"later_feedback,omitempty"`
}

// Recovery is the pre-authorised action of a case's highest alert.
type Recovery struct {
	Action           string  `json:"action"`
	Budget           float64 `json:"budget"`
	Currency         string  `json:"currency"`
	RequiresApproval bool    `json:"requires_approval"`
}

// Claim is who is working a case, until ExpiresAt.
type Claim struct {
	By        string    `json:"by"`
	At        time.Time `json:"at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Approval is a supervisor's decision on an action that needs one.
type Approval struct {
	State string     `json:"state"` // pending, approved or refused
	By    string     `json:"by,omitempty"`
	At    *time.Time `json:"at,omitempty"`
}

// Outcome is what became of a case.
type Outcome struct {
	// AlertID is the alert the outcome named: its detector and severity
	// are the ones the outcome counts for (/api/detectors,
	// peakend_feedback_total). Empty in cases closed before it was kept.
	AlertID string    `json:"alert_id,omitempty"`
	Outcome string    `json:"outcome"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Note    string    `json:"note"`
	Spent   *Money    `json:"spent"`
}

// Case statuses.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// alertMeta is what the desk reads of an alert; the rest is kept as is.
type alertMeta struct {
	AlertID    string    `json:"alert_id"`
	CustomerID string    `json:"customer_id"`
	Detector   string    `json:"detector"`
	Journey    string    `json:"journey"`
	Severity   string    `json:"severity"`
	DetectedAt time.Time `json:"detected_at"`
	Recovery   Recovery  `json:"recovery"`
	Customer   struct {
		Tier  string  `json:"tier"`
		Value float64 `json:"value"`
	} `json:"customer"`
	Kind string `json:"kind"`
	// HotspotID: on a customer alert, the open hotspot it falls in; on a
	// hotspot alert, its episode.
	HotspotID string              `json:"hotspot_id"`
	Hotspot   *alerts.HotspotInfo `json:"hotspot"`

	sev alerts.Severity
}

// parseAlert reads an alert of the alerts topic.
func parseAlert(b []byte) (*alertMeta, error) {
	var a alertMeta
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("alert: %w", err)
	}
	if a.AlertID == "" {
		return nil, fmt.Errorf("alert: no alert_id")
	}
	if a.Kind == "hotspot" {
		return &a, nil
	}
	if a.CustomerID == "" {
		return nil, fmt.Errorf("alert %s: no customer_id", a.AlertID)
	}
	sev, err := alerts.ParseSeverity(a.Severity)
	if err != nil {
		return nil, fmt.Errorf("alert %s: %w", a.AlertID, err)
	}
	a.sev = sev
	return &a, nil
}

// entry is a case in the view, with its alerts read.
type entry struct {
	c    Case
	meta []*alertMeta // parallel to c.Alerts
}

func (e *entry) highest() *alertMeta {
	var best *alertMeta
	for _, m := range e.meta {
		if best == nil || m.sev > best.sev {
			best = m
		}
	}
	return best
}

// add puts alert m (raw: its JSON) at the head of the case and recomputes
// severity, priority and recovery. A new highest alert with another
// recovery voids an approval given for the old one.
func (e *entry) add(m *alertMeta, raw []byte) {
	old := e.highest()
	e.c.Alerts = append([]json.RawMessage{append(json.RawMessage(nil), raw...)}, e.c.Alerts...)
	e.meta = append([]*alertMeta{m}, e.meta...)
	if e.c.OpenedAt.IsZero() || m.DetectedAt.Before(e.c.OpenedAt) {
		e.c.OpenedAt = m.DetectedAt
	}
	if m.DetectedAt.After(e.c.UpdatedAt) {
		e.c.UpdatedAt = m.DetectedAt
	}
	e.c.Tier, e.c.Value = m.Customer.Tier, m.Customer.Value
	h := e.highest()
	e.c.Severity = h.sev.String()
	e.c.Priority = alerts.Priority(h.sev, e.c.Value)
	e.c.Recovery = h.Recovery
	if old != nil && old.Recovery != h.Recovery {
		e.c.Approval = nil
	}
}

// decode reads a stored case back.
func decodeEntry(b []byte) (*entry, error) {
	e := &entry{}
	if err := json.Unmarshal(b, &e.c); err != nil {
		return nil, fmt.Errorf("desk: stored case: %w", err)
	}
	for _, raw := range e.c.Alerts {
		m, err := parseAlert(raw)
		if err != nil {
			return nil, fmt.Errorf("desk: stored case %s: %w", e.c.CustomerID, err)
		}
		e.meta = append(e.meta, m)
	}
	return e, nil
}

func (e *entry) encode() []byte {
	c := e.c
	c.Approvers = nil
	b, err := json.Marshal(&c)
	if err != nil {
		panic(err) // strings, numbers, times and raw JSON already checked
	}
	return b
}

// has reports whether the case holds alert id.
func (e *entry) has(id string) (*alertMeta, bool) {
	for _, m := range e.meta {
		if m.AlertID == id {
			return m, true
		}
	}
	return nil, false
}
