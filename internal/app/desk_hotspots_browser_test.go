package app_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/testkit"
)

const (
	hotKey = "hotspot/carrier_trouble/carrier=DHX,region=east"
	hotID  = "5d0c7e2a9f814b6aa3c1e0b2d4f6a8c0"
)

// hotspotRecord is a hotspot alert on the alerts topic, keyed by its
// hotspot key, as the pipeline (live or a replay's --out fed to the topic)
// writes it.
func hotspotRecord(t *testing.T, id, state string, sev alerts.Severity, at time.Time) testkit.Record {
	t.Helper()
	end := at.UTC().Truncate(time.Hour)
	info := &alerts.HotspotInfo{Name: "carrier_trouble", Values: map[string]string{"carrier": "DHX", "region": "east"},
		Journey: "delivery", WindowStart: end.Add(-6 * time.Hour), WindowEnd: end, Events: 280, Bad: 45, Rate: 0.1607,
		UsualRate: 0.0131, OthersRate: 0.0108, Customers: 43, State: state, AlertedCustomers: []string{"c-0000017"}}
	reason := "carrier DHX in region east: 16% of deliveries bad (late_delivery) in the last 6 hours, usually 1.3%; 43 customers affected"
	if state == alerts.HotspotClosed {
		info.Rate, info.AlertedCustomers = 0.021, nil
		reason = "carrier DHX in region east: back to normal: 2.1% of deliveries bad (late_delivery) in the last 6 hours, usually 1.3%"
	}
	v, err := json.Marshal(&alerts.Alert{AlertID: id, Detector: "carrier_trouble", Journey: "delivery", Severity: sev,
		Score: info.Rate, Reason: reason, EventTime: end, DetectedAt: at.UTC(), Evidence: []alerts.Evidence{},
		Kind: alerts.KindHotspot, HotspotID: hotID, Hotspot: info})
	require.NoError(t, err)
	return testkit.Record{Key: []byte(hotKey), Value: v}
}

// customerInHotspot is a customer alert whose late parcel falls in the hotspot.
func customerInHotspot(t *testing.T, cust string, value float64, at time.Time) testkit.Record {
	t.Helper()
	v, err := json.Marshal(&alerts.Alert{AlertID: "al-" + cust, CustomerID: cust, Detector: "late_delivery", Journey: "delivery",
		Severity: alerts.Major, Score: 1, Reason: "Delivery arrived 3.5 days late", EventTime: at.UTC(), DetectedAt: at.UTC(),
		Evidence: []alerts.Evidence{{CustomerID: cust, Time: at.UTC(), Journey: "delivery", Outcome: "delivered",
			Metrics: map[string]float64{"delay_hours": 84}, Attributes: map[string]string{"carrier": "DHX", "region": "east"}}},
		Recovery: config.Recovery{Action: "Call the customer; refund shipping", Budget: 25, Currency: "EUR"},
		Customer: alerts.Customer{Tier: "gold", Value: value, Perceived: 0.7}, Kind: alerts.KindCustomer, HotspotID: hotID})
	require.NoError(t, err)
	return testkit.Record{Key: []byte(cust), Value: v}
}

func (d *deskRun) produceAlerts(t *testing.T, recs ...testkit.Record) {
	t.Helper()
	testkit.Produce(t, testkit.Client(t, d.brokers), d.cfg.Kafka.Topics.Alerts, recs)
}

