package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/httpapi"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/state"
)

// TestMetricsLint: the exposition passes promlint, with every metric
// peakend registers (the Pebble collector included) and each labelled
// metric carrying at least one series.
func TestMetricsLint(t *testing.T) {
	cfg := config.Default()
	store, err := state.Open(state.Options{Dir: t.TempDir()})
	require.NoError(t, err)
	defer store.Close()
	var names []string
	for _, d := range cfg.Detectors {
		names = append(names, d.Name)
	}
	m := metrics.New(engine.MetricJourneys(cfg), names)
	m.Register(metrics.NewPebbleCollector(store.Metrics))
	dm := m.NewDesk(names)
	dm.Feedback.WithLabelValues("late_delivery", "major", "recovered")
	m.Deliveries.WithLabelValues("stdout", "delivered").Inc()
	m.OutboxBacklog.WithLabelValues("webhook").Set(0)
	m.OutboxOldest.WithLabelValues("webhook").Set(0)
	m.ConsumerLag.WithLabelValues("experiences", "0").Set(0)
	// What testutil.GatherAndLint does (testutil itself needs a module
	// go.mod does not list).
	mfs, err := m.Registry.Gather()
	require.NoError(t, err)
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	require.NoError(t, err)
	require.Empty(t, problems, "promlint problems")
}

// TestHTTP runs the pipeline with its HTTP server and checks every endpoint
// of docs/reference.md, "HTTP endpoints" but the desk, and the shutdown.
func TestHTTP(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testkit.Config(t, brokers, testkit.PerCustomer...)
	cfg.HTTP.Listen = "127.0.0.1:0"
	// Sign-in by a trusted proxy on this machine (package auth tests the rest).
	cfg.Desk.Proxy = config.Proxy{Header: "X-Forwarded-User", Trusted: []string{"127.0.0.1"}}
	a := testkit.StartApp(t, app.Options{Config: cfg})

	code, body := testkit.Get(t, a.Addr, "/healthz")
	require.Equal(t, http.StatusOK, code, "/healthz: %s", body)
	testkit.Eventually(t, 20*time.Second, "/readyz to be 200", func() bool {
		code, _ := testkit.Get(t, a.Addr, "/readyz")
		return code == http.StatusOK
	})

	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var recs []testkit.Record
	for i := range 5 {
		recs = append(recs, testkit.Record{Key: []byte("dora"), Value: fmt.Appendf(nil,
			`{"event_id":"d%d","customer_id":"dora","time":%q,"journey":"delivery","outcome":"delivered","metrics":{"delay_hours":%d},"customer":{"tier":"gold","value":1200}}`,
			i, t0.Add(time.Duration(i)*time.Hour).Format(time.RFC3339), []int{1, 2, 1, 3, 100}[i])})
	}
	recs = append(recs, testkit.Generate(500, 50, 7, t0, time.Minute)...)
	testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences, recs)
	testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 30*time.Second, cfg.Kafka.Topics.Experiences)

	code, body = testkit.Get(t, a.Addr, "/metrics")
	require.Equal(t, http.StatusOK, code)
	n, ok := testkit.Metric(body, "peakend_events_total", "journey", "delivery", "result", "processed")
	require.True(t, ok, "no peakend_events_total{journey=delivery,result=processed}")
	require.Positive(t, n)
	// dora's events run four hours ahead of the rest: those more than the
	// allowed lateness (1h) behind her are counted late, and still processed.
	n, _ = testkit.Metric(body, "peakend_events_total", "result", "processed")
	late, _ := testkit.Metric(body, "peakend_events_total", "result", "late")
	require.Positive(t, late)
	require.EqualValues(t, len(recs), n+late)
	disk, ok := testkit.Metric(body, "peakend_pebble_disk_bytes")
	require.True(t, ok, "no peakend_pebble_disk_bytes")
	require.Positive(t, disk)
	for _, name := range []string{"peakend_alerts_total", "peakend_event_lag_seconds_count", "peakend_detect_latency_seconds_count",
		"peakend_consumer_lag_records", "peakend_state_customers", "peakend_complaints_total",
		"peakend_complaints_flagged_before_total", "peakend_pebble_read_amplification", "peakend_pebble_compactions_total"} {
		_, ok := testkit.Metric(body, name)
		require.True(t, ok, "metric %s missing", name)
	}
	ready, _ := testkit.Metric(body, "peakend_ready")
	require.EqualValues(t, 1, ready)
	customers, _ := testkit.Metric(body, "peakend_state_customers")
	distinct := map[string]bool{}
	for _, r := range recs {
		distinct[string(r.Key)] = true
	}
	require.EqualValues(t, len(distinct), customers)

	code, body = testkit.Get(t, a.Addr, "/customers/dora")
	require.Equal(t, http.StatusUnauthorized, code, "a customer's data without signing in: %s", body)
	code, body = getAs(t, a.Addr, "/customers/dora", "ana")
	require.Equal(t, http.StatusOK, code, "%s", body)
	var v httpapi.CustomerView
	require.NoError(t, json.Unmarshal(body, &v))
	require.Equal(t, "dora", v.CustomerID)
	require.Equal(t, 5, v.Experiences)
	require.Len(t, v.Recent, 5)
	require.Equal(t, "d4", v.Recent[0].EventID, "recent experiences, newest first")
	require.Equal(t, "gold", v.Tier)
	require.Len(t, v.Alerts, 1)
	require.Equal(t, "worse_than_usual", v.Alerts[0].Detector)
	require.Equal(t, "critical", v.Alerts[0].Severity)
	require.NotEmpty(t, v.Alerts[0].Reason)
	require.Positive(t, v.Perceived)

	code, _ = getAs(t, a.Addr, "/customers/nobody-at-all", "ana")
	require.Equal(t, http.StatusNotFound, code)

	// Shutdown: app.Run returns nil within a few seconds and the port closes.
	took := a.Stop(t, 5*time.Second)
	t.Logf("app.Run returned %s after cancel", took)
	_, err := (&http.Client{Timeout: time.Second}).Get("http://" + a.Addr + "/healthz")
	require.Error(t, err, "the HTTP server still answers after shutdown")
}

