package desk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/auth"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/desk"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/state"
)

// clock is a controllable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testDesk is a running desk on its own store, with an HTTP server whose
// requests carry the user named by the X-Test-User header ("ana" or
// "sam:supervisor").
type testDesk struct {
	*desk.Desk
	srv    *httptest.Server
	store  *state.Store
	dir    string
	cancel context.CancelFunc
	done   chan error
}

type deskOpts struct {
	dir   string // state directory to reuse (restart)
	clock *clock
	owns  bool
	known func(string) bool
	tune  func(*desk.Options)
}

func testConfig(t testing.TB, brokers []string) *config.Config {
	cfg := testkit.Config(t, brokers)
	on := true
	cfg.Desk.Enabled = &on
	cfg.Desk.ClaimTTL = config.Duration(30 * time.Minute)
	return cfg
}

func startDesk(t testing.TB, cfg *config.Config, o deskOpts) *testDesk {
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	st, err := state.Open(state.Options{Dir: o.dir})
	require.NoError(t, err)
	do := desk.Options{Config: cfg, Store: st, Logger: testkit.Logger(t), Known: o.known,
		Owns: func(int32) bool { return o.owns }}
	if o.clock != nil {
		do.Now = o.clock.Now
	}
	if o.tune != nil {
		o.tune(&do)
	}
	d, err := desk.New(do)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	td := &testDesk{Desk: d, store: st, dir: o.dir, cancel: cancel, done: make(chan error, 1)}
	go func() { td.done <- d.Run(ctx) }()
	td.srv = httptest.NewServer(withTestUser(d.Handler(nil)))
	t.Cleanup(func() { td.stop(t) })
	testkit.Eventually(t, 10*time.Second, "desk caught up", d.Ready)
	return td
}

func (td *testDesk) stop(t testing.TB) {
	if td.cancel == nil {
		return
	}
	td.srv.Close()
	td.cancel()
	select {
	case err := <-td.done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("desk did not stop")
	}
	require.NoError(t, td.store.Close())
	td.cancel = nil
}

func withTestUser(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("X-Test-User"); v != "" {
			name, role, _ := strings.Cut(v, ":")
			if role == "" {
				role = config.RoleAgent
			}
			r = r.WithContext(auth.WithUser(r.Context(), auth.User{Name: name, Role: role}))
		}
		h.ServeHTTP(w, r)
	})
}

// do sends a request as user and decodes the JSON answer.
func (td *testDesk) do(t testing.TB, user, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, td.srv.URL+path, rd)
	require.NoError(t, err)
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v map[string]any
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &v), "body %s", raw)
	}
	return resp.StatusCode, v
}

func (td *testDesk) queue(t testing.TB, query string) []map[string]any {
	t.Helper()
	st, v := td.do(t, "ana", "GET", "/api/queue"+query, nil)
	require.Equal(t, 200, st)
	var out []map[string]any
	for _, c := range v["cases"].([]any) {
		out = append(out, c.(map[string]any))
	}
	return out
}

// testAlert is an alert as the pipeline writes it.
type testAlert struct {
	ID, Customer, Detector, Severity string
	Value                            float64
	Budget                           float64
	Approval                         bool
	At                               time.Time
}

func (a testAlert) JSON() []byte {
	if a.Detector == "" {
		a.Detector = "late_delivery"
	}
	if a.Severity == "" {
		a.Severity = "major"
	}
	if a.Budget == 0 {
		a.Budget = 25
	}
	if a.At.IsZero() {
		a.At = time.Now().UTC().Add(-time.Minute)
	}
	v := map[string]any{
		"alert_id": a.ID, "customer_id": a.Customer, "detector": a.Detector, "journey": "delivery",
		"severity": a.Severity, "score": 0.99, "priority": 0, "reason": "Delivery arrived 4.2 days late",
		"event_time": a.At.Add(-time.Hour), "detected_at": a.At,
		"evidence": []any{map[string]any{"customer_id": a.Customer, "time": a.At.Add(-time.Hour), "journey": "delivery"}},
		"recovery": map[string]any{"action": "Call the customer; refund shipping", "budget": a.Budget, "currency": "EUR",
			"requires_approval": a.Approval},
		"customer":          map[string]any{"tier": "gold", "value": a.Value, "perceived": 0.7},
		"complained_before": false,
	}
	b, _ := json.Marshal(v)
	return b
}

func produceAlert(t testing.TB, cl *kgo.Client, cfg *config.Config, a testAlert) {
	t.Helper()
	require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: cfg.Kafka.Topics.Alerts,
		Key: []byte(a.Customer), Value: a.JSON()}).FirstErr())
}

func produceFeedback(t testing.TB, cl *kgo.Client, cfg *config.Config, key string, value []byte) {
	t.Helper()
	require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: cfg.Kafka.Topics.Feedback,
		Key: []byte(key), Value: value}).FirstErr())
}

// waitCase waits until the desk's open case of cust satisfies cond.
func waitCase(t testing.TB, td *testDesk, cust string, what string, cond func(c *desk.Case) bool) *desk.Case {
	t.Helper()
	var got *desk.Case
	testkit.Eventually(t, 10*time.Second, fmt.Sprintf("case %s: %s", cust, what), func() bool {
		got = td.Case(cust)
		return got != nil && cond(got)
	})
	return got
}
