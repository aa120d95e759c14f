package stream_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/alerts/sinks"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/stream"
)

// TestOutboxSurvivesCrashBeforeStateCommit: an instance dies after a
// cycle's alerts are in Kafka (at-least-once: produced and its changelog
// marker written; exactly-once: its transaction committed) and before the
// cycle's state reaches Pebble. The restart rolls that state forward from
// the changelog, which does not carry the local outbox: every alert on the
// topic must still reach the webhook, so the outbox entries must have been
// on disk before the alerts were in Kafka. Not parallel: the crash is a
// package-level hook.
func TestOutboxSurvivesCrashBeforeStateCommit(t *testing.T) {
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprint("eos=", eos), func(t *testing.T) {
			hook := testkit.NewWebhook(t)
			t.Setenv("PEAKEND_TEST_WEBHOOK_SECRET", testkit.WebhookSecret)
			brokers := testkit.Cluster(t)
			cfg := testEOSConfig(t, brokers)
			cfg.Kafka.ExactlyOnce = eos
			cfg.Alerting.Sinks = append(cfg.Alerting.Sinks, config.Sink{Type: "webhook", URL: hook.URL,
				SecretEnv: "PEAKEND_TEST_WEBHOOK_SECRET"})
			cfg.ApplyDefaults()
			require.NoError(t, cfg.Validate())
			opts := testkit.FastCommits()
			if eos {
				opts = testkit.EOSClientOpts()
			}
			opts = append(opts, kgo.FetchMaxPartitionBytes(8<<10)) // several cycles
			fast := sinks.Backoff{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: 1}
			recs := testkit.Generate(3000, 300, 11, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Minute)
			testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences, recs)

			crash := errors.New("crash before the state commit")
			stream.CrashBeforeStateCommit(t, crash)
			a := testkit.StartApp(t, app.Options{Config: cfg, Backoff: fast, ClientOpts: opts})
			testkit.Eventually(t, 30*time.Second, "the crash", func() bool { done, _ := a.Done(); return done })
			_, err := a.Done()
			require.ErrorIs(t, err, crash)
			inKafka := len(testkit.Alerts(t, testkit.ReadCommitted(t, brokers, cfg.Kafka.Topics.Alerts)))
			require.Positive(t, inKafka, "the crashed cycle's alerts are in Kafka")

			a = testkit.StartApp(t, app.Options{Config: cfg, Backoff: fast, ClientOpts: opts})
			testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 30*time.Second, cfg.Kafka.Topics.Experiences)
			onTopic, _ := testkit.ByID(testkit.Alerts(t, testkit.ReadCommitted(t, brokers, cfg.Kafka.Topics.Alerts)))
			want, _ := testkit.ByID(testkit.Replay(t, cfg, recs))
			require.Len(t, onTopic, len(want), "alert_ids on the topic")
			testkit.Eventually(t, 30*time.Second, "every alert on the topic delivered to the webhook", func() bool {
				return hook.Has(onTopic)
			})
			a.Stop(t, 10*time.Second)
			t.Logf("%d alerts in Kafka at the crash; all %d delivered after the restart", inKafka, len(onTopic))
		})
	}
}
