package stream

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/state"
)

// BenchmarkRestore measures a full restore of one partition's changelog
// (100k customers: a header and two window slots each, 300k keys, markers
// every 10k writes) from kfake into Pebble on an in-memory filesystem, in
// keys/s. The real-broker figure comes from `make bench-kafka`.
func BenchmarkRestore(b *testing.B) {
	const custs = 100_000
	cfg := config.Default()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, ChangelogTopic(cfg.Kafka.Group)))
	require.NoError(b, err)
	defer c.Close()
	cfg.Kafka.Brokers = c.ListenAddrs()
	cfg.Kafka.ExactlyOnce = false
	topic := ChangelogTopic(cfg.Kafka.Group)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(b, err)
	defer cl.Close()

	// Real encodings, so that validation costs what it costs.
	var recs []*kgo.Record
	keys := 0
	flush := func(final bool) {
		if len(recs) >= 10_000 || final {
			recs = append(recs, markerRecord(topic, 0))
			require.NoError(b, cl.ProduceSync(context.Background(), recs...).FirstErr())
			recs = recs[:0]
		}
	}
	mem := vfs.NewMem()
	src, err := state.Open(state.Options{FS: mem})
	require.NoError(b, err)
	batch := src.NewBatch(0)
	ev := event.Event{CustomerID: "x", Journey: "delivery", Outcome: "delivered", Time: time.Now().UnixNano(),
		Metrics: []event.Metric{{Name: "delay_hours", Value: 3}}}
	for i := range custs {
		id := fmt.Sprintf("cust-%07d", i)
		cu := state.Customer{ID: id, Seq: 2, Tier: "gold", Value: 1200, Recent: []uint64{1, 2}}
		require.NoError(b, batch.PutCustomer(&cu))
		for s := uint64(1); s <= 2; s++ {
			require.NoError(b, batch.PutExperience(id, s, 50, state.AppendExperience(nil, s, &ev)))
		}
		if i%1000 == 999 || i == custs-1 {
			require.NoError(b, batch.Ops(func(k, v []byte) error {
				recs = append(recs, &kgo.Record{Topic: topic, Key: append([]byte(nil), k...), Value: append([]byte(nil), v...)})
				keys++
				return nil
			}))
			batch.Reset()
			flush(i == custs-1)
		}
	}
	require.NoError(b, src.Close())

	b.ResetTimer()
	var secs float64
	for range b.N {
		store, err := state.Open(state.Options{FS: vfs.NewMem()})
		require.NoError(b, err)
		r := New(Options{Config: cfg, Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		began := time.Now()
		st, err := r.restoreOnce(context.Background(), 0)
		secs += time.Since(began).Seconds()
		require.NoError(b, err)
		require.EqualValues(b, keys, st.records)
		require.NoError(b, store.Close())
	}
	b.ReportMetric(float64(keys)*float64(b.N)/secs, "keys/s")
}
