package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/testkit"
)

// The desk in a real browser (headless Chromium driven by chromedp) against
// the whole app: kfake, the pipeline, the desk's view of the alerts and
// feedback topics, sign-in, the page.

const deskPassword = "correct horse battery staple"

type deskRun struct {
	brokers []string
	cfg     *config.Config
	base    string // http://host:port
}

// startDeskUI runs the app with the desk on: accounts ana and bo (agents) and
// sam (supervisor), all with deskPassword; critical actions need approval.
func startDeskUI(t *testing.T) *deskRun {
	t.Helper()
	brokers := testkit.Cluster(t)
	cfg := testkit.Config(t, brokers, "late_delivery", "failed_checkout")
	cfg.HTTP.Listen = "127.0.0.1:0"
	hash, err := bcrypt.GenerateFromPassword([]byte(deskPassword), bcrypt.MinCost)
	require.NoError(t, err)
	cfg.Desk.Accounts = []config.Account{
		{User: "ana", PasswordHash: string(hash), Role: config.RoleAgent},
		{User: "bo", PasswordHash: string(hash), Role: config.RoleAgent},
		{User: "sam", PasswordHash: string(hash), Role: config.RoleSupervisor},
	}
	cfg.Alerting.Playbook.Critical.RequiresApproval = true
	cfg.ApplyDefaults()
	require.NoError(t, cfg.Validate())
	a := testkit.StartApp(t, app.Options{Config: cfg})
	testkit.Eventually(t, 30*time.Second, "/readyz to be 200", func() bool {
		code, _ := testkit.Get(t, a.Addr, "/readyz")
		return code == 200
	})
	return &deskRun{brokers: brokers, cfg: cfg, base: "http://" + a.Addr}
}

// lateParcel is a delivered parcel delay hours late for customer cust; with
// the late_delivery detector, 24 h late is minor, 72 h major, 168 h critical.
func lateParcel(cust, tier string, value float64, at time.Time, delay float64, n int) testkit.Record {
	return testkit.Record{Key: []byte(cust), Value: fmt.Appendf(nil,
		`{"event_id":"%s-%d","customer_id":%q,"time":%q,"journey":"delivery","outcome":"delivered","metrics":{"delay_hours":%g},"attributes":{"order_id":"o-%s-%d","carrier":"DHX"},"customer":{"tier":%q,"value":%g}}`,
		cust, n, cust, at.UTC().Format(time.RFC3339), delay, cust, n, tier, value)}
}

// failedPayment is a failed checkout (a major alert of failed_checkout).
func failedPayment(cust, tier string, value float64, at time.Time, n int) testkit.Record {
	return testkit.Record{Key: []byte(cust), Value: fmt.Appendf(nil,
		`{"event_id":"%s-%d","customer_id":%q,"time":%q,"journey":"checkout","outcome":"failed","attributes":{"payment":"card"},"customer":{"tier":%q,"value":%g}}`,
		cust, n, cust, at.UTC().Format(time.RFC3339), tier, value)}
}

func (d *deskRun) produce(t *testing.T, recs ...testkit.Record) {
	t.Helper()
	testkit.Produce(t, testkit.Client(t, d.brokers), d.cfg.Kafka.Topics.Experiences, recs)
}

// browse runs browser actions, failing the test with what on error or after 30 s.
func browse(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(c, actions...), what)
}

// pageJS returns the value of a JavaScript expression (a promise is awaited).
func pageJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	require.NoError(t, err, "evaluating %s", expr)
	return v
}

