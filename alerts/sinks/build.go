package sinks

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
)

// ErrNotHere is returned by FromConfig for sink types built elsewhere (kafka).
var ErrNotHere = errors.New("sink type is not built by package sinks")

// Deps is what FromConfig needs besides the spec. The caller resolves URL
// (from url or url_env) and Secret (from secret_env); this package reads no
// environment.
type Deps struct {
	URL     string       // webhook, slack, alertmanager; pagerduty ("" = the Events API)
	Secret  string       // webhook: whsec_ secret ("" = unsigned); pagerduty: routing key
	DeskURL string       // recovery desk base URL (http.public_url); "" = the alert's desk_url
	Client  *http.Client // nil: a client with spec.Timeout (default 10s) that does not follow redirects
	Stdout  io.Writer    // stdout sink; nil = os.Stdout
	Color   bool         // stdout sink: ANSI colours
	// Hotspots names and mutes hotspots for a Slack sink's grouped
	// messages (the desk's HotspotStatus); nil: unnamed, never muted.
	Hotspots HotspotStatus
}

// FromConfig builds the sink for spec, wrapped in its Filter (see FilterFor).
// For type kafka it returns an error wrapping ErrNotHere.
func FromConfig(spec config.Sink, d Deps) (alerts.Sink, error) {
	f, err := FilterFor(spec)
	if err != nil {
		return nil, err
	}
	client := d.Client
	if client == nil {
		client = defaultClient(spec.Timeout.D())
	}
	name := spec.Name
	if name == "" {
		name = spec.Type
	}
	var s alerts.Sink
	switch spec.Type {
	case "stdout":
		w := d.Stdout
		if w == nil {
			w = os.Stdout
		}
		s = NewWriter(name, w, d.Color)
	case "webhook":
		s, err = NewWebhook(name, d.URL, d.Secret, client)
	case "slack":
		var sl *Slack
		sl, err = NewSlack(name, d.URL, d.DeskURL, client)
		if err == nil {
			var every time.Duration // a spec not from config.Load: one by one
			if spec.GroupFor != nil {
				every = spec.GroupFor.D()
			}
			s = sl.GroupHotspots(every, d.Hotspots)
		}
	case "alertmanager":
		s, err = NewAlertmanager(name, d.URL, d.DeskURL, client)
	case "pagerduty":
		s, err = NewPagerDuty(name, d.URL, d.Secret, d.DeskURL, client)
	case "kafka":
		return nil, fmt.Errorf("sink %q: type kafka: %w", name, ErrNotHere)
	default:
		return nil, fmt.Errorf("sink %q: unknown type %q (want kafka, stdout, webhook, slack, alertmanager or pagerduty)", name, spec.Type)
	}
	if err != nil {
		return nil, err
	}
	return Filtered(s, f), nil
}
