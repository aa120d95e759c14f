package testkit

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// Browsers are the executables Browser looks for on PATH, in this order.
var Browsers = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// BrowserPath returns the first of Browsers found on PATH, or "".
func BrowserPath() string {
	for _, name := range Browsers {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser starts a headless Chromium of its own for the test (its own
// profile, so its own cookies: two calls are two people signed in apart) and
// returns a chromedp context on its one tab, sized width×height CSS pixels.
// The browser stops when the test ends. Everything the page writes to its
// console goes to the test log, and an uncaught exception in the page fails
// the test.
//
// Without a browser on PATH the test fails when the environment variable CI
// is set (CI must run the browser tests), and is skipped otherwise.
// As root (CI containers) Chromium runs with --no-sandbox.
func Browser(t testing.TB, width, height int) context.Context {
	t.Helper()
	path := BrowserPath()
	if path == "" {
		msg := "no headless browser: none of " + strings.Join(Browsers, ", ") + " is on PATH (Debian: apt-get install chromium)"
		if _, ci := os.LookupEnv("CI"); ci {
			t.Fatal(msg + "; CI is set, so the browser tests must run")
		}
		t.Skip(msg + "; skipped because CI is unset")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(width, height),
		chromedp.Flag("lang", "en-GB"),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		t.Fatalf("starting %s: %v", path, err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("sizing the viewport: %v", err)
	}

	var (
		mu         sync.Mutex
		ended      bool
		exceptions []string
		done       = make(chan struct{})
	)
	messages := chromedp.Console(ctx)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			if !ended {
				t.Logf("browser console %s", m)
				if m.IsException() {
					exceptions = append(exceptions, m.Text)
				}
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-done
		mu.Lock()
		ended = true
		mu.Unlock()
		for _, e := range exceptions {
			t.Errorf("uncaught exception in the page: %s", e)
		}
	})
	return ctx
}
