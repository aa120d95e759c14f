package event

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeComplaint(t *testing.T) {
	c, err := DecodeComplaint([]byte(`{"customer_id":"c-1","time":"2025-03-01T12:00:00.25+01:00","channel":"email",
		"complaint_id":"k1","text":"Where is my \u00e9 parcel?","extra":{"x":[1]},"channel":"phone"}`), 0)
	require.NoError(t, err)
	require.Equal(t, Complaint{CustomerID: "c-1", Time: ns("2025-03-01T11:00:00.25Z"), Channel: "phone",
		ComplaintID: "k1", Text: "Where is my é parcel?"}, c)

	c, err = DecodeComplaint([]byte(`{"customer_id":"c-1","time":"2025-03-01T12:00:00Z","channel":null}`), 0)
	require.NoError(t, err)
	require.Equal(t, Complaint{CustomerID: "c-1", Time: ns("2025-03-01T12:00:00Z")}, c)

	for _, tc := range []struct{ in, reason string }{
		{`{"time":"2025-03-01T12:00:00Z"}`, `missing field "customer_id"`},
		{`{"customer_id":"c-1"}`, `missing field "time"`},
		{`{"customer_id":"c-1","time":null}`, `missing field "time"`},
		{`{"customer_id":"","time":"2025-03-01T12:00:00Z"}`, `field "customer_id": empty`},
		{`{"customer_id":"` + strings.Repeat("c", 257) + `","time":"2025-03-01T12:00:00Z"}`, `field "customer_id": longer than 256 bytes`},
		{`{"customer_id":1,"time":"2025-03-01T12:00:00Z"}`, `field "customer_id": want a string`},
		{`{"customer_id":"c-1","time":1}`, `field "time": want RFC 3339 string`},
		{`{"customer_id":"c-1","time":"yesterday"}`, `field "time": want RFC 3339 string`},
		{`{"customer_id":"c-1","time":"1900-01-01T00:00:00Z"}`, `field "time": year outside 1970..2200`},
		{`{"customer_id":"c-1","time":"2025-03-01T12:00:00Z","text":["x"]}`, `field "text": want a string`},
		{`{"Customer_ID":"c-1","time":"2025-03-01T12:00:00Z"}`, `missing field "customer_id"`},
		{`{"customer_id":"c-1","time":"2025-03-01T12:00:00Z"`, `invalid JSON at byte 50: unexpected end of input`},
		{`{"customer_id":"c-1","time":"2025-03-01T12:00:00Z"}x`, `invalid JSON at byte 51: unexpected 'x'`},
		{`null`, `invalid JSON at byte 0: want a JSON object`},
		{"{\"customer_id\":\"\xff\"}", `invalid UTF-8`},
		{strings.Repeat(" ", 101), `invalid JSON at byte 101: unexpected end of input`},
	} {
		_, err := DecodeComplaint([]byte(tc.in), max(100, len(tc.in)))
		require.ErrorIs(t, err, ErrInvalid, tc.in)
		var e *Error
		require.True(t, errors.As(err, &e))
		require.Equal(t, tc.reason, e.Reason, tc.in)
	}
	_, err = DecodeComplaint([]byte(strings.Repeat(" ", DefaultMaxBytes+1)), 0)
	require.EqualError(t, err, "invalid record: record too large (65537 bytes, limit 65536)")
}

func TestDecodeFeedback(t *testing.T) {
	in := `{"alert_id":"a-1","customer_id":"c-1","time":"2025-03-01T12:00:00Z","outcome":"recovered","by":"staff-7","note":"refund & voucher <10€>"}`
	f, err := DecodeFeedback([]byte(in), 0)
	require.NoError(t, err)
	want := Feedback{AlertID: "a-1", CustomerID: "c-1", Time: ns("2025-03-01T12:00:00Z"), Outcome: FeedbackRecovered, By: "staff-7", Note: "refund & voucher <10€>"}
	require.Equal(t, want, f)
	require.JSONEq(t, in, string(EncodeFeedback(f)))
	require.Equal(t, in, string(EncodeFeedback(f)), "field order and no HTML escaping")

	for _, o := range []string{FeedbackRecovered, FeedbackDeclined, FeedbackUnreachable, FeedbackFalseAlarm} {
		f, err := DecodeFeedback([]byte(`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00.123456789Z","outcome":"`+o+`"}`), 0)
		require.NoError(t, err)
		require.Equal(t, o, f.Outcome)
		require.Empty(t, f.By)
	}

	for _, tc := range []struct{ in, reason string }{
		{`{"customer_id":"c","time":"2025-03-01T12:00:00Z","outcome":"declined"}`, `missing field "alert_id"`},
		{`{"alert_id":"","customer_id":"c","time":"2025-03-01T12:00:00Z","outcome":"declined"}`, `field "alert_id": empty`},
		{`{"alert_id":7,"customer_id":"c","time":"2025-03-01T12:00:00Z","outcome":"declined"}`, `field "alert_id": want a string`},
		{`{"alert_id":"a","time":"2025-03-01T12:00:00Z","outcome":"declined"}`, `missing field "customer_id"`},
		{`{"alert_id":"a","customer_id":"c","outcome":"declined"}`, `missing field "time"`},
		{`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00Z"}`, `missing field "outcome"`},
		{`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00Z","outcome":"fixed"}`,
			`field "outcome": want one of recovered, declined, unreachable, false_alarm, not "fixed"`},
		{`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00Z","outcome":"declined","by":1}`, `field "by": want a string`},
		{`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00Z","outcome":"declined","note":{}}`, `field "note": want a string`},
		{`[]`, `invalid JSON at byte 0: want a JSON object`},
	} {
		_, err := DecodeFeedback([]byte(tc.in), 0)
		require.ErrorIs(t, err, ErrInvalid, tc.in)
		require.EqualError(t, err, "invalid record: "+tc.reason, tc.in)
	}
}

