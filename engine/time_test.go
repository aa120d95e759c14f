package engine_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable/block"
	"github.com/cockroachdb/pebble/v2/vfs"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/engine"
	"github.com/peakend/peakend/httpapi"
	"github.com/peakend/peakend/internal/metrics"
	"github.com/peakend/peakend/state"
)

func order(id, cust, outcome string, at time.Time, attrs string) string {
	return fmt.Sprintf(`{"event_id":%q,"customer_id":%q,"time":%q,"journey":"delivery","outcome":%q,"attributes":{"order_id":%q%s}}`,
		outcome[:1]+id, cust, at.UTC().Format(time.RFC3339Nano), outcome, "o-"+id, attrs)
}

// A month of synthetic deliveries: promised (delivery promised within 72
// hours), shipped two hours later, delivered 30 hours after that as a rule;
// 1 in 100 parcels is late (five days). overdue must flag the late ones
// before deadline does, by a median lead of more than 8 hours.
func TestOverdueBeforeDeadlineOverAMonth(t *testing.T) {
	cfg := testConfig(t, "running_late", "broken_promise")
	h := newHarness(t, cfg, memStore(t, vfs.NewMem()))
	type rec struct {
		at time.Time
		v  string
	}
	var recs []rec
	rnd := rand.New(rand.NewPCG(1, 2))
	late := map[string]bool{}
	const orders = 6000
	for i := range orders {
		id, cust := fmt.Sprintf("%05d", i), fmt.Sprintf("cust-%05d", i)
		at := t0.Add(time.Duration(rnd.Float64() * float64(30*24*time.Hour)))
		promise := fmt.Sprintf(`,"promised_by":%q`, at.Add(72*time.Hour).Format(time.RFC3339))
		recs = append(recs, rec{at, order(id, cust, "promised", at, promise)})
		shipped := at.Add(2 * time.Hour)
		recs = append(recs, rec{shipped, order(id, cust, "shipped", shipped, "")})
		took := time.Duration(30 * math.Exp(0.25*rnd.NormFloat64()) * float64(time.Hour))
		if i%100 == 7 && at.Before(t0.Add(26*24*time.Hour)) { // its deadline passes within the month
			took, late[cust] = 5*24*time.Hour, true
		}
		recs = append(recs, rec{shipped.Add(took), order(id, cust, "delivered", shipped.Add(took), "")})
	}
	slices.SortStableFunc(recs, func(a, b rec) int { return a.at.Compare(b.at) })
	for i, r := range recs {
		h.send(r.v)
		if i%4096 == 4095 {
			h.commit()
		}
	}
	require.NoError(t, h.pt.Drain())
	h.commit()

	first := map[string]map[string]time.Time{} // customer → detector → detected_at
	for _, a := range h.alerts {
		if first[a.CustomerID] == nil {
			first[a.CustomerID] = map[string]time.Time{}
		}
		if _, ok := first[a.CustomerID][a.Detector]; !ok {
			first[a.CustomerID][a.Detector] = a.DetectedAt
		}
	}
	byDet := map[string]int{}
	for _, a := range h.alerts {
		byDet[a.Detector+"/"+a.Severity.String()]++
	}
	t.Logf("alerts: %v", byDet)
	var leads []float64
	for cust := range late {
		d, ok := first[cust]["broken_promise"]
		require.True(t, ok, "%s: a late parcel breaks its promise", cust)
		o, ok := first[cust]["running_late"]
		if !ok {
			continue // too early in the month: not enough finished deliveries yet
		}
		require.True(t, o.Before(d), "%s: overdue %s, deadline %s", cust, o, d)
		leads = append(leads, d.Sub(o).Hours())
	}
	require.GreaterOrEqual(t, len(leads), len(late)*9/10, "overdue flags nearly every late parcel")
	sort.Float64s(leads)
	median := leads[len(leads)/2]
	t.Logf("late parcels: %d, flagged early: %d, median lead %.1f h", len(late), len(leads), median)
	// Deadline fires 74 h after the promise; overdue at shipping (2 h) + the
	// 99th percentile of delivery times (about 60 h, the late 1% included).
	require.Greater(t, median, 8.0, "median lead time of overdue over deadline, hours")
	require.Less(t, median, 24.0)

	// Deadline alerts go only to late parcels; overdue's false alarms stay
	// near its 1% quantile.
	var deadlines, overdue int
	for cust, m := range first {
		if _, ok := m["broken_promise"]; ok && late[cust] {
			deadlines++
		}
		if _, ok := m["running_late"]; ok {
			overdue++
		}
	}
	require.Equal(t, len(late), deadlines)
	require.Less(t, overdue, len(late)+orders*3/100)
	var broken int
	for _, a := range h.alerts {
		if a.Detector == "broken_promise" {
			broken++
			require.Equal(t, a.EventTime.Add(74*time.Hour).Truncate(time.Second), a.DetectedAt, "detected at the promise + grace")
		}
	}
	require.Less(t, broken, len(late)+10, "only late parcels (and the month's last ones) break a promise")
}

