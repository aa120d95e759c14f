package alerts_test

import (
	"encoding/json"
	"fmt"

	"github.com/peakend/peakend/alerts"
)

// A consumer of the alerts topic (or a webhook receiver) decodes each
// record's value into an Alert. alert_id is the same every time an alert
// is delivered again: deduplicate on it.
func ExampleAlert() {
	value := []byte(`{"alert_id":"5b0c3a8e9d1f42a7b6c5d4e3f2a1b0c9","customer_id":"c-0004211",` +
		`"detector":"broken_promise","journey":"delivery","severity":"major","score":1,"priority":3.08,` +
		`"reason":"Delivery promised by 2 Mar 18:00 has not arrived (order o-981) — 2 hours past the promise",` +
		`"event_time":"2026-03-01T10:00:00Z","detected_at":"2026-03-02T20:00:00Z",` +
		`"evidence":[{"event_id":"p-981","customer_id":"c-0004211","time":"2026-03-01T10:00:00Z","journey":"delivery",` +
		`"outcome":"promised","attributes":{"order_id":"o-981","promised_by":"2026-03-02T18:00:00Z"}}],` +
		`"recovery":{"action":"Call the customer; refund shipping","budget":25,"currency":"EUR","requires_approval":false},` +
		`"customer":{"tier":"gold","value":1200,"perceived":0.7},"complained_before":false,"recovered_before":false}`)

	var a alerts.Alert
	if err := json.Unmarshal(value, &a); err != nil {
		panic(err)
	}
	fmt.Println(a.AlertID)
	fmt.Printf("%s %s for %s (%s customer)\n", a.Severity, a.Detector, a.CustomerID, a.Customer.Tier)
	fmt.Println(a.Reason)
	fmt.Println("detected", a.DetectedAt.Sub(a.EventTime), "after the order")
	fmt.Println("evidence:", a.Evidence[0].EventID, a.Evidence[0].Attributes["order_id"])
	fmt.Printf("recovery: %s (up to %.0f %s)\n", a.Recovery.Action, a.Recovery.Budget, a.Recovery.Currency)
	fmt.Println("urgent:", a.Severity >= alerts.Major)
	// Output:
	// 5b0c3a8e9d1f42a7b6c5d4e3f2a1b0c9
	// major broken_promise for c-0004211 (gold customer)
	// Delivery promised by 2 Mar 18:00 has not arrived (order o-981) — 2 hours past the promise
	// detected 34h0m0s after the order
	// evidence: p-981 o-981
	// recovery: Call the customer; refund shipping (up to 25 EUR)
	// urgent: true
}
