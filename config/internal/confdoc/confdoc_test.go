package confdoc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyConfig copies package config's sources into a temporary directory,
// applying edit to config.go.
func copyConfig(t *testing.T, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob("../../*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("config sources: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if filepath.Base(f) == "config.go" {
			e := edit(s)
			if e == s {
				t.Fatal("the edit changed nothing: config.go moved on, update the test")
			}
			s = e
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFieldWithoutDocIsRefused(t *testing.T) {
	dir := copyConfig(t, func(s string) string {
		return strings.Replace(s, "`yaml:\"window\"`    // experiences kept per customer; default 50, 1..1000", "`yaml:\"window\"`", 1)
	})
	_, err := Generate(dir)
	if err == nil || !strings.Contains(err.Error(), "state.window (State.Window): no doc comment") {
		t.Fatalf("Generate = %v, want an error naming state.window", err)
	}
}

func TestUnsaidDefaultIsRefused(t *testing.T) {
	dir := copyConfig(t, func(s string) string {
		return strings.Replace(s, "// consumer group, default \"peakend\"", "// consumer group", 1)
	})
	_, err := Generate(dir)
	if err == nil || !strings.Contains(err.Error(), "kafka.group (Kafka.Group): default `peakend` is not mentioned") {
		t.Fatalf("Generate = %v, want an error naming kafka.group", err)
	}
}

func TestDefaultsComeFromTheCode(t *testing.T) {
	b, err := Generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, row := range []string{
		"| `state.retention` | duration | `2160h` (90 days) |",
		"| `detectors[].over` | duration | `168h` (7 days) for rarity; `720h` (30 days) for overdue |",
		"| `alerting.sinks[].min_severity` | string | `minor`; `critical` for pagerduty |",
		"| `alerting.sinks[].name` | string | the `type` |",
		"| `desk.accounts[].role` | string | `agent` |",
		"| `alerting.playbook.major.budget` | number | `25` |",
	} {
		if !strings.Contains(page, row) {
			t.Errorf("the page lacks the row %q", row)
		}
	}
}
