package sinks

import (
	"context"
	"maps"
	"net/http"
	"sort"
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
	body, err := marshal(m.name, m.alertsFor(a))
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

// alertsFor is what one peakend alert posts. A customer alert is one
// Alertmanager alert. A hotspot is one Alertmanager alert per episode
// (labels without the alert_id): firing while open, its escalation
// replacing it (the lower severities are posted resolved), all resolved
// when it closes.
func (m *Alertmanager) alertsFor(a *alerts.Alert) []amAlert {
	if !isHotspot(a) {
		return []amAlert{m.alertFor(a)}
	}
	x := m.alertFor(a)
	now := nowFunc(m.Now).UTC().Format(time.RFC3339)
	out := []amAlert{}
	for _, sev := range []alerts.Severity{alerts.Minor, alerts.Major, alerts.Critical} {
		y := x
		y.Labels = maps.Clone(x.Labels)
		y.Labels["severity"] = sev.String()
		switch {
		case a.Hotspot.State == alerts.HotspotClosed:
			y.EndsAt = now
		case sev == a.Severity:
		default:
			y.EndsAt = now
		}
		if y.EndsAt < y.StartsAt {
			y.EndsAt = y.StartsAt
		}
		out = append(out, y)
	}
	return out
}

func (m *Alertmanager) alertFor(a *alerts.Alert) amAlert {
	if isHotspot(a) {
		return m.hotspotAlert(a)
	}
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
	if a.HotspotID != "" {
		// Groups the customer alerts of one hotspot under it (route
		// group_by), and lets an inhibit rule mute them while it fires.
		labels["hotspot_id"] = a.HotspotID
	}

	ann := map[string]string{
		"summary":     a.Reason,
		"customer_id": a.CustomerID,
		"description": amDescription(a),
	}
	if r := recoveryText(a.Recovery); r != "" {
		ann["recovery"] = r
	}
	if a.RecoveredBefore {
		ann["recovered_before"] = recoveredText
	}
	return m.timed(a, labels, ann, deskLink(m.deskURL, a))
}

// hotspotAlert is a hotspot's Alertmanager alert: alertname (the rule),
// severity, journey, peakend_kind=hotspot, hotspot_id, and hotspot (the
// values, "carrier=rapid,region=east": bounded by the rule's attributes).
func (m *Alertmanager) hotspotAlert(a *alerts.Alert) amAlert {
	h := a.Hotspot
	keys := make([]string, 0, len(h.Values))
	for k := range h.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals := make([]string, len(keys))
	for i, k := range keys {
		vals[i] = k + "=" + h.Values[k]
	}
	labels := map[string]string{
		"alertname":    a.Detector,
		"severity":     a.Severity.String(),
		"peakend_kind": alerts.KindHotspot,
		"hotspot_id":   a.HotspotID,
		"hotspot":      strings.Join(vals, ","),
	}
	if a.Journey != "" {
		labels["journey"] = a.Journey
	}
	desc := "Where: " + hotspotWhere(h) + "\nRate: " + hotspotRates(h) + "\nIn the window (" + hotspotWindow(h) + "): " + hotspotCounts(h)
	if before := alertedBefore(h, 20); before != "" {
		desc += "\nAlerted before it opened: " + before
	}
	ann := map[string]string{
		"summary":     a.Reason,
		"description": desc,
		"state":       h.State,
		"alert_id":    a.AlertID,
	}
	return m.timed(a, labels, ann, hotspotLink(m.deskURL, a))
}

// timed gives an alert its startsAt (detected_at) and endsAt.
func (m *Alertmanager) timed(a *alerts.Alert, labels, ann map[string]string, link string) amAlert {
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
		GeneratorURL: link,
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
	if a.RecoveredBefore {
		b.WriteString(", recovered by staff recently")
	}
	b.WriteString(".")
	if lines := evidenceLines(a, utcMinute, plain); len(lines) > 0 {
		b.WriteString("\nEvidence:\n- " + strings.Join(lines, "\n- "))
	}
	return b.String()
}
