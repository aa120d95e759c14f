package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	hook := testkit.NewWebhook(t)
	hook.Down.Store(true)
	hook.Flaky = func(n int) (int, string) {
		switch {
		case n%4 == 0:
			return http.StatusTooManyRequests, "0"
		case n%3 == 0:
			return http.StatusInternalServerError, ""
		}
		return 0, ""
	}
	t.Setenv("PEAKEND_TEST_WEBHOOK_SECRET", testkit.WebhookSecret)

	brokers := testkit.Cluster(t)
	cfg := testkit.Config(t, brokers, testkit.PerCustomer...)
	cfg.Alerting.Sinks = append(cfg.Alerting.Sinks, config.Sink{Type: "webhook", URL: hook.URL,
		SecretEnv: "PEAKEND_TEST_WEBHOOK_SECRET"})
	cfg.ApplyDefaults()
	require.NoError(t, cfg.Validate())
	fast := sinks.Backoff{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: 1}

	a := testkit.StartApp(t, app.Options{Config: cfg, Backoff: fast})
	recs := testkit.Generate(3000, 300, 11, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Minute)
	testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences, recs)
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 30*time.Second, cfg.Kafka.Topics.Experiences)
	a.Stop(t, 10*time.Second)
	require.Empty(t, hook.Delivered(), "the receiver was down")

	onTopic, _ := testkit.ByID(testkit.Alerts(t, testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Alerts)))
	require.NotEmpty(t, onTopic)
	hook.Down.Store(false)
	a = testkit.StartApp(t, app.Options{Config: cfg, Backoff: fast})
	defer a.Stop(t, 10*time.Second)
	testkit.Eventually(t, 30*time.Second, "every alert on the topic delivered to the webhook", func() bool {
		return hook.Has(onTopic)
	})
}
