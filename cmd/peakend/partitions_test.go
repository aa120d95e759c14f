package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReplayPartitionFlags(t *testing.T) {
	cfg := goodConfig(t)
	input := writeFile(t, "events.jsonl", events(t, 3000))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--partitions", "0"}, "peakend: --partitions must be at least 1, got 0\n"},
		{[]string{"--partitions", "-2"}, "peakend: --partitions must be at least 1, got -2\n"},
		{[]string{"--partitioner", "crc32"}, "peakend: --partitioner needs --partitions N\n"},
		{[]string{"--partitions", "4", "--partitioner", "fnv"}, "peakend: --partitioner: unknown partitioner \"fnv\" (murmur2 or crc32)\n"},
	} {
		code, stdout, stderr := invoke(t, nil, append([]string{"replay", "--config", cfg, "--input", input}, c.args...)...)
		require.Equal(t, exitUsage, code, "%v", c.args)
		require.Empty(t, stdout)
		require.Equal(t, c.want, stderr)
	}

	// One partition of a file in event-time order is today's replay; four
	// are not; each partitioner gives its own split.
	code, one, stderr := invoke(t, nil, "replay", "--config", cfg, "--input", input)
	require.Equal(t, exitOK, code, stderr)
	code, onePart, stderr := invoke(t, nil, "replay", "--config", cfg, "--input", input, "--partitions", "1")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, one, onePart)
	require.NotContains(t, stderr, "\r", "standard error is no terminal here: no progress line")
	code, murmur, stderr := invoke(t, nil, "replay", "--config", cfg, "--input", input, "--partitions", "4")
	require.Equal(t, exitOK, code, stderr)
	code, crc, stderr := invoke(t, nil, "replay", "--config", cfg, "--input", input, "--partitions", "4", "--partitioner", "crc32")
	require.Equal(t, exitOK, code, stderr)
	require.True(t, strings.HasPrefix(stderr, "replay: 3000 events"), stderr)
	require.NotEmpty(t, murmur)
	require.NotEqual(t, one, murmur)
	require.NotEqual(t, murmur, crc)
}

// The progress line goes only to a terminal: never to a file or a pipe.
func TestProgressOnlyOnATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	defer f.Close()
	require.Nil(t, terminal(f))
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	require.Nil(t, terminal(w))
	require.Nil(t, terminal(&strings.Builder{}))
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		require.NotNil(t, terminal(tty), "/dev/tty is a terminal")
	}
}
