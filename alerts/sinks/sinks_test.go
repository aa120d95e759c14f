package sinks

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var t0 = time.Date(2025, 3, 14, 14, 3, 22, 0, time.UTC)

// testAlert is the fixed alert behind the golden files.
func testAlert() *alerts.Alert {
	return &alerts.Alert{
		AlertID:    "3f9a1c2b7d4e5f60a1b2c3d4e5f60718",
		CustomerID: "c-0004211",
		Detector:   "late_delivery",
		Journey:    "delivery",
		Severity:   alerts.Major,
		Score:      0.9731,
		Priority:   3.08,
		Reason:     "Delivery arrived 7.1 days late — worse than 99.6% of deliveries in the last 7 days",
		EventTime:  t0,
		DetectedAt: t0.Add(2 * time.Second),
		Evidence: []alerts.Evidence{
			{EventID: "e-1", CustomerID: "c-0004211", Time: t0.Add(-240 * time.Hour), Journey: "delivery", Outcome: "delivered",
				Metrics: map[string]float64{"delay_hours": 2}},
			{EventID: "e-2", CustomerID: "c-0004211", Time: t0.Add(-48 * time.Hour), Journey: "delivery", Outcome: "delivered",
				Metrics: map[string]float64{"delay_hours": 30.25, "distance_km": 12.5, "items": 3, "weight_kg": 1.2}},
			{EventID: "e-3", CustomerID: "c-0004211", Time: t0.Add(-30 * time.Hour), Journey: "support_call", Outcome: "dropped",
				Metrics: map[string]float64{"wait_seconds": 1260}},
			{EventID: "e-4", CustomerID: "c-0004211", Time: t0, Journey: "delivery", Outcome: "delivered",
				Metrics: map[string]float64{"delay_hours": 170}, Attributes: map[string]string{"order_id": "o-981"}},
		},
		Recovery: config.Recovery{Action: "Call the customer; refund shipping", Budget: 25, Currency: "EUR"},
		Customer: alerts.Customer{Tier: "gold", Value: 1200, Perceived: 0.82},
		DeskURL:  "http://localhost:8080/customers/c-0004211",
	}
}

// request is one request a test server received.
type request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// recorder is an httptest server that records requests and answers with
// a fixed status, headers and body.
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []request
	status int
	header map[string]string
	body   string
}

func newRecorder(t *testing.T, status int, header map[string]string, body string) *recorder {
	t.Helper()
	r := &recorder{status: status, header: header, body: body}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, request{Method: req.Method, Path: req.URL.RequestURI(), Header: req.Header.Clone(), Body: b})
		r.mu.Unlock()
		for k, v := range r.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(r.status)
		_, _ = io.WriteString(w, r.body)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) last(t *testing.T) request {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.reqs, "no request received")
	return r.reqs[len(r.reqs)-1]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// golden compares a JSON payload with testdata/name, both indented (the
// indentation is the only change; keys, order and values are as sent).
// With -update it rewrites the file.
func golden(t *testing.T, name string, payload []byte) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.Indent(&buf, payload, "", "  "))
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	require.Equal(t, string(want), buf.String(), "payload differs from %s (go test -update rewrites it)", path)
}
