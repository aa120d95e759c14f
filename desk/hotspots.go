package desk

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/auth"
)

// Hotspot is one hotspot (a cause found across customers) as the desk
// shows it at /api/hotspots: the latest alert of its key, the customer
// alerts that carry its hotspot_id, and the ops acknowledgement
// (docs/desk.md, "Hotspots").
type Hotspot struct {
	Key         string            `json:"key"` // hotspot/<name>/<attr=value,...>
	HotspotID   string            `json:"hotspot_id"`
	Name        string            `json:"name"`
	Values      map[string]string `json:"values"`
	Journey     string            `json:"journey"`
	State       string            `json:"state"` // open, escalated or closed
	Severity    string            `json:"severity"`
	Reason      string            `json:"reason"`
	OpenedAt    time.Time         `json:"opened_at"`  // detected_at of the episode's first alert the desk read
	UpdatedAt   time.Time         `json:"updated_at"` // detected_at of its latest alert
	ClosedAt    *time.Time        `json:"closed_at"`
	WindowStart time.Time         `json:"window_start"`
	WindowEnd   time.Time         `json:"window_end"`
	Events      int64             `json:"events"`
	Bad         int64             `json:"bad"`
	Rate        float64           `json:"rate"`
	UsualRate   float64           `json:"usual_rate"`
	OthersRate  float64           `json:"others_rate"`
	Customers   int64             `json:"customers"`
	// AlertedCustomers: customers alerted before it opened (from its
	// opening alert), whose alerts could not carry its hotspot_id.
	AlertedCustomers []string `json:"alerted_customers"`
	// Acknowledged is the ops acknowledgement, null until a supervisor gives it.
	Acknowledged *HotspotAck `json:"acknowledged"`
	// CustomerAlerts carry its hotspot_id, newest (detected_at) first (the last
	// MaxHotspotCustomerAlerts read; CustomerAlertsTotal counts them all).
	CustomerAlerts      []HotspotCustomer `json:"customer_alerts"`
	CustomerAlertsTotal int               `json:"customer_alerts_total"`
	// Alert is the latest hotspot alert, exactly as on the alerts topic.
	Alert json.RawMessage `json:"alert"`
}

// HotspotAck is an ops acknowledgement of a hotspot: a supervisor has seen
// it and is on the cause. It holds for the episode.
type HotspotAck struct {
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	Note string    `json:"note,omitempty"`
}

// HotspotCustomer is a customer alert that carries a hotspot's id.
type HotspotCustomer struct {
	AlertID    string    `json:"alert_id"`
	CustomerID string    `json:"customer_id"`
	Detector   string    `json:"detector"`
	Severity   string    `json:"severity"`
	Reason     string    `json:"reason"`
	DetectedAt time.Time `json:"detected_at"`
	// Case is the state of the customer's case on the desk: open,
	// claimed (then ClaimedBy), or closed (the alert's case is no longer open).
	Case      string `json:"case"`
	ClaimedBy string `json:"claimed_by,omitempty"`
}

// MaxHotspotCustomerAlerts bounds the customer alerts kept per hotspot.
const MaxHotspotCustomerAlerts = 500

// Hotspots is the JSON of /api/hotspots.
type Hotspots struct {
	// Hotspots: open and escalated first (severity, then oldest), then
	// closed ones still kept (desk.keep), most recently closed first.
	Hotspots []*Hotspot `json:"hotspots"`
}

// hotspot is a hotspot key's latest episode in the view.
type hotspot struct {
	Alert    json.RawMessage `json:"alert"`
	OpenedAt time.Time       `json:"opened_at"`
	AlertIDs []string        `json:"alert_ids"` // the episode's alerts read (open, escalated, closed)
	Ack      *HotspotAck     `json:"ack,omitempty"`

	m      *alertMeta
	reason string
}

// hotGroup is the customer alerts of one hotspot_id (they may arrive
// before its hotspot alert: other partitions).
type hotGroup struct {
	Alerts []HotspotCustomer `json:"alerts"` // newest last
	Total  int               `json:"total"`
	Last   time.Time         `json:"last"`
}

func decodeHotspot(v []byte) (*hotspot, error) {
	h := &hotspot{}
	if err := json.Unmarshal(v, h); err != nil {
		return nil, fmt.Errorf("desk: stored hotspot: %w", err)
	}
	if h.Alert == nil { // stored by an earlier version: the alert itself
		h.Alert = append(json.RawMessage(nil), v...)
	}
	m, err := parseAlert(h.Alert)
	if err != nil {
		return nil, fmt.Errorf("desk: stored hotspot: %w", err)
	}
	h.m, h.reason = m, reasonOf(h.Alert)
	if h.OpenedAt.IsZero() {
		h.OpenedAt = m.DetectedAt
	}
	if len(h.AlertIDs) == 0 {
		h.AlertIDs = []string{m.AlertID}
	}
	return h, nil
}