// TestDeskHotspotsInBrowser: a hotspot on the alerts topic shows on the
// desk above the queue (where, its rate against the usual, customers,
// since when), its customer alerts show their cause in the queue and in
// the case; an agent cannot acknowledge it, a supervisor can (with a note,
// the anti-forgery token required), and the agent sees the acknowledgement
// live; when it closes it moves to "Recently closed".
func TestDeskHotspotsInBrowser(t *testing.T) {
	d := startDeskUI(t)
	now := time.Now()
	d.produceAlerts(t,
		hotspotRecord(t, "hot-open", alerts.HotspotOpen, alerts.Major, now.Add(-2*time.Hour)),
		customerInHotspot(t, "hana", 900, now.Add(-90*time.Minute)),
		customerInHotspot(t, "ivo", 300, now.Add(-80*time.Minute)),
	)
	d.produce(t, failedPayment("eve", "silver", 300, now.Add(-20*time.Minute), 1))

	// A stranger (no session) gets no hotspot either.
	code, _ := testkit.Get(t, strings.TrimPrefix(d.base, "http://"), "/api/hotspots")
	require.Equal(t, 401, code, "/api/hotspots without a session")

	ana := testkit.Browser(t, 1280, 900)
	d.signIn(t, ana, "ana")
	waitPage(t, ana, 30*time.Second, "the hotspot on ana's desk", `document.querySelectorAll("#hotspot-list .hotspot").length === 1`)
	waitPage(t, ana, 30*time.Second, "three cases", `document.querySelectorAll("#queue .case").length === 3`)
	hot := pageJS[string](t, ana, `document.querySelector("#hotspot-list .hotspot").innerText`)
	for _, want := range []string{"MAJOR", "carrier trouble: carrier DHX, region east", "16% of deliveries bad", "usually 1.3%",
		"43 customers affected", "open since 2 h ago", "Not acknowledged by ops yet.", "2 customer alerts inside it, 2 still open on the desk"} {
		require.Contains(t, hot, want, "the hotspot")
	}
	require.Equal(t, "(1 open)", pageJS[string](t, ana, `document.querySelector("#hot-count").innerText`))
	require.False(t, pageJS[bool](t, ana, `!!document.querySelector("#hotspot-list .ack-btn")`), "an agent sees an Acknowledge button")
	require.Contains(t, pageJS[string](t, ana, caseRowText("hana")), "Hotspot: carrier DHX, region east")
	require.NotContains(t, pageJS[string](t, ana, caseRowText("eve")), "Hotspot")
	low, err := testkit.LowContrast(ana)
	require.NoError(t, err)
	require.Empty(t, low, "texts below WCAG AA contrast with a hotspot")

	// The case says what caused it, and links to the hotspot.
	browse(t, ana, "ana opens hana's case", chromedp.Click(caseRow("hana")), chromedp.WaitVisible(`#detail`))
	waitPage(t, ana, 20*time.Second, "hana's case", `document.querySelector("#detail").getAttribute("aria-busy") === "false"`)
	cause := pageJS[string](t, ana, `document.querySelector("#d-alerts .cause-note").innerText`)
	require.Contains(t, cause, "part of a hotspot, carrier DHX, region east: 16% of deliveries bad, usually 1.3%")
	low, err = testkit.LowContrast(ana)
	require.NoError(t, err)
	require.Empty(t, low, "texts below WCAG AA contrast in a case with a cause")

	// An agent's acknowledgement is refused by the server too.
	status := pageJS[int](t, ana, `fetch("/api/me").then(r => r.json()).then(me => fetch("/api/hotspots/`+hotID+`/ack",
		{method: "POST", headers: {"X-CSRF-Token": me.csrf_token, "Content-Type": "application/json"}, body: "{}"})).then(r => r.status)`)
	require.Equal(t, 403, status, "an agent's acknowledgement")

	// sam (supervisor): without the anti-forgery token, refused; with the page's button, taken.
	sam := testkit.Browser(t, 1280, 900)
	d.signIn(t, sam, "sam")
	waitPage(t, sam, 30*time.Second, "the Acknowledge button", `!!document.querySelector("#hotspot-list .ack-btn")`)
	status = pageJS[int](t, sam, `fetch("/api/hotspots/`+hotID+`/ack", {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"}).then(r => r.status)`)
	require.Equal(t, 403, status, "an acknowledgement without the anti-forgery token")
	browse(t, sam, "sam acknowledges", chromedp.SendKeys(`#hotspot-list .ack-note`, "Escalated to DHX east depot"),
		chromedp.Click(`#hotspot-list .ack-btn`))
	waitPage(t, sam, 20*time.Second, "the acknowledgement on sam's screen", `document.querySelector("#hotspot-list .ack").innerText.startsWith("Acknowledged by sam")`)
	waitPage(t, ana, 20*time.Second, "the acknowledgement on ana's screen, live",
		`document.querySelector("#hotspot-list .ack").innerText.includes("Escalated to DHX east depot")`)
	require.Contains(t, pageJS[string](t, ana, `document.querySelector("#d-alerts .cause-note").innerText`), "Ops are on it (sam).")

	var ack *feedbackEvent
	testkit.Eventually(t, 20*time.Second, "the acknowledgement on the feedback topic", func() bool {
		for _, f := range d.feedback(t) {
			if f.CustomerID == hotKey {
				ack = &f
			}
		}
		return ack != nil
	})
	require.Equal(t, "claim", ack.Action)
	require.Equal(t, "sam", ack.By)
	require.Equal(t, hotKey, ack.key)
	require.Equal(t, "hot-open", ack.AlertID)
	require.Equal(t, "Escalated to DHX east depot", ack.Note)

	// It closes: off the open list, under "Recently closed".
	d.produceAlerts(t, hotspotRecord(t, "hot-closed", alerts.HotspotClosed, alerts.Major, now))
	waitPage(t, ana, 20*time.Second, "the hotspot closed", `document.querySelectorAll("#hotspot-closed-list .hotspot").length === 1 &&
		document.querySelector("#hotspot-list").innerText.includes("No hotspot is open.")`)
	require.Equal(t, "(1)", pageJS[string](t, ana, `document.querySelector("#hot-closed-count").innerText`))
	closed := pageJS[string](t, ana, `(document.querySelector("#hot-closed").open = true, document.querySelector("#hotspot-closed-list").innerText)`)
	require.Contains(t, closed, "back to normal")
	require.Contains(t, closed, "Acknowledged by sam")
	low, err = testkit.LowContrast(ana)
	require.NoError(t, err)
	require.Empty(t, low, "texts below WCAG AA contrast with a closed hotspot")
	require.False(t, strings.Contains(pageJS[string](t, ana, `document.querySelector("#hotspot-closed-list").innerHTML`), "ack-btn"),
		"a closed hotspot offers no acknowledgement")

	// On a phone, the hotspots fit the screen's width.
	browse(t, ana, "phone width", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), chromedp.Sleep(300*time.Millisecond))
	require.LessOrEqual(t, pageJS[int](t, ana, `document.documentElement.scrollWidth`), 375, "the hotspots scroll sideways on a phone")

	// A link to the hotspot (as Slack's button) opens the desk on it.
	browse(t, sam, "the hotspot's link", chromedp.Navigate(d.base+"/#hotspot/"+hotID), chromedp.WaitVisible(`body[data-ready="true"]`))
	waitPage(t, sam, 20*time.Second, "the hotspot in view", `document.activeElement.id === "hotspot-`+hotID+`" && document.querySelector("#hot-closed").open`)
}
