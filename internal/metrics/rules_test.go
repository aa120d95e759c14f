package metrics_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/internal/metrics"
)

// promtool finds the promtool binary (Debian package prometheus). Under
// CI=true a missing promtool fails the test: the rules would go unchecked.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool is not installed (apt-get install prometheus): %v", err)
		}
		t.Skip("promtool is not installed (apt-get install prometheus); CI installs it")
	}
	return p
}

// TestPrometheusRules checks the shipped alerting and recording rules with
// promtool: they parse, and their unit tests (rules_test.yaml) pass.
func TestPrometheusRules(t *testing.T) {
	bin := promtool(t)
	dir := filepath.Join("..", "..", "deploy", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "rules.yaml"},
		{"test", "rules", "rules_test.yaml"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	}
}

// TestRulesAndDashboardUseRealMetrics fails when a rule or a dashboard panel
// names a peakend metric that peakend does not export (a renamed metric
// leaves an alert that can never fire and a panel that stays empty).
func TestRulesAndDashboardUseRealMetrics(t *testing.T) {
	m := metrics.New(journeys, detectors)
	m.Register(metrics.NewPebbleCollector(memStore(t).Metrics))
	exercise(m)
	// The desk's metrics, peakend_feedback_total among them (the outcome
	// rules read it), are registered when the desk is on.
	m.NewDesk(detectors).Feedback.WithLabelValues("late_delivery", "major", "recovered").Inc()
	gathered, err := m.Registry.Gather()
	require.NoError(t, err)
	var known []string
	for _, mf := range gathered {
		known = append(known, mf.GetName())
	}
	name := regexp.MustCompile(`\bpeakend_[a-z0-9_]+`)
	for _, f := range []string{"prometheus/rules.yaml", "grafana/peakend-dashboard.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", f))
		require.NoError(t, err)
		if strings.HasSuffix(f, ".json") {
			require.True(t, json.Valid(b), "%s is not valid JSON: Grafana would not import it", f)
		}
		for _, n := range name.FindAllString(string(b), -1) {
			base := n
			for _, suf := range []string{"_bucket", "_count", "_sum"} {
				if s, ok := strings.CutSuffix(n, suf); ok && slices.Contains(known, s) {
					base = s
				}
			}
			require.Contains(t, known, base, "%s names %s, which peakend does not export", f, n)
		}
	}
}
