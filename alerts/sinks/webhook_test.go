package sinks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// verify is a receiver's check, written independently of Sign: it parses the
// headers, recomputes the HMAC from the secret, compares in constant time
// against every signature offered, and checks the timestamp tolerance.
func verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, tsText, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || tsText == "" || sigs == "" {
		return errors.New("missing headers")
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("bad timestamp: %w", err)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("timestamp outside tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + tsText + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

// referenceSignature computes a signature by a different route than Sign.
func referenceSignature(secret, id string, ts int64, body string) string {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSignVectors(t *testing.T) {
	tests := []struct {
		name, secret, id string
		ts               int64
		body             string
	}{
		{"standard webhooks example", testSecret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, `{"test": 2432232314}`},
		{"no prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", 1, `{}`},
		{"empty body", testSecret, "a", 1700000000, ``},
		{"unicode body", testSecret, "3f9a", 1741961002, `{"reason":"late — 7 days"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sign(tt.secret, tt.id, tt.ts, []byte(tt.body))
			require.NoError(t, err)
			require.Equal(t, referenceSignature(tt.secret, tt.id, tt.ts, tt.body), got)
		})
	}
	// The example from the Standard Webhooks specification.
	got, err := Sign(testSecret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", got)
}

func TestSignBadSecret(t *testing.T) {
	for _, s := range []string{"whsec_", "whsec_not base64!", "%%%"} {
		_, err := Sign(s, "id", 1, nil)
		require.Error(t, err, s)
		require.NotContains(t, err.Error(), "base64!")
	}
	_, err := NewWebhook("w", "https://example.com/hook", "whsec_???", nil)
	require.Error(t, err)
}

func TestWebhookDelivers(t *testing.T) {
	rec := newRecorder(t, http.StatusNoContent, nil, "")
	w, err := NewWebhook("hooks", rec.URL+"/peakend", testSecret, rec.Client())
	require.NoError(t, err)
	now := time.Unix(1741961005, 0)
	w.Now = func() time.Time { return now }
	a := testAlert()
	require.NoError(t, w.Deliver(context.Background(), a))

	req := rec.last(t)
	require.Equal(t, http.MethodPost, req.Method)
	require.Equal(t, "/peakend", req.Path)
	require.Equal(t, "application/json", req.Header.Get("Content-Type"))
	require.Equal(t, a.AlertID, req.Header.Get("webhook-id"))
	require.Equal(t, "1741961005", req.Header.Get("webhook-timestamp"))

	want, err := json.Marshal(a)
	require.NoError(t, err)
	require.Equal(t, string(want), string(req.Body))
	var back alerts.Alert
	require.NoError(t, json.Unmarshal(req.Body, &back))
	require.Equal(t, a.AlertID, back.AlertID)

	require.NoError(t, verify(testSecret, req.Header, req.Body, now, 5*time.Minute))

	tests := []struct {
		name   string
		mutate func(h http.Header, body []byte) []byte
		now    time.Time
	}{
		{"tampered body", func(_ http.Header, b []byte) []byte {
			return []byte(strings.Replace(string(b), `"severity":"major"`, `"severity":"minor"`, 1))
		}, now},
		{"other id", func(h http.Header, b []byte) []byte { h.Set("webhook-id", "other"); return b }, now},
		{"other timestamp", func(h http.Header, b []byte) []byte { h.Set("webhook-timestamp", "1741961006"); return b }, now},
		{"wrong secret", func(h http.Header, b []byte) []byte {
			sig, _ := Sign("whsec_"+base64.StdEncoding.EncodeToString([]byte("another secret")), h.Get("webhook-id"), 1741961005, b)
			h.Set("webhook-signature", sig)
			return b
		}, now},
		{"stale", func(_ http.Header, b []byte) []byte { return b }, now.Add(6 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := req.Header.Clone()
			body := tt.mutate(h, append([]byte(nil), req.Body...))
			require.Error(t, verify(testSecret, h, body, tt.now, 5*time.Minute))
		})
	}
}

func TestWebhookUnsigned(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, nil, "")
	w, err := NewWebhook("", rec.URL, "", rec.Client())
	require.NoError(t, err)
	require.Equal(t, "webhook", w.Name())
	require.NoError(t, w.Deliver(context.Background(), testAlert()))
	req := rec.last(t)
	require.Empty(t, req.Header.Get("webhook-signature"))
	require.NotEmpty(t, req.Header.Get("webhook-id"))
}

func TestWebhookStatus(t *testing.T) {
	tests := []struct {
		status    int
		header    map[string]string
		permanent bool
		after     time.Duration // > 0: a RetryAfterError with this wait
	}{
		{http.StatusOK, nil, false, 0},
		{http.StatusBadRequest, nil, true, 0},
		{http.StatusUnauthorized, nil, true, 0},
		{http.StatusGone, nil, true, 0},
		{http.StatusRequestTimeout, nil, false, 0},
		{http.StatusTooManyRequests, map[string]string{"Retry-After": "12"}, false, 12 * time.Second},
		{http.StatusServiceUnavailable, map[string]string{"Retry-After": "3"}, false, 3 * time.Second},
		{http.StatusInternalServerError, nil, false, 0},
		{http.StatusBadGateway, nil, false, 0},
		{http.StatusFound, map[string]string{"Location": "/elsewhere"}, true, 0},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			rec := newRecorder(t, tt.status, tt.header, "nope")
			w, err := NewWebhook("w", rec.URL, testSecret, nil) // default client: no redirects
			require.NoError(t, err)
			err = w.Deliver(context.Background(), testAlert())
			if tt.status/100 == 2 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, tt.permanent, errors.Is(err, alerts.ErrPermanent), err.Error())
			require.Equal(t, !tt.permanent, Retryable(err))
			var ra *alerts.RetryAfterError
			require.Equal(t, tt.after > 0, errors.As(err, &ra))
			if ra != nil {
				require.Equal(t, tt.after, ra.After)
			}
			var se *StatusError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.status, se.Status)
			require.Equal(t, 1, rec.count(), "a redirect must not be followed")
		})
	}
}
