package sinks

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
)

const testRoutingKey = "R0123456789abcdef0123456789abcde"

type pdSent struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     struct {
		Summary   string `json:"summary"`
		Source    string `json:"source"`
		Severity  string `json:"severity"`
		Timestamp string `json:"timestamp"`
		Component string `json:"component"`
		Group     string `json:"group"`
		Class     string `json:"class"`
	} `json:"payload"`
	Links []struct {
		Href, Text string
	} `json:"links"`
}

func TestPagerDutyGolden(t *testing.T) {
	rec := newRecorder(t, http.StatusAccepted, nil, `{"status":"success","message":"Event processed","dedup_key":"x"}`)
	d, err := NewPagerDuty("pd", rec.URL+"/v2/enqueue", testRoutingKey, "https://desk.example.com", rec.Client())
	require.NoError(t, err)
	a := testAlert()
	a.Severity = alerts.Critical
	a.Recovery.Action, a.Recovery.Budget = "Call today; full refund if wanted", 150
	require.NoError(t, d.Deliver(context.Background(), a))
	req := rec.last(t)
	require.Equal(t, "/v2/enqueue", req.Path)
	golden(t, "pagerduty_critical.json", req.Body)

	var got pdSent
	require.NoError(t, json.Unmarshal(req.Body, &got))
	require.Equal(t, a.AlertID, got.DedupKey)
	require.Equal(t, testRoutingKey, got.RoutingKey)
	require.Equal(t, "trigger", got.EventAction)
	require.Equal(t, "critical", got.Payload.Severity)
	require.Equal(t, "peakend", got.Payload.Source)
	require.Equal(t, "delivery", got.Payload.Component)
	require.Equal(t, "late_delivery", got.Payload.Group)
	require.Equal(t, "2025-03-14T14:03:24Z", got.Payload.Timestamp)
	require.Equal(t, "https://desk.example.com/customers/c-0004211", got.Links[0].Href)
}

func TestPagerDutySeverity(t *testing.T) {
	for s, want := range map[alerts.Severity]string{
		alerts.Critical: "critical",
		alerts.Major:    "error",
		alerts.Minor:    "warning",
		alerts.None:     "info",
	} {
		require.Equal(t, want, PagerDutySeverity(s), s.String())
		rec := newRecorder(t, http.StatusAccepted, nil, "")
		d, err := NewPagerDuty("pd", rec.URL, testRoutingKey, "", rec.Client())
		require.NoError(t, err)
		a := testAlert()
		a.Severity = s
		require.NoError(t, d.Deliver(context.Background(), a))
		var got pdSent
		require.NoError(t, json.Unmarshal(rec.last(t).Body, &got))
		require.Equal(t, want, got.Payload.Severity)
	}
}

func TestPagerDutySummaryLimit(t *testing.T) {
	rec := newRecorder(t, http.StatusAccepted, nil, "")
	d, err := NewPagerDuty("pd", rec.URL, testRoutingKey, "", rec.Client())
	require.NoError(t, err)
	a := testAlert()
	a.Reason = strings.Repeat("é", 3000)
	require.NoError(t, d.Deliver(context.Background(), a))
	var got pdSent
	require.NoError(t, json.Unmarshal(rec.last(t).Body, &got))
	require.Equal(t, 1024, utf8.RuneCountInString(got.Payload.Summary))
	require.True(t, strings.HasSuffix(got.Payload.Summary, "é…"))
}

func TestPagerDutyStatus(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		permanent bool
		after     time.Duration
	}{
		{"accepted", http.StatusAccepted, nil, false, 0},
		{"invalid event", http.StatusBadRequest, nil, true, 0},
		{"throttled, no header", http.StatusTooManyRequests, nil, false, 30 * time.Second},
		{"throttled, header", http.StatusTooManyRequests, map[string]string{"Retry-After": "5"}, false, 5 * time.Second},
		{"server error", http.StatusInternalServerError, nil, false, 0},
		{"bad gateway", http.StatusBadGateway, nil, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, tt.status, tt.header, `{"status":"x"}`)
			d, err := NewPagerDuty("pd", rec.URL, testRoutingKey, "", rec.Client())
			require.NoError(t, err)
			err = d.Deliver(context.Background(), testAlert())
			if tt.status == http.StatusAccepted {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.NotContains(t, err.Error(), testRoutingKey)
			require.Equal(t, tt.permanent, errors.Is(err, alerts.ErrPermanent))
			var ra *alerts.RetryAfterError
			require.Equal(t, tt.after > 0, errors.As(err, &ra))
			if ra != nil {
				require.Equal(t, tt.after, ra.After)
			}
		})
	}
}

func TestPagerDutyConstructor(t *testing.T) {
	d, err := NewPagerDuty("", "", testRoutingKey, "", nil)
	require.NoError(t, err)
	require.Equal(t, "pagerduty", d.Name())
	require.Equal(t, PagerDutyURL, d.ep.url)
	_, err = NewPagerDuty("pd", "", " ", "", nil)
	require.Error(t, err)
}
