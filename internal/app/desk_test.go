package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/auth"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/testkit"
)

// asUser is the tests' sign-in: the user named by X-Test-User.
func asUser(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get("X-Test-User"); u != "" {
			r = r.WithContext(auth.WithUser(r.Context(), auth.User{Name: u, Role: config.RoleAgent}))
		} else {
			http.Error(w, `{"error":"sign in first"}`, http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func deskCall(t *testing.T, addr, user, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+addr+path, rd)
	require.NoError(t, err)
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var v map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &v)
	return resp.StatusCode, v
}

// TestDeskWiring: an experience the pipeline alerts on shows as a case on
// the desk served by the same process; a claim and an outcome go to the
// feedback topic, and the desk's metrics count them.
func TestDeskWiring(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testkit.Config(t, brokers, "late_delivery")
	cfg.HTTP.Listen = "127.0.0.1:0"
	on := true
	cfg.Desk.Enabled = &on
	a := testkit.StartApp(t, app.Options{Config: cfg, DeskGuard: asUser})

	code, _ := deskCall(t, a.Addr, "", "GET", "/api/queue", nil)
	require.Equal(t, http.StatusUnauthorized, code, "the queue needs a user")

	t0 := time.Now().UTC().Add(-time.Hour)
	testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences, []testkit.Record{{Key: []byte("dora"),
		Value: fmt.Appendf(nil, `{"event_id":"e1","customer_id":"dora","time":%q,"journey":"delivery","outcome":"delivered","metrics":{"delay_hours":100},"customer":{"tier":"gold","value":1200}}`,
			t0.Format(time.RFC3339))}})
	var cases []any
	testkit.Eventually(t, 30*time.Second, "dora's case on the desk", func() bool {
		code, v := deskCall(t, a.Addr, "ana", "GET", "/api/queue", nil)
		require.Equal(t, http.StatusOK, code)
		cases, _ = v["cases"].([]any)
		return len(cases) == 1
	})
	c := cases[0].(map[string]any)
	require.Equal(t, "dora", c["customer_id"])
	require.Equal(t, "major", c["severity"])

	code, v := deskCall(t, a.Addr, "ana", "POST", "/api/cases/dora/claim", nil)
	require.Equal(t, http.StatusOK, code, "%v", v)
	code, v = deskCall(t, a.Addr, "ana", "GET", "/api/cases/dora", nil)
	require.Equal(t, http.StatusOK, code)
	require.NotNil(t, v["customer"], "the customer view of the instance holding dora")
	require.Equal(t, "dora", v["customer"].(map[string]any)["customer_id"])
	code, v = deskCall(t, a.Addr, "ana", "POST", "/api/cases/dora/outcome", map[string]any{"outcome": "recovered",
		"spent": map[string]any{"amount": 10, "currency": "EUR"}})
	require.Equal(t, http.StatusOK, code, "%v", v)

	recs := testkit.ReadTopic(t, brokers, cfg.Kafka.Topics.Feedback)
	require.Len(t, recs, 2)
	_, body := testkit.Get(t, a.Addr, "/metrics")
	n, _ := testkit.Metric(body, "peakend_desk_claims_total")
	require.EqualValues(t, 1, n)
	n, _ = testkit.Metric(body, "peakend_desk_outcomes_total", "detector", "late_delivery", "outcome", "recovered")
	require.EqualValues(t, 1, n)
	n, _ = testkit.Metric(body, "peakend_feedback_total", "detector", "late_delivery", "severity", "major", "outcome", "recovered")
	require.EqualValues(t, 1, n)
	n, _ = testkit.Metric(body, "peakend_desk_claim_seconds_count")
	require.EqualValues(t, 1, n)
	n, _ = testkit.Metric(body, "peakend_desk_outcome_seconds_count")
	require.EqualValues(t, 1, n)
	n, _ = testkit.Metric(body, "peakend_desk_open_alerts", "severity", "major")
	require.EqualValues(t, 0, n)
	a.Stop(t, 10*time.Second)
}
