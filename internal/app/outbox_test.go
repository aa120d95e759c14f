package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/alerts/sinks"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/testkit"
)

// The outage test, in process: the webhook receiver is down while
// peakend detects, peakend is stopped with alerts undelivered, restarted on
// the same state, and the receiver comes back flaky (500s and 429s): every
// alert on the Kafka alerts topic arrives at the webhook, signed.
func TestWebhookOutageNothingLost(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	var n atomic.Int64
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := n.Add(1)
		switch {
		case down.Load():
			w.WriteHeader(http.StatusBadGateway)
			return
		case k%4 == 0:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		case k%3 == 0:
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if r.Header.Get("webhook-signature") == "" {
			t.Errorf("unsigned delivery")
		}
		body, _ := io.ReadAll(r.Body)
		var a alerts.Alert
		require.NoError(t, json.Unmarshal(body, &a))
		mu.Lock()
		got[a.AlertID]++
		mu.Unlock()
	}))
	defer srv.Close()
	t.Setenv("PEAKEND_TEST_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")

	brokers := testkit.Cluster(t)
	cfg := testkit.Config(t, brokers, testkit.PerCustomer...)
	cfg.Alerting.Sinks = append(cfg.Alerting.Sinks, config.Sink{Type: "webhook", URL: srv.URL,
		SecretEnv: "PEAKEND_TEST_WEBHOOK_SECRET"})
	cfg.ApplyDefaults()
	require.NoError(t, cfg.Validate())
	fast := sinks.Backoff{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: 1}

	a := testkit.StartApp(t, app.Options{Config: cfg, Backoff: fast})
	recs := testkit.Generate(3000, 300, 11, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Minute)
	testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences, recs)
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 30*time.Second, cfg.Kafka.Topics.Experiences)
	a.Stop(t, 10*time.Second)
	mu.Lock()
	require.Empty(t, got, "the receiver was down")
	mu.Unlock()

	onTopic, _ := testkit.ByID(testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts)))
	require.NotEmpty(t, onTopic)
	down.Store(false)
	a = testkit.StartApp(t, app.Options{Config: cfg, Backoff: fast})
	defer a.Stop(t, 10*time.Second)
	testkit.Eventually(t, 30*time.Second, "every alert on the topic delivered to the webhook", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range onTopic {
			if got[id] == 0 {
				return false
			}
		}
		return true
	})
}
