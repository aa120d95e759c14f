package alerts_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
)

func TestPeakEndRaisesASecondFailure(t *testing.T) {
	p := alerts.NewPolicy(config.Alerting{}, "")
	f := alerts.Finding{Detector: "late", Severity: alerts.Minor, Reason: "Late"}
	require.Equal(t, f, p.PeakEnd(f, 0), "nothing remembered")
	require.Equal(t, f, p.PeakEnd(f, alerts.RecentPain-0.01), "faded below the rule")
	got := p.PeakEnd(f, alerts.RecentPain)
	require.Equal(t, alerts.Major, got.Severity)
	require.Contains(t, got.Reason, "raised to major")

	f.Severity = alerts.Major
	require.Equal(t, alerts.Critical, p.PeakEnd(f, 1).Severity)
	f.Severity = alerts.Critical
	require.Equal(t, alerts.Critical, p.PeakEnd(f, 1).Severity, "critical is the top")

	rep := alerts.Finding{Severity: alerts.Minor, Evidence: alerts.EvidenceBad}
	require.Equal(t, rep, p.PeakEnd(rep, 1), "repeat counts earlier failures itself")
}
