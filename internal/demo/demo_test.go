package demo_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/demo"
	"github.com/peakend/peakend/internal/testkit"
)

// alertLine reports whether line is an alert as the stdout sink prints it:
// a severity word and a playbook action.
func alertLine(line string) bool {
	sev := false
	for _, s := range []string{"MINOR", "MAJOR", "CRITICAL"} {
		if strings.Contains(line, " "+s+" ") {
			sev = true
		}
	}
	if !sev {
		return false
	}
	for _, r := range config.DefaultPlaybook {
		if strings.Contains(line, "→ "+r.Action) {
			return true
		}
	}
	return false
}

// TestDemoSmoke runs `peakend demo` in-process: alerts are printed within
// seconds, and cancelling stops everything cleanly.
func TestDemoSmoke(t *testing.T) {
	var out testkit.SyncBuffer
	addr, addrCopy := make(chan string, 1), make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(ctx, demo.Options{Listen: "127.0.0.1:0", Rate: 2000, Stdout: &out, Logger: testkit.Logger(t),
			Seed: 1, Listening: func(a string) { addr <- a; addrCopy <- a }})
	}()

	select {
	case a := <-addr:
		require.NotEmpty(t, a)
	case err := <-done:
		t.Fatalf("demo.Run returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not start listening")
	}

	deadline := time.Now().Add(10 * time.Second)
	var alert string
	for alert == "" {
		for line := range strings.Lines(out.String()) {
			if alertLine(line) {
				alert = line
				break
			}
		}
		if alert != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert line within 10s; output:\n%s", out.String())
		}
		select {
		case err := <-done:
			t.Fatalf("demo.Run returned early: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Logf("first alert: %s", strings.TrimSpace(alert))

	// The demo prints how to sign in to the desk, and the account works:
	// the customer view answers a signed-in user (and nobody else).
	m := regexp.MustCompile(`sign in as (\w+) \(agent\) or (\w+) \(supervisor\), password (\S+)`).FindStringSubmatch(out.String())
	require.NotNil(t, m, "the demo prints the desk's sign-in:\n%.600s", out.String())
	base := "http://" + <-addrCopy
	resp, err := http.Get(base + "/customers/cust-00001")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "customer data needs sign-in")
	for _, user := range []string{m[1], m[2]} {
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		c := &http.Client{Jar: jar}
		resp, err := c.Get(base + "/login")
		require.NoError(t, err)
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tok := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
		require.NotNil(t, tok, "the sign-in form has an anti-forgery token")
		resp, err = c.PostForm(base+"/login", url.Values{"user": {user}, "password": {m[3]}, "csrf_token": {string(tok[1])}})
		require.NoError(t, err)
		resp.Body.Close()
		resp, err = c.Get(base + "/customers/cust-00001")
		require.NoError(t, err)
		resp.Body.Close()
		require.Contains(t, []int{http.StatusOK, http.StatusNotFound}, resp.StatusCode, "%s signed in reads customer data", user)
	}

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "demo.Run after cancel")
	case <-time.After(5 * time.Second):
		t.Fatal("demo.Run did not return within 5s of cancel")
	}
	require.True(t, strings.HasPrefix(out.String(), "peakend demo: "), "the demo introduces itself:\n%.300s", out.String())
}
