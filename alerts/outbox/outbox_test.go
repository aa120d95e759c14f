package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/alerts/outbox"
	"github.com/peakend/peakend/alerts/sinks"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/state"
)

func queue(t *testing.T, store *state.Store, p int32, sink string, from, n int) []string {
	t.Helper()
	b := store.NewBatch(p)
	defer b.Close()
	var ids []string
	for i := from; i < from+n; i++ {
		a := alerts.Alert{AlertID: fmt.Sprintf("%032x", i), CustomerID: fmt.Sprint("c", i), Detector: "late_delivery",
			Journey: "delivery", Severity: alerts.Major, Reason: "late"}
		js, err := json.Marshal(&a)
		require.NoError(t, err)
		require.NoError(t, b.PutOutbox(sink, uint64(i), time.Now().UnixNano(), js))
		ids = append(ids, a.AlertID)
	}
	require.NoError(t, b.Commit(false))
	return ids
}

func webhook(t *testing.T, url string) alerts.Sink {
	s, err := sinks.NewWebhook("hook", url, testkit.WebhookSecret, nil)
	require.NoError(t, err)
	return s
}

var fast = sinks.Backoff{Base: 5 * time.Millisecond, Max: 40 * time.Millisecond, Jitter: 1}

// The receiver is down, then fails a share of requests with 500 and 429
// (Retry-After), and peakend's deliverer is stopped once in the middle: in
// the end every queued alert has arrived, correctly signed, and the outbox
// is empty.
func TestOutageEveryAlertArrives(t *testing.T) {
	fs := vfs.NewMem()
	store, err := state.Open(state.Options{FS: fs})
	require.NoError(t, err)
	rec := testkit.NewWebhook(t)
	rec.Down.Store(true)
	rec.Flaky = func(n int) (int, string) {
		switch {
		case n%5 == 0:
			return http.StatusTooManyRequests, "0"
		case n%3 == 0:
			return http.StatusInternalServerError, ""
		}
		return 0, ""
	}

	ids := queue(t, store, 0, "hook", 0, 60)
	ids = append(ids, queue(t, store, 3, "hook", 60, 40)...)
	m := metrics.New(nil, nil)
	run := func(ctx context.Context) (*outbox.Book, chan error) {
		book := outbox.NewBook([]string{"hook"}, 0, nil, m)
		d := &outbox.Deliverer{Store: store, Sinks: []alerts.Sink{webhook(t, rec.URL)}, Book: book, Metrics: m,
			Backoff: fast, Poll: 20 * time.Millisecond}
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		return book, done
	}

	// First run: the receiver is down the whole time; stop it as a crash would.
	ctx, cancel := context.WithCancel(context.Background())
	_, done := run(ctx)
	time.Sleep(150 * time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.Empty(t, rec.Delivered())

	// Restart: the receiver comes back, flaky.
	rec.Down.Store(false)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	book, done := run(ctx)
	require.Eventually(t, func() bool { return len(rec.Delivered()) == len(ids) && book.Backlog("hook") == 0 },
		20*time.Second, 10*time.Millisecond)
	for _, id := range ids {
		require.GreaterOrEqual(t, rec.Delivered()[id], 1, id)
	}
	left := 0
	require.NoError(t, store.Outbox("hook", func(*state.OutboxEntry) bool { left++; return true }))
	require.Zero(t, left, "delivered entries are deleted")
	cancel()
	require.NoError(t, <-done)
	require.NoError(t, store.Close())
}

// A 429's Retry-After is honoured: the next attempt waits at least that long,
// even though the backoff alone would retry sooner.
func TestRetryAfterHonoured(t *testing.T) {
	store, err := state.Open(state.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer store.Close()
	var mu sync.Mutex
	var times []time.Time
	rec := testkit.NewWebhook(t)
	rec.Flaky = func(n int) (int, string) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		if n == 1 {
			return http.StatusTooManyRequests, "1"
		}
		return 0, ""
	}
	queue(t, store, 0, "hook", 0, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := &outbox.Deliverer{Store: store, Sinks: []alerts.Sink{webhook(t, rec.URL)},
		Book: outbox.NewBook([]string{"hook"}, 0, nil, nil), Backoff: fast, Poll: 10 * time.Millisecond}
	go func() { _ = d.Run(ctx) }()
	require.Eventually(t, func() bool { return len(rec.Delivered()) == 1 }, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, times[1].Sub(times[0]), 900*time.Millisecond, "Retry-After: 1 second")
}

// The backlog bound: a full sink refuses new alerts (they stay on the Kafka
// topic), counts and logs it, and accepts again once it drains.
func TestBacklogBound(t *testing.T) {
	m := metrics.New(nil, nil)
	var logs strings.Builder
	book := outbox.NewBook([]string{"hook", "slack"}, 3, newLogger(&logs), m)
	book.Committed("hook", 2)
	require.True(t, book.Admit("hook", 0))
	require.False(t, book.Admit("hook", 1), "2 committed + 1 pending of 3")
	require.False(t, book.Admit("hook", 1))
	require.True(t, book.Admit("slack", 0), "another sink is not affected")
	require.Equal(t, 1, strings.Count(logs.String(), "outbox full"), "logged once per episode")
	require.Equal(t, 2.0, counterValue(t, m, "hook", "dropped_backlog_full"))
}

func newLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func counterValue(t *testing.T, m *metrics.Metrics, labels ...string) float64 {
	var d dto.Metric
	require.NoError(t, m.Deliveries.WithLabelValues(labels...).Write(&d))
	return d.GetCounter().GetValue()
}

// alerting.max_per_hour: within a rolling hour, alerts beyond the capacity
// stay on the Kafka topic (counted), except critical ones; an hour later
// there is room again.
func TestFrontlineCapacity(t *testing.T) {
	m := metrics.New(nil, nil)
	book := outbox.NewBook([]string{"hook"}, 0, nil, m)
	book.SetCapacity(3)
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		require.True(t, book.Frontline(alerts.Minor, t0.Add(time.Duration(i)*time.Minute)))
	}
	require.False(t, book.Frontline(alerts.Major, t0.Add(10*time.Minute)), "over capacity")
	require.False(t, book.Frontline(alerts.Minor, t0.Add(59*time.Minute)))
	require.True(t, book.Frontline(alerts.Critical, t0.Add(59*time.Minute)), "critical always reaches the frontline")
	require.True(t, book.Frontline(alerts.Minor, t0.Add(62*time.Minute)), "the first alerts left the rolling hour")
	var d dto.Metric
	require.NoError(t, m.OverCapacity.WithLabelValues("minor").Write(&d))
	require.Equal(t, 1.0, d.GetCounter().GetValue())
	require.NoError(t, m.OverCapacity.WithLabelValues("major").Write(&d))
	require.Equal(t, 1.0, d.GetCounter().GetValue())

	unlimited := outbox.NewBook([]string{"hook"}, 0, nil, nil)
	for range 1000 {
		require.True(t, unlimited.Frontline(alerts.Minor, t0))
	}
}

// One alert the receiver keeps failing (here: always, with a long backoff)
// takes one of the sink's delivery slots, not the others: alerts queued
// after it are delivered meanwhile, and the oldest-entry gauge still counts
// the stuck one.
func TestStuckAlertDoesNotHoldBackOthers(t *testing.T) {
	store, err := state.Open(state.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer store.Close()
	var mu sync.Mutex
	got := map[string]int{}
	stuck := fmt.Sprintf("%032x", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a alerts.Alert
		_ = json.NewDecoder(r.Body).Decode(&a)
		if a.AlertID == stuck {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		mu.Lock()
		got[a.AlertID]++
		mu.Unlock()
	}))
	defer srv.Close()
	delivered := func(ids []string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			if got[id] == 0 {
				return false
			}
		}
		return true
	}

	first := queue(t, store, 0, "hook", 0, 10) // the stuck one, then nine
	m := metrics.New(nil, nil)
	book := outbox.NewBook([]string{"hook"}, 0, nil, m)
	book.Committed("hook", len(first))
	ctx, cancel := context.WithCancel(context.Background())
	d := &outbox.Deliverer{Store: store, Sinks: []alerts.Sink{webhook(t, srv.URL)}, Book: book, Metrics: m,
		Backoff: sinks.Backoff{Base: time.Hour, Max: time.Hour}, Poll: time.Hour, Concurrency: map[string]int{"hook": 2}}
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-ran) }()
	require.Eventually(t, func() bool { return delivered(first[1:]) }, 10*time.Second, 5*time.Millisecond)

	later := queue(t, store, 0, "hook", 10, 20)
	book.Committed("hook", len(later))
	require.Eventually(t, func() bool { return delivered(later) }, 10*time.Second, 5*time.Millisecond,
		"alerts queued while another is retried")
	time.Sleep(1100 * time.Millisecond)
	book.Committed("hook", 0) // a scan, which sets the gauges
	queue(t, store, 0, "hook", 30, 1)
	book.Committed("hook", 1)
	require.Eventually(t, func() bool {
		return gaugeValue(t, m.OutboxOldest, "hook") >= 1
	}, 10*time.Second, 5*time.Millisecond, "the oldest entry's age counts the stuck one")
}

func gaugeValue(t *testing.T, g *prometheus.GaugeVec, labels ...string) float64 {
	t.Helper()
	var pb dto.Metric
	require.NoError(t, g.WithLabelValues(labels...).Write(&pb))
	return pb.GetGauge().GetValue()
}
