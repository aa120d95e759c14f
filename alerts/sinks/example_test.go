package sinks_test

import (
	"fmt"

	"github.com/peakend/peakend/alerts/sinks"
)

// Sign gives the webhook-signature header peakend's webhook sink sends for
// a message: a receiver's test can build a signed request with it.
func ExampleSign() {
	body := []byte(`{"alert_id":"3f9a1c2b7d4e5f60","customer_id":"c-0004211"}`)
	sig, err := sinks.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "3f9a1c2b7d4e5f60", 1767225600, body)
	if err != nil {
		panic(err)
	}
	fmt.Println("webhook-id: 3f9a1c2b7d4e5f60")
	fmt.Println("webhook-timestamp: 1767225600")
	fmt.Println("webhook-signature:", sig)
	// Output:
	// webhook-id: 3f9a1c2b7d4e5f60
	// webhook-timestamp: 1767225600
	// webhook-signature: v1,kYpBd1oinwN4R2ERMJMMfIYSdZBri7AFhj/a6j8Q6mM=
}