// Retention removes idle customers with their window, journeys and timers,
// and counts them.
func TestRetentionExpiresIdleCustomers(t *testing.T) {
	cfg := testConfig(t, "broken_promise", "late_delivery")
	cfg.State.Retention = config.Duration(48 * time.Hour)
	store := memStore(t, vfs.NewMem())
	m := metrics.New(nil, nil)
	eng, err := engine.New(cfg, store, engine.Options{Metrics: m})
	require.NoError(t, err)
	pt, err := eng.OpenPartition(0)
	require.NoError(t, err)
	defer pt.Close()
	off := int64(0)
	send := func(v string) {
		require.NoError(t, pt.Experience(&engine.Record{Topic: "experiences", Offset: off, Value: []byte(v)}))
		off++
	}
	commit := func() []*alerts.Alert {
		out := slices.Clone(pt.Output().Alerts)
		require.NoError(t, pt.Stage())
		require.NoError(t, pt.Commit(false))
		return out
	}
	// old: a promise due in ten days, then silence.
	send(order("p1", "old", "promised", t0, `,"promised_by":"`+t0.Add(240*time.Hour).Format(time.RFC3339)+`"`))
	send(delivery("d0", "old", t0, 1))
	send(delivery("k1", "keep", t0, 1))
	commit()
	require.Equal(t, int64(2), pt.Customers())
	_, found, err := store.NextTimer(0)
	require.NoError(t, err)
	require.True(t, found)

	// Two days later keep is active again: nobody is idle for 48h yet.
	send(delivery("k2", "keep", t0.Add(49*time.Hour), 1))
	commit()
	require.Equal(t, int64(2), pt.Customers())

	// Four days on, old has been idle longer than the retention (plus the
	// day's granularity): gone, with its window, journey and timer.
	send(delivery("k3", "keep", t0.Add(96*time.Hour), 1))
	commit()
	require.Equal(t, int64(1), pt.Customers())
	var mv dto.Metric
	require.NoError(t, m.CustomersExpired.Write(&mv))
	require.Equal(t, 1.0, mv.GetCounter().GetValue(), "peakend_customers_expired_total")
	_, ok, err := httpapi.LookupCustomer(store, httpapi.ViewOptions{Window: cfg.State.Window}, []int32{0}, "old")
	require.NoError(t, err)
	require.False(t, ok, "old is gone")
	_, ok, err = httpapi.LookupCustomer(store, httpapi.ViewOptions{Window: cfg.State.Window}, []int32{0}, "keep")
	require.NoError(t, err)
	require.True(t, ok)
	_, found, err = store.NextTimer(0)
	require.NoError(t, err)
	require.False(t, found, "old's timer went with it")
	n := 0
	require.NoError(t, store.Journeys(0, "old", func(string, string, *state.Journey) bool { n++; return true }))
	require.Zero(t, n)
	require.NoError(t, store.Window(0, "old", func(uint64, []byte) bool { n++; return true }))
	require.Zero(t, n, "old's window is gone")

	// The promise's deadline passes: nothing fires for a forgotten customer.
	send(delivery("k4", "keep", t0.Add(300*time.Hour), 1))
	require.Empty(t, commit())
	require.Equal(t, int64(1), pt.Customers())

	// old comes back: a new customer.
	send(delivery("d9", "old", t0.Add(301*time.Hour), 100))
	got := commit()
	require.Len(t, got, 1)
	require.Equal(t, int64(2), pt.Customers())
	v, ok, err := httpapi.LookupCustomer(store, httpapi.ViewOptions{Window: cfg.State.Window}, []int32{0}, "old")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 1, v.Experiences)
}

