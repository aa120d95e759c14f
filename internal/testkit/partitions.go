package testkit

import (
	"bytes"
	"encoding/json"
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
