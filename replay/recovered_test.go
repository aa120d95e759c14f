package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/replay"
)

// --feedback sets recovered_before by event time, as a live run reading
// the feedback topic does: a recovery of one of the customer's alerts
// before a later bad experience (within the lookback) counts; one after
// it, beyond the lookback, naming an alert the customer does not have, or
// a claim does not. The same with --partitions.
func TestRecoveredBefore(t *testing.T) {
	id := func(cust string) string { return alerts.AlertID("late_delivery", cust, []byte(cust+"1")) }
	later := t0.Add(100 * time.Hour) // past the 72h cooldown
	events := []string{lateDelivery("c1", "c", t0.Add(-800*time.Hour), 100)}
	for _, c := range []string{"a", "b", "d", "e"} {
		events = append(events, lateDelivery(c+"1", c, t0, 100))
	}
	for _, c := range []string{"a", "b", "c", "d", "e"} {
		events = append(events, lateDelivery(c+"2", c, later, 100))
	}
	feedback := writeLines(t, "feedback.jsonl", []string{
		feedbackLine("f1", id("a"), "a", t0.Add(time.Hour), "outcome", "recovered", ""),
		feedbackLine("f2", id("b"), "b", later.Add(time.Hour), "outcome", "recovered", ""),   // after
		feedbackLine("f3", id("c"), "c", t0.Add(-799*time.Hour), "outcome", "recovered", ""), // beyond the 720h lookback
		feedbackLine("f4", id("d"), "d", t0.Add(time.Hour), "claim", "", ""),                 // not an outcome
		feedbackLine("f5", id("a"), "e", t0.Add(time.Hour), "outcome", "recovered", ""),      // not e's alert
	})
	input := writeLines(t, "events.jsonl", events)
	for _, parts := range []int{0, 4} {
		t.Run(fmt.Sprint("partitions=", parts), func(t *testing.T) {
			r := run(t, replay.Options{Input: input, Feedback: feedback, Partitions: parts})
			got := map[string]bool{}
			for line := range strings.Lines(r.alerts) {
				var a struct {
					CustomerID string `json:"customer_id"`
					Evidence   []struct {
						EventID string `json:"event_id"`
					}
					RecoveredBefore bool `json:"recovered_before"`
				}
				require.NoError(t, json.Unmarshal([]byte(line), &a))
				got[a.Evidence[0].EventID] = a.RecoveredBefore
			}
			require.Equal(t, map[string]bool{"a1": false, "b1": false, "c1": false, "d1": false, "e1": false,
				"a2": true, "b2": false, "c2": false, "d2": false, "e2": false}, got)
			if parts != 0 {
				return
			}
			// tune's replays (input decoded once) read the feedback as Run does.
			d, err := replay.DecodeInput(context.Background(), replay.DecodeOptions{Input: input, Feedback: feedback})
			require.NoError(t, err)
			var out strings.Builder
			_, err = replay.RunDecoded(context.Background(), config.Default(), d, replay.DecodedOptions{InMemory: true,
				OnAlert: func(a *alerts.Alert) {
					b, _ := json.Marshal(a)
					out.Write(append(b, '\n'))
				}})
			require.NoError(t, err)
			require.Equal(t, r.alerts, out.String())
		})
	}
}
