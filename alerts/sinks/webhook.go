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
	"time"

	"github.com/peakend/peakend/alerts"
)

// secretPrefix starts a Standard Webhooks secret; the rest is base64.
const secretPrefix = "whsec_"

// Webhook POSTs the alert JSON (docs/reference.md, "Alert") signed per Standard
// Webhooks (https://www.standardwebhooks.com): headers webhook-id (the
// alert_id, stable across retries so receivers can deduplicate),
// webhook-timestamp (Unix seconds of this attempt) and webhook-signature.
// Safe for concurrent use (set Now before the first Deliver).
type Webhook struct {
	// Now is the clock for webhook-timestamp; nil means time.Now.
	Now func() time.Time

	name string
	ep   endpoint
	key  []byte // nil: unsigned
	p    poster
}

// NewWebhook returns a webhook sink for url. secret is the receiver's
// "whsec_<base64>" secret (the prefix is optional); "" sends unsigned
// requests. client nil means a 10s-timeout client that does not follow
// redirects.
func NewWebhook(name, url string, secret string, client *http.Client) (*Webhook, error) {
	if name == "" {
		name = "webhook"
	}
	ep, err := parseEndpoint("webhook", name, url)
	if err != nil {
		return nil, err
	}
	w := &Webhook{name: name, ep: ep}
	if secret != "" {
		if w.key, err = decodeSecret(secret); err != nil {
			return nil, fmt.Errorf("webhook sink %q: %w", name, err)
		}
	}
	if client == nil {
		client = defaultClient(0)
	}
	w.p = poster{sink: name, client: client, now: func() time.Time { return nowFunc(w.Now) }}
	return w, nil
}

// Name implements alerts.Sink.
func (w *Webhook) Name() string { return w.name }

// Deliver implements alerts.Sink.
func (w *Webhook) Deliver(ctx context.Context, a *alerts.Alert) error {
	if err := checkAlert(w.name, a); err != nil {
		return err
	}
	if a.AlertID == "" {
		return fmt.Errorf("%w: sink %s: alert has no alert_id for webhook-id", alerts.ErrPermanent, w.name)
	}
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("%w: sink %s: encoding alert: %w", alerts.ErrPermanent, w.name, err)
	}
	ts := nowFunc(w.Now).Unix()
	h := http.Header{}
	h.Set("webhook-id", a.AlertID)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	if w.key != nil {
		h.Set("webhook-signature", signKey(w.key, a.AlertID, ts, body))
	}
	return w.p.post(ctx, w.ep, body, h)
}

// Sign returns the Standard Webhooks signature header value for a message:
// "v1," + base64(HMAC-SHA256(key, id + "." + ts + "." + body)), where key is
// the base64 part of secret after the optional "whsec_" prefix.
func Sign(secret string, id string, ts int64, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return signKey(key, id, ts, body), nil
}

func decodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(secret), secretPrefix))
	if err != nil { // the error would quote part of the secret: leave it out
		return nil, errors.New("webhook secret is not whsec_ followed by base64")
	}
	if len(key) == 0 {
		return nil, errors.New("webhook secret is empty")
	}
	return key, nil
}

func signKey(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
