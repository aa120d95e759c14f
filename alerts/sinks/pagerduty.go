package sinks

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/peakend/peakend/alerts"
)

// PagerDutyURL is the Events API v2 endpoint.
const PagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// pdRetryAfter is the wait after a 429 without Retry-After.
const pdRetryAfter = 30 * time.Second

// pdSummaryMax is the Events API's limit on payload.summary.
const pdSummaryMax = 1024

// PagerDuty triggers PagerDuty incidents through the Events API v2, one per
// alert: dedup_key is the alert_id, so a redelivered alert does not page twice.
// Safe for concurrent use.
type PagerDuty struct {
	name       string
	ep         endpoint
	routingKey string
	deskURL    string
	p          poster
}

// NewPagerDuty returns a PagerDuty sink. url "" means PagerDutyURL.
// routingKey is the integration key (a secret, never in errors). deskURL is
// the recovery desk's base URL for the incident link; "" uses the alert's
// own desk_url. client nil means a 10s-timeout client that does not follow
// redirects.
func NewPagerDuty(name, url, routingKey, deskURL string, client *http.Client) (*PagerDuty, error) {
	if name == "" {
		name = "pagerduty"
	}
	if strings.TrimSpace(url) == "" {
		url = PagerDutyURL
	}
	ep, err := parseEndpoint("pagerduty", name, url)
	if err != nil {
		return nil, err
	}
	routingKey = strings.TrimSpace(routingKey)
	if routingKey == "" {
		return nil, fmt.Errorf("pagerduty sink %q: routing key is empty (set secret_env)", name)
	}
	if client == nil {
		client = defaultClient(0)
	}
	return &PagerDuty{name: name, ep: ep, routingKey: routingKey, deskURL: deskURL,
		p: poster{sink: name, client: client, now: time.Now, retryAfter: pdRetryAfter}}, nil
}

// Name implements alerts.Sink.
func (d *PagerDuty) Name() string { return d.name }

// Deliver implements alerts.Sink. PagerDuty answers 202 when accepted, 400
// to an invalid event (permanent), 429 when throttled (*alerts.RetryAfterError,
// 30s when it gives no Retry-After) and 5xx when unavailable (retried).
func (d *PagerDuty) Deliver(ctx context.Context, a *alerts.Alert) error {
	if err := checkAlert(d.name, a); err != nil {
		return err
	}
	body, err := marshal(d.name, d.eventFor(a))
	if err != nil {
		return err
	}
	return d.p.post(ctx, d.ep, body, nil)
}

type pdEvent struct {
	RoutingKey  string    `json:"routing_key"`
	EventAction string    `json:"event_action"`
	DedupKey    string    `json:"dedup_key,omitempty"`
	Payload     pdPayload `json:"payload"`
	Client      string    `json:"client"`
	ClientURL   string    `json:"client_url,omitempty"`
	Links       []pdLink  `json:"links,omitempty"`
}

type pdPayload struct {
	Summary       string    `json:"summary"`
	Source        string    `json:"source"`
	Severity      string    `json:"severity"`
	Timestamp     string    `json:"timestamp,omitempty"`
	Component     string    `json:"component,omitempty"`
	Group         string    `json:"group,omitempty"`
	Class         string    `json:"class,omitempty"`
	CustomDetails pdDetails `json:"custom_details"`
}

type pdDetails struct {
	AlertID          string            `json:"alert_id"`
	CustomerID       string            `json:"customer_id"`
	Tier             string            `json:"tier,omitempty"`
	CustomerValue    float64           `json:"customer_value"`
	Perceived        float64           `json:"perceived"`
	Score            float64           `json:"score"`
	Reason           string            `json:"reason"`
	Recovery         string            `json:"recovery,omitempty"`
	ComplainedBefore bool              `json:"complained_before"`
	EventTime        string            `json:"event_time,omitempty"`
	Evidence         []alerts.Evidence `json:"evidence"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// PagerDutySeverity maps a peakend severity to an Events API v2 severity:
// critical → critical, major → error, minor → warning, anything else → info.
func PagerDutySeverity(s alerts.Severity) string {
	switch s {
	case alerts.Critical:
		return "critical"
	case alerts.Major:
		return "error"
	case alerts.Minor:
		return "warning"
	default:
		return "info"
	}
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (d *PagerDuty) eventFor(a *alerts.Alert) pdEvent {
	ev := a.Evidence
	if ev == nil {
		ev = []alerts.Evidence{}
	}
	e := pdEvent{
		RoutingKey:  d.routingKey,
		EventAction: "trigger",
		DedupKey:    a.AlertID,
		Payload: pdPayload{
			Summary:   truncate(headline(a), pdSummaryMax),
			Source:    "peakend",
			Severity:  PagerDutySeverity(a.Severity),
			Timestamp: rfc3339(a.DetectedAt),
			Component: a.Journey,
			Group:     a.Detector,
			Class:     a.Detector,
			CustomDetails: pdDetails{
				AlertID:          a.AlertID,
				CustomerID:       a.CustomerID,
				Tier:             a.Customer.Tier,
				CustomerValue:    a.Customer.Value,
				Perceived:        a.Customer.Perceived,
				Score:            a.Score,
				Reason:           a.Reason,
				Recovery:         recoveryText(a.Recovery),
				ComplainedBefore: a.ComplainedBefore,
				EventTime:        rfc3339(a.EventTime),
				Evidence:         ev,
			},
		},
		Client: "peakend",
	}
	if link := deskLink(d.deskURL, a); link != "" {
		e.ClientURL = link
		e.Links = []pdLink{{Href: link, Text: a.CustomerID + " in peakend (timeline, journeys, last alerts)"}}
	}
	return e
}
