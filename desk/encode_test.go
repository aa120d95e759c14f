package desk

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// appendCase writes what encoding/json writes.
func TestAppendCaseMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 4, 5, 123456789, time.UTC)
	cases := []*Case{
		{CustomerID: "c-1", Status: StatusOpen, Alerts: []json.RawMessage{json.RawMessage(`{"alert_id":"a"}`)}, Approvers: []string{}},
		{CustomerID: "quote\" back\\ nl\n tab\t ctl\x01 <html> é \u2028 \xff", Tier: "gold", Value: 1234.5, Severity: "major",
			Priority: 230.91, OpenedAt: at, UpdatedAt: at.Add(time.Hour), Alerts: []json.RawMessage{[]byte(`{"x":1}`), []byte(`{"y":[2]}`)},
			Recovery: Recovery{Action: "Call", Budget: 25, Currency: "EUR", RequiresApproval: true},
			Claim:    &Claim{By: "ana", At: at, ExpiresAt: at.Add(30 * time.Minute)},
			Approval: &Approval{State: "approved", By: "sam", At: &at}, Approvers: []string{"sam", "kim"},
			Status: StatusClosed, Outcome: &Outcome{Outcome: "recovered", By: "ana", At: at, Note: "ok", Spent: &Money{Amount: 12.5, Currency: "EUR"}},
			ClosedAt: &at, Later: []*Feedback{{AlertID: "a", CustomerID: "c", Time: at, Action: "outcome", Outcome: "declined"}}},
		{CustomerID: "tiny", Alerts: []json.RawMessage{}, Value: 1e-7, Priority: 1e22, Approval: &Approval{State: "pending"}},
	}
	for _, c := range cases {
		want, err := json.Marshal(c)
		require.NoError(t, err)
		got := appendCase(nil, c)
		require.True(t, json.Valid(got), "%s", got)
		var w, g any
		require.NoError(t, json.Unmarshal(want, &w))
		require.NoError(t, json.Unmarshal(got, &g))
		require.Equal(t, w, g)
	}
}
