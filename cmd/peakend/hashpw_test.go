package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/peakend/peakend/config"
)

// TestHashPassword: the printed hash matches the password piped in (and
// only it), and a configuration holding it validates.
func TestHashPassword(t *testing.T) {
	code, stdout, stderr := invoke(t, strings.NewReader("correct horse battery staple\n"), "hash-password", "--cost", "4")
	require.Equal(t, exitOK, code, stderr)
	require.Empty(t, stderr)
	h := strings.TrimSuffix(stdout, "\n")
	require.Len(t, lines(stdout), 1)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(h), []byte("correct horse battery staple")), "the newline is not part of the password")
	require.Error(t, bcrypt.CompareHashAndPassword([]byte(h), []byte("correct horse battery staple\n")))
	cost, err := bcrypt.Cost([]byte(h))
	require.NoError(t, err)
	require.Equal(t, 4, cost)

	cfg := writeFile(t, "peakend.yaml", string(config.Example)+"\ndesk:\n  accounts:\n    - {user: ana, password_hash: \""+h+"\"}\n")
	code, stdout, stderr = invoke(t, nil, "validate", "--config", cfg)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, ": ok")

	// The default cost, a CRLF line.
	code, stdout, _ = invoke(t, strings.NewReader("pw\r\n"), "hash-password")
	require.Equal(t, exitOK, code)
	cost, err = bcrypt.Cost([]byte(strings.TrimSpace(stdout)))
	require.NoError(t, err)
	require.Equal(t, bcrypt.DefaultCost, cost)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(stdout)), []byte("pw")))
}

// TestHashPasswordRefuses: no password, one too long for bcrypt, a bad
// cost and a stray argument are usage errors (exit 2, one line).
func TestHashPasswordRefuses(t *testing.T) {
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", nil, "peakend: hash-password: no password given (type it, or pipe it in on one line)\n"},
		{"\n", nil, "peakend: hash-password: no password given (type it, or pipe it in on one line)\n"},
		{strings.Repeat("x", 73), nil, "peakend: hash-password: the password is 73 bytes; bcrypt uses at most 72\n"},
		{"pw", []string{"--cost", "3"}, "peakend: --cost must be between 4 and 31 (got 3)\n"},
		{"pw", []string{"pw"}, "peakend: unexpected argument \"pw\" (see peakend hash-password --help)\n"},
	} {
		code, stdout, stderr := invoke(t, strings.NewReader(tc.stdin), append([]string{"hash-password"}, tc.args...)...)
		require.Equal(t, exitUsage, code, tc.want)
		require.Empty(t, stdout)
		require.Equal(t, tc.want, stderr)
	}
	code, stdout, _ := invoke(t, nil, "hash-password", "--help")
	require.Equal(t, exitOK, code)
	require.True(t, strings.HasPrefix(stdout, "Usage: peakend hash-password"))
	require.Contains(t, stdout, "-cost")
}

// TestValidateDesk: `peakend validate` refuses a desk nobody can sign in
// to, and a password where its hash belongs, naming file, line and field.
func TestValidateDesk(t *testing.T) {
	example := string(config.Example)
	n := len(lines(example))
	cfg := writeFile(t, "peakend.yaml", example+"desk:\n  enabled: true\n")
	code, stdout, stderr := invoke(t, nil, "validate", "--config", cfg)
	require.Equal(t, exitUsage, code)
	require.Empty(t, stdout)
	require.Contains(t, stderr, cfg+":"+itoa(n+1)+": desk: the desk is enabled but nobody can sign in")

	cfg = writeFile(t, "peakend.yaml", example+"desk:\n  accounts:\n    - {user: ana, password_hash: hunter2}\n")
	code, _, stderr = invoke(t, nil, "validate", "--config", cfg)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, cfg+":"+itoa(n+3)+": desk.accounts[0].password_hash: is not a bcrypt hash")
	require.Contains(t, stderr, "never the password itself")
	require.NotContains(t, stderr, "hunter2")
}
