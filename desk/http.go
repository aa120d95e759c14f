package desk

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/auth"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/desk/ui"
)

// Mount adds the desk's page, API and event stream to mux. require guards
// every path that shows customer data (auth.Require); the page's static
// assets are served without it. A nil require refuses any request without
// a user in its context (auth.WithUser).
func (d *Desk) Mount(mux *http.ServeMux, require func(http.Handler) http.Handler) {
	if require == nil {
		require = RequireUser
	}
	guard := func(h http.HandlerFunc) http.Handler { return require(h) }
	assets, err := fs.Sub(ui.FS, "assets")
	if err != nil {
		panic(err) // embedded at build time
	}
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))
	mux.Handle("GET /{$}", guard(d.index))
	mux.Handle("GET /api/me", guard(d.me))
	mux.Handle("GET /api/queue", guard(d.queue))
	mux.Handle("GET /api/cases/{id}", guard(d.caseView))
	mux.Handle("POST /api/cases/{id}/{action}", guard(d.act))
	mux.Handle("GET /api/events", guard(d.events))
	mux.Handle("GET /api/detectors", guard(d.detectors))
	mux.Handle("GET /api/hotspots", guard(d.hotspotsAPI))
	mux.Handle("POST /api/hotspots/{id}/{action}", guard(d.hotspotAct))
}

// Handler is the desk's routes on a mux of their own (tests, benchmarks).
func (d *Desk) Handler(require func(http.Handler) http.Handler) http.Handler {
	mux := http.NewServeMux()
	d.Mount(mux, require)
	return mux
}