// waitPage waits until the JavaScript expression is truthy in the page,
// asking every 50 ms (from Go: a check that outlives the page's own
// history changes).
func waitPage(t *testing.T, ctx context.Context, timeout time.Duration, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	// Say what the page shows, for the failure's reader.
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	page, _ := chromedp.Run(c, chromedp.Evaluate[string](`[location.href,
		"error: " + (document.querySelector("#error-text")?.innerText ?? ""),
		"status: " + (document.querySelector("#status")?.innerText ?? ""),
		"live: " + (document.querySelector("#live")?.dataset.state ?? ""),
		"queue: " + [...document.querySelectorAll("#queue .case")].map(b => b.dataset.id).join(" "),
		"case: " + (document.querySelector("#detail")?.hidden ? "none" : document.querySelector("#d-title")?.innerText + " / " + document.querySelector("#d-claim")?.innerText),
	].join("\n")`))
	require.FailNowf(t, "timed out", "waiting %s for %s (last error: %v); the page:\n%s", timeout, what, last, page)
}

// signIn opens the desk, which sends a browser that is not signed in to
// /login; there it fills in the form, and waits for the desk to be ready.
func (d *deskRun) signIn(t *testing.T, ctx context.Context, user string) {
	t.Helper()
	browse(t, ctx, "the sign-in form",
		chromedp.Navigate(d.base+"/"),
		chromedp.WaitVisible(`input[name="user"]`),
	)
	require.Contains(t, pageJS[string](t, ctx, `location.pathname`), "/login", "the desk did not send a stranger to sign in")
	browse(t, ctx, "signing in as "+user,
		chromedp.SendKeys(`input[name="user"]`, user),
		chromedp.SendKeys(`input[name="password"]`, deskPassword),
		chromedp.Click(`form [type="submit"]`),
		chromedp.WaitVisible(`body[data-ready="true"]`),
	)
	require.Equal(t, "/", pageJS[string](t, ctx, `location.pathname`))
	require.Equal(t, user, pageJS[string](t, ctx, `document.querySelector("#who").textContent.split(" ")[0]`))
}

func caseRow(id string) string { return fmt.Sprintf(`#queue .case[data-id=%q]`, id) }

// rowText is the text of a customer's row in the queue ("" if none).
func caseRowText(id string) string {
	return fmt.Sprintf(`(document.querySelector(%q)?.innerText ?? "")`, caseRow(id))
}

// feedbackEvent is a feedback event as the desk writes it.
type feedbackEvent struct {
	FeedbackID string `json:"feedback_id"`
	AlertID    string `json:"alert_id"`
	CustomerID string `json:"customer_id"`
	Time       string `json:"time"`
	Action     string `json:"action"`
	Outcome    string `json:"outcome"`
	By         string `json:"by"`
	Note       string `json:"note"`
	Spent      *struct {
		Amount   float64 `json:"amount"`
		Currency string  `json:"currency"`
	} `json:"spent"`
	key string
}

func (d *deskRun) feedback(t *testing.T) []feedbackEvent {
	t.Helper()
	var out []feedbackEvent
	for _, r := range testkit.ReadTopic(t, d.brokers, d.cfg.Kafka.Topics.Feedback) {
		var f feedbackEvent
		require.NoError(t, json.Unmarshal(r.Value, &f), "feedback record %s", r.Value)
		f.key = string(r.Key)
		out = append(out, f)
	}
	return out
}

