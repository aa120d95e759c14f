package sinks

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
)

func TestFromConfig(t *testing.T) {
	rec := newRecorder(t, http.StatusAccepted, nil, "")
	var out bytes.Buffer
	d := Deps{URL: rec.URL, Secret: testSecret, DeskURL: "https://desk", Client: rec.Client(), Stdout: &out}
	for _, typ := range []string{"stdout", "webhook", "slack", "alertmanager"} {
		s, err := FromConfig(config.Sink{Type: typ}, d)
		require.NoError(t, err, typ)
		require.Equal(t, typ, s.Name())
		require.NoError(t, s.Deliver(context.Background(), testAlert()), typ)
	}
	require.Equal(t, 3, rec.count())
	require.NotEmpty(t, out.String())

	pd, err := FromConfig(config.Sink{Type: "pagerduty", Name: "oncall"}, Deps{Secret: testRoutingKey, Client: rec.Client()})
	require.NoError(t, err)
	require.Equal(t, "oncall", pd.Name())
	require.NoError(t, pd.Deliver(context.Background(), testAlert()), "major is below pagerduty's default min_severity")
	require.Equal(t, 3, rec.count())

	_, err = FromConfig(config.Sink{Type: "kafka"}, d)
	require.ErrorIs(t, err, ErrNotHere)
	_, err = FromConfig(config.Sink{Type: "carrier-pigeon"}, d)
	require.Error(t, err)
	_, err = FromConfig(config.Sink{Type: "slack", MinSeverity: "meh"}, d)
	require.Error(t, err)
	_, err = FromConfig(config.Sink{Type: "slack", Timeout: config.Duration(time.Second)}, Deps{})
	require.Error(t, err, "no URL")
	_, err = FromConfig(config.Sink{Type: "webhook"}, Deps{URL: "https://example.com", Secret: "whsec_!!"})
	require.Error(t, err)

	var _ alerts.Sink = (*Webhook)(nil)
	var _ alerts.Sink = (*Slack)(nil)
	var _ alerts.Sink = (*Alertmanager)(nil)
	var _ alerts.Sink = (*PagerDuty)(nil)
	var _ alerts.Sink = (*Writer)(nil)
}

// A slack spec's group_for and the desk's hotspot status reach the sink:
// grouping is on, and a muted hotspot posts nothing.
func TestFromConfigSlackGrouping(t *testing.T) {
	every := config.Duration(5 * time.Minute)
	s, err := FromConfig(config.Sink{Type: "slack", Name: "ops", GroupFor: &every},
		Deps{URL: "https://hooks.example.com/x", Hotspots: func(string) (string, map[string]string, bool) { return "", nil, true }})
	require.NoError(t, err)
	g, ok := s.(alerts.WrappingSink).Unwrap().(alerts.GroupingSink)
	require.True(t, ok, "a slack sink groups")
	key, d := g.Group(customerInHotspot())
	require.Equal(t, customerInHotspot().HotspotID, key)
	require.Equal(t, 5*time.Minute, d)
	require.ErrorIs(t, g.DeliverGroup(context.Background(), key, []*alerts.Alert{customerInHotspot()}), alerts.ErrMuted)

	s, err = FromConfig(config.Sink{Type: "slack", Name: "ops"}, Deps{URL: "https://hooks.example.com/x"})
	require.NoError(t, err)
	key, _ = s.(alerts.WrappingSink).Unwrap().(alerts.GroupingSink).Group(customerInHotspot())
	require.Empty(t, key, "group_for unset outside config.Load: one by one")
}
