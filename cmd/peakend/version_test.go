package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestVersionText(t *testing.T) {
	platform := " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, tc := range []struct {
		name     string
		settings []debug.BuildSetting
		want     string
	}{
		{"from a checkout", []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0072f6b3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7"},
			{Key: "vcs.time", Value: "2026-12-03T12:41:07Z"},
			{Key: "vcs.modified", Value: "false"},
		}, "peakend v1.4.0\ncommit 0072f6b3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7 (2026-12-03T12:41:07Z)\ngo1.26.8" + platform},
		{"with uncommitted changes", []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0072f6b3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7"},
			{Key: "vcs.time", Value: "2026-12-03T12:41:07Z"},
			{Key: "vcs.modified", Value: "true"},
		}, "peakend v1.4.0\ncommit 0072f6b3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7 (2026-12-03T12:41:07Z, modified)\ngo1.26.8" + platform},
		{"outside a checkout", []debug.BuildSetting{{Key: "-trimpath", Value: "true"}},
			"peakend v1.4.0\ncommit unknown (not built from a git checkout)\ngo1.26.8" + platform},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bi := &debug.BuildInfo{GoVersion: "go1.26.8", Settings: tc.settings}
			require.Equal(t, tc.want, versionText("v1.4.0", bi))
		})
	}
	require.Equal(t, "peakend dev\ncommit unknown (not built from a git checkout)\n"+runtime.Version()+platform,
		versionText("dev", nil))
}

// TestVersionFromCheckout builds peakend as a user does from a git checkout
// (with -ldflags setting the version, as `make build` does) and runs
// `peakend version`: it names the checkout's commit and time next to that
// version. The checkout is a copy of this module's files committed in a
// fresh repository: the go command records no commit when it builds in a
// git worktree (its .git is a file, which it does not recognise).
func TestVersionFromCheckout(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed: no checkout to build from")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)

	run := func(dir string, env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		require.NoError(t, cmd.Run(), "%s %v: %s", name, args, errOut.String())
		return out.String()
	}

	// The module's files as they are now, committed at a known time.
	repo := t.TempDir()
	files := run(root, nil, gitBin, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for _, f := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
		data, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue // deleted and not yet committed
		}
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(repo, filepath.Dir(f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(repo, f), data, 0o644))
	}
	gitEnv := []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_AUTHOR_DATE=2026-11-30T09:15:00Z", "GIT_COMMITTER_DATE=2026-11-30T09:15:00Z"}
	run(repo, gitEnv, gitBin, "init", "-q")
	run(repo, gitEnv, gitBin, "add", "-A")
	run(repo, gitEnv, gitBin, "commit", "-q", "-m", "checkout")
	head := strings.TrimSpace(run(repo, gitEnv, gitBin, "rev-parse", "HEAD"))

	bin := filepath.Join(t.TempDir(), "peakend")
	run(repo, append(gitEnv, "GOFLAGS=-buildvcs=true"), "go", "build", "-trimpath",
		"-ldflags", "-X main.version=v9.8.7", "-o", bin, "./cmd/peakend")
	out := run(repo, nil, bin, "version")

	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 3, out)
	require.Equal(t, "peakend v9.8.7", lines[0])
	when := time.Date(2026, 11, 30, 9, 15, 0, 0, time.UTC).Format(time.RFC3339)
	require.Equal(t, "commit "+head+" ("+when+")", lines[1])
	require.True(t, strings.HasPrefix(lines[2], "go1."), out)
}