// TestDeskInBrowser is the desk's story end to end, in two browsers: ana
// (agent) signs in and sees an alert the pipeline produced from an event
// the test wrote arrive live; she claims it, and sam (supervisor), in his
// own browser, sees the claim appear without reloading; ana cannot approve
// the critical action, sam can, and ana sees the approval at once; she
// records "recovered" with an amount; the feedback topic holds claim,
// approval and outcome, and the case has left both queues. A screen whose
// live stream is cut is told "claimed by sam" when it claims too late.
func TestDeskInBrowser(t *testing.T) {
	d := startDeskUI(t)
	ana := testkit.Browser(t, 1280, 900)
	sam := testkit.Browser(t, 1280, 900)
	d.signIn(t, ana, "ana")
	d.signIn(t, sam, "sam")

	// A stranger (no session) gets no customer data.
	code, _ := testkit.Get(t, strings.TrimPrefix(d.base, "http://"), "/api/queue")
	require.Equal(t, 401, code, "/api/queue without a session")

	// Events the test writes: dora's parcel 9 days late (critical), eve's
	// failed checkout (minor, lower priority).
	now := time.Now()
	d.produce(t,
		lateParcel("dora", "gold", 1200, now.Add(-72*time.Hour), 2, 1),
		lateParcel("dora", "gold", 1200, now.Add(-30*time.Minute), 216, 2),
		failedPayment("eve", "silver", 300, now.Add(-20*time.Minute), 1),
	)
	waitPage(t, ana, 30*time.Second, "dora's case to arrive in ana's queue, live", caseRowText("dora")+` !== ""`)
	waitPage(t, ana, 30*time.Second, "eve's case to arrive in ana's queue, live", caseRowText("eve")+` !== ""`)
	waitPage(t, sam, 20*time.Second, "dora's case in sam's queue", caseRowText("dora")+` !== ""`)
	order := pageJS[[]string](t, ana, `[...document.querySelectorAll("#queue .case")].map(b => b.dataset.id)`)
	require.Equal(t, []string{"dora", "eve"}, order, "queue order: critical before minor")
	text := pageJS[string](t, ana, caseRowText("dora"))
	for _, want := range []string{"CRITICAL", "gold", "1,200", "late delivery", "delivery", "Unclaimed"} {
		require.Contains(t, text, want, "dora's row")
	}
	require.Regexp(t, `opened (just now|\d+ min ago)`, text)

	// ana opens dora's case: the reason, the evidence, the action, who may approve.
	browse(t, ana, "opening dora's case", chromedp.Click(caseRow("dora")), chromedp.WaitVisible(`#detail`))
	waitPage(t, ana, 20*time.Second, "dora's case from the server", `document.querySelector("#detail").getAttribute("aria-busy") === "false"`)
	waitPage(t, ana, 20*time.Second, "the evidence", `document.querySelectorAll("#d-evidence tbody tr").length >= 2`)
	require.Contains(t, pageJS[string](t, ana, `document.querySelector("#d-alerts").innerText`), "late")
	require.Contains(t, pageJS[string](t, ana, `document.querySelector("#d-evidence").innerText`), "delay hours 216")
	require.Contains(t, pageJS[string](t, ana, `document.querySelector("#d-action").innerText`), "up to 150 EUR")
	require.Contains(t, pageJS[string](t, ana, `document.querySelector("#d-approval").innerText`), "Needs approval from: sam")
	require.Regexp(t, `Peak-end score (0\.\d+|1) `, pageJS[string](t, ana, `document.querySelector("#d-score").innerText`))

	// An agent cannot approve: no button, and the server refuses her.
	require.False(t, pageJS[bool](t, ana, `document.querySelector("#b-approve").checkVisibility()`), "ana sees an Approve button")
	status := pageJS[int](t, ana, `fetch("/api/me").then(r => r.json()).then(me => fetch("/api/cases/dora/approve",
		{method: "POST", headers: {"X-CSRF-Token": me.csrf_token, "Content-Type": "application/json"}, body: "{}"})).then(r => r.status)`)
	require.Equal(t, 403, status, "an agent's approval")

	// ana claims; sam sees it without reloading.
	require.Equal(t, "", pageJS[string](t, sam, `(window.__marker = "no reload", "")`))
	browse(t, ana, "claiming dora", chromedp.Click(`#b-claim`))
	waitPage(t, ana, 20*time.Second, "ana's claim on her screen", `document.querySelector("#d-claim").innerText.startsWith("You are on it")`)
	waitPage(t, sam, 20*time.Second, "ana's claim on sam's screen", caseRowText("dora")+`.includes("ana is on it")`)
	require.Equal(t, "no reload", pageJS[string](t, sam, `window.__marker`), "sam's page reloaded")

	// sam approves; ana sees it at once.
	browse(t, sam, "sam opens dora's case", chromedp.Click(caseRow("dora")), chromedp.WaitVisible(`#b-approve`))
	browse(t, sam, "sam approves", chromedp.Click(`#b-approve`))
	waitPage(t, ana, 20*time.Second, "the approval on ana's screen", `document.querySelector("#d-approval").innerText.startsWith("Approved by sam")`)

	// ana records the outcome: over the budget is caught before it is sent.
	browse(t, ana, "filling in the outcome",
		chromedp.Click(`#outcome input[value="recovered"]`),
		chromedp.SendKeys(`#o-amount`, "200"),
		chromedp.SendKeys(`#o-note`, "Called her; refunded the shipping"),
		chromedp.Click(`#b-outcome`),
	)
	waitPage(t, ana, 10*time.Second, "the budget check", `document.querySelector("#o-amount-err").checkVisibility()`)
	require.Contains(t, pageJS[string](t, ana, `document.querySelector("#o-amount-err").innerText`), "150 EUR")
	require.Equal(t, "true", pageJS[string](t, ana, `document.querySelector("#o-amount").getAttribute("aria-invalid")`))
	browse(t, ana, "correcting the amount", chromedp.SetValue(`#o-amount`, ""), chromedp.SendKeys(`#o-amount`, "12.5"), chromedp.Click(`#b-outcome`))
	waitPage(t, ana, 20*time.Second, "dora's case to leave ana's queue", caseRowText("dora")+` === ""`)
	waitPage(t, sam, 20*time.Second, "dora's case to leave sam's queue", caseRowText("dora")+` === ""`)
	waitPage(t, ana, 20*time.Second, "ana told it is recorded", `document.querySelector("#status").innerText.includes("Recovered")`)
	require.NotEqual(t, "", pageJS[string](t, ana, caseRowText("eve")), "eve's case is still open")

	// The feedback topic has every step, keyed by the customer.
	var fb []feedbackEvent
	testkit.Eventually(t, 20*time.Second, "the outcome on the feedback topic", func() bool {
		fb = d.feedback(t)
		for _, f := range fb {
			if f.Action == "outcome" {
				return true
			}
		}
		return false
	})
	actions := map[string]feedbackEvent{}
	for _, f := range fb {
		require.Equal(t, "dora", f.CustomerID)
		require.Equal(t, "dora", f.key, "feedback key")
		require.NotEmpty(t, f.AlertID)
		actions[f.Action] = f
	}
	require.Equal(t, "ana", actions["claim"].By)
	require.Equal(t, "sam", actions["approve"].By)
	out := actions["outcome"]
	require.Equal(t, "recovered", out.Outcome)
	require.Equal(t, "ana", out.By)
	require.Equal(t, "Called her; refunded the shipping", out.Note)
	require.NotNil(t, out.Spent)
	require.InDelta(t, 12.5, out.Spent.Amount, 1e-9)
	require.Equal(t, "EUR", out.Spent.Currency)

	// The server's queue agrees with the screen.
	ids := pageJS[[]string](t, ana, `fetch("/api/queue").then(r => r.json()).then(q => q.cases.map(c => c.customer_id))`)
	require.Equal(t, []string{"eve"}, ids)

	// A screen that lost its live stream: ana opens eve's case, sam claims
	// it meanwhile; ana's "I'm on it" is refused, and she is told who has it.
	browse(t, ana, "cutting ana's live stream", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/api/events", Block: true}}})
		return err
	}), chromedp.Navigate(d.base+"/"), chromedp.WaitVisible(`body[data-ready="true"]`))
	waitPage(t, ana, 20*time.Second, "ana's page to say it is not live", `document.querySelector("#live").dataset.state === "down"`)
	browse(t, ana, "ana opens eve's case", chromedp.Click(caseRow("eve")), chromedp.WaitVisible(`#b-claim`))
	waitPage(t, ana, 20*time.Second, "eve's case", `document.querySelector("#detail").getAttribute("aria-busy") === "false" &&
		document.querySelector("#d-claim").innerText === "Nobody is on it yet."`)
	browse(t, sam, "sam claims eve", chromedp.Click(caseRow("eve")), chromedp.WaitVisible(`#b-claim`), chromedp.Click(`#b-claim`))
	waitPage(t, sam, 20*time.Second, "sam's claim", `document.querySelector("#d-claim").innerText.startsWith("You are on it")`)
	browse(t, ana, "ana claims eve too", chromedp.Click(`#b-claim`))
	waitPage(t, ana, 20*time.Second, "the refusal, said aloud", `document.querySelector("#error").innerText.includes("claimed by sam")`)
	require.Equal(t, "alert", pageJS[string](t, ana, `document.querySelector("#error-text").getAttribute("role")`))
	waitPage(t, ana, 20*time.Second, "eve's case to show sam's claim", `document.querySelector("#d-claim").innerText.startsWith("sam is on it")`)

	// Sign out: back to the sign-in page, and the desk asks again.
	browse(t, ana, "signing out", chromedp.Click(`#signout button`), chromedp.WaitVisible(`input[name="password"]`))
	browse(t, ana, "the desk after signing out", chromedp.Navigate(d.base+"/"), chromedp.WaitVisible(`input[name="password"]`))
}

