// Package sinks delivers alerts to channels (webhook, Slack, Alertmanager,
// PagerDuty, a terminal), with filtering and retry backoff; the durable
// outbox that calls them lives elsewhere.
package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/peakend/peakend/alerts"
)

const (
	maxErrBody     = 64 << 10 // bytes of a response body kept in an error
	userAgent      = "peakend"
	defaultTimeout = 10 * time.Second
)

// StatusError is a non-2xx HTTP answer. It never holds the full URL: Slack
// and PagerDuty URLs are secrets, so Endpoint is scheme://host only.
type StatusError struct {
	Sink     string // sink name
	Endpoint string // scheme://host
	Status   int    // HTTP status code
	Body     string // at most 64 KiB of the response body, control characters replaced
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("sink %s: POST %s: %d %s", e.Sink, e.Endpoint, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// endpoint is a validated URL and its publishable form.
type endpoint struct {
	url    string // full URL; may be a secret, never put it in an error or log
	public string // scheme://host
}

// parseEndpoint validates raw. Its errors never contain raw.
func parseEndpoint(kind, name, raw string) (endpoint, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return endpoint{}, fmt.Errorf("%s sink %q: invalid URL (want http:// or https:// with a host)", kind, name)
	}
	return endpoint{url: u.String(), public: u.Scheme + "://" + u.Host}, nil
}

// defaultClient is used when a constructor is given a nil client. It does not
// follow redirects: a redirect would re-send (or drop) the body elsewhere.
func defaultClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	return &http.Client{
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// poster POSTs JSON and classifies the answer for the outbox:
//   - 2xx: nil;
//   - 429, or 503 with Retry-After: *alerts.RetryAfterError (429 without a
//     usable Retry-After uses retryAfter when > 0, else a plain error);
//   - 408, 425, 5xx, transport errors: plain (retryable) errors;
//   - any other status (3xx not followed, 4xx): wraps alerts.ErrPermanent.
type poster struct {
	sink       string
	client     *http.Client
	now        func() time.Time
	retryAfter time.Duration
}

func (p *poster) post(ctx context.Context, ep endpoint, body []byte, hdr http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(body))
	if err != nil { // err would name the URL: leave it out
		return fmt.Errorf("%w: sink %s: POST %s: cannot build request", alerts.ErrPermanent, p.sink, ep.public)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)

	resp, err := p.client.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("sink %s: POST %s: %w", p.sink, ep.public, cerr)
		}
		var ue *url.Error // its message holds the full URL
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("sink %s: POST %s: %w", p.sink, ep.public, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrBody)) // lets the connection be reused
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrBody))
	se := &StatusError{Sink: p.sink, Endpoint: ep.public, Status: resp.StatusCode, Body: strings.TrimSpace(clean(string(b)))}

	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), p.now()); ok {
			return &alerts.RetryAfterError{After: d, Err: se}
		}
		if code == http.StatusTooManyRequests && p.retryAfter > 0 {
			return &alerts.RetryAfterError{After: p.retryAfter, Err: se}
		}
		return se
	case code == http.StatusRequestTimeout || code == http.StatusTooEarly || code >= 500:
		return se
	default:
		return fmt.Errorf("%w: %w", alerts.ErrPermanent, se)
	}
}

// maxRetryAfter bounds absurd Retry-After values before they become durations.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date
// (a date in the past means 0).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		if n > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return min(d, maxRetryAfter), true
	}
	return 0, false
}

// marshal encodes v without HTML escaping (Slack links use < and >).
// A failure (a NaN score, say) is permanent: retrying cannot fix it.
func marshal(sink string, v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("%w: sink %s: encoding alert: %w", alerts.ErrPermanent, sink, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// checkAlert rejects a nil alert, which no retry can deliver.
func checkAlert(sink string, a *alerts.Alert) error {
	if a == nil {
		return fmt.Errorf("%w: sink %s: nil alert", alerts.ErrPermanent, sink)
	}
	return nil
}

// nowFunc returns f, or time.Now when f is nil.
func nowFunc(f func() time.Time) time.Time {
	if f != nil {
		return f()
	}
	return time.Now()
}