// TestShutdownIdle: cancelling a pipeline with nothing to do returns nil
// promptly, and the state store can be opened again at once.
func TestShutdownIdle(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testkit.Config(t, brokers, testkit.PerCustomer...)
	a := testkit.StartApp(t, app.Options{Config: cfg})
	time.Sleep(500 * time.Millisecond) // let it join the group
	a.Stop(t, 5*time.Second)
	store, err := state.Open(state.Options{Dir: cfg.State.Dir})
	require.NoError(t, err, "the store is still locked after app.Run returned")
	require.NoError(t, store.Close())
}

// TestBadHTTPAddress: a port already in use fails app.Run at once with an error.
func TestBadHTTPAddress(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testkit.Config(t, brokers, testkit.PerCustomer...)
	cfg.HTTP.Listen = "127.0.0.1:0"
	a := testkit.StartApp(t, app.Options{Config: cfg})
	cfg2 := testkit.Config(t, brokers, testkit.PerCustomer...)
	cfg2.HTTP.Listen = a.Addr
	done := make(chan error, 1)
	go func() { done <- app.Run(t.Context(), app.Options{Config: cfg2, Logger: testkit.Discard()}) }()
	select {
	case err := <-done:
		require.ErrorContains(t, err, a.Addr)
	case <-time.After(10 * time.Second):
		t.Fatal("app.Run did not fail on a busy port")
	}
	a.Stop(t, 5*time.Second)
}

// TestShutdownAtStart: a cancel that comes while the pipeline is still
// starting (creating topics, joining the group) is a clean stop too.
func TestShutdownAtStart(t *testing.T) {
	brokers := testkit.Cluster(t)
	cfg := testkit.Config(t, brokers, testkit.PerCustomer...)
	for i := range 10 {
		a := testkit.StartApp(t, app.Options{Config: cfg})
		time.Sleep(time.Duration(i) * 2 * time.Millisecond)
		a.Stop(t, 5*time.Second)
	}
}

// TestUnreachableBroker: with no broker at the address, app.Run keeps
// trying for kafka.startup_wait, then fails with an error that names the
// address (exit status 1, one clear line).
func TestUnreachableBroker(t *testing.T) {
	cfg := testkit.Config(t, []string{"127.0.0.1:1"}, testkit.PerCustomer...)
	cfg.Kafka.StartupWait = config.Duration(1500 * time.Millisecond)
	began := time.Now()
	defer func() {
		require.GreaterOrEqual(t, time.Since(began), 1500*time.Millisecond, "gave up before kafka.startup_wait")
	}()
	done := make(chan error, 1)
	go func() { done <- app.Run(t.Context(), app.Options{Config: cfg, Logger: testkit.Discard()}) }()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "127.0.0.1:1")
		require.ErrorContains(t, err, "kafka.startup_wait")
	case <-time.After(30 * time.Second):
		t.Fatal("app.Run did not give up on an unreachable broker")
	}
}

// getAs is testkit.Get as a user named by the trusted proxy header.
func getAs(t *testing.T, addr, path, user string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	require.NoError(t, err)
	req.Header.Set("X-Forwarded-User", user)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}
