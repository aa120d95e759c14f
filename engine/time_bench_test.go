package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/state"
)

// orderEvents is a stream of delivery journeys over many customers, in
// event-time order, one event a second: promised (deadline 1 hour on), then
// delivered 30 minutes later, except 1 in 20 that never arrives.
func orderEvents(n int) [][]byte {
	out := make([][]byte, 0, n)
	type pend struct {
		at   time.Time
		v    []byte
		cust string
	}
	var queue []pend
	for i := 0; len(out) < n; i++ {
		at := t0.Add(time.Duration(len(out)) * time.Second)
		if len(queue) > 0 && !queue[0].at.After(at) {
			out = append(out, queue[0].v)
			queue = queue[1:]
			continue
		}
		id, cust := fmt.Sprint(i), fmt.Sprintf("c%07d", i%200_000)
		out = append(out, []byte(order(id, cust, "promised", at,
			`,"promised_by":"`+at.Add(time.Hour).Format(time.RFC3339)+`"`)))
		if i%20 != 0 {
			queue = append(queue, pend{at: at.Add(30 * time.Minute), v: []byte(order(id, cust, "delivered", at.Add(30*time.Minute), ""))})
		}
	}
	return out
}

// BenchmarkTimers is the per-event cost of the engine on delivery journeys
// with a deadline detector (a timer armed per promise, cancelled per
// delivery, fired for 1 in 20) against the same events with a threshold
// detector that arms nothing: the difference is the cost of timers.
func BenchmarkTimers(b *testing.B) {
	events := orderEvents(1 << 17)
	for _, name := range []string{"late_delivery", "broken_promise"} {
		b.Run(name, func(b *testing.B) {
			cfg := config.Default()
			for _, d := range cfg.Detectors {
				if d.Name == name {
					cfg.Detectors = []config.Detector{d}
				}
			}
			pt := benchPartition(b, cfg, state.Options{FS: vfs.NewMem()}, engine.Options{})
			runCycles(b, pt, events, true)
		})
	}
}

// BenchmarkRetentionStateSize fills a store with customers active on one
// day each over 120 days (a million customer-days scaled down to `n`),
// with state.retention 30 days, and reports the state kept per million
// customers that ever existed and per customer kept, after compaction.
func BenchmarkRetentionStateSize(b *testing.B) {
	const n = 200_000
	for _, retention := range []time.Duration{0, 30 * 24 * time.Hour} {
		b.Run(fmt.Sprintf("retention=%s", retention), func(b *testing.B) {
			for b.Loop() {
				cfg := config.Default()
				cfg.State.Retention = config.Duration(1 << 62) // "forever"
				if retention > 0 {
					cfg.State.Retention = config.Duration(retention)
				}
				store, err := state.Open(state.Options{FS: vfs.NewMem()})
				if err != nil {
					b.Fatal(err)
				}
				eng, err := engine.New(cfg, store, engine.Options{})
				if err != nil {
					b.Fatal(err)
				}
				pt, err := eng.OpenPartition(0)
				if err != nil {
					b.Fatal(err)
				}
				rec := engine.Record{Topic: "bench"}
				step := 120 * 24 * time.Hour / n
				for i := range n {
					at := t0.Add(time.Duration(i) * step)
					rec.Offset = int64(i)
					rec.Value = []byte(delivery(fmt.Sprint(i), fmt.Sprintf("c%07d", i), at, 1))
					if err := pt.Experience(&rec); err != nil {
						b.Fatal(err)
					}
					if i%4096 == 4095 || i == n-1 {
						if err := pt.Stage(); err != nil {
							b.Fatal(err)
						}
						if err := pt.Commit(false); err != nil {
							b.Fatal(err)
						}
					}
				}
				kept := pt.Customers()
				pt.Close()
				if err := store.DB().Flush(); err != nil {
					b.Fatal(err)
				}
				if err := store.DB().Compact(b.Context(), []byte{0}, []byte{0xff}, true); err != nil {
					b.Fatal(err)
				}
				var size float64 // the LSM's tables: what stays on disk (the WAL is recycled)
				for _, l := range store.Metrics().Levels {
					size += float64(l.TablesSize)
				}
				b.ReportMetric(float64(kept), "customers_kept")
				b.ReportMetric(size/float64(n)*1e6/(1<<20), "MiB/1M_customers_seen")
				b.ReportMetric(size/float64(max(kept, 1)), "bytes/customer_kept")
				store.Close()
			}
		})
	}
}

// runCycles feeds events to pt in 4,096-event cycles (staged and committed
// as a replay does) for b.N events, and reports events/s and alerts per
// event. With wrap, the input is reused from its start; without, running
// past its end fails the benchmark (the input is a history, not a loop).
func runCycles(b *testing.B, pt *engine.Partition, events [][]byte, wrap bool) {
	rec := engine.Record{Topic: "bench"}
	fired := 0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(events) && !wrap {
			b.Fatal("benchmark ran past its input: pass -benchtime Nx with N at most ", len(events))
		}
		rec.Offset, rec.Value = int64(i), events[i%len(events)]
		if err := pt.Experience(&rec); err != nil {
			b.Fatal(err)
		}
		if i++; i%4096 == 0 {
			fired += len(pt.Output().Alerts)
			if err := pt.Stage(); err != nil {
				b.Fatal(err)
			}
			if err := pt.Commit(false); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(fired)/float64(b.N), "alerts/event")
}
