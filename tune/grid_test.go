package tune

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
)

// The first grid of every knob of the example configuration, as the table
// labels it: 18 settings besides the current one (a repeat count of 1 fails validation and is skipped).
func TestFirstGrid(t *testing.T) {
	cfg := config.Default()
	var got []string
	for _, k := range knobs(cfg) {
		for pos := k.lo; pos <= k.hi; pos++ {
			if pos == 0 {
				continue
			}
			c, label, ok := k.at(cfg, pos)
			if ok && c.Validate() == nil {
				got = append(got, label)
			}
		}
	}
	require.Equal(t, []string{
		"late_delivery ×0.5: minor 12, major 36, critical 84",
		"late_delivery ×0.75: minor 18, major 54, critical 126",
		"late_delivery ×1.5: minor 36, major 108, critical 252",
		"late_delivery ×2: minor 48, major 144, critical 336",
		"rare_wait minor 0.95, major 0.99, critical 0.999",
		"rare_wait minor 0.98, major 0.995, critical 0.9995",
		"rare_wait minor 0.995, major 0.9995, critical 0.99995",
		"rare_wait minor 0.999, major 0.9999, critical 0.99999",
		"worse_than_usual factor 2",
		"worse_than_usual factor 4",
		"worse_than_usual factor 5",
		"repeated_failures minor 3, major 4, critical 6",
		"running_late minor 0.95, major 0.99",
		"running_late minor 0.98, major 0.995",
		"running_late minor 0.995, major 0.9995",
		"running_late minor 0.999, major 0.9999",
		"cooldown 1d",
		"cooldown 7d",
	}, got)
	// The configuration is left as it was.
	require.Equal(t, config.Default(), cfg)
}
