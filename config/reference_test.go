package config_test

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/peakend/peakend/config/internal/confdoc"
)

// TestConfigurationReference regenerates docs/configuration.md in memory
// and fails when the committed page and the code (doc comments, defaults,
// the example) have drifted apart, or when a field lacks a doc comment or
// leaves its default unsaid.
func TestConfigurationReference(t *testing.T) {
	want, err := confdoc.Generate(".")
	if err != nil {
		t.Fatalf("%v\nfix the doc comments in config/*.go, then run `%s`", err, confdoc.Command)
	}
	got, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatalf("%v: run `%s` to write it", err, confdoc.Command)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("docs/configuration.md is out of date with config/*.go: run `%s` and commit the result\n%s",
			confdoc.Command, firstDifference(string(got), string(want)))
	}
}

// firstDifference names the first line where the page differs from what
// the code generates.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "first difference at line " + strconv.Itoa(i+1) + ":\n  page: " + gl + "\n  code: " + wl
		}
	}
	return ""
}