// The peak-end memory: a second bad experience soon after a first one is
// raised one severity level; the score shows on /customers/{id}; the half-life
// is configurable.
func TestPeakEndEscalation(t *testing.T) {
	cfg := testConfig(t, "late_delivery")
	cfg.Alerting.Cooldown = 0
	h := newHarness(t, cfg, memStore(t, vfs.NewMem()))
	h.send(delivery("a1", "ann", t0, 30)) // minor
	h.send(delivery("b1", "bob", t0, 30)) // minor
	got := h.commit()
	require.Len(t, got, 2)
	require.Equal(t, alerts.Minor, got[0].Severity)

	// Ann's second late delivery a week later hurts more: major. Bob's comes
	// after two months, when the first has faded: minor again.
	h.send(delivery("a2", "ann", t0.Add(7*24*time.Hour), 30))
	h.send(delivery("b2", "bob", t0.Add(60*24*time.Hour), 30))
	got = h.commit()
	require.Len(t, got, 2)
	require.Equal(t, alerts.Major, got[0].Severity, got[0].Reason)
	require.Contains(t, got[0].Reason, "another bad experience recently")
	require.Equal(t, alerts.Minor, got[1].Severity)

	v, ok := h.view("ann")
	require.True(t, ok)
	require.InDelta(t, 0.7, v.Perceived, 1e-9, "the worst (now major) is the latest")

	// With a one-day half-life, a week is long enough to forget.
	cfg2 := testConfig(t, "late_delivery")
	cfg2.Alerting.Cooldown = 0
	cfg2.Alerting.PeakHalfLife = config.Duration(24 * time.Hour)
	h2 := newHarness(t, cfg2, memStore(t, vfs.NewMem()))
	h2.send(delivery("a1", "ann", t0, 30))
	h2.send(delivery("a2", "ann", t0.Add(7*24*time.Hour), 30))
	got = h2.commit()
	require.Len(t, got, 2)
	require.Equal(t, alerts.Minor, got[1].Severity)
}

// Events later than the allowed lateness are counted as late, still folded
// into the customer's window, and still judged.
func TestLateEventsAreCountedAndKept(t *testing.T) {
	h := newHarness(t, testConfig(t, "late_delivery"), memStore(t, vfs.NewMem()))
	h.send(delivery("a", "ann", t0.Add(5*time.Hour), 1))
	h.send(delivery("b", "bob", t0.Add(2*time.Hour), 100)) // 3h behind, lateness 1h
	got := h.commit()
	require.Len(t, got, 1, "a late bad experience is still an alert")
	processed, _, _, late := h.pt.Stats()
	require.Equal(t, int64(1), processed)
	require.Equal(t, int64(1), late)
	v, ok := h.view("bob")
	require.True(t, ok)
	require.Len(t, v.Recent, 1)
}

// TestOutOfOrderEvidenceInTimeOrder: failures that arrive out of order
// (within the allowed lateness) are counted by event time, and the alert's
// evidence lists them newest first by event time, not by arrival.
func TestOutOfOrderEvidenceInTimeOrder(t *testing.T) {
	h := newHarness(t, noPeakEnd(testConfig(t, "repeated_failures")), memStore(t, vfs.NewMem()))
	failed := func(id string, at time.Duration) string {
		return exp{id: id, cust: "cy", at: t0.Add(at), journey: "checkout", outcome: "failed"}.String()
	}
	h.send(failed("f3", 50*time.Minute))
	require.Len(t, h.commit(), 0)        // one failure
	h.send(failed("f1", 10*time.Minute)) // arrives after f3, happened before it
	got := h.commit()
	require.Len(t, got, 1, "two failures within 24h, whatever their order")
	h.send(failed("f2", 30*time.Minute))
	got = append(got, h.commit()...)
	require.Len(t, got, 2, "three failures: a higher severity")
	var ids []string
	for _, e := range got[1].Evidence {
		ids = append(ids, e.EventID)
	}
	require.Equal(t, []string{"f3", "f2", "f1"}, ids, "evidence newest first by event time")
}

