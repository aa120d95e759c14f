package testkit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/peakend/peakend/alerts"
)

// WebhookSecret is the Standard Webhooks secret Webhook verifies with.
const WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// Webhook is a receiver for peakend's webhook sink. It checks every
// signature itself (HMAC-SHA256 over id.timestamp.body, written from the
// Standard Webhooks specification, not with peakend's code), records the
// alert_ids it accepted, and fails on demand.
type Webhook struct {
	*httptest.Server
	// Down makes every request fail with 503.
	Down atomic.Bool
	// Flaky, if set before the first request, is asked for each request
	// (numbered from 1, down or not): a status to fail with (0 accepts) and
	// a Retry-After value ("" for none).
	Flaky func(n int) (status int, retryAfter string)

	t   testing.TB
	key []byte
	n   atomic.Int64
	mu  sync.Mutex
	got map[string]int
}

// NewWebhook starts a receiver, closed when the test ends.
func NewWebhook(t testing.TB) *Webhook {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(WebhookSecret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	w := &Webhook{t: t, key: key, got: map[string]int{}}
	w.Server = httptest.NewServer(http.HandlerFunc(w.serve))
	t.Cleanup(w.Close)
	return w
}

func (w *Webhook) serve(rw http.ResponseWriter, r *http.Request) {
	n := int(w.n.Add(1))
	status, retryAfter := 0, ""
	if w.Flaky != nil {
		status, retryAfter = w.Flaky(n)
	}
	if w.Down.Load() {
		status = http.StatusServiceUnavailable
	}
	if status != 0 {
		if retryAfter != "" {
			rw.Header().Set("Retry-After", retryAfter)
		}
		rw.WriteHeader(status)
		return
	}
	body, _ := io.ReadAll(r.Body)
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	mac := hmac.New(sha256.New, w.key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !strings.Contains(" "+r.Header.Get("webhook-signature")+" ", " "+want+" ") {
		w.t.Errorf("webhook: alert %s: bad signature", id)
		rw.WriteHeader(http.StatusUnauthorized)
		return
	}
	var a alerts.Alert
	if err := json.Unmarshal(body, &a); err != nil || a.AlertID != id {
		w.t.Errorf("webhook: alert %s: body %q (%v)", id, body, err)
		rw.WriteHeader(http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.got[id]++
	w.mu.Unlock()
}

// Delivered returns how many times each alert_id was accepted.
func (w *Webhook) Delivered() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.got)
}

// Requests is how many requests arrived, failed ones included.
func (w *Webhook) Requests() int64 { return w.n.Load() }

// Has reports whether every alert_id in ids was accepted at least once.
func (w *Webhook) Has(ids map[string]*alerts.Alert) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id := range ids {
		if w.got[id] == 0 {
			return false
		}
	}
	return true
}
