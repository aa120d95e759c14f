package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/demo"
	"github.com/peakend/peakend/replay"
)

// reportBrowser starts a headless Chromium of its own for the test and
// returns a chromedp context on its one tab, width × height CSS pixels.
// Without a browser the test fails when CI is set, and is skipped
// otherwise. (internal/testkit gains a shared helper on the ui branch;
// this one is the minimum the report's test needs.)
func reportBrowser(t *testing.T, width, height int) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		msg := "no headless browser (chromium) on PATH; Debian: apt-get install chromium"
		if _, ci := os.LookupEnv("CI"); ci {
			t.Fatal(msg + "; CI is set, so the browser tests must run")
		}
		t.Skip(msg + "; skipped because CI is unset")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.WindowSize(width, height))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))), "starting %s", path)
	return ctx
}

// demoReport replays a week of the demo's traffic (its complaints made from
// the bad experiences it plants, never from alerts) with examples/replay.yaml
// and a frontline capacity, and feedback made up for two alerts in five.
func demoReport(t *testing.T) replay.Report {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "examples", "replay.yaml"))
	require.NoError(t, err)
	cfg.Alerting.MaxPerHour = 4
	g := demo.NewGenerator(5000, 1)
	cm := demo.NewComplainer(5000, 1)
	g.OnBad = cm.Bad
	var lines []string
	var last time.Time
	for i := range 30_000 {
		last = t0.Add(time.Duration(i) * 20 * time.Second)
		_, v := g.Next(last)
		lines = append(lines, string(v))
	}
	var complaints []string
	for _, c := range cm.Complaints(last) {
		complaints = append(complaints, string(c.MarshalLine()))
	}
	events, complaintsPath := writeLines(t, "events.jsonl", lines), writeLines(t, "complaints.jsonl", complaints)
	plain := run(t, replay.Options{Config: cfg, Input: events, Complaints: complaintsPath})

	outcomes := []string{"recovered", "recovered", "recovered", "recovered", "false_alarm", "unreachable", "declined"}
	var feedback []string
	i := 0
	for line := range strings.Lines(plain.alerts) {
		i++
		if i%5 > 1 {
			continue
		}
		var a struct {
			AlertID    string    `json:"alert_id"`
			CustomerID string    `json:"customer_id"`
			DetectedAt time.Time `json:"detected_at"`
			Recovery   struct {
				Budget   float64 `json:"budget"`
				Currency string  `json:"currency"`
			} `json:"recovery"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &a))
		o := outcomes[i%len(outcomes)]
		spent := ""
		if o == "recovered" {
			spent = fmt.Sprintf(`{"amount":%g,"currency":%q}`, a.Recovery.Budget/2, a.Recovery.Currency)
		}
		feedback = append(feedback, feedbackLine(fmt.Sprint("f", i), a.AlertID, a.CustomerID,
			a.DetectedAt.Add(time.Duration(30+i%11*20)*time.Minute), "outcome", o, spent))
	}
	r := run(t, replay.Options{Config: cfg, Input: events, Complaints: complaintsPath, Feedback: writeLines(t, "feedback.jsonl", feedback)})
	require.Empty(t, r.dlq)
	return r.summary.Report()
}

type chartInfo struct {
	ID       string `json:"id"`
	Marks    int    `json:"marks"`
	Title    string `json:"title"`
	Desc     string `json:"desc"`
	HasTable bool   `json:"table"`
}

const chartsJS = `Array.from(document.querySelectorAll('svg.chart')).map(s => {
  const box = s.closest('.pair') || s.closest('.multiples').nextElementSibling;
  return {id: s.dataset.chart, marks: s.querySelectorAll('rect.bar, path.bar').length,
    title: (s.querySelector(':scope > title') || {}).textContent || '',
    desc: (s.querySelector(':scope > desc') || {}).textContent || '',
    table: !!(box && box.querySelector('table'))};
})`

// lowContrastJS lists texts below WCAG AA contrast against the page
// (4.5:1; 3:1 for large text), HTML and SVG alike, and chart marks below
// 3:1 against the white page (non-text contrast).
const lowContrastJS = `(() => {
  const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const lum = c => 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const bgOf = el => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walk.nextNode()) {
    const el = walk.currentNode.parentElement;
    if (!walk.currentNode.textContent.trim() || !el || seen.has(el) || el.closest('title, desc')) continue;
    seen.add(el);
    const st = getComputedStyle(el);
    const svg = el instanceof SVGElement;
    const fg = parse(svg ? st.fill : st.color), bg = bgOf(svg ? el.closest('svg').parentElement : el);
    const size = parseFloat(st.fontSize) * (svg ? el.getBoundingClientRect().height / el.getBBox().height : 1);
    const need = (size >= 24 || (Number(st.fontWeight) >= 700 && size >= 18.66)) ? 3 : 4.5;
    const r = ratio(fg, bg);
    if (r < need) out.push(walk.currentNode.textContent.trim().slice(0, 30) + ': ' + r.toFixed(2));
  }
  for (const m of document.querySelectorAll('svg.chart .bar')) {
    const r = ratio(parse(getComputedStyle(m).fill), {r: 255, g: 255, b: 255});
    if (r < 3) out.push('mark ' + m.getAttribute('class') + ': ' + r.toFixed(2));
  }
  return out;
})()`

// openReport writes the report's page, opens it in ctx and fails the test
// on any request that is not the file itself (or a data: URL).
func openReport(t *testing.T, ctx context.Context, rep replay.Report) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, rep.WriteHTML(f))
	require.NoError(t, f.Close())

	var mu sync.Mutex
	var requests, outside []string
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			defer mu.Unlock()
			requests = append(requests, e.Request.URL)
			if !strings.HasPrefix(e.Request.URL, "file:") && !strings.HasPrefix(e.Request.URL, "data:") {
				outside = append(outside, e.Request.URL)
			}
		}
	}))
	enable := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return err
	})
	require.NoError(t, chromedp.Do(ctx, enable, chromedp.Navigate("file://"+path), chromedp.WaitReady("footer")))
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		require.Empty(t, outside, "the page fetches nothing")
		require.NotEmpty(t, requests, "the network is listened to: at least the page itself")
	})
}

func TestHTMLReportInBrowser(t *testing.T) {
	rep := demoReport(t)
	ctx := reportBrowser(t, 1100, 900)
	openReport(t, ctx, rep)

	charts, err := chromedp.Run(ctx, chromedp.Evaluate[[]chartInfo](chartsJS))
	require.NoError(t, err)
	got := map[string]chartInfo{}
	for _, c := range charts {
		got[c.ID] = c
		require.Positive(t, c.Marks, "chart %s holds data", c.ID)
		require.NotEmpty(t, c.Title, "chart %s has a title", c.ID)
		require.NotEmpty(t, c.Desc, "chart %s has a description", c.ID)
		require.True(t, c.HasTable, "chart %s has a table beside it", c.ID)
	}
	for _, id := range []string{"daily", "coverage", "feedback", "silent", "top"} {
		require.Contains(t, got, id)
	}
	for _, name := range rep.Order {
		if rep.Detectors[name].FlaggedBefore > 0 {
			require.Contains(t, got, "lead-"+name)
		}
	}
	require.Greater(t, len(got), 5+3, "a lead-time chart for most detectors")
	require.Contains(t, got["daily"].Desc, "frontline capacity of 96 alerts a day")

	low, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](lowContrastJS))
	require.NoError(t, err)
	require.Empty(t, low, "WCAG AA contrast")

	footer, err := chromedp.Run(ctx, chromedp.Text("footer"))
	require.NoError(t, err)
	require.Contains(t, footer, "customer data")

	// On a phone: nothing wider than the screen but the tables, which scroll in their box.
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)))
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	require.NoError(t, err)
	require.False(t, overflow, "the page fits a phone's width")

	if os.Getenv("PEAKEND_SCREENSHOTS") == "1" {
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1000, 1500)))
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		require.NoError(t, err)
		require.Less(t, len(png), 300<<10, "docs/report.png stays small")
		require.NoError(t, os.WriteFile(filepath.Join("..", "docs", "report.png"), png, 0o644))
	}
}

// TestHTMLReportHotspots: the report of the synthetic month with its
// planted bad carrier has a hotspots section, in --report-json and on the
// page (a chart with data and a table), with the customer alerts that
// carried its id counted.
func TestHTMLReportHotspots(t *testing.T) {
	input, badFrom, badTo := syntheticMonth(t)
	var out strings.Builder
	s, err := replay.Run(context.Background(), replay.Options{Config: hotspotConfig(t), Input: input, Out: &out, BatchEvents: 256})
	require.NoError(t, err)
	tagged := 0
	for line := range strings.Lines(out.String()) {
		var a struct {
			HotspotID string `json:"hotspot_id"`
			Kind      string `json:"kind"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &a))
		if a.Kind == "customer" && a.HotspotID != "" {
			tagged++
		}
	}
	rep := s.Report()

	var js strings.Builder
	require.NoError(t, rep.WriteJSON(&js))
	var doc struct {
		Hotspots []struct {
			HotspotID      string            `json:"hotspot_id"`
			Name           string            `json:"name"`
			Values         map[string]string `json:"values"`
			OpenedAt       time.Time         `json:"opened_at"`
			ClosedAt       *time.Time        `json:"closed_at"`
			Rate           float64           `json:"rate"`
			UsualRate      float64           `json:"usual_rate"`
			PeakRate       float64           `json:"peak_rate"`
			CustomerAlerts int               `json:"customer_alerts"`
			AlertedBefore  int               `json:"alerted_before"`
			Severity       string            `json:"severity"`
		} `json:"hotspots"`
	}
	require.NoError(t, json.Unmarshal([]byte(js.String()), &doc))
	require.Len(t, doc.Hotspots, 1)
	h := doc.Hotspots[0]
	require.Equal(t, "carrier_trouble", h.Name)
	require.Equal(t, map[string]string{"carrier": "rapid", "region": "east"}, h.Values)
	require.True(t, h.OpenedAt.After(badFrom) && h.OpenedAt.Before(badFrom.Add(4*time.Hour)), "opened %s", h.OpenedAt)
	require.NotNil(t, h.ClosedAt)
	require.True(t, h.ClosedAt.After(badTo), "closed %s", h.ClosedAt)
	require.Equal(t, tagged, h.CustomerAlerts, "customer alerts carrying its hotspot_id")
	require.Positive(t, h.AlertedBefore)
	require.GreaterOrEqual(t, h.PeakRate, h.Rate)
	require.Greater(t, h.Rate, 3*h.UsualRate)
	want := "major"
	if h.Rate >= 2*3*h.UsualRate { // critical at 2 × factor
		want = "critical"
	}
	require.Equal(t, want, h.Severity)

	// Without hotspot rules, an empty list, not null.
	var none strings.Builder
	require.NoError(t, (&replay.Report{}).WriteJSON(&none))
	require.Contains(t, none.String(), `"hotspots": null`, "a zero Report has no list")
	require.NotNil(t, demoLikeEmpty(t).Hotspots)

	ctx := reportBrowser(t, 1100, 900)
	openReport(t, ctx, rep)
	charts, err := chromedp.Run(ctx, chromedp.Evaluate[[]chartInfo](chartsJS))
	require.NoError(t, err)
	var hot *chartInfo
	for i := range charts {
		if charts[i].ID == "hotspots" {
			hot = &charts[i]
		}
	}
	require.NotNil(t, hot, "a hotspots chart")
	require.Equal(t, 2, hot.Marks, "the rate at opening and the usual rate")
	require.True(t, hot.HasTable)
	row, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#hotspots ~ .pair tbody tr').innerText`))
	require.NoError(t, err)
	require.Contains(t, row, "carrier_trouble: carrier rapid, region east")
	require.Contains(t, row, fmt.Sprint(tagged))
	require.Contains(t, row, "before it opened")
	low, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](lowContrastJS))
	require.NoError(t, err)
	require.Empty(t, low, "WCAG AA contrast")
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)))
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	require.NoError(t, err)
	require.False(t, overflow, "the page with hotspots fits a phone's width")
}

// demoLikeEmpty replays a few events with no hotspot rules.
func demoLikeEmpty(t *testing.T) replay.Report {
	t.Helper()
	cfg := hotspotConfig(t)
	cfg.Hotspots = nil
	in := writeLines(t, "few.jsonl", []string{`{"customer_id":"c","time":"2026-02-01T00:00:00Z","journey":"delivery"}`})
	s, err := replay.Run(context.Background(), replay.Options{Config: cfg, Input: in, Out: &strings.Builder{}})
	require.NoError(t, err)
	return s.Report()
}