// reasonOf reads an alert's reason (the view does not keep customer
// alerts' reasons in memory).
func reasonOf(raw []byte) string {
	var x struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(raw, &x)
	return x.Reason
}

func (h *hotspot) encode() []byte {
	b, err := json.Marshal(h)
	if err != nil {
		panic(err) // raw JSON read from the topic, strings and times
	}
	return b
}

func (h *hotspot) closed() bool {
	return h.m.Hotspot != nil && h.m.Hotspot.State == alerts.HotspotClosed
}

// loadHotspots reads the stored hotspots and their customer alerts.
func (d *Desk) loadHotspots() error {
	pre := dkey(subHotspot)
	err := scan(d.db, pre, false, func(k, v []byte) (bool, error) {
		h, err := decodeHotspot(v)
		if err != nil {
			return false, err
		}
		d.hot[string(k[len(pre):])] = h
		return true, nil
	})
	if err != nil {
		return err
	}
	pre = dkey(subHotGroup)
	return scan(d.db, pre, false, func(k, v []byte) (bool, error) {
		g := &hotGroup{}
		if err := json.Unmarshal(v, g); err != nil {
			return false, fmt.Errorf("desk: stored hotspot customers: %w", err)
		}
		d.hotCust[string(k[len(pre):])] = g
		return true, nil
	})
}

// hotspotKeyOf is a hotspot alert's key: the record's key
// (hotspot/<name>/<attr=value,...>), or, from a writer that keyed it
// otherwise, one made of its name and values (attributes in name order).
func hotspotKeyOf(recKey []byte, m *alertMeta) string {
	if k := string(recKey); strings.HasPrefix(k, "hotspot/") || m.Hotspot == nil {
		return k
	}
	keys := slices.Sorted(maps.Keys(m.Hotspot.Values))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = url.QueryEscape(k) + "=" + url.QueryEscape(m.Hotspot.Values[k])
	}
	return "hotspot/" + m.Hotspot.Name + "/" + strings.Join(parts, ",")
}

// applyHotspotAlert puts a hotspot alert into the view: the latest alert
// per key wins (a later window, or the same window read later); a new
// hotspot_id starts a new episode. Call with mu held.
func (d *Desk) applyHotspotAlert(b *pebble.Batch, key string, m *alertMeta, raw []byte, ch *changes) {
	_ = b.Set(alertKey(m.AlertID), alertRef{hotspot: true, owner: key}.encode(), nil)
	h := d.hot[key]
	if h != nil && h.m.Hotspot != nil && m.Hotspot != nil && m.Hotspot.WindowEnd.Before(h.m.Hotspot.WindowEnd) {
		return // older than what the view shows
	}
	if h == nil || h.m.HotspotID != m.HotspotID {
		h = &hotspot{OpenedAt: m.DetectedAt}
	}
	h.Alert, h.m, h.reason = append(json.RawMessage(nil), raw...), m, reasonOf(raw)
	if !slices.Contains(h.AlertIDs, m.AlertID) {
		h.AlertIDs = append(h.AlertIDs, m.AlertID)
	}
	d.hot[key] = h
	_ = b.Set(hotspotKey(key), h.encode(), nil)
	ch.hot[key] = true
}

// joinHotspot records a customer alert under the hotspot_id it carries.
// Call with mu held.
func (d *Desk) joinHotspot(m *alertMeta, raw []byte, ch *changes) {
	g := d.hotCust[m.HotspotID]
	if g == nil {
		g = &hotGroup{}
		d.hotCust[m.HotspotID] = g
	}
	g.Alerts = append(g.Alerts, HotspotCustomer{AlertID: m.AlertID, CustomerID: m.CustomerID, Detector: m.Detector,
		Severity: m.Severity, Reason: reasonOf(raw), DetectedAt: m.DetectedAt})
	if n := len(g.Alerts); n > MaxHotspotCustomerAlerts {
		g.Alerts = append(g.Alerts[:0:0], g.Alerts[n-MaxHotspotCustomerAlerts:]...)
	}
	g.Total++
	g.Last = maxTime(g.Last, m.DetectedAt)
	ch.groups[m.HotspotID] = true // written once per poll, by stageHotGroups
	for key, h := range d.hot {
		if h.m.HotspotID == m.HotspotID {
			ch.hot[key] = true
		}
	}
}

// stageHotGroups writes the customer-alert groups this poll changed. Call
// with mu held.
func (d *Desk) stageHotGroups(b *pebble.Batch, ch *changes) error {
	for id := range ch.groups {
		g := d.hotCust[id]
		if g == nil {
			continue
		}
		v, err := json.Marshal(g)
		if err != nil {
			return fmt.Errorf("desk: stage hotspot customers: %w", err)
		}
		if err := b.Set(hotGroupKey(id), v, nil); err != nil {
			return fmt.Errorf("desk: stage: %w", err)
		}
	}
	return nil
}

