package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/alerts/outbox"
	"github.com/peakend/peakend/alerts/sinks"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/state"
)

const hsID = "5d0c7e2a9f814b6aa3c1e0b2d4f6a8c0"

// slackServer is a Slack incoming webhook: it keeps every accepted
// message's text, and answers 500 while down.
type slackServer struct {
	*httptest.Server
	mu       sync.Mutex
	texts    []string
	attempts atomic.Int64
	down     atomic.Bool
}

func newSlackServer(t *testing.T) *slackServer {
	s := &slackServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.attempts.Add(1)
		body, _ := io.ReadAll(r.Body)
		if s.down.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		var m struct{ Text string }
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.texts = append(s.texts, m.Text)
		s.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *slackServer) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.texts...)
}

// queueAlerts writes alerts to sink's outbox, enqueued at at.
func queueAlerts(t *testing.T, store *state.Store, sink string, seq0 int, at time.Time, as ...*alerts.Alert) {
	t.Helper()
	b := store.NewBatch(0)
	defer b.Close()
	for i, a := range as {
		js, err := json.Marshal(a)
		require.NoError(t, err)
		require.NoError(t, b.PutOutbox(sink, uint64(seq0+i), at.UnixNano(), js))
	}
	require.NoError(t, b.Commit(false))
}

// customers returns n customer alerts in hotspot hsID, from customer from on.
func customers(from, n int) []*alerts.Alert {
	var as []*alerts.Alert
	for i := from; i < from+n; i++ {
		sev := alerts.Minor
		if i%10 == 0 {
			sev = alerts.Major
		}
		as = append(as, &alerts.Alert{AlertID: fmt.Sprintf("%032x", i), CustomerID: fmt.Sprint("cust-", i),
			Detector: "late_delivery", Journey: "delivery", Severity: sev, Reason: "late", Kind: alerts.KindCustomer, HotspotID: hsID})
	}
	return as
}

func hotspotClose() *alerts.Alert {
	return &alerts.Alert{AlertID: strings.Repeat("c", 32), Detector: "carrier_trouble", Journey: "delivery",
		Severity: alerts.Major, Reason: "back to normal", Kind: alerts.KindHotspot, HotspotID: hsID,
		Hotspot: &alerts.HotspotInfo{Name: "carrier_trouble", Values: map[string]string{"carrier": "rapid", "region": "east"},
			State: alerts.HotspotClosed}}
}

// fakeClock is the deliverer's clock, moved by the test.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time               { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) set(t time.Time)              { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) add(d time.Duration)          { c.ns.Add(int64(d)) }
func (c *fakeClock) at(d time.Duration) time.Time { return c.now().Add(d) }

// named is the desk's HotspotStatus for hotspot hsID.
func named(muted bool) sinks.HotspotStatus {
	return func(id string) (string, map[string]string, bool) {
		if id != hsID {
			return "", nil, false
		}
		return "carrier_trouble", map[string]string{"carrier": "rapid", "region": "east"}, muted
	}
}

type run struct {
	cancel context.CancelFunc
	done   chan error
	book   *outbox.Book
}

func (r run) stop(t *testing.T) {
	r.cancel()
	require.NoError(t, <-r.done)
}

func startSlack(t *testing.T, store *state.Store, url string, clock *fakeClock, m *metrics.Metrics, status sinks.HotspotStatus) run {
	sl, err := sinks.NewSlack("slack", url, "https://desk.example.com", nil)
	require.NoError(t, err)
	sl.GroupHotspots(10*time.Minute, status)
	book := outbox.NewBook([]string{"slack"}, 0, nil, m)
	d := &outbox.Deliverer{Store: store, Sinks: []alerts.Sink{sinks.Filtered(sl, sinks.Filter{MinSeverity: alerts.Minor})},
		Book: book, Metrics: m, Backoff: fast, Poll: 10 * time.Millisecond, Now: clock.now}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return run{cancel, done, book}
}

func outboxLen(t *testing.T, store *state.Store) int {
	n := 0
	require.NoError(t, store.Outbox("slack", func(*state.OutboxEntry) bool { n++; return true }))
	return n
}

