package sinks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
)

// A hotspot's customer alerts as one Slack message: where, how many
// customers by severity, the most severe first, a link to the hotspot.
func TestSlackGroupGolden(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, nil, "ok")
	s, err := NewSlack("ops-slack", rec.URL, "https://desk.example.com/", rec.Client())
	require.NoError(t, err)
	s.GroupHotspots(10*time.Minute, func(id string) (string, map[string]string, bool) {
		return "carrier_trouble", map[string]string{"carrier": "rapid", "region": "east"}, false
	})
	var as []*alerts.Alert
	for i := range 24 {
		a := customerInHotspot()
		a.AlertID = fmt.Sprintf("%032x", i)
		a.CustomerID = fmt.Sprintf("cust-%d", i)
		a.Severity = alerts.Minor
		if i%8 == 3 {
			a.Severity = alerts.Major
		}
		as = append(as, a)
	}
	again := customerInHotspot() // cust-5 again, worse: one customer, at its worst
	again.CustomerID, again.Severity = "cust-5", alerts.Critical
	as = append(as, again)

	key, every := s.Group(as[0])
	require.Equal(t, "5d0c7e2a9f814b6aa3c1e0b2d4f6a8c0", key)
	require.Equal(t, 10*time.Minute, every)
	k, _ := s.Group(hotspotAlert(alerts.HotspotOpen, alerts.Major))
	require.Empty(t, k, "the hotspot's own alerts are posted one by one")
	k, _ = s.Group(testAlert())
	require.Empty(t, k, "alerts without hotspot_id are posted one by one")

	require.NoError(t, s.DeliverGroup(context.Background(), key, as))
	body := string(rec.last(t).Body)
	golden(t, "slack_hotspot_group.json", rec.last(t).Body)
	require.Contains(t, body, "carrier rapid, region east: 24 more customers (1 critical, 3 major, 20 minor)")
	require.Contains(t, body, "• cust-5 · CRITICAL")
	require.Contains(t, body, "… and 4 more on the desk")
	require.Contains(t, body, "https://desk.example.com/#hotspot/5d0c7e2a9f814b6aa3c1e0b2d4f6a8c0")
	require.Equal(t, 1, strings.Count(body, "cust-5 "), "a customer is listed once")

	// Muted: nothing is posted.
	s.GroupHotspots(time.Minute, func(string) (string, map[string]string, bool) { return "", nil, true })
	n := rec.count()
	require.ErrorIs(t, s.DeliverGroup(context.Background(), key, as), alerts.ErrMuted)
	require.Equal(t, n, rec.count())

	// group_for 0: one by one.
	s.GroupHotspots(0, nil)
	k, _ = s.Group(as[0])
	require.Empty(t, k)
	require.False(t, errors.Is(s.Deliver(context.Background(), as[0]), alerts.ErrMuted))
}