// applyHotspotFeedback applies feedback naming a hotspot alert: a claim
// is the ops acknowledgement (the first in the log holds; its author may
// renew it, with a new note), a release withdraws it; other actions are
// recorded on the topic only. Call with mu held.
func (d *Desk) applyHotspotFeedback(b *pebble.Batch, r *kgo.Record, f *Feedback, key string, ch *changes) (result, error) {
	if key != f.CustomerID {
		return result{}, fmt.Errorf("alert_id %q is of hotspot %q, not customer_id %q", f.AlertID, key, f.CustomerID)
	}
	h := d.hot[key]
	if h == nil || !slices.Contains(h.AlertIDs, f.AlertID) {
		return conflict("that hotspot episode is no longer on the desk"), nil
	}
	switch f.Action {
	case ActionClaim:
		if h.Ack != nil && h.Ack.By != f.By {
			return result{status: http.StatusConflict, err: "acknowledged by " + h.Ack.By, holder: h.Ack.By}, nil
		}
		h.Ack = &HotspotAck{By: f.By, At: r.Timestamp.UTC(), Note: f.Note}
	case ActionRelease:
		if h.Ack == nil || h.Ack.By != f.By {
			return conflict("the hotspot is not acknowledged by %s", f.By), nil
		}
		h.Ack = nil
	default:
		return result{status: http.StatusOK, hot: key}, nil
	}
	_ = b.Set(hotspotKey(key), h.encode(), nil)
	ch.hot[key] = true
	return result{status: http.StatusOK, hot: key}, nil
}

// pruneHotspots forgets closed hotspots older than desk.keep, and
// customer alerts of hotspots never seen, as old. Call with mu held.
func (d *Desk) pruneHotspots(b *pebble.Batch, cutoff time.Time) {
	for key, h := range d.hot {
		if !h.closed() || !h.m.DetectedAt.Before(cutoff) {
			continue
		}
		delete(d.hot, key)
		_ = b.Delete(hotspotKey(key), nil)
		for _, id := range h.AlertIDs {
			_ = b.Delete(alertKey(id), nil)
		}
		delete(d.hotCust, h.m.HotspotID)
		_ = b.Delete(hotGroupKey(h.m.HotspotID), nil)
	}
	live := map[string]bool{}
	for _, h := range d.hot {
		live[h.m.HotspotID] = true
	}
	for id, g := range d.hotCust {
		if !live[id] && g.Last.Before(cutoff) {
			delete(d.hotCust, id)
			_ = b.Delete(hotGroupKey(id), nil)
		}
	}
}

// renderHotspot is h as the API shows it. Call with mu held (read).
func (d *Desk) renderHotspot(key string, h *hotspot, now time.Time) *Hotspot {
	m := h.m
	v := &Hotspot{Key: key, HotspotID: m.HotspotID, Severity: m.Severity, Reason: h.reason,
		OpenedAt: h.OpenedAt, UpdatedAt: m.DetectedAt, Acknowledged: h.Ack, Alert: h.Alert,
		AlertedCustomers: []string{}, CustomerAlerts: []HotspotCustomer{}}
	if x := m.Hotspot; x != nil {
		v.Name, v.Values, v.Journey, v.State = x.Name, x.Values, x.Journey, x.State
		v.WindowStart, v.WindowEnd, v.Events, v.Bad = x.WindowStart, x.WindowEnd, x.Events, x.Bad
		v.Rate, v.UsualRate, v.OthersRate, v.Customers = x.Rate, x.UsualRate, x.OthersRate, x.Customers
		if x.AlertedCustomers != nil {
			v.AlertedCustomers = x.AlertedCustomers
		}
	}
	if v.Values == nil {
		v.Values = map[string]string{}
	}
	if v.State == alerts.HotspotClosed {
		t := m.DetectedAt
		v.ClosedAt = &t
	}
	if g := d.hotCust[m.HotspotID]; g != nil {
		v.CustomerAlertsTotal = g.Total
		for i := len(g.Alerts) - 1; i >= 0; i-- {
			c := g.Alerts[i]
			c.Case = "closed"
			if cust, ok := d.openIDs[c.AlertID]; ok {
				c.Case = "open"
				if cl := d.activeClaim(d.open[cust], now); cl != nil {
					c.Case, c.ClaimedBy = "claimed", cl.By
				}
			}
			v.CustomerAlerts = append(v.CustomerAlerts, c)
		}
		slices.SortStableFunc(v.CustomerAlerts, func(a, b HotspotCustomer) int { return b.DetectedAt.Compare(a.DetectedAt) })
	}
	return v
}