// 30 customer alerts of one open hotspot become one Slack message with a
// count of 30 once group_for has passed, and no more than one message per
// hotspot per group_for; alerts without hotspot_id and the hotspot's own
// alerts go out one by one at once.
func TestSlackGroupsHotspotCustomers(t *testing.T) {
	store, err := state.Open(state.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer store.Close()
	srv := newSlackServer(t)
	clock := &fakeClock{}
	t0 := time.Date(2026, 3, 14, 14, 0, 0, 0, time.UTC)
	clock.set(t0)
	alone := &alerts.Alert{AlertID: strings.Repeat("a", 32), CustomerID: "solo", Detector: "late_delivery", Journey: "delivery",
		Severity: alerts.Major, Reason: "late", Kind: alerts.KindCustomer}
	queueAlerts(t, store, "slack", 0, t0, customers(0, 30)...)
	queueAlerts(t, store, "slack", 100, t0, alone, hotspotClose())
	r := startSlack(t, store, srv.URL, clock, metrics.New(nil, nil), named(false))
	defer r.stop(t)

	require.Eventually(t, func() bool { return len(srv.got()) == 2 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // many polls: the group is not due before group_for
	require.Len(t, srv.got(), 2)
	require.Equal(t, 30, outboxLen(t, store), "gathered, not delivered")

	clock.add(10 * time.Minute)
	require.Eventually(t, func() bool { return len(srv.got()) == 3 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, "[HOTSPOT] carrier rapid, region east: 30 more customers (3 major, 27 minor)",
		srv.got()[2])
	require.Eventually(t, func() bool { return outboxLen(t, store) == 0 }, 5*time.Second, 5*time.Millisecond)

	// 5 more a second later: not before an interval after the last message.
	queueAlerts(t, store, "slack", 200, clock.at(time.Second), customers(30, 5)...)
	clock.add(9 * time.Minute)
	time.Sleep(100 * time.Millisecond)
	require.Len(t, srv.got(), 3, "one message per hotspot per group_for")
	clock.add(61 * time.Second)
	require.Eventually(t, func() bool { return len(srv.got()) == 4 }, 5*time.Second, 5*time.Millisecond)
	require.Contains(t, srv.got()[3], ": 5 more customers (1 major, 4 minor)")
	require.Eventually(t, func() bool { return outboxLen(t, store) == 0 }, 5*time.Second, 5*time.Millisecond)
}

// A crash between gathering a group and Slack accepting its message loses
// nothing: the deliverer is stopped while Slack fails every post, the
// store is closed and opened again, and the next run posts all 30 in one
// message.
func TestSlackGroupSurvivesCrashBeforeAccept(t *testing.T) {
	fs := vfs.NewMem()
	store, err := state.Open(state.Options{FS: fs})
	require.NoError(t, err)
	srv := newSlackServer(t)
	srv.down.Store(true)
	clock := &fakeClock{}
	t0 := time.Date(2026, 3, 14, 14, 0, 0, 0, time.UTC)
	clock.set(t0.Add(10 * time.Minute)) // due at once
	queueAlerts(t, store, "slack", 0, t0, customers(0, 30)...)

	r := startSlack(t, store, srv.URL, clock, metrics.New(nil, nil), named(false))
	require.Eventually(t, func() bool { return srv.attempts.Load() >= 2 }, 5*time.Second, 5*time.Millisecond,
		"gathered and posted, refused")
	r.stop(t)
	require.Empty(t, srv.got())
	require.Equal(t, 30, outboxLen(t, store), "nothing leaves the outbox before Slack accepts it")
	require.NoError(t, store.Close())

	store, err = state.Open(state.Options{FS: fs})
	require.NoError(t, err)
	defer store.Close()
	require.Equal(t, 30, outboxLen(t, store))
	srv.down.Store(false)
	r = startSlack(t, store, srv.URL, clock, metrics.New(nil, nil), named(false))
	defer r.stop(t)
	require.Eventually(t, func() bool { return outboxLen(t, store) == 0 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, []string{"[HOTSPOT] carrier rapid, region east: 30 more customers (3 major, 27 minor)"}, srv.got())
}

// A muted hotspot: its customers' grouped alerts are done without a post
// (counted as muted), and its closing alert is still posted.
func TestSlackMutedHotspotPostsOnlyItsClose(t *testing.T) {
	store, err := state.Open(state.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer store.Close()
	srv := newSlackServer(t)
	clock := &fakeClock{}
	t0 := time.Date(2026, 3, 14, 14, 0, 0, 0, time.UTC)
	clock.set(t0)
	queueAlerts(t, store, "slack", 0, t0, customers(0, 30)...)
	queueAlerts(t, store, "slack", 100, t0.Add(time.Minute), hotspotClose())
	m := metrics.New(nil, nil)
	r := startSlack(t, store, srv.URL, clock, m, named(true))
	defer r.stop(t)

	require.Eventually(t, func() bool { return len(srv.got()) == 1 }, 5*time.Second, 5*time.Millisecond)
	clock.add(time.Hour)
	require.Eventually(t, func() bool { return outboxLen(t, store) == 0 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	require.Len(t, srv.got(), 1, "nothing posted for a muted hotspot's customers")
	require.Contains(t, srv.got()[0], "hotspot carrier_trouble back to normal")
	require.Equal(t, 30.0, counterValue(t, m, "slack", "muted"))
	require.Equal(t, 1.0, counterValue(t, m, "slack", "delivered"))
}
