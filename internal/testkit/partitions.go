package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/partitioner"
)

// FiredLive splits the alerts of `peakend replay --partitions n` (with
// partitioner pf) over recs into those a live run over an n-partition topic
// holding recs has fired once it has consumed every record, with no idle
// time since (live), and those it has not fired yet (pending).
//
// A partition's watermark ends, live, at its last event time −
// events.allowed_lateness (lateness); replay's Drain moves it on to the
// last event time. So the timer alerts whose due time (detected_at, in
// replay) falls between the two are pending live: they fire after
// idle_timeout + lateness of idle processing time, with the idle rule.
// Every other alert was fired at the same point of the partition's records
// in both. Records must be keyed by customer id (required here). (A promise
// already broken when it was made, whose alert replay dates at the start,
// is not told apart: the demo's traffic has none.)
func FiredLive(t testing.TB, replayed []*alerts.Alert, recs []Record, pf partitioner.Func, n int, lateness time.Duration) (live, pending []*alerts.Alert) {
	t.Helper()
	last := make([]time.Time, n)
	for _, r := range recs {
		var ev struct {
			CustomerID string    `json:"customer_id"`
			Time       time.Time `json:"time"`
		}
		if json.Unmarshal(r.Value, &ev) != nil || ev.CustomerID == "" {
			continue // a bad record: in the DLQ, in either run
		}
		require.Equal(t, ev.CustomerID, string(r.Key), "records must be keyed by customer id")
		p, ok := pf(r.Key, n)
		require.True(t, ok, "the partition of key %q cannot be reproduced", r.Key)
		if ev.Time.After(last[p]) {
			last[p] = ev.Time
		}
	}
	for _, a := range replayed {
		p, _ := pf([]byte(a.CustomerID), n)
		// A timer alert's event_time is its journey's start; its
		// detected_at, in replay, the due time (later). An experience's
		// alert has both at the experience's time.
		timer := a.DetectedAt.After(a.EventTime)
		if timer && a.DetectedAt.After(last[p].Add(-lateness)) {
			pending = append(pending, a)
		} else {
			live = append(live, a)
		}
	}
	return live, pending
}

// AlertsJSONL decodes alerts written one JSON object a line (replay's output).
func AlertsJSONL(t testing.TB, b []byte) []*alerts.Alert {
	t.Helper()
	var as []*alerts.Alert
	for line := range bytes.Lines(b) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		a := new(alerts.Alert)
		require.NoError(t, json.Unmarshal(line, a))
		as = append(as, a)
	}
	return as
}

// SameIDsAndSeverities requires got to hold exactly want's alert_ids
// (repeats allowed: at-least-once), each with the same severity: "the same
// alerts" of a live run and `replay --partitions` (detected_at differs,
// and so may what depends on when: complained_before).
func SameIDsAndSeverities(t testing.TB, want, got []*alerts.Alert) {
	t.Helper()
	wantByID, dup := ByID(want)
	require.Zero(t, dup, "the reference repeated an alert_id")
	gotByID, _ := ByID(got)
	var missing, extra []string
	for id, w := range wantByID {
		if gotByID[id] == nil {
			missing = append(missing, w.Detector+" "+w.CustomerID)
		}
	}
	for id, g := range gotByID {
		if wantByID[id] == nil {
			extra = append(extra, g.Detector+" "+g.CustomerID)
		}
	}
	require.Empty(t, missing, "alerts of the reference missing (of %d)", len(wantByID))
	require.Empty(t, extra, "alerts the reference does not have (of %d)", len(gotByID))
	for id, w := range wantByID {
		require.Equal(t, w.Severity, gotByID[id].Severity, "severity of %s (%s, %s)", id, w.Detector, w.CustomerID)
	}
}

// PartitionTraffic is n records of the demo's traffic over customers (10 s
// apart from start), made to test `replay --partitions` against live: every
// 37th record swapped with the one before it (out of event-time order, as
// real producers are: a replay must follow the file, as a consumer follows
// offsets), and, 5 records before the end, 8 promises of new customers made
// 50 s after their deadline (promised_by): due 10 s after they are made with
// a minute's grace, so before the last event times but after the last
// watermarks live with an allowed lateness of 2 minutes: alerts replay's
// Drain fires and a live run with no idle time has not yet.
func PartitionTraffic(n, customers int, seed uint64, start time.Time) []Record {
	recs := Generate(n, customers, seed, start, 10*time.Second)
	for i := 37; i < len(recs); i += 37 {
		recs[i-1], recs[i] = recs[i], recs[i-1]
	}
	at := len(recs) - 5
	t0 := start.Add(time.Duration(at) * 10 * time.Second)
	var tail []Record
	for i := range 8 {
		cust := fmt.Sprintf("cust-late-%d", i)
		tail = append(tail, Record{Key: []byte(cust), Value: fmt.Appendf(nil,
			`{"event_id":"late-%d","customer_id":%q,"time":%q,"journey":"delivery","outcome":"promised","attributes":{"order_id":"late-%d","promised_by":%q}}`,
			i, cust, t0.Format(time.RFC3339Nano), i, t0.Add(-50*time.Second).Format(time.RFC3339Nano))})
	}
	return slices.Concat(recs[:at], tail, recs[at:])
}
