package sinks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/alerts/sinks"
)

// verifyWebhook checks a request from peakend's webhook sink as Standard
// Webhooks define it: the signature is "v1," + base64(HMAC-SHA256(key,
// id + "." + timestamp + "." + body)), key being the base64 part of the
// "whsec_…" secret; webhook-signature may list several, space-separated.
// The timestamp must be within tolerance of now (replay protection).
// Copy it into your receiver: it uses only the standard library.
func verifyWebhook(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp: %w", err)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook-timestamp %s is %s away from now", ts, d)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, sig, _ := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no valid signature")
}

// A receiver of peakend's webhook sink verifies each request before it
// trusts the alert. webhook-id is the alert_id, the same on every retry:
// deduplicate on it.
func ExampleWebhook_verify() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // the sink's `secret` in peakend's config

	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			err = verifyWebhook(secret, r.Header, body, time.Now(), 5*time.Minute)
		}
		if err != nil {
			fmt.Println("rejected:", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var a alerts.Alert
		if err := json.Unmarshal(body, &a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Printf("verified %s: %s %s for %s\n", r.Header.Get("webhook-id"), a.Severity, a.Detector, a.CustomerID)
	}))
	defer receiver.Close()

	alert := &alerts.Alert{AlertID: "3f9a1c2b7d4e5f60", CustomerID: "c-0004211", Detector: "late_delivery",
		Journey: "delivery", Severity: alerts.Major, Reason: "Delivery arrived 7.1 days late"}

	signed, err := sinks.NewWebhook("frontline", receiver.URL, secret, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("signed:", signed.Deliver(context.Background(), alert))

	forged, err := sinks.NewWebhook("forged", receiver.URL, "whsec_"+base64.StdEncoding.EncodeToString([]byte("not the secret")), nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("forged:", forged.Deliver(context.Background(), alert) != nil)
	// Output:
	// verified 3f9a1c2b7d4e5f60: major late_delivery for c-0004211
	// signed: <nil>
	// rejected: no valid signature
	// forged: true
}
