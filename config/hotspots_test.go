package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// hotspot is a valid file whose hotspots section starts at line 9 with one
// rule; more fields of that rule follow from line 12.
func hotspot(s string) string {
	return top("  - {name: late, type: threshold, journey: delivery, metric: delay_hours, minor: 24}\n" +
		"hotspots:\n  - name: carrier_trouble\n    journey: delivery\n    by: [carrier, region]\n" + s)
}

func TestHotspotValidation(t *testing.T) {
	const bad = "    bad: {detectors: [late]}\n" // line 13
	for _, tc := range []struct {
		name string
		yaml string
		want []string // nil: valid
	}{
		{"valid", hotspot(bad), nil},
		{"valid outcome", hotspot("    bad: {outcome: [failed, lost]}\n    window: 30m\n    baseline: 30m\n    factor: 1.5\n"), nil},
		{"unknown detector", hotspot("    bad: {detectors: [late, nope]}\n"),
			[]string{`peakend.yaml:13: hotspots[carrier_trouble].bad.detectors[1]: unknown detector "nope" (configured: d, late)`}},
		{"factor", hotspot(bad + "    factor: 1\n"),
			[]string{`peakend.yaml:14: hotspots[carrier_trouble].factor: must be greater than 1 (got 1): the window's bad rate is compared with factor × the usual rate`}},
		{"factor below 1", hotspot(bad + "    factor: 0.5\n"),
			[]string{`peakend.yaml:14: hotspots[carrier_trouble].factor: must be greater than 1 (got 0.5): the window's bad rate is compared with factor × the usual rate`}},
		{"empty by", top("hotspots:\n  - {name: h, journey: delivery, by: [], bad: {outcome: [failed]}}\n"),
			[]string{`peakend.yaml:9: hotspots[h].by: needs at least one attribute, e.g. [carrier, region]`}},
		{"no by", top("hotspots:\n  - {name: h, journey: delivery, bad: {outcome: [failed]}}\n"),
			[]string{`peakend.yaml:9: hotspots[h].by: needs at least one attribute, e.g. [carrier, region]`}},
		{"both bad", hotspot("    bad: {detectors: [late], outcome: [failed]}\n"),
			[]string{`peakend.yaml:13: hotspots[carrier_trouble].bad.outcome: set bad.detectors or bad.outcome, not both`}},
		{"neither bad", hotspot("    bad: {}\n"),
			[]string{`peakend.yaml:13: hotspots[carrier_trouble].bad: needs detectors (e.g. {detectors: [late_delivery]}) or outcome (e.g. {outcome: [failed, lost]})`}},
		{"no bad", hotspot(""),
			[]string{`peakend.yaml:10: hotspots[carrier_trouble].bad: needs detectors (e.g. {detectors: [late_delivery]}) or outcome (e.g. {outcome: [failed, lost]})`}},
		{"window not in 6 steps", hotspot(bad + "    window: 7s\n"),
			[]string{`peakend.yaml:14: hotspots[carrier_trouble].window: must divide into 6 steps of whole seconds, e.g. 6h or 30m (got 7s)`}},
		{"baseline under window", hotspot(bad + "    baseline: 5h\n"),
			[]string{`peakend.yaml:14: hotspots[carrier_trouble].baseline: must be at least the window (6h0m0s), e.g. 168h (got 5h0m0s)`}},
		{"min_rate, min_events, severity", hotspot(bad + "    min_rate: 1.5\n    min_events: -1\n    severity: huge\n"),
			[]string{
				`peakend.yaml:14: hotspots[carrier_trouble].min_rate: must be a rate in (0, 1], e.g. 0.10 (got 1.5)`,
				`peakend.yaml:15: hotspots[carrier_trouble].min_events: must be at least 1 (got -1)`,
				`peakend.yaml:16: hotspots[carrier_trouble].severity: unknown severity "huge" (want minor, major or critical)`,
			}},
		{"name taken by a detector", top("hotspots:\n  - {name: d, journey: delivery, by: [carrier], bad: {outcome: [failed]}}\n"),
			[]string{`peakend.yaml:9: hotspots[d].name: "d" is also a detector's name: hotspot alerts carry it as their detector, so it must differ`}},
		{"duplicate names", top("hotspots:\n  - {name: h, journey: x, by: [a], bad: {outcome: [f]}}\n  - {name: h, journey: x, by: [a, a], bad: {outcome: [f]}}\n"),
			[]string{
				`peakend.yaml:10: hotspots[1].name: "h" is already the name of hotspots[0]`,
				`peakend.yaml:10: hotspots[1].by[1]: "a" is listed twice`,
			}},
		{"journey outside the allow-list", "journeys: [checkout]\n" + top("hotspots:\n  - {name: h, journey: delivery, by: [a], bad: {outcome: [f]}}\n"),
			[]string{
				`peakend.yaml:10: hotspots[h].journey: "delivery" is not in journeys (checkout)`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parse(file, []byte(tc.yaml), envOf(nil))
			require.Equal(t, tc.want, errorLines(err), "config:\n%s", tc.yaml)
			if tc.want == nil {
				require.NotNil(t, cfg)
			}
		})
	}
}

// A detector that watches another journey never finds this journey's
// experiences bad: refused.
func TestHotspotDetectorOfAnotherJourney(t *testing.T) {
	cfg := Default()
	cfg.Hotspots = []Hotspot{{Name: "h", Journey: "checkout", By: []string{"psp"}, Bad: HotspotBad{Detectors: []string{"late_delivery"}}}}
	cfg.ApplyDefaults()
	require.EqualError(t, cfg.Validate(),
		`hotspots[h].bad.detectors[0]: detector "late_delivery" watches journey delivery, not checkout: it never finds a checkout experience bad`)
}

func TestHotspotDefaults(t *testing.T) {
	c := Config{Hotspots: []Hotspot{{}}}
	c.ApplyDefaults()
	h := c.Hotspots[0]
	require.Equal(t, "6h0m0s", h.Window.D().String())
	require.Equal(t, "168h0m0s", h.Baseline.D().String())
	require.Equal(t, 30, h.MinEvents)
	require.Equal(t, 3.0, h.Factor)
	require.Equal(t, 0.10, h.MinRate)
	require.Equal(t, SeverityMajor, h.Severity)
	require.Equal(t, "1h0m0s", h.Step().String())
}
