package engine_test

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/peakend/peakend/alerts/outbox"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/state"
)

// BenchmarkPartitionExperience is the per-event cost of the engine (decode,
// header read-modify-write, detectors, window write) with Pebble on an
// in-memory filesystem, committing every 4,096 events as replay does.
func BenchmarkPartitionExperience(b *testing.B) {
	pt := benchPartition(b, config.Default(), state.Options{FS: vfs.NewMem()}, engine.Options{})
	events := event.SampleEvents(1<<16, 1)
	benchExperiences(b, pt, events)
}

// benchExperiences feeds events to pt, round and round, committing every
// 4,096 as replay does, and reports events/s.
func benchExperiences(b *testing.B, pt *engine.Partition, events [][]byte) {
	rec := engine.Record{Topic: "bench"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rec.Offset, rec.Value = int64(i), events[i%len(events)]
		if err := pt.Experience(&rec); err != nil {
			b.Fatal(err)
		}
		if i++; i%4096 == 0 {
			if err := pt.Stage(); err != nil {
				b.Fatal(err)
			}
			if err := pt.Commit(false); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCycleOutbox is the cost of a live cycle of 1,000 events on a real
// disk, without frontline sinks and with one: then each cycle that fires an
// alert commits its outbox entries, synced, before its records go to Kafka.
func BenchmarkCycleOutbox(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "sinks=kafka"
		if on {
			name = "sinks=kafka+webhook"
		}
		b.Run(name, func(b *testing.B) {
			var o engine.Options
			if on {
				o.Outbox = outbox.NewBook([]string{"webhook"}, 1<<30, nil, nil)
			}
			pt := benchPartition(b, config.Default(), state.Options{Dir: b.TempDir()}, o)
			events := event.SampleEvents(1<<16, 1)
			rec := engine.Record{Topic: "bench"}
			const cycle = 1000
			alerted := 0
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				for range cycle {
					rec.Offset, rec.Value = int64(i), events[i%len(events)]
					if err := pt.Experience(&rec); err != nil {
						b.Fatal(err)
					}
					i++
				}
				if len(pt.Output().Alerts) > 0 {
					alerted++
				}
				if err := pt.Stage(); err != nil {
					b.Fatal(err)
				}
				if err := pt.Commit(false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*cycle)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(alerted)/float64(b.N), "alerting-cycles/cycle")
		})
	}
}

// benchPartition opens partition 0 of an engine over a new store; both are
// closed when the benchmark ends.
func benchPartition(b *testing.B, cfg *config.Config, so state.Options, o engine.Options) *engine.Partition {
	b.Helper()
	store, err := state.Open(so)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	eng, err := engine.New(cfg, store, o)
	if err != nil {
		b.Fatal(err)
	}
	pt, err := eng.OpenPartition(0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pt.Close() })
	return pt
}
