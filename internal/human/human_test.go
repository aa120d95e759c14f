package human

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Journey("support_call"), "Support call"},
		{Journeys("delivery"), "deliveries"},
		{Journeys("support_call"), "support calls"},
		{Journeys("playback"), "playbacks"},
		{Metric("delay_hours"), "delay"},
		{Metric("rebuffer_ratio"), "rebuffer"},
		{Value("delay_hours", 100.8), "4.2 days"},
		{Value("wait_seconds", 2520), "42 minutes"},
		{Value("rebuffer_ratio", 0.125), "12.5%"},
		{Value("items", 3), "3"},
		{Duration(90 * time.Minute), "90 minutes"},
		{Duration(30 * time.Hour), "30 hours"},
		{Percent(0.996), "99.6%"},
		{Percent(0.9995), "99.95%"},
		{Percent(0.5), "50.0%"},
		{Time(time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC)), "Mon 2 Mar 18:00 UTC"},
		{Time(time.Date(2026, 3, 2, 19, 0, 7, 900e6, time.FixedZone("CET", 3600))), "Mon 2 Mar 18:00:07 UTC"},
		{Outcome("checkout", "failed"), "Checkout failed"},
		{Outcome("playback", "stalled_out"), "Playback ended stalled out"},
	} {
		require.Equal(t, tc.want, tc.got)
	}
}