// TestDeskKeyboardPhoneContrast: the desk works with the keyboard alone
// (skip link, Tab to a case, Enter opens it with focus on its title, arrows
// move along the queue, Escape closes and gives focus back), shows times in
// the viewer's time zone, keeps every text at WCAG AA contrast, and fits a
// 375 px phone without sideways scrolling, the open case covering the queue.
func TestDeskKeyboardPhoneContrast(t *testing.T) {
	d := startDeskUI(t)
	now := time.Now()
	d.produce(t,
		lateParcel("dora", "gold", 1200, now.Add(-time.Hour), 200, 1),
		failedPayment("eve", "silver", 300, now.Add(-40*time.Minute), 1),
		lateParcel("finn", "bronze", 80, now.Add(-50*time.Minute), 30, 1),
	)
	ctx := testkit.Browser(t, 1280, 900)
	// The viewer is in New Zealand (13 hours from UTC in December, 12 in June).
	browse(t, ctx, "the viewer's time zone", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Pacific/Auckland"})
		return err
	}))
	d.signIn(t, ctx, "ana")
	waitPage(t, ctx, 30*time.Second, "three cases", `document.querySelectorAll("#queue .case").length === 3`)

	// Times in the viewer's zone.
	require.Equal(t, "Times in Pacific/Auckland", pageJS[string](t, ctx, `document.querySelector("#tz").innerText`))
	require.True(t, pageJS[bool](t, ctx, `(() => {
		const t = document.querySelector("#queue time");
		const f = (tz) => new Intl.DateTimeFormat(undefined, {dateStyle: "medium", timeStyle: "short", timeZone: tz}).format(Date.parse(t.getAttribute("datetime")));
		return t.title === f("Pacific/Auckland") && t.title !== f("UTC");
	})()`), "queue times are not in the viewer's zone")

	// Contrast of the queue.
	low, err := testkit.LowContrast(ctx)
	require.NoError(t, err)
	require.Empty(t, low, "texts below WCAG AA contrast in the queue")

	// Keyboard alone.
	focused := func() string {
		return pageJS[string](t, ctx, `(() => { const e = document.activeElement; return e.dataset.id || e.id || e.tagName; })()`)
	}
	browse(t, ctx, "Tab to the skip link", chromedp.KeyEvent(kb.Tab))
	require.Equal(t, "Skip to the queue", pageJS[string](t, ctx, `document.activeElement.innerText`))
	require.True(t, pageJS[bool](t, ctx, `getComputedStyle(document.activeElement).outlineStyle !== "none" && parseFloat(getComputedStyle(document.activeElement).outlineWidth) >= 2`),
		"no visible focus on the skip link")
	browse(t, ctx, "Enter on the skip link, Tab", chromedp.KeyEvent(kb.Enter), chromedp.KeyEvent(kb.Tab))
	require.Equal(t, "dora", focused(), "the first Tab after the skip link lands on the first case")
	require.True(t, pageJS[bool](t, ctx, `getComputedStyle(document.activeElement).outlineStyle !== "none"`), "no visible focus on a case")
	browse(t, ctx, "arrow down", chromedp.KeyEvent(kb.ArrowDown))
	require.Equal(t, "eve", focused())
	browse(t, ctx, "arrow up", chromedp.KeyEvent(kb.ArrowUp))
	require.Equal(t, "dora", focused())
	browse(t, ctx, "Enter opens the case", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(`#detail`))
	require.Equal(t, "d-title", focused(), "focus moves to the open case")
	waitPage(t, ctx, 20*time.Second, "the evidence", `document.querySelectorAll("#d-evidence tbody tr").length >= 1`)
	low, err = testkit.LowContrast(ctx)
	require.NoError(t, err)
	require.Empty(t, low, "texts below WCAG AA contrast in the open case")
	browse(t, ctx, "Tab to Close", chromedp.KeyEvent(kb.Tab))
	require.Equal(t, "d-close", focused())
	browse(t, ctx, "Tab to the claim", chromedp.KeyEvent(kb.Tab))
	require.Equal(t, "b-claim", focused())
	browse(t, ctx, "Space claims", chromedp.KeyEvent(" "))
	waitPage(t, ctx, 20*time.Second, "the claim", `document.querySelector("#d-claim").innerText.startsWith("You are on it")`)
	browse(t, ctx, "Escape closes", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(`#detail`))
	require.Equal(t, "dora", focused(), "focus goes back to the case")
	require.Contains(t, pageJS[string](t, ctx, caseRowText("dora")), "You're on it")

	// Filters narrow the queue.
	pick := func(sel, value string) {
		t.Helper()
		require.True(t, pageJS[bool](t, ctx, fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q;
			return s.dispatchEvent(new Event("change", {bubbles: true})); })()`, sel, value)))
	}
	shown := func() []string {
		return pageJS[[]string](t, ctx, `[...document.querySelectorAll("#queue .case")].map(b => b.dataset.id)`)
	}
	pick("#f-severity", "critical")
	require.Equal(t, []string{"dora"}, shown())
	pick("#f-severity", "")
	pick("#f-journey", "checkout")
	require.Equal(t, []string{"eve"}, shown())
	pick("#f-tier", "gold")
	require.Empty(t, shown())
	require.Equal(t, "No open case matches these filters.", pageJS[string](t, ctx, `document.querySelector("#empty").innerText`))
	browse(t, ctx, "clear the filters", chromedp.Click(`#f-clear`))
	waitPage(t, ctx, 10*time.Second, "all three again", `document.querySelectorAll("#queue .case").length === 3`)

	// A phone.
	browse(t, ctx, "phone width", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), chromedp.Sleep(300*time.Millisecond))
	require.LessOrEqual(t, pageJS[int](t, ctx, `document.documentElement.scrollWidth`), 375, "the queue scrolls sideways on a phone")
	low, err = testkit.LowContrast(ctx)
	require.NoError(t, err)
	require.Empty(t, low, "texts below WCAG AA contrast on a phone")
	browse(t, ctx, "open a case on the phone", chromedp.Click(caseRow("eve")), chromedp.WaitVisible(`#detail`))
	box := pageJS[[]float64](t, ctx, `(() => { const r = document.querySelector("#detail").getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
	require.Equal(t, []float64{0, 0, 375, 812}, box, "the open case covers the phone's screen")
	require.LessOrEqual(t, pageJS[int](t, ctx, `document.querySelector("#detail").scrollWidth`), 375, "the open case scrolls sideways on a phone")
	browse(t, ctx, "Escape on the phone", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(`#detail`))
}

