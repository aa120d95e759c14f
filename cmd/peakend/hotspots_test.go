package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// validate accepts a hotspots section (run evaluates it: no warning); a bad rule is
// refused with file, line and field.
func TestValidateHotspots(t *testing.T) {
	base, err := os.ReadFile("../../config/testdata/example.yaml")
	require.NoError(t, err)
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.yaml")
	require.NoError(t, os.WriteFile(ok, append(base, []byte(`
hotspots:
  - name: carrier_trouble
    journey: delivery
    by: [carrier, region]
    bad: {detectors: [late_delivery]}
`)...), 0o644))
	code, stdout, stderr := invoke(t, nil, "validate", "--config", ok)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, ": ok (")
	require.NotContains(t, stdout, "warning")

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, append(base, []byte(`
hotspots:
  - name: carrier_trouble
    journey: delivery
    by: [carrier, region]
    bad: {detectors: [late_delivery]}
    factor: 1
`)...), 0o644))
	code, _, stderr = invoke(t, nil, "validate", "--config", bad)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "bad.yaml:")
	require.Contains(t, stderr, ": hotspots[carrier_trouble].factor: must be greater than 1 (got 1)")
}