func TestDecodeFeedbackActions(t *testing.T) {
	// The desk's form: every action, an id, money spent.
	in := `{"feedback_id":"f-9","alert_id":"a-1","customer_id":"b","time":"2026-01-05T12:20:00Z","action":"outcome","outcome":"recovered","by":"ana","note":"refunded shipping","spent":{"amount":12.5,"currency":"EUR"}}`
	f, err := DecodeFeedback([]byte(in), 0)
	require.NoError(t, err)
	require.Equal(t, Feedback{FeedbackID: "f-9", AlertID: "a-1", CustomerID: "b", Time: ns("2026-01-05T12:20:00Z"), Action: ActionOutcome,
		Outcome: FeedbackRecovered, By: "ana", Note: "refunded shipping", Spent: &Money{Amount: 12.5, Currency: "EUR"}}, f)
	require.True(t, f.IsOutcome())
	require.Equal(t, in, string(EncodeFeedback(f)))

	for _, a := range []string{ActionClaim, ActionRelease, ActionApprove, ActionRefuse} {
		f, err := DecodeFeedback([]byte(`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00Z","action":"`+a+`"}`), 0)
		require.NoError(t, err, a)
		require.Equal(t, a, f.Action)
		require.False(t, f.IsOutcome())
	}
	// A supervisor's acknowledgement of a hotspot that also mutes it in Slack.
	mute := `{"alert_id":"hs-1","customer_id":"hotspot/late/carrier=x","time":"2025-03-01T12:00:00Z","action":"claim","by":"sam","mute":true}`
	f, err = DecodeFeedback([]byte(mute), 0)
	require.NoError(t, err)
	require.True(t, f.Mute)
	require.Equal(t, mute, string(EncodeFeedback(f)))
	f, err = DecodeFeedback([]byte(`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00Z","action":"claim","spent":{"amount":0}}`), 0)
	require.NoError(t, err)
	require.Equal(t, &Money{}, f.Spent)

	for _, tc := range []struct{ in, reason string }{
		{`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00Z","action":"outcome"}`, `missing field "outcome"`},
		{`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00Z","action":"claim","outcome":"recovered"}`,
			`field "outcome": only with action "outcome", not "claim"`},
		{`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00Z","action":"escalate"}`,
			`field "action": want one of claim, release, approve, refuse, outcome, not "escalate"`},
		{`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00Z","action":7}`, `field "action": want a string`},
		{`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00Z","outcome":"recovered","spent":5}`,
			`field "spent": want {"amount": number, "currency": string}`},
		{`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00Z","outcome":"recovered","spent":{"amount":-1,"currency":"EUR"}}`,
			`field "spent.amount": negative amount -1`},
		{`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00Z","outcome":"recovered","spent":{"amount":3}}`,
			`missing field "spent.currency"`},
		{`{"alert_id":"a","customer_id":"c","time":"2025-03-01T12:00:00Z","action":"claim","mute":"yes"}`,
			`field "mute": want true or false`},
	} {
		_, err := DecodeFeedback([]byte(tc.in), 0)
		require.ErrorIs(t, err, ErrInvalid, tc.in)
		require.EqualError(t, err, "invalid record: "+tc.reason, tc.in)
	}
}

func TestEncodeFeedback(t *testing.T) {
	f := Feedback{AlertID: "a-1", CustomerID: "c-1", Time: ns("2025-03-01T12:00:00.5+02:00"), Outcome: FeedbackFalseAlarm}
	b := EncodeFeedback(f)
	require.Equal(t, `{"alert_id":"a-1","customer_id":"c-1","time":"2025-03-01T10:00:00.5Z","outcome":"false_alarm"}`, string(b))
	got, err := DecodeFeedback(b, 0)
	require.NoError(t, err)
	require.Equal(t, f, got)

	// Through json.Marshal, as a field of another value.
	out, err := json.Marshal(struct{ F Feedback }{f})
	require.NoError(t, err)
	require.Equal(t, `{"F":`+string(b)+`}`, string(out))
}

func TestEncodeComplaint(t *testing.T) {
	c := Complaint{CustomerID: "c-1", Time: ns("2025-03-01T12:00:00Z"), Channel: "chat", Text: `"late" & <lost>`}
	b := EncodeComplaint(c)
	require.Equal(t, `{"customer_id":"c-1","time":"2025-03-01T12:00:00Z","channel":"chat","text":"\"late\" & <lost>"}`, string(b))
	got, err := DecodeComplaint(b, 0)
	require.NoError(t, err)
	require.Equal(t, c, got)
}
