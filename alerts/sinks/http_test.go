package sinks

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/alerts"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"7", 7 * time.Second, true},
		{" 0 ", 0, true},
		{"120", 2 * time.Minute, true},
		{"99999999999999999", maxRetryAfter, true},
		{"Wed, 21 Oct 2015 07:28:30 GMT", 30 * time.Second, true},
		{"Wed, 21 Oct 2015 07:00:00 GMT", 0, true}, // in the past
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.in, now)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

// Slack and PagerDuty URLs are secrets: no error may contain more than scheme://host.
func TestErrorsDoNotLeakURL(t *testing.T) {
	const secretPath = "/services/T000/B000/XXXXsecretXXXX"
	rec := newRecorder(t, http.StatusNotFound, nil, "no_service")
	s, err := NewSlack("ops", rec.URL+secretPath+"?token=qsecret", "", rec.Client())
	require.NoError(t, err)
	err = s.Deliver(context.Background(), testAlert())
	require.ErrorIs(t, err, alerts.ErrPermanent)
	require.Contains(t, err.Error(), rec.URL)
	require.Contains(t, err.Error(), "no_service")
	require.NotContains(t, err.Error(), "secret")

	// Transport failure: a closed port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	s, err = NewSlack("ops", "http://"+addr+secretPath, "", nil)
	require.NoError(t, err)
	err = s.Deliver(context.Background(), testAlert())
	require.Error(t, err)
	require.True(t, Retryable(err))
	require.Contains(t, err.Error(), "http://"+addr)
	require.NotContains(t, err.Error(), "secret")

	// Construction errors do not quote the URL either.
	_, err = NewSlack("ops", "hooks.slack.com/services/XXXXsecretXXXX", "", nil)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret")
	_, err = NewPagerDuty("pd", "ftp://x/secret", "key", "", nil)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret")
}

func TestPostHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	w, err := NewWebhook("w", srv.URL, "", srv.Client())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = w.Deliver(ctx, testAlert())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, Retryable(err))
}

func TestErrorBodyLimited(t *testing.T) {
	big := strings.Repeat("x", 200<<10) + "\n\x1b[31mend"
	rec := newRecorder(t, http.StatusBadRequest, nil, big)
	w, err := NewWebhook("w", rec.URL, "", rec.Client())
	require.NoError(t, err)
	err = w.Deliver(context.Background(), testAlert())
	var se *StatusError
	require.True(t, errors.As(err, &se))
	require.Len(t, se.Body, maxErrBody)

	rec = newRecorder(t, http.StatusBadRequest, nil, "bad\n\x1b[31mthing")
	w, err = NewWebhook("w", rec.URL, "", rec.Client())
	require.NoError(t, err)
	err = w.Deliver(context.Background(), testAlert())
	require.True(t, errors.As(err, &se))
	require.Equal(t, "bad  [31mthing", se.Body)
}

func TestNilAlertIsPermanent(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, nil, "")
	w, err := NewWebhook("w", rec.URL, "", rec.Client())
	require.NoError(t, err)
	require.ErrorIs(t, w.Deliver(context.Background(), nil), alerts.ErrPermanent)
	a := testAlert()
	a.AlertID = ""
	require.ErrorIs(t, w.Deliver(context.Background(), a), alerts.ErrPermanent)
	a = testAlert()
	a.Score = math.NaN()
	s, err := NewSlack("s", rec.URL, "", rec.Client())
	require.NoError(t, err)
	require.NoError(t, s.Deliver(context.Background(), a), "Slack does not send the score")
	p, err := NewPagerDuty("p", rec.URL, "k", "", rec.Client())
	require.NoError(t, err)
	require.ErrorIs(t, p.Deliver(context.Background(), a), alerts.ErrPermanent)
	require.Equal(t, 1, rec.count())
}
