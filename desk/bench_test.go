package desk_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/auth"
	"github.com/peakend/peakend/desk"
	"github.com/peakend/peakend/internal/testkit"
	"github.com/peakend/peakend/state"
	"github.com/peakend/peakend/stream"
)

// benchAlert is an alert of realistic size (three evidence events with
// metrics and attributes, as late_delivery writes them): ~1.3 KB.
func benchAlert(i int, cust string, at time.Time) []byte {
	ev := make([]any, 3)
	for j := range ev {
		ev[j] = map[string]any{"event_id": fmt.Sprintf("ev-%d-%d", i, j), "customer_id": cust, "time": at.Add(-time.Duration(j) * time.Hour),
			"journey": "delivery", "outcome": "delivered", "metrics": map[string]float64{"delay_hours": 100 + float64(j)},
			"attributes": map[string]string{"order_id": fmt.Sprintf("o-%d-%d", i, j), "carrier": "dhl", "region": "north"}}
	}
	sev := []string{"minor", "major", "critical"}[i%3]
	b, _ := json.Marshal(map[string]any{"alert_id": fmt.Sprintf("%064x", i), "customer_id": cust, "detector": "late_delivery",
		"journey": "delivery", "severity": sev, "score": 0.997, "priority": 0,
		"reason":     "Delivery arrived 4.2 days late — worse than 99.6% of deliveries in the last 7 days",
		"event_time": at.Add(-time.Hour), "detected_at": at, "evidence": ev,
		"recovery":          map[string]any{"action": "Call the customer; refund shipping", "budget": 25, "currency": "EUR", "requires_approval": false},
		"customer":          map[string]any{"tier": []string{"gold", "silver", "bronze"}[i%3], "value": float64(i % 5000), "perceived": 0.71},
		"complained_before": false})
	return b
}

// BenchmarkQueue10k: /api/queue over 10,000 open cases, server time per
// render (the handler writing the whole JSON); reports memory and disk
// per open case.
func BenchmarkQueue10k(b *testing.B) {
	const n = 10_000
	brokers := testkit.Cluster(b)
	cfg := testConfig(b, brokers)
	require.NoError(b, stream.EnsureTopics(context.Background(), cfg, testkit.Discard()))
	cl := testkit.Client(b, brokers, kgo.ProducerLinger(5*time.Millisecond))
	at := time.Now().UTC().Add(-time.Hour)
	var wg sync.WaitGroup
	var alertBytes int64
	for i := range n {
		cust := fmt.Sprintf("customer-%06d", i)
		v := benchAlert(i, cust, at)
		alertBytes += int64(len(v))
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Topic: cfg.Kafka.Topics.Alerts, Key: []byte(cust), Value: v},
			func(_ *kgo.Record, err error) { require.NoError(b, err); wg.Done() })
	}
	wg.Wait()

	dir := b.TempDir()
	td := startDesk(b, cfg, deskOpts{dir: dir})
	testkit.Eventually(b, 60*time.Second, "10k cases", func() bool { return len(td.Queue(desk.QueueFilter{}).Cases) == n })
	td.stop(b)

	// Memory: the view as a restarted desk loads it from Pebble.
	st, err := state.Open(state.Options{Dir: dir})
	require.NoError(b, err)
	defer st.Close()
	require.NoError(b, st.DB().Flush())
	disk, err := st.DB().EstimateDiskUsage([]byte{state.KindDesk}, []byte{state.KindDesk + 1})
	require.NoError(b, err)
	// The view's memory: the heap with a desk holding it, less the heap
	// once that desk is gone.
	measure := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	d, err := desk.New(desk.Options{Config: cfg, Store: st, Logger: testkit.Discard()})
	require.NoError(b, err)
	require.Len(b, d.Queue(desk.QueueFilter{}).Cases, n)
	with := measure()
	runtime.KeepAlive(d)
	d = nil
	without := measure()
	d, err = desk.New(desk.Options{Config: cfg, Store: st, Logger: testkit.Discard()})
	require.NoError(b, err)

	h := d.Handler(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), auth.User{Name: "ana", Role: "agent"})))
		})
	})
	req := httptest.NewRequest("GET", "/api/queue", nil)
	var size int
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		w := &countingWriter{h: http.Header{}}
		h.ServeHTTP(w, req)
		if w.code != 200 {
			b.Fatal(w.code)
		}
		size = w.n
	}
	b.StopTimer()
	// CPU time per render: on a shared machine the wall clock also counts
	// the time other processes held the cores.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu_ms/render")
	b.ReportMetric(float64(size)/n, "json_bytes/case")
	b.ReportMetric(float64(int64(with)-int64(without))/n, "heap_bytes/case")
	b.ReportMetric(float64(disk)/n, "disk_bytes/case")
	b.ReportMetric(float64(alertBytes)/n, "alert_bytes/case")
}

