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

// LowContrast lists the visible texts of the page in ctx whose colour has
// less than WCAG AA contrast with the background behind them (4.5:1, or 3:1
// for large text: 24 px, or 18.66 px bold), each as "text: ratio (colour on
// background)". Backgrounds are the element's and its ancestors' colours,
// blended (images are not looked at).
func LowContrast(ctx context.Context) ([]string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[[]string](lowContrastJS))
}

const lowContrastJS = `(() => {
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const lum = (c) => 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
  const over = (top, bottom) => ({ r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a), a: 1 });
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const out = [], seen = new Set();
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const node = walk.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el || seen.has(el)) continue;
    seen.add(el);
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || !el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    const st = getComputedStyle(el);
    const fg0 = parse(st.color);
    if (!fg0) continue;
    const bg = background(el), fg = over(fg0, bg);
    const a = lum(fg), b = lum(bg);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
    const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < need) out.push(node.textContent.trim().slice(0, 40) + ": " + ratio.toFixed(2) + " (" + st.color +
      " on rgb(" + Math.round(bg.r) + ", " + Math.round(bg.g) + ", " + Math.round(bg.b) + "))");
  }
  return out;
})()`
