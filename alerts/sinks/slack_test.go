package sinks

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
)

func TestSlackGolden(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, nil, "ok")
	s, err := NewSlack("ops-slack", rec.URL+"/services/T0/B0/x", "https://desk.example.com/", rec.Client())
	require.NoError(t, err)
	require.Equal(t, "ops-slack", s.Name())
	require.NoError(t, s.Deliver(context.Background(), testAlert()))
	req := rec.last(t)
	require.Equal(t, "application/json", req.Header.Get("Content-Type"))
	golden(t, "slack_major.json", req.Body)

	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string `json:"type"`
			Elements []struct {
				URL string `json:"url"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	require.NoError(t, json.Unmarshal(req.Body, &msg))
	require.True(t, strings.HasPrefix(msg.Text, "[MAJOR] late_delivery for c-0004211: Delivery arrived"), msg.Text)
	require.Equal(t, "header", msg.Blocks[0].Type)
	last := msg.Blocks[len(msg.Blocks)-1]
	require.Equal(t, "actions", last.Type)
	require.Equal(t, "https://desk.example.com/customers/c-0004211", last.Elements[0].URL)
}

func TestSlackContent(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, nil, "ok")
	a := testAlert()
	a.CustomerID = "c/1 <x>"
	a.Reason = "<!channel> late & lost"
	a.Recovery.RequiresApproval = true
	a.Recovery.Action = "Refund"
	a.DeskURL = ""
	a.Evidence = a.Evidence[3:]
	a.Evidence[0].Outcome = "<b>"

	s, err := NewSlack("s", rec.URL, "", rec.Client())
	require.NoError(t, err)
	require.NoError(t, s.Deliver(context.Background(), a))
	body := string(rec.last(t).Body)
	require.Contains(t, body, `&lt;!channel&gt; late &amp; lost`)
	require.NotContains(t, body, `<!channel>`)
	require.Contains(t, body, `&lt;b&gt;`)
	require.Contains(t, body, `<!date^1741961002^{date_short_pretty} {time}|2025-03-14 14:03 UTC>`)
	require.Contains(t, body, `needs approval`)
	require.NotContains(t, body, `"actions"`, "no desk link without a desk URL")

	s, err = NewSlack("s", rec.URL, "https://desk", rec.Client())
	require.NoError(t, err)
	require.NoError(t, s.Deliver(context.Background(), a))
	require.Contains(t, string(rec.last(t).Body), `https://desk/customers/c%2F1%20%3Cx%3E`)
}

func TestSlackStatus(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		permanent bool
		after     time.Duration
	}{
		{"ok", http.StatusOK, nil, "ok", false, 0},
		{"rate limited", http.StatusTooManyRequests, map[string]string{"Retry-After": "7"}, "rate_limited", false, 7 * time.Second},
		{"rate limited, no header", http.StatusTooManyRequests, nil, "rate_limited", false, 0},
		{"invalid payload", http.StatusBadRequest, nil, "invalid_payload", true, 0},
		{"forbidden", http.StatusForbidden, nil, "action_prohibited", true, 0},
		{"no service", http.StatusNotFound, nil, "no_service", true, 0},
		{"archived", http.StatusGone, nil, "channel_is_archived", true, 0},
		{"server error", http.StatusInternalServerError, nil, "rollup_error", false, 0},
		{"unavailable", http.StatusServiceUnavailable, nil, "", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, tt.status, tt.header, tt.body)
			s, err := NewSlack("s", rec.URL, "", rec.Client())
			require.NoError(t, err)
			err = s.Deliver(context.Background(), testAlert())
			if tt.status == http.StatusOK {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), strconv.Itoa(tt.status))
			require.Contains(t, err.Error(), tt.body)
			require.Equal(t, tt.permanent, errors.Is(err, alerts.ErrPermanent))
			var ra *alerts.RetryAfterError
			if tt.after > 0 {
				require.ErrorAs(t, err, &ra)
				require.Equal(t, tt.after, ra.After)
			} else {
				require.False(t, errors.As(err, &ra))
			}
		})
	}
}
