package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/alerts/outbox"
	"github.com/peakend/peakend/alerts/sinks"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/state"
)

// A cycle's outbox entries are on disk once it is staged (before its records
// go to Kafka), but the deliverer sends none of them until the cycle
// commits; a discarded cycle's entries are deleted, never sent; those of a
// cycle discarded while its records may be in Kafka are sent.
func TestOutboxEntriesWaitForTheirCycle(t *testing.T) {
	store := memStore(t, vfs.NewMem())
	hook := testkit.NewWebhook(t)
	sink, err := sinks.NewWebhook("hook", hook.URL, testkit.WebhookSecret, nil)
	require.NoError(t, err)
	book := outbox.NewBook([]string{"hook"}, 0, nil, nil)
	eng, err := engine.New(testConfig(t, "late_delivery"), store, engine.Options{Outbox: book})
	require.NoError(t, err)
	pt, err := eng.OpenPartition(0)
	require.NoError(t, err)
	defer pt.Close()
	ctx, cancel := context.WithCancel(context.Background())
	d := &outbox.Deliverer{Store: store, Sinks: []alerts.Sink{sink}, Book: book, Poll: 5 * time.Millisecond, Log: testkit.Logger(t)}
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-ran) }() // before the store closes

	off := int64(0)
	send := func(v string) {
		require.NoError(t, pt.Experience(&engine.Record{Topic: "experiences", Offset: off, Value: []byte(v)}))
		off++
	}
	queued := func() int {
		n := 0
		require.NoError(t, store.Outbox("hook", func(*state.OutboxEntry) bool { n++; return true }))
		return n
	}
	for i := range 40 { // the population's usual delays
		send(delivery(fmt.Sprintf("d%02d", i), fmt.Sprint("c", i), t0.Add(time.Duration(i)*time.Minute), 1))
	}
	require.NoError(t, pt.Stage())
	require.NoError(t, pt.Commit(false))
	trigger := delivery("late", "x", t0.Add(time.Hour), 100)

	send(trigger)
	require.Len(t, pt.Output().Alerts, 1)
	require.NoError(t, pt.Stage())
	require.Equal(t, 1, queued(), "the staged cycle's entry is on disk before the commit")
	time.Sleep(50 * time.Millisecond) // ten of the deliverer's polls
	require.Empty(t, hook.Delivered(), "delivered before its cycle committed")
	require.NoError(t, pt.Discard())
	require.Zero(t, queued(), "the discarded cycle's entry")

	off--
	send(trigger) // the cycle, processed again
	id := pt.Output().Alerts[0].AlertID
	require.NoError(t, pt.Stage())
	require.NoError(t, pt.Commit(false))
	if !assert.Eventually(t, func() bool { return hook.Delivered()[id] == 1 }, 10*time.Second, 5*time.Millisecond) {
		t.Fatalf("the committed cycle's alert %s was not delivered once: delivered %v, queued %d", id, hook.Delivered(), queued())
	}
	require.Eventually(t, func() bool { return queued() == 0 }, 10*time.Second, 5*time.Millisecond)
	require.Len(t, hook.Delivered(), 1, "only the committed cycle's alert, once")

	// A cycle whose markers' produce failed: discarded, its alert kept.
	send(delivery("later", "y", t0.Add(2*time.Hour), 100))
	require.Len(t, pt.Output().Alerts, 1)
	kept := pt.Output().Alerts[0].AlertID
	require.NoError(t, pt.Stage())
	require.NoError(t, pt.DiscardKeepOutbox())
	require.Eventually(t, func() bool { return hook.Delivered()[kept] == 1 }, 10*time.Second, 5*time.Millisecond)
}