var sevRank = map[string]int{"critical": 3, "major": 2, "minor": 1}

// HotspotList returns the hotspots in the view as of now: open and
// escalated first (highest severity, then longest open), then closed ones,
// most recently closed first.
func (d *Desk) HotspotList() *Hotspots {
	now := d.o.Now()
	d.mu.RLock()
	out := &Hotspots{Hotspots: make([]*Hotspot, 0, len(d.hot))}
	for key, h := range d.hot {
		out.Hotspots = append(out.Hotspots, d.renderHotspot(key, h, now))
	}
	d.mu.RUnlock()
	slices.SortFunc(out.Hotspots, func(a, b *Hotspot) int {
		ac, bc := a.State == alerts.HotspotClosed, b.State == alerts.HotspotClosed
		switch {
		case ac != bc:
			if ac {
				return 1
			}
			return -1
		case ac:
			if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
				return c
			}
		default:
			if c := sevRank[b.Severity] - sevRank[a.Severity]; c != 0 {
				return c
			}
			if c := a.OpenedAt.Compare(b.OpenedAt); c != 0 {
				return c
			}
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

func (d *Desk) hotspotsAPI(w http.ResponseWriter, r *http.Request) {
	list := d.HotspotList()
	if st := r.URL.Query().Get("state"); st != "" {
		kept := list.Hotspots[:0]
		for _, h := range list.Hotspots {
			if h.State == st || st == "active" && h.State != alerts.HotspotClosed {
				kept = append(kept, h)
			}
		}
		list.Hotspots = kept
	}
	writeJSON(w, http.StatusOK, list)
}

// ackBody is the body of POST /api/hotspots/{hotspot_id}/ack.
type ackBody struct {
	Note string `json:"note"`
}

// hotspotAct serves POST /api/hotspots/{hotspot_id}/{ack,unack}: a
// supervisor acknowledges a hotspot (or withdraws the acknowledgement),
// written to the feedback topic as action claim (release) naming the
// hotspot's latest alert, with customer_id and key = the hotspot key.
func (d *Desk) hotspotAct(w http.ResponseWriter, r *http.Request) {
	u, _ := auth.UserFrom(r.Context())
	id, action := r.PathValue("id"), r.PathValue("action")
	var fa string
	switch action {
	case "ack":
		fa = ActionClaim
	case "unack":
		fa = ActionRelease
	default:
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no action %q (ack, unack)", action))
		return
	}
	if !u.Supervisor() {
		writeErr(w, http.StatusForbidden, "only a supervisor may acknowledge a hotspot")
		return
	}
	var body ackBody
	if r.ContentLength != 0 {
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil && err != io.EOF {
			writeErr(w, http.StatusBadRequest, "the body must be JSON: {\"note\": \"...\"}")
			return
		}
	}
	if len(body.Note) > maxNote {
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("the note is longer than %d characters", maxNote))
		return
	}
	d.mu.RLock()
	var key string
	var h *hotspot
	for k, x := range d.hot {
		if x.m.HotspotID == id {
			key, h = k, x
		}
	}
	var st int
	var msg, holder string
	switch {
	case h == nil:
		st, msg = http.StatusNotFound, "no such hotspot on the desk"
	case len(key) > 256:
		st, msg = http.StatusBadRequest, "this hotspot's key is longer than a feedback event's customer_id may be (256 bytes)"
	case fa == ActionClaim && h.Ack != nil && h.Ack.By != u.Name:
		st, msg, holder = http.StatusConflict, "acknowledged by "+h.Ack.By, h.Ack.By
	case fa == ActionRelease && (h.Ack == nil || h.Ack.By != u.Name):
		st, msg = http.StatusConflict, "the hotspot is not acknowledged by you"
	}
	var alertID string
	if h != nil {
		alertID = h.m.AlertID
	}
	d.mu.RUnlock()
	if st != 0 {
		out := map[string]string{"error": msg}
		if holder != "" {
			out["acknowledged_by"] = holder
		}
		writeJSON(w, st, out)
		return
	}
	f := &Feedback{AlertID: alertID, CustomerID: key, Action: fa, By: u.Name, Note: body.Note}
	res := d.write(r.Context(), f, d.o.Now())
	if res.status != http.StatusOK {
		out := map[string]string{"error": strings.ReplaceAll(res.err, "claim", "acknowledgement")}
		if res.holder != "" {
			out["acknowledged_by"] = res.holder
		}
		writeJSON(w, res.status, out)
		return
	}
	d.mu.RLock()
	var v *Hotspot
	if x := d.hot[key]; x != nil {
		v = d.renderHotspot(key, x, d.o.Now())
	}
	d.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"hotspot": v})
}
