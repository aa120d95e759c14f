package sinks

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/peakend/peakend/alerts"
)

// hotspotAlert is a hotspot alert as hotspots.Aggregator writes it.
func hotspotAlert(state string, sev alerts.Severity) *alerts.Alert {
	end := t0.Truncate(time.Hour)
	info := &alerts.HotspotInfo{Name: "carrier_trouble", Values: map[string]string{"carrier": "rapid", "region": "east"},
		Journey: "delivery", WindowStart: end.Add(-6 * time.Hour), WindowEnd: end, Events: 280, Bad: 45, Rate: 0.1607,
		UsualRate: 0.0131, OthersRate: 0.0108, Customers: 43, State: state}
	reason := "carrier rapid in region east: 16% of deliveries bad (late_delivery) in the last 6 hours (to Mar 14 14:00 UTC), usually 1.3%; 43 customers affected"
	if state == alerts.HotspotOpen {
		info.AlertedCustomers = []string{"c-0000017", "c-0000230", "c-0001402"}
	}
	if state == alerts.HotspotClosed {
		info.Rate, info.Bad = 0.021, 6
		reason = "carrier rapid in region east: back to normal: 2.1% of deliveries bad (late_delivery) in the last 6 hours (to Mar 14 14:00 UTC), usually 1.3%; 6 customers affected"
	}
	return &alerts.Alert{AlertID: "9b1e0c55aa0f4d2e8c3b7a6f5e4d3c2b", Detector: "carrier_trouble", Journey: "delivery",
		Severity: sev, Score: info.Rate, Reason: reason, EventTime: end, DetectedAt: end.Add(3 * time.Second),
		Evidence: []alerts.Evidence{}, Kind: alerts.KindHotspot, HotspotID: "5d0c7e2a9f814b6aa3c1e0b2d4f6a8c0", Hotspot: info}
}

// customerInHotspot is a customer alert inside an open hotspot, of a
// customer staff recovered recently.
func customerInHotspot() *alerts.Alert {
	a := testAlert()
	a.Kind = alerts.KindCustomer
	a.HotspotID = "5d0c7e2a9f814b6aa3c1e0b2d4f6a8c0"
	a.RecoveredBefore = true
	return a
}

