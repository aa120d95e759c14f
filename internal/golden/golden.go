// Package golden runs golden-file tests: each testdata/*.in file through a
// function, its output compared with the .golden file beside it, or
// rewritten with -rewrite.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files in testdata/")

// Run calls run for each testdata/*.in file, in a subtest named after it,
// and compares what it returns with the .golden file beside it (-rewrite
// writes it instead). pkg names the package in the hint to rewrite.
func Run(t *testing.T, pkg string, run func(t *testing.T, in string) []byte) {
	files, err := filepath.Glob("testdata/*.in")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, in := range files {
		t.Run(strings.TrimSuffix(filepath.Base(in), ".in"), func(t *testing.T) {
			got := run(t, in)
			golden := strings.TrimSuffix(in, ".in") + ".golden"
			if *rewrite {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
				return
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "missing golden file: run go test ./%s -run Golden -rewrite", pkg)
			require.Equal(t, string(want), string(got))
		})
	}
}
