//go:build integration

package integration

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/internal/testkit"
)

// TestWebhookOutageWithKill is issue 4's outage test on the real broker:
// the webhook receiver is down while peakend detects; peakend is killed
// with SIGKILL during the outage and restarted; the receiver comes back
// failing a share of requests with 500 and 429. Every alert on the Kafka
// alerts topic arrives at the webhook, each signed correctly (checked by
// testkit.Webhook with HMAC-SHA256 written from the Standard Webhooks spec).
func TestWebhookOutageWithKill(t *testing.T) {
	hook := testkit.NewWebhook(t)
	hook.Down.Store(true)
	hook.Flaky = func(n int) (int, string) {
		switch {
		case n%5 == 0:
			return http.StatusTooManyRequests, "1"
		case n%3 == 0:
			return http.StatusInternalServerError, ""
		}
		return 0, ""
	}
	bs := brokers(t)
	const events = 20_000
	recs := testkit.Generate(events, 1_000, 31, time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), 2*time.Second)
	names := newNames(t, "hook")
	createTopics(t, bs, 4, names.Experiences)
	testkit.Produce(t, testkit.Client(t, bs), names.Experiences, recs)
	cfgPath, cfg := writeConfig(t, bs, names, "")
	want, _ := testkit.ByID(testkit.Replay(t, cfg, recs))
	yaml, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	yaml = []byte(strings.Replace(string(yaml), "  sinks: [{type: kafka}]",
		"  sinks: [{type: kafka}, {type: webhook, url: \""+hook.URL+"\", secret_env: PEAKEND_IT_WEBHOOK_SECRET}]", 1))
	require.NoError(t, os.WriteFile(cfgPath, yaml, 0o644))
	env := "PEAKEND_IT_WEBHOOK_SECRET=" + testkit.WebhookSecret

	p := startPeakend(t, cfgPath, env)
	waitMetric(t, p, 2*time.Minute, events/2, "peakend_events_total", "result", "processed")
	p.kill(t) // during the outage, with alerts in the outbox
	require.Empty(t, hook.Delivered(), "the receiver was down")

	p = startPeakend(t, cfgPath, env)
	time.Sleep(2 * time.Second) // the outbox retries against the dead receiver meanwhile
	hook.Down.Store(false)
	// Done when the topic holds every alert replay finds (group offsets are
	// no guide after a crash: see DESIGN, limits).
	var ids map[string]*alerts.Alert
	testkit.Eventually(t, 2*time.Minute, "every expected alert on the topic", func() bool {
		onTopic, _ := readAlerts(t, bs, names.Alerts)
		ids, _ = testkit.ByID(onTopic)
		for id := range want {
			if ids[id] == nil {
				return false
			}
		}
		return true
	})
	require.NotEmpty(t, ids)
	for deadline := time.Now().Add(2 * time.Minute); !hook.Has(ids); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			got := hook.Delivered()
			var missing []string
			for id := range ids {
				if got[id] == 0 {
					missing = append(missing, id)
				}
			}
			body, _ := httpGet(p.Addr, "/metrics")
			var series []string
			for _, l := range strings.Split(string(body), "\n") {
				if strings.HasPrefix(l, "peakend_sink") || strings.HasPrefix(l, "peakend_outbox") || strings.HasPrefix(l, "peakend_alerts") {
					series = append(series, l)
				}
			}
			require.FailNowf(t, "timed out", "waiting 2m for every alert on the topic delivered to the webhook: %d of %d missing, e.g. %v; metrics:\n%s",
				len(missing), len(ids), missing[:min(5, len(missing))], strings.Join(series, "\n"))
		}
	}
	p.terminate(t, 10*time.Second)
	t.Logf("%d alerts on the topic, all delivered to the webhook after a SIGKILL during its outage (%d requests)",
		len(ids), hook.Requests())
}