func TestSlackHotspotGolden(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, nil, "ok")
	s, err := NewSlack("ops-slack", rec.URL, "https://desk.example.com/", rec.Client())
	require.NoError(t, err)

	require.NoError(t, s.Deliver(context.Background(), hotspotAlert(alerts.HotspotOpen, alerts.Major)))
	body := rec.last(t).Body
	golden(t, "slack_hotspot_open.json", body)
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string                 `json:"type"`
			Text     *struct{ Text string } `json:"text"`
			Elements []struct {
				URL string `json:"url"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	require.NoError(t, json.Unmarshal(body, &msg))
	require.True(t, strings.HasPrefix(msg.Text, "[MAJOR] hotspot carrier_trouble opened: carrier rapid in region east: 16%"), msg.Text)
	require.Contains(t, msg.Blocks[0].Text.Text, "HOTSPOT OPENED · MAJOR · carrier_trouble")
	require.NotContains(t, string(body), "Customer timeline", "a hotspot is not one customer")
	require.Contains(t, string(body), "carrier rapid, region east")
	require.Contains(t, string(body), "16% bad, usually 1.3% (other values now 1.1%)")
	require.Contains(t, string(body), "45 bad of 280 experiences; 43 customers affected")
	require.Contains(t, string(body), "c-0000017, c-0000230, c-0001402")
	require.Equal(t, "https://desk.example.com/#hotspot/5d0c7e2a9f814b6aa3c1e0b2d4f6a8c0", msg.Blocks[len(msg.Blocks)-1].Elements[0].URL)

	require.NoError(t, s.Deliver(context.Background(), hotspotAlert(alerts.HotspotClosed, alerts.Major)))
	golden(t, "slack_hotspot_closed.json", rec.last(t).Body)
	require.Contains(t, string(rec.last(t).Body), "HOTSPOT BACK TO NORMAL · carrier_trouble")

	require.NoError(t, s.Deliver(context.Background(), customerInHotspot()))
	body = rec.last(t).Body
	golden(t, "slack_customer_in_hotspot.json", body)
	require.Contains(t, string(body), `*Recovered before*\nyes: this customer was recovered recently`)
	require.Contains(t, string(body), "part of an open hotspot (5d0c7e2a9f814b6aa3c1e0b2d4f6a8c0)")
}

func TestAlertmanagerHotspotGolden(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, nil, "")
	m, err := NewAlertmanager("am", rec.URL, "https://desk.example.com", rec.Client())
	require.NoError(t, err)
	now := t0.Add(time.Minute)
	m.Now = func() time.Time { return now }
	post := func(a *alerts.Alert, name string) []postedAlert {
		t.Helper()
		require.NoError(t, m.Deliver(context.Background(), a))
		body := rec.last(t).Body
		golden(t, name, body)
		var got []postedAlert
		require.NoError(t, json.Unmarshal(body, &got))
		return got
	}
	firing := func(as []postedAlert) map[string]string {
		var out map[string]string
		for _, a := range as {
			if a.EndsAt.After(now) {
				require.Nil(t, out, "one firing alert per hotspot")
				out = a.Labels
			}
		}
		return out
	}

	// Open: one firing alert, no alert_id label, so that its escalation and
	// closing speak of the same Alertmanager alert.
	got := post(hotspotAlert(alerts.HotspotOpen, alerts.Major), "alertmanager_hotspot_open.json")
	require.Equal(t, map[string]string{"alertname": "carrier_trouble", "severity": "major", "peakend_kind": "hotspot",
		"hotspot_id": "5d0c7e2a9f814b6aa3c1e0b2d4f6a8c0", "hotspot": "carrier=rapid,region=east", "journey": "delivery"}, firing(got))
	require.Equal(t, "https://desk.example.com/#hotspot/5d0c7e2a9f814b6aa3c1e0b2d4f6a8c0", got[0].GeneratorURL)
	require.Contains(t, got[1].Annotations["description"], "Rate: 16% bad, usually 1.3%")

	// Escalated: critical fires, major is resolved.
	got = post(hotspotAlert(alerts.HotspotEscalated, alerts.Critical), "alertmanager_hotspot_escalated.json")
	require.Equal(t, "critical", firing(got)["severity"])
	// Closed: nothing fires.
	got = post(hotspotAlert(alerts.HotspotClosed, alerts.Critical), "alertmanager_hotspot_closed.json")
	require.Nil(t, firing(got))
	require.Len(t, got, 3)

	// A customer alert inside it carries the hotspot_id label: a route
	// grouping by hotspot_id sends one message for all of them, and the
	// inhibit rule in deploy/alertmanager mutes them while the hotspot fires.
	got = post(customerInHotspot(), "alertmanager_customer_in_hotspot.json")
	require.Len(t, got, 1)
	require.Equal(t, "5d0c7e2a9f814b6aa3c1e0b2d4f6a8c0", got[0].Labels["hotspot_id"])
	require.NotContains(t, got[0].Labels, "peakend_kind")
	require.Equal(t, "this customer was recovered recently", got[0].Annotations["recovered_before"])
	require.Contains(t, got[0].Annotations["description"], "recovered by staff recently")
}

func TestWebhookHotspotGolden(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, nil, "")
	w, err := NewWebhook("wh", rec.URL, "", rec.Client())
	require.NoError(t, err)
	require.NoError(t, w.Deliver(context.Background(), hotspotAlert(alerts.HotspotOpen, alerts.Major)))
	req := rec.last(t)
	golden(t, "webhook_hotspot_open.json", req.Body)
	require.Equal(t, "9b1e0c55aa0f4d2e8c3b7a6f5e4d3c2b", req.Header.Get("webhook-id"))
	require.NoError(t, w.Deliver(context.Background(), customerInHotspot()))
	golden(t, "webhook_customer_in_hotspot.json", rec.last(t).Body)
	var got alerts.Alert
	require.NoError(t, json.Unmarshal(rec.last(t).Body, &got))
	require.True(t, got.RecoveredBefore)
	require.Equal(t, "5d0c7e2a9f814b6aa3c1e0b2d4f6a8c0", got.HotspotID)
}

// TestAlertmanagerExampleMatchesLabels: the inhibit rule and routes in
// deploy/alertmanager/alertmanager.yml select, by the labels this sink
// writes, the hotspot as source and its customer alerts as targets (and
// not the hotspot itself).
func TestAlertmanagerExampleMatchesLabels(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "alertmanager", "alertmanager.yml"))
	require.NoError(t, err)
	var conf struct {
		Inhibit []struct {
			Source []string `yaml:"source_matchers"`
			Target []string `yaml:"target_matchers"`
			Equal  []string `yaml:"equal"`
		} `yaml:"inhibit_rules"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &conf))
	require.Len(t, conf.Inhibit, 1)
	m := &Alertmanager{}
	hot := m.alertFor(hotspotAlert(alerts.HotspotOpen, alerts.Major)).Labels
	cust := m.alertFor(customerInHotspot()).Labels
	plainCust := m.alertFor(testAlert()).Labels
	rule := conf.Inhibit[0]
	require.True(t, matchAll(t, rule.Source, hot), "the hotspot is the source")
	require.False(t, matchAll(t, rule.Source, cust))
	require.True(t, matchAll(t, rule.Target, cust), "its customer alerts are the targets")
	require.False(t, matchAll(t, rule.Target, hot), "a hotspot must not mute itself")
	require.False(t, matchAll(t, rule.Target, plainCust), "customer alerts outside a hotspot are never muted")
	for _, l := range rule.Equal {
		require.Equal(t, hot[l], cust[l], "label %s", l)
		require.NotEmpty(t, hot[l])
	}
}

// matchAll evaluates Alertmanager matchers of the forms name="v",
// name!="v" and name=~"re" (anchored, as Alertmanager's) against labels.
func matchAll(t *testing.T, matchers []string, labels map[string]string) bool {
	t.Helper()
	re := regexp.MustCompile(`^(\w+)(=~|!=|=)"(.*)"$`)
	for _, s := range matchers {
		p := re.FindStringSubmatch(s)
		require.NotNil(t, p, "matcher %q", s)
		v := labels[p[1]]
		switch p[2] {
		case "=":
			if v != p[3] {
				return false
			}
		case "!=":
			if v == p[3] {
				return false
			}
		case "=~":
			if !regexp.MustCompile("^(?:" + p[3] + ")$").MatchString(v) {
				return false
			}
		}
	}
	return true
}

func TestWriterLineHotspot(t *testing.T) {
	w := NewWriter("stdout", nil, false)
	w.Location = time.UTC
	require.Equal(t, "14:00:03 MAJOR    HOTSPOT carrier_trouble opened — carrier rapid in region east: 16% of deliveries bad "+
		"(late_delivery) in the last 6 hours (to Mar 14 14:00 UTC), usually 1.3%; 43 customers affected",
		w.Line(hotspotAlert(alerts.HotspotOpen, alerts.Major)))
	line := w.Line(customerInHotspot())
	require.Contains(t, line, "c-0004211 (gold, 1,200 EUR) late_delivery — Delivery arrived 7.1 days late")
	require.Contains(t, line, " [recovered before] [in hotspot 5d0c7e2a9f814b6aa3c1e0b2d4f6a8c0] → Call the customer")
}