// A customer who complains after the promise broke but before peakend
// detects it (deadline + grace) had complained before the alert.
func TestBrokenPromiseComplainedBefore(t *testing.T) {
	h := newHarness(t, testConfig(t, "broken_promise"), memStore(t, vfs.NewMem()))
	by := `,"promised_by":"` + t0.Add(time.Hour).Format(time.RFC3339) + `"`
	h.send(order("1", "ann", "promised", t0, by))
	h.send(order("2", "bob", "promised", t0, by))
	h.complaint("ann", t0.Add(2*time.Hour)) // "where is my parcel?"
	h.send(delivery("x", "cat", t0.Add(4*time.Hour+time.Second), 1))
	got := h.commit()
	require.Len(t, got, 2)
	slices.SortFunc(got, func(a, b *alerts.Alert) int { return strings.Compare(a.CustomerID, b.CustomerID) })
	require.Equal(t, "ann", got[0].CustomerID)
	require.Equal(t, t0.Add(3*time.Hour), got[0].DetectedAt, "detected at the promise + grace")
	require.True(t, got[0].ComplainedBefore, "ann complained at 02:00, before the alert at 03:00")
	require.False(t, got[1].ComplainedBefore)
}

// A broken promise fires when the watermark reaches the promise + grace
// (2h for broken_promise), not a second before, and not at twice the grace.
func TestBrokenPromiseFiresAtPromisePlusGrace(t *testing.T) {
	cfg := testConfig(t, "broken_promise")
	require.Equal(t, 2*time.Hour, cfg.Detectors[0].Grace.D())
	h := newHarness(t, cfg, memStore(t, vfs.NewMem()))
	promise := t0.Add(time.Hour)
	h.send(order("1", "ann", "promised", t0, `,"promised_by":"`+promise.Format(time.RFC3339)+`"`))
	// Other customers' traffic moves the watermark (max event time − 1h).
	h.send(delivery("x1", "cat", promise.Add(3*time.Hour-time.Second), 1)) // watermark 02:59:59
	require.Empty(t, h.commit(), "a second before promise + grace")
	h.send(delivery("x2", "cat", promise.Add(3*time.Hour), 1)) // watermark 03:00
	got := h.commit()
	require.Len(t, got, 1, "at promise + grace")
	require.Equal(t, "ann", got[0].CustomerID)
	require.Equal(t, promise.Add(2*time.Hour), got[0].DetectedAt)
	require.Contains(t, got[0].Reason, "2 hours past the promise")
}

