package stream_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/peakend/peakend/internal/app"
	"github.com/peakend/peakend/internal/testkit"
)

// fenceOpts are exactly-once client options with small fetches: many short
// cycles, so that a fenced transaction lands mid-stream.
func fenceOpts() []kgo.Opt {
	return append(testkit.EOSClientOpts(), kgo.FetchMaxPartitionBytes(8<<10))
}

// TestSurvivesFencedTransaction: the broker aborts a transaction under the
// instance and bumps its producer epoch, so that the transaction's End is
// answered with a fencing error (found on Kafka 3.9 when an End stayed open
// across a rebalance longer than the transaction timeout). The instance
// keeps running: it discards the cycle, starts a new group session and
// processes the rest of the stream, and a read_committed consumer of the
// alerts topic sees replay's alert set, each alert_id once.
//
// "timeout": kfake holds the third committing EndTxn past the transaction
// timeout (4 s), aborts the transaction itself as a broker does, and
// answers the late EndTxn as the broker decides (PRODUCER_FENCED, or
// INVALID_TXN_STATE under KIP-890's transaction version 2).
// "producer_fenced": the broker answers the third committing EndTxn with
// PRODUCER_FENCED outright; the new session's InitProducerID aborts the
// transaction.
func TestSurvivesFencedTransaction(t *testing.T) {
	for _, how := range []string{"timeout", "producer_fenced"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			c, brokers := testkit.FakeCluster(t)
			var commits, fenced atomic.Int32
			c.ControlKey(int16(kmsg.EndTxn), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
				req := kreq.(*kmsg.EndTxnRequest)
				c.KeepControl()
				if !req.Commit || commits.Add(1) != 3 {
					return nil, nil, false
				}
				c.DropControl()
				fenced.Add(1)
				if how == "timeout" {
					c.SleepControl(func() { time.Sleep(4*time.Second + 700*time.Millisecond) })
					return nil, nil, false // kfake answers, having aborted the transaction
				}
				resp := req.ResponseKind().(*kmsg.EndTxnResponse)
				resp.ErrorCode = kerr.ProducerFenced.Code
				return resp, nil, true
			})

			cfg := testEOSConfig(t, brokers)
			cfg.HTTP.Listen = "127.0.0.1:0"
			recs := testkit.Generate(events, customers, seed+11, start, 10*time.Second)
			testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences, recs)
			a := testkit.StartApp(t, app.Options{Config: cfg, ClientOpts: fenceOpts()})
			// Without the fix Run ends at the fence and this times out.
			testkit.WaitConsumed(t, brokers, cfg.Kafka.Group, 90*time.Second, cfg.Kafka.Topics.Experiences)
			require.EqualValues(t, 1, fenced.Load(), "the fenced transaction never happened")

			_, body := testkit.Get(t, a.Addr, "/metrics")
			n, _ := testkit.Metric(body, "peakend_transactions_total", "result", "fenced")
			require.EqualValues(t, 1, n, `peakend_transactions_total{result="fenced"}`)
			// Still running: Stop requires Run to return nil, now, after the cancel.
			a.Stop(t, 10*time.Second)

			committedAsReplay(t, brokers, cfg, recs)
		})
	}
}

// TestFencedForEverGivesUp: a broker that fences every transaction (as
// two instances sharing a transactional id fence each other) ends Run
// with an error that names the transactional id, after a bounded number of
// new sessions, and nothing reaches a read_committed reader twice.
func TestFencedForEverGivesUp(t *testing.T) {
	t.Parallel()
	c, brokers := testkit.FakeCluster(t)
	var fenced atomic.Int32
	c.ControlKey(int16(kmsg.EndTxn), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.EndTxnRequest)
		c.KeepControl()
		if !req.Commit {
			return nil, nil, false
		}
		fenced.Add(1)
		resp := req.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.ProducerFenced.Code
		return resp, nil, true
	})
	cfg := testEOSConfig(t, brokers)
	testkit.Produce(t, testkit.Client(t, brokers), cfg.Kafka.Topics.Experiences,
		testkit.Generate(2_000, customers, seed+12, start, 10*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	err := app.Run(ctx, app.Options{Config: cfg, ClientOpts: fenceOpts(), Logger: testkit.Logger(t)})
	require.Error(t, err, "Run should give up on a transactional id fenced again and again")
	require.NoError(t, ctx.Err(), "Run returned only at the test's deadline")
	require.ErrorIs(t, err, kerr.ProducerFenced)
	require.True(t, strings.Contains(err.Error(), "another instance"), "error: %v", err)
	require.EqualValues(t, 6, fenced.Load(), "fenced transactions before giving up (5 ridden out)")
	noDuplicates(t, testkit.Alerts(t, testkit.ReadCommitted(t, brokers, cfg.Kafka.Topics.Alerts)))
}
