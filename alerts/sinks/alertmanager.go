package sinks

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/peakend/peakend/alerts"
)

// DefaultResolve is how long an alert stays firing in Alertmanager.
const DefaultResolve = 24 * time.Hour

// Alertmanager posts alerts to Alertmanager's API v2 (POST /api/v2/alerts).
//
// Labels are alertname (the detector), severity, tier (when set), journey and
// peakend_alert_id, which keeps distinct alerts from merging; the customer id
// is an annotation, never a label, to keep label cardinality bounded.
//
// peakend alerts are events, not conditions that clear, so each is sent with
// an endsAt: it resolves on its own Resolve after startsAt (detected_at), or
// Resolve after delivery if that is later, so that an alert delivered late
// from the outbox is still seen firing. Safe for concurrent use (set Resolve
// and Now before the first Deliver).
type Alertmanager struct {
	// Resolve is how long an alert fires; zero means DefaultResolve.
	Resolve time.Duration
	// Now is the clock for late deliveries; nil means time.Now.
	Now func() time.Time

	name    string
	ep      endpoint
	deskURL string
	p       poster
}

// NewAlertmanager returns an Alertmanager sink. baseURL is Alertmanager's
// address (http://alertmanager:9093, with any path prefix); a URL already
// ending in /api/v2/alerts is used as is. deskURL is the recovery desk's base
// URL for generatorURL; "" uses the alert's own desk_url. client nil means a
// 10s-timeout client that does not follow redirects.
func NewAlertmanager(name, baseURL, deskURL string, client *http.Client) (*Alertmanager, error) {
	if name == "" {
		name = "alertmanager"
	}
	u := strings.TrimRight(strings.TrimSpace(baseURL), "/")
	if !strings.HasSuffix(u, "/api/v2/alerts") {
		u += "/api/v2/alerts"
	}
	ep, err := parseEndpoint("alertmanager", name, u)
	if err != nil {
		return nil, err
	}
	if client == nil {
		client = defaultClient(0)
	}
	m := &Alertmanager{name: name, ep: ep, deskURL: deskURL}
	m.p = poster{sink: name, client: client, now: func() time.Time { return nowFunc(m.Now) }}
	return m, nil
}

// Name implements alerts.Sink.
func (m *Alertmanager) Name() string { return m.name }

// Deliver implements alerts.Sink. Alertmanager answers 400 to an invalid
// alert (permanent) and 5xx when unavailable (retried).
func (m *Alertmanager) Deliver(ctx context.Context, a *alerts.Alert) error {
	if err := checkAlert(m.name, a); err != nil {
		return err
	}
	body, err := marshal(m.name, []amAlert{m.alertFor(a)})
	if err != nil {
		return err
	}
	return m.p.post(ctx, m.ep, body, nil)
}

// amAlert is Alertmanager's postableAlert.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

func (m *Alertmanager) alertFor(a *alerts.Alert) amAlert {
	labels := map[string]string{
		"alertname":        a.Detector,
		"severity":         a.Severity.String(),
		"peakend_alert_id": a.AlertID,
	}
	if a.Customer.Tier != "" {
		labels["tier"] = a.Customer.Tier
	}
	if a.Journey != "" {
		labels["journey"] = a.Journey
	}

	ann := map[string]string{
		"summary":     a.Reason,
		"customer_id": a.CustomerID,
		"description": amDescription(a),
	}
	if r := recoveryText(a.Recovery); r != "" {
		ann["recovery"] = r
	}

	start := a.DetectedAt
	if start.IsZero() {
		start = a.EventTime
	}
	now := nowFunc(m.Now)
	if start.IsZero() {
		start = now
	}
	resolve := m.Resolve
	if resolve <= 0 {
		resolve = DefaultResolve
	}
	end := start.Add(resolve)
	if late := now.Add(resolve); late.After(end) {
		end = late
	}
	return amAlert{
		Labels:       labels,
		Annotations:  ann,
		StartsAt:     start.UTC().Format(time.RFC3339),
		EndsAt:       end.UTC().Format(time.RFC3339),
		GeneratorURL: deskLink(m.deskURL, a),
	}
}

// amDescription is the customer line and the short evidence.
func amDescription(a *alerts.Alert) string {
	var b strings.Builder
	b.WriteString("Customer " + a.CustomerID)
	if c := customerText(a); c != "" {
		b.WriteString(" (" + c + ")")
	}
	b.WriteString(", perceived score " + num(a.Customer.Perceived) + " (0 good … 1 worst)")
	if a.ComplainedBefore {
		b.WriteString(", complained before")
	}
	b.WriteString(".")
	if lines := evidenceLines(a, utcMinute, plain); len(lines) > 0 {
		b.WriteString("\nEvidence:\n- " + strings.Join(lines, "\n- "))
	}
	return b.String()
}