// BenchmarkEventStreams: 200 open event streams while alerts arrive at
// 100/s for 5 s: every stream gets every case event; reports the latency
// from produce to the last stream receiving it.
func BenchmarkEventStreams(b *testing.B) {
	const streams, rate, secs = 200, 100, 5
	brokers := testkit.Cluster(b)
	cfg := testConfig(b, brokers)
	td := startDesk(b, cfg, deskOpts{})
	cl := testkit.Client(b, brokers)
	type recv struct {
		mu   sync.Mutex
		seen map[string]time.Time // customer → first time this stream saw it
	}
	got := make([]*recv, streams)
	var connected atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range streams {
		got[i] = &recv{seen: map[string]time.Time{}}
		req, _ := http.NewRequestWithContext(ctx, "GET", td.srv.URL+"/api/events", nil)
		req.Header.Set("X-Test-User", "ana")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(b, err)
		connected.Add(1)
		go func(r *recv) {
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				l := sc.Text()
				if c, ok := strings.CutPrefix(l, `data: {"customer_id":"`); ok {
					c, _, _ = strings.Cut(c, `"`)
					r.mu.Lock()
					if _, ok := r.seen[c]; !ok {
						r.seen[c] = time.Now()
					}
					r.mu.Unlock()
				}
			}
		}(got[i])
	}
	b.ResetTimer()
	sent := map[string]time.Time{}
	start := time.Now()
	at := time.Now().UTC()
	cpu0 := cpuTime()
	for i := range rate * secs {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
		cust := fmt.Sprintf("sse-%05d", i)
		sent[cust] = time.Now()
		cl.Produce(context.Background(), &kgo.Record{Topic: cfg.Kafka.Topics.Alerts, Key: []byte(cust), Value: benchAlert(i, cust, at)}, nil)
	}
	elapsed := time.Since(start)
	testkit.Eventually(b, 30*time.Second, "every stream got every case", func() bool {
		for _, r := range got {
			r.mu.Lock()
			n := len(r.seen)
			r.mu.Unlock()
			if n < len(sent) {
				return false
			}
		}
		return true
	})
	b.StopTimer()
	var lat []time.Duration
	for c, t0 := range sent {
		var last time.Time
		for _, r := range got {
			r.mu.Lock()
			if t := r.seen[c]; t.After(last) {
				last = t
			}
			r.mu.Unlock()
		}
		lat = append(lat, last.Sub(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(sent))/elapsed.Seconds(), "alerts/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max_ms")
	b.ReportMetric(float64(connected.Load()), "streams")
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/elapsed.Seconds()/10, "cpu_%")
	require.Equal(b, streams, td.StreamCount(), "no stream was dropped")
}

// countingWriter is a ResponseWriter that counts the body and keeps
// nothing, as a socket would take it.
type countingWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *countingWriter) Header() http.Header  { return w.h }
func (w *countingWriter) WriteHeader(code int) { w.code = code }
func (w *countingWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = 200
	}
	w.n += len(b)
	return len(b), nil
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