// TestDeskHistory: a customer recovered before comes back with a worse
// experience; the new case shows the earlier one with its outcome, who
// recorded it, what was spent and the note, says the customer was recovered
// before, and lists the recent experiences under the peak-end score.
func TestDeskHistory(t *testing.T) {
	d := startDeskUI(t)
	now := time.Now()
	d.produce(t,
		lateParcel("gus", "gold", 900, now.Add(-100*time.Hour), 2, 1),
		lateParcel("gus", "gold", 900, now.Add(-80*time.Hour), 30, 2),
	)
	bo := testkit.Browser(t, 1280, 900)
	d.signIn(t, bo, "bo")
	waitPage(t, bo, 30*time.Second, "gus's first case", caseRowText("gus")+` !== ""`)
	require.Contains(t, pageJS[string](t, bo, caseRowText("gus")), "MINOR")
	browse(t, bo, "bo takes gus", chromedp.Click(caseRow("gus")), chromedp.WaitVisible(`#b-claim`), chromedp.Click(`#b-claim`))
	waitPage(t, bo, 20*time.Second, "bo's claim", `document.querySelector("#d-claim").innerText.startsWith("You are on it")`)
	browse(t, bo, "bo recovers gus", chromedp.Click(`#outcome input[value="recovered"]`), chromedp.SendKeys(`#o-amount`, "4.5"),
		chromedp.SendKeys(`#o-note`, "Apologised; sent the voucher"), chromedp.Click(`#b-outcome`))
	waitPage(t, bo, 20*time.Second, "gus's first case closed", caseRowText("gus")+` === "" && document.querySelector("#detail").hidden`)

	d.produce(t, lateParcel("gus", "gold", 900, now.Add(-time.Hour), 200, 3))
	waitPage(t, bo, 30*time.Second, "gus's new case", caseRowText("gus")+`.includes("CRITICAL")`)
	browse(t, bo, "bo opens it", chromedp.Click(caseRow("gus")), chromedp.WaitVisible(`#detail`))
	waitPage(t, bo, 20*time.Second, "gus's case from the server", `document.querySelector("#detail").getAttribute("aria-busy") === "false"`)
	waitPage(t, bo, 20*time.Second, "the history", `document.querySelector("#d-history").innerText.includes("Recovered")`)
	hist := pageJS[string](t, bo, `document.querySelector("#d-history").innerText`)
	for _, want := range []string{"MINOR", "Recovered", "by bo", "spent 4.5 EUR", "Note: Apologised; sent the voucher", "30 hours"} {
		require.Contains(t, hist, want, "the earlier case")
	}
	require.Contains(t, pageJS[string](t, bo, `document.querySelector("#d-flags").innerText`), "Was recovered by staff before.")
	require.Equal(t, 3, pageJS[int](t, bo, `document.querySelectorAll("#d-timeline li").length`), "recent experiences")
	require.Contains(t, pageJS[string](t, bo, `document.querySelector("#d-timeline").innerText`), "delay hours 200")
}