// RequireUser refuses a request without a signed-in user (401): the guard
// used when no sign-in is configured around the desk.
func RequireUser(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth.UserFrom(r.Context()); !ok {
			writeErr(w, http.StatusUnauthorized, "sign in first")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (d *Desk) index(w http.ResponseWriter, r *http.Request) {
	b, err := ui.FS.ReadFile("index.html")
	if err != nil {
		http.Error(w, "the desk page is missing from this build", http.StatusInternalServerError)
		return
	}
	auth.PageHeaders(w.Header(), "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	_, _ = w.Write(b)
}

func (d *Desk) me(w http.ResponseWriter, r *http.Request) {
	u, _ := auth.UserFrom(r.Context())
	role := u.Role
	if role == "" {
		role = config.RoleAgent
	}
	writeJSON(w, http.StatusOK, map[string]string{"user": u.Name, "role": role, "csrf_token": auth.CSRFToken(r)})
}

// Queue is the JSON of /api/queue.
type Queue struct {
	Cases    []*Case           `json:"cases"`    // open cases, highest priority first
	Hotspots []json.RawMessage `json:"hotspots"` // open hotspot alerts (causes), for ops
}

// QueueFilter selects cases: each field, if set, must match (severity and
// tier: the case's; detector and journey: any of its alerts').
type QueueFilter struct {
	Severity, Detector, Journey, Tier string
}

func (q QueueFilter) match(e *entry) bool {
	if q.Severity != "" && e.c.Severity != q.Severity || q.Tier != "" && e.c.Tier != q.Tier {
		return false
	}
	if q.Detector == "" && q.Journey == "" {
		return true
	}
	for _, m := range e.meta {
		if (q.Detector == "" || m.Detector == q.Detector) && (q.Journey == "" || m.Journey == q.Journey) {
			return true
		}
	}
	return false
}

// Queue returns the open cases matching f, highest priority first (then
// oldest first), as of now.
func (d *Desk) Queue(f QueueFilter) *Queue {
	now := d.o.Now()
	d.mu.RLock()
	q := &Queue{Cases: make([]*Case, 0, len(d.open)), Hotspots: make([]json.RawMessage, 0, len(d.hot))}
	for _, e := range d.open {
		if f.match(e) {
			q.Cases = append(q.Cases, d.render(e, now))
		}
	}
	for _, h := range d.hot {
		if !h.closed() {
			q.Hotspots = append(q.Hotspots, h.Alert)
		}
	}
	d.mu.RUnlock()
	slices.SortFunc(q.Cases, func(a, b *Case) int {
		if a.Priority != b.Priority {
			if a.Priority > b.Priority {
				return -1
			}
			return 1
		}
		if c := a.OpenedAt.Compare(b.OpenedAt); c != 0 {
			return c
		}
		return strings.Compare(a.CustomerID, b.CustomerID)
	})
	return q
}

func (d *Desk) queue(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := d.Queue(QueueFilter{Severity: v.Get("severity"), Detector: v.Get("detector"), Journey: v.Get("journey"), Tier: v.Get("tier")})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf []byte
	buf = append(buf, `{"cases":[`...)
	for i, c := range q.Cases {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendCase(buf, c)
		if len(buf) > 32<<10 {
			_, _ = bw.Write(buf)
			buf = buf[:0]
		}
	}
	buf = append(buf, `],"hotspots":[`...)
	for i, h := range q.Hotspots {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, h...)
	}
	buf = append(buf, "]}\n"...)
	_, _ = bw.Write(buf)
	_ = bw.Flush()
}

// Case returns the customer's open case as of now, or nil.
func (d *Desk) Case(cust string) *Case {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if e := d.open[cust]; e != nil {
		return d.render(e, d.o.Now())
	}
	return nil
}

// History returns the customer's closed cases still kept, newest first.
func (d *Desk) History(cust string) ([]*Case, error) {
	out := []*Case{}
	err := scan(d.db, historyPrefix(cust), true, func(_, v []byte) (bool, error) {
		e, err := decodeEntry(v)
		if err != nil {
			return false, err
		}
		c := e.c
		c.Approvers = []string{}
		out = append(out, &c)
		return len(out) < 100, nil
	})
	return out, err
}

func (d *Desk) caseView(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c := d.Case(id)
	hist, err := d.History(id)
	if err != nil {
		d.log.Error("desk: history", "err", err)
		writeErr(w, http.StatusInternalServerError, "could not read the customer's earlier cases")
		return
	}
	var cust any
	if d.o.Customer != nil {
		v, err := d.o.Customer(id)
		if err != nil {
			d.log.Error("desk: customer view", "err", err)
		} else if v != nil {
			cust = v
		}
	}
	if c == nil && len(hist) == 0 && cust == nil {
		writeErr(w, http.StatusNotFound, "no case for this customer")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"case": c, "history": hist, "customer": cust})
}

// outcomeBody is the body of POST /api/cases/{id}/outcome.
type outcomeBody struct {
	Outcome string `json:"outcome"`
	Note    string `json:"note"`
	Spent   *Money `json:"spent"`
}

const maxNote = 4000

// act serves POST /api/cases/{id}/{claim,release,outcome,approve,refuse}.
func (d *Desk) act(w http.ResponseWriter, r *http.Request) {
	u, _ := auth.UserFrom(r.Context())
	id, action := r.PathValue("id"), r.PathValue("action")
	switch action {
	case ActionClaim, ActionRelease, ActionOutcome, ActionApprove, ActionRefuse:
	default:
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no action %q (claim, release, outcome, approve, refuse)", action))
		return
	}
	if (action == ActionApprove || action == ActionRefuse) && !u.Supervisor() {
		writeErr(w, http.StatusForbidden, "only a supervisor may approve or refuse an action")
		return
	}
	f := &Feedback{CustomerID: id, Action: action, By: u.Name}
	if action == ActionOutcome {
		var body outcomeBody
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		if err := dec.Decode(&body); err != nil {
			writeErr(w, http.StatusBadRequest, "the body must be JSON: {\"outcome\", \"note\", \"spent\": {\"amount\", \"currency\"}}")
			return
		}
		if !validOutcome(body.Outcome) {
			writeErr(w, http.StatusBadRequest, fmt.Sprintf("outcome must be one of recovered, declined, unreachable, false_alarm, not %q", body.Outcome))
			return
		}
		if len(body.Note) > maxNote {
			writeErr(w, http.StatusBadRequest, fmt.Sprintf("the note is longer than %d characters", maxNote))
			return
		}
		f.Outcome, f.Note, f.Spent = body.Outcome, body.Note, body.Spent
	}
	now := d.o.Now()
	// Checks against the view as it is now; the log's order decides races.
	d.mu.RLock()
	e := d.open[id]
	var st int
	var msg, holder string
	if e == nil {
		st, msg = http.StatusNotFound, "no open case for this customer"
	} else {
		f.AlertID = e.meta[0].AlertID
		h := d.activeClaim(e, now)
		rec := e.c.Recovery
		switch action {
		case ActionClaim:
			if h != nil && h.By != u.Name {
				st, msg, holder = http.StatusConflict, "claimed by "+h.By, h.By
			}
		case ActionRelease:
			if h == nil || h.By != u.Name {
				st, msg = http.StatusConflict, "the case is not claimed by you"
				if h != nil {
					holder = h.By
				}
			}
		case ActionApprove, ActionRefuse:
			if !rec.RequiresApproval {
				st, msg = http.StatusConflict, "this case's action needs no approval"
			}
		case ActionOutcome:
			switch {
			case h != nil && h.By != u.Name:
				st, msg, holder = http.StatusConflict, "claimed by "+h.By, h.By
			case f.Spent != nil:
				st, msg = d.checkSpent(f.Spent, e)
			}
		}
	}
	d.mu.RUnlock()
	if st != 0 {
		body := map[string]string{"error": msg}
		if holder != "" {
			body["claimed_by"] = holder
		}
		writeJSON(w, st, body)
		return
	}
	res := d.write(r.Context(), f, now)
	if res.status != http.StatusOK {
		body := map[string]string{"error": res.err}
		if res.holder != "" {
			body["claimed_by"] = res.holder
		}
		writeJSON(w, res.status, body)
		return
	}
	var c *Case
	if res.e != nil {
		d.mu.RLock()
		c = d.render(res.e, d.o.Now())
		d.mu.RUnlock()
	}
	writeJSON(w, http.StatusOK, map[string]any{"case": c})
}

// checkSpent checks an outcome's spending against the case's budget. Call
// with mu held (read).
func (d *Desk) checkSpent(s *Money, e *entry) (int, string) {
	rec := e.c.Recovery
	if s.Amount < 0 {
		return http.StatusBadRequest, "spent must not be negative"
	}
	if s.Currency == "" {
		s.Currency = rec.Currency
	}
	if s.Amount == 0 {
		return 0, ""
	}
	if s.Currency != rec.Currency {
		return http.StatusBadRequest, fmt.Sprintf("spent must be in %s, the budget's currency", rec.Currency)
	}
	if s.Amount > rec.Budget {
		return http.StatusBadRequest, fmt.Sprintf("spent %g %s is over the budget of %g %s", s.Amount, s.Currency, rec.Budget, rec.Currency)
	}
	if rec.RequiresApproval && (e.c.Approval == nil || e.c.Approval.State != "approved") {
		return http.StatusBadRequest, "this action needs a supervisor's approval before anything is spent"
	}
	return 0, ""
}

// write produces f to the feedback topic and waits until the desk's reader
// has applied it: the answer is the log's verdict.
func (d *Desk) write(ctx context.Context, f *Feedback, now time.Time) result {
	cl := d.cl.Load()
	if cl == nil {
		return result{status: http.StatusServiceUnavailable, err: "the desk is starting; try again in a moment"}
	}
	f.FeedbackID = newID()
	f.Time = now.UTC()
	w := make(chan result, 1)
	d.wmu.Lock()
	d.waiters[f.FeedbackID] = w
	d.wmu.Unlock()
	defer func() {
		d.wmu.Lock()
		delete(d.waiters, f.FeedbackID)
		d.wmu.Unlock()
	}()
	wctx, cancel := context.WithTimeout(ctx, d.o.WriteTimeout)
	defer cancel()
	// The record's timestamp is the claim's time: lapses are reckoned
	// from it, alike on every instance.
	rec := &kgo.Record{Topic: d.feedT, Key: []byte(f.CustomerID), Value: f.Encode(), Timestamp: f.Time}
	if err := cl.ProduceSync(wctx, rec).FirstErr(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return result{status: http.StatusServiceUnavailable, err: fmt.Sprintf("the feedback topic did not take the %s within %s; try again", f.Action, d.o.WriteTimeout)}
		}
		return result{status: http.StatusServiceUnavailable, err: fmt.Sprintf("could not write the %s to the feedback topic: %v", f.Action, err)}
	}
	select {
	case res := <-w:
		return res
	case <-wctx.Done():
		return result{status: http.StatusServiceUnavailable,
			err: fmt.Sprintf("the %s was written but the desk did not read it back within %s; reload to see whether it took", f.Action, d.o.WriteTimeout)}
	}
}