// An order promised and delivered within one cycle (replay's 4,096-event
// batches hold most of them) leaves nothing in the store: its journey (and
// so its timer, the journey's due time) was never written, so not even a tombstone reaches Pebble's files
// and compactions. One delivered in a later cycle needs the tombstones.
func TestJourneyClosedWithinACycleWritesNothing(t *testing.T) {
	tombstones := func(sameCycle bool) uint64 {
		store := memStore(t, vfs.NewMem())
		eng, err := engine.New(testConfig(t, "broken_promise"), store, engine.Options{})
		require.NoError(t, err)
		pt, err := eng.OpenPartition(0)
		require.NoError(t, err)
		defer pt.Close()
		send, commit := feeder(t, pt)
		promise := func(id, cust string, at time.Time) {
			send(order(id, cust, "promised", at, `,"promised_by":"`+at.Add(240*time.Hour).Format(time.RFC3339)+`"`))
		}
		// Orders that stay open, already in Pebble's files: a tombstone
		// over their keys cannot be dropped on the way down.
		for i := range 50 {
			promise(fmt.Sprint("open", i), fmt.Sprint("c", i), t0)
		}
		commit()
		require.NoError(t, store.DB().Flush())
		for i := range 50 {
			promise(fmt.Sprint(i), fmt.Sprint("c", i), t0.Add(time.Duration(i)*time.Minute))
		}
		if !sameCycle {
			commit()
		}
		for i := range 50 {
			send(order(fmt.Sprint(i), fmt.Sprint("c", i), "delivered", t0.Add(time.Duration(60+i)*time.Minute), ""))
		}
		commit()
		var keys []string
		require.NoError(t, store.Journeys(0, "c7", func(_, key string, _ *state.Journey) bool { keys = append(keys, key); return true }))
		require.Equal(t, []string{"o-open7"}, keys, "the delivered order's journey is closed, the open one kept")
		timers := 0
		require.NoError(t, store.PendingTimers(0, func(state.Timer) bool { timers++; return true }))
		require.Equal(t, 50, timers, "the open orders' timers only")
		var dels uint64
		require.NoError(t, store.DB().ScanInternal(context.Background(), block.CategoryUnknown, []byte{0}, []byte{0xff},
			func(k *pebble.InternalKey, _ pebble.LazyValue, _ pebble.IteratorLevel) error {
				if k.Kind() == pebble.InternalKeyKindDelete {
					dels++
				}
				return nil
			}, nil, nil, nil, nil))
		return dels
	}
	require.Zero(t, tombstones(true), "promised and delivered in one cycle")
	require.GreaterOrEqual(t, tombstones(false), uint64(50), "delivered a cycle later: its journey deleted (a timer is its journey's due time)")
}

// A sweep bigger than one cycle may take goes on over the next cycles:
// every idle customer goes, a few per cycle, and the active one stays.
func TestRetentionSweepsInBoundedSteps(t *testing.T) {
	defer engine.SetMaxSweep(3)()
	cfg := testConfig(t, "late_delivery")
	cfg.State.Retention = config.Duration(48 * time.Hour)
	store := memStore(t, vfs.NewMem())
	m := metrics.New(nil, nil)
	eng, err := engine.New(cfg, store, engine.Options{Metrics: m})
	require.NoError(t, err)
	pt, err := eng.OpenPartition(0)
	require.NoError(t, err)
	defer pt.Close()
	send, commit := feeder(t, pt)
	for i := range 10 {
		send(delivery(fmt.Sprintf("d%d", i), fmt.Sprintf("idle-%d", i), t0, 1))
	}
	send(delivery("k0", "keep", t0, 1))
	commit()
	require.Equal(t, int64(11), pt.Customers())
	var left []int64
	for i := range 6 { // keep stays active, four days on: the ten are idle
		send(delivery(fmt.Sprintf("k%d", i+1), "keep", t0.Add(96*time.Hour+time.Duration(i)*time.Minute), 1))
		commit()
		left = append(left, pt.Customers())
	}
	require.Equal(t, []int64{8, 5, 2, 1, 1, 1}, left, "three a cycle (one of the last sweep's entries is keep's old one)")
	var mv dto.Metric
	require.NoError(t, m.CustomersExpired.Write(&mv))
	require.Equal(t, 10.0, mv.GetCounter().GetValue(), "peakend_customers_expired_total")
	_, ok, err := httpapi.LookupCustomer(store, httpapi.ViewOptions{Window: cfg.State.Window}, []int32{0}, "keep")
	require.NoError(t, err)
	require.True(t, ok)
}

// feeder returns send, which hands pt one experience (the next offset of
// topic experiences), and commit, which stages and commits pt's cycle.
func feeder(t *testing.T, pt *engine.Partition) (send func(v string), commit func()) {
	off := int64(0)
	send = func(v string) {
		require.NoError(t, pt.Experience(&engine.Record{Topic: "experiences", Offset: off, Value: []byte(v)}))
		off++
	}
	commit = func() {
		require.NoError(t, pt.Stage())
		require.NoError(t, pt.Commit(false))
	}
	return send, commit
}
