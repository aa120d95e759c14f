//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/internal/testkit"
)

// feed produces recs to topic in small batches, paced so that the stream
// is still flowing while the test acts on peakend; it returns a wait func.
func feed(t *testing.T, brokers []string, topic string, recs []testkit.Record, batch int, pause time.Duration) (wait func()) {
	t.Helper()
	cl := testkit.Client(t, brokers, kgo.RecordRetries(1<<30), kgo.ProduceRequestTimeout(5*time.Second))
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() {
		for i := 0; i < len(recs); i += batch {
			out := make([]*kgo.Record, 0, batch)
			for _, r := range recs[i:min(i+batch, len(recs))] {
				out = append(out, &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			err := cl.ProduceSync(ctx, out...).FirstErr()
			cancel()
			if err != nil {
				errc <- err
				return
			}
			time.Sleep(pause)
		}
	})
	return func() {
		wg.Wait()
		select {
		case err := <-errc:
			require.NoError(t, err, "producing the test's events")
		default:
		}
	}
}

// customerCounts requires every customer's experience count on
// /customers/{id} to equal the number of events produced for them.
func customerCounts(t *testing.T, p *peakend, recs []testkit.Record) {
	t.Helper()
	want := map[string]int{}
	for _, r := range recs {
		want[string(r.Key)]++
	}
	for id, n := range want {
		body, err := httpGet(p.Addr, "/customers/"+id)
		require.NoError(t, err, "/customers/%s: %s", id, body)
		var v struct {
			Experiences int `json:"experiences_total"`
		}
		require.NoError(t, json.Unmarshal(body, &v))
		require.Equal(t, n, v.Experiences, "experiences of %s: counted twice or lost", id)
	}
}

// TestSIGTERMMidStream stops `peakend run` with SIGTERM while events flow:
// it exits 0 within 10 seconds, and a restart continues where it stopped,
// with no event counted twice (per-customer counts, duplicate metric).
func TestSIGTERMMidStream(t *testing.T) {
	bs := brokers(t)
	n := newNames(t, "c")
	createTopics(t, bs, 4, n.Experiences)
	cfgPath, _ := writeConfig(t, bs, n, "")

	const events, customers = 40_000, 300
	recs := testkit.Generate(events, customers, 11, time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), 10*time.Second)
	// peakend first, then the stream, slow enough (5,000 events/s: 8 s in
	// all) that it is still flowing when SIGTERM comes after 5,000: fed
	// first and fast, a slow start-up on a busy machine met a stream that
	// had already ended.
	p := startPeakend(t, cfgPath)
	wait := feed(t, bs, n.Experiences, recs, 500, 100*time.Millisecond)
	waitMetric(t, p, time.Minute, 5_000, "peakend_events_total", "result", "processed")
	took := p.terminate(t, 10*time.Second)
	first := testkit.EndOffsets(t, bs, n.Experiences)
	produced := int64(0)
	for _, end := range first {
		produced += end
	}
	t.Logf("SIGTERM mid-stream: exit 0 after %s, with %d of %d events produced so far", took, produced, events)
	require.Less(t, produced, int64(events), "the stream had ended before SIGTERM: the test did not stop peakend mid-stream")

	q := startPeakend(t, cfgPath)
	wait()
	testkit.WaitConsumed(t, bs, n.Group, 2*time.Minute, n.Experiences)
	customerCounts(t, q, recs)
	require.Zero(t, q.metric("peakend_events_total", "result", "duplicate"), "events offered again after a clean stop")
	require.Zero(t, q.metric("peakend_events_total", "result", "invalid"))
	q.terminate(t, 10*time.Second)
}
