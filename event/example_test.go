package event_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/peakend/peakend/event"
)

// A producer can check its records as peakend will read them: a record
// Decode rejects goes to the dead-letter topic with the same reason.
func ExampleDecoder_Decode() {
	d := event.NewDecoder(0, nil) // default size limit, any journey
	var ev event.Event

	good := `{"event_id":"e-1","customer_id":"c-0004211","time":"2026-03-02T09:30:00Z","journey":"delivery",` +
		`"outcome":"delivered","metrics":{"delay_hours":30.5},"attributes":{"order_id":"o-981"}}`
	if err := d.Decode([]byte(good), &ev); err != nil {
		panic(err)
	}
	delay, _ := ev.Metric("delay_hours")
	order, _ := ev.Attr("order_id")
	fmt.Println(ev.CustomerID, ev.Journey, ev.Outcome, time.Unix(0, ev.Time).UTC(), delay, order)

	bad := `{"customer_id":"c-0004211","time":"yesterday","journey":"delivery"}`
	err := d.Decode([]byte(bad), &ev)
	fmt.Println(errors.Is(err, event.ErrInvalid), err)
	// Output:
	// c-0004211 delivery delivered 2026-03-02 09:30:00 +0000 UTC 30.5 o-981
	// true invalid record: field "time": want RFC 3339 string
}

// A complaint as peakend reads it from the complaints topic (key: the
// customer id, on the same partition count as the experiences).
func ExampleEncodeComplaint() {
	c := event.Complaint{CustomerID: "c-0004211", Time: time.Date(2026, 3, 2, 19, 5, 0, 0, time.UTC).UnixNano(),
		Channel: "phone", Text: "Where is my parcel?"}
	fmt.Println(string(event.EncodeComplaint(c)))
	// Output:
	// {"customer_id":"c-0004211","time":"2026-03-02T19:05:00Z","channel":"phone","text":"Where is my parcel?"}
}
