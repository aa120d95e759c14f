package sinks

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
)

type postedAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

func TestAlertmanagerGolden(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, nil, "")
	m, err := NewAlertmanager("am", rec.URL, "https://desk.example.com", rec.Client())
	require.NoError(t, err)
	m.Now = func() time.Time { return t0.Add(time.Minute) }
	a := testAlert()
	require.NoError(t, m.Deliver(context.Background(), a))
	req := rec.last(t)
	require.Equal(t, "/api/v2/alerts", req.Path)
	golden(t, "alertmanager_major.json", req.Body)

	var raw []json.RawMessage
	require.NoError(t, json.Unmarshal(req.Body, &raw), "the payload is a JSON array")
	require.Len(t, raw, 1)
	var got []postedAlert
	require.NoError(t, json.Unmarshal(req.Body, &got))
	require.Equal(t, map[string]string{
		"alertname":        "late_delivery",
		"severity":         "major",
		"tier":             "gold",
		"journey":          "delivery",
		"peakend_alert_id": a.AlertID,
	}, got[0].Labels)
	for k, v := range got[0].Labels {
		require.NotEqual(t, "customer_id", k)
		require.NotEqual(t, a.CustomerID, v, "label %s holds the customer id", k)
	}
	require.Equal(t, a.CustomerID, got[0].Annotations["customer_id"])
	require.Equal(t, a.Reason, got[0].Annotations["summary"])
	require.Equal(t, "Call the customer; refund shipping (budget 25 EUR, no approval needed)", got[0].Annotations["recovery"])
	require.True(t, got[0].StartsAt.Equal(a.DetectedAt))
	require.True(t, got[0].EndsAt.Equal(t0.Add(time.Minute+DefaultResolve)))
	require.Equal(t, "https://desk.example.com/customers/c-0004211", got[0].GeneratorURL)
}

func TestAlertmanagerTimes(t *testing.T) {
	tests := []struct {
		name       string
		resolve    time.Duration
		now        time.Time
		start, end time.Time
	}{
		{"on time", 0, t0.Add(2 * time.Second), t0.Add(2 * time.Second), t0.Add(2*time.Second + 24*time.Hour)},
		{"custom resolve", 6 * time.Hour, t0.Add(2 * time.Second), t0.Add(2 * time.Second), t0.Add(2*time.Second + 6*time.Hour)},
		{"delivered late", time.Hour, t0.Add(72 * time.Hour), t0.Add(2 * time.Second), t0.Add(73 * time.Hour)},
		{"clock behind", time.Hour, t0.Add(-time.Hour), t0.Add(2 * time.Second), t0.Add(2*time.Second + time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, http.StatusOK, nil, "")
			m, err := NewAlertmanager("am", rec.URL+"/prefix/", "", rec.Client())
			require.NoError(t, err)
			m.Resolve, m.Now = tt.resolve, func() time.Time { return tt.now }
			require.NoError(t, m.Deliver(context.Background(), testAlert()))
			req := rec.last(t)
			require.Equal(t, "/prefix/api/v2/alerts", req.Path)
			var got []postedAlert
			require.NoError(t, json.Unmarshal(req.Body, &got))
			require.True(t, got[0].StartsAt.Equal(tt.start), "%s", got[0].StartsAt)
			require.True(t, got[0].EndsAt.Equal(tt.end), "%s", got[0].EndsAt)
			require.Equal(t, "http://localhost:8080/customers/c-0004211", got[0].GeneratorURL, "the alert's own desk_url")
		})
	}
}

func TestAlertmanagerLabelsWithoutTier(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, nil, "")
	m, err := NewAlertmanager("am", rec.URL+"/api/v2/alerts", "", rec.Client())
	require.NoError(t, err)
	a := testAlert()
	a.Customer.Tier = ""
	require.NoError(t, m.Deliver(context.Background(), a))
	req := rec.last(t)
	require.Equal(t, "/api/v2/alerts", req.Path)
	var got []postedAlert
	require.NoError(t, json.Unmarshal(req.Body, &got))
	require.Len(t, got[0].Labels, 4)
	require.NotContains(t, got[0].Labels, "tier")
}

func TestAlertmanagerStatus(t *testing.T) {
	for _, tt := range []struct {
		status    int
		permanent bool
	}{{http.StatusBadRequest, true}, {http.StatusInternalServerError, false}, {http.StatusServiceUnavailable, false}} {
		rec := newRecorder(t, tt.status, nil, `{"code":400,"message":"bad"}`)
		m, err := NewAlertmanager("am", rec.URL, "", rec.Client())
		require.NoError(t, err)
		err = m.Deliver(context.Background(), testAlert())
		require.Error(t, err)
		require.Equal(t, tt.permanent, errors.Is(err, alerts.ErrPermanent), tt.status)
	}
}