// TestDeskScreenshots regenerates docs/desk-queue.png (with a hotspot),
// docs/desk-detail.png and docs/desk-phone.png from the real app:
//
//	PEAKEND_SCREENSHOTS=1 go test ./internal/app -run TestDeskScreenshots
func TestDeskScreenshots(t *testing.T) {
	if os.Getenv("PEAKEND_SCREENSHOTS") == "" {
		t.Skip("set PEAKEND_SCREENSHOTS=1 to regenerate the desk's screenshots under docs/")
	}
	d := startDeskUI(t)
	now := time.Now()
	// c-20417 had a case before, recovered by bo with a voucher.
	d.produce(t,
		lateParcel("c-20417", "gold", 2400, now.Add(-100*time.Hour), 3, 1),
		lateParcel("c-20417", "gold", 2400, now.Add(-80*time.Hour), 30, 2),
	)
	bo := testkit.Browser(t, 1280, 900)
	d.signIn(t, bo, "bo")
	waitPage(t, bo, 30*time.Second, "c-20417's first case", caseRowText("c-20417")+` !== ""`)
	browse(t, bo, "bo takes c-20417", chromedp.Click(caseRow("c-20417")), chromedp.WaitVisible(`#b-claim`), chromedp.Click(`#b-claim`))
	waitPage(t, bo, 20*time.Second, "bo's claim", `document.querySelector("#d-claim").innerText.startsWith("You are on it")`)
	browse(t, bo, "bo recovers c-20417", chromedp.Click(`#outcome input[value="recovered"]`), chromedp.SendKeys(`#o-amount`, "5"),
		chromedp.SendKeys(`#o-note`, "Apologised; sent the 10% voucher"), chromedp.Click(`#b-outcome`))
	waitPage(t, bo, 20*time.Second, "c-20417's first case closed", caseRowText("c-20417")+` === "" && document.querySelector("#detail").hidden`)

	d.produce(t,
		lateParcel("c-20417", "gold", 2400, now.Add(-26*time.Hour), 1, 3),
		lateParcel("c-20417", "gold", 2400, now.Add(-40*time.Minute), 212, 4),
		lateParcel("c-11873", "silver", 640, now.Add(-35*time.Minute), 190, 1),
		failedPayment("c-30952", "gold", 1800, now.Add(-30*time.Minute), 1),
		lateParcel("c-48210", "bronze", 150, now.Add(-25*time.Minute), 96, 1),
		lateParcel("c-50031", "", 0, now.Add(-20*time.Minute), 31, 1),
	)
	waitPage(t, bo, 30*time.Second, "five cases", `document.querySelectorAll("#queue .case").length === 5`)
	browse(t, bo, "bo claims c-11873", chromedp.Click(caseRow("c-11873")), chromedp.WaitVisible(`#b-claim`), chromedp.Click(`#b-claim`))
	waitPage(t, bo, 20*time.Second, "bo's claim", `document.querySelector("#d-claim").innerText.startsWith("You are on it")`)

	// A hotspot (one carrier failing one region) and a customer it hit.
	d.produceAlerts(t,
		hotspotRecord(t, "hot-open", alerts.HotspotOpen, alerts.Major, now.Add(-2*time.Hour)),
		customerInHotspot(t, "c-60214", 420, now.Add(-50*time.Minute)),
	)

	ana := testkit.Browser(t, 1280, 760)
	d.signIn(t, ana, "ana")
	waitPage(t, ana, 20*time.Second, "bo's claim on ana's screen", caseRowText("c-11873")+`.includes("bo is on it")`)
	waitPage(t, ana, 20*time.Second, "the hotspot and its cases", `document.querySelectorAll("#hotspot-list .hotspot").length === 1 &&
		document.querySelectorAll("#queue .case").length === 6`)
	dir := filepath.Join("..", "..", "docs")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	save := func(ctx context.Context, name string) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		limit := 300 << 10
		if name == "desk-detail.png" { // a tall window: the whole case beside the queue and its hotspot
			limit = 350 << 10
		}
		require.Less(t, len(png), limit, "%s is %d KB", name, len(png)>>10)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
		t.Logf("wrote docs/%s (%d KB)", name, len(png)>>10)
	}
	browse(t, ana, "settle", chromedp.Sleep(2500*time.Millisecond)) // the arrival highlight fades
	save(ana, "desk-queue.png")

	browse(t, ana, "a tall window for the whole case", chromedp.EmulateViewport(1280, 1900))
	browse(t, ana, "ana takes c-20417", chromedp.Click(caseRow("c-20417")), chromedp.WaitVisible(`#b-claim`), chromedp.Click(`#b-claim`))
	waitPage(t, ana, 20*time.Second, "the evidence, the history and the claim", `document.querySelectorAll("#d-evidence tbody tr").length >= 3 &&
		document.querySelector("#d-history").innerText.includes("Recovered") && document.querySelector("#d-claim").innerText.startsWith("You are on it")`)
	browse(t, ana, "settle", chromedp.Sleep(500*time.Millisecond))
	save(ana, "desk-detail.png")
	browse(t, ana, "close", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(`#detail`))

	browse(t, ana, "phone", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile),
		chromedp.Navigate(d.base+"/"), chromedp.WaitVisible(`body[data-ready="true"]`), chromedp.Sleep(2500*time.Millisecond))
	save(ana, "desk-phone.png")
}
