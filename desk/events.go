package desk

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/peakend/peakend/internal/metrics"
)

// hub fans the view's changes out to event streams. A subscriber that
// falls StreamBuffer events behind is disconnected rather than waited
// for: the view never blocks on a slow client, and the page reconnects
// and reloads the queue.
type hub struct {
	mu   sync.Mutex
	subs map[*sub]struct{}
	buf  int
	m    *metrics.Desk
}

type sub struct {
	ch   chan []byte
	gone chan struct{} // closed when the hub drops the subscriber
}

func newHub(buf int, m *metrics.Desk) *hub {
	return &hub{subs: map[*sub]struct{}{}, buf: buf, m: m}
}

func (h *hub) subscribe() *sub {
	s := &sub{ch: make(chan []byte, h.buf), gone: make(chan struct{})}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	n := len(h.subs)
	h.mu.Unlock()
	if h.m != nil {
		h.m.Streams.Set(float64(n))
	}
	return s
}

func (h *hub) unsubscribe(s *sub) {
	h.mu.Lock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.gone)
	}
	n := len(h.subs)
	h.mu.Unlock()
	if h.m != nil {
		h.m.Streams.Set(float64(n))
	}
}

// send encodes one event once and offers it to every subscriber without waiting.
func (h *hub) send(event string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	msg := fmt.Appendf(nil, "event: %s\ndata: %s\n\n", event, data)
	h.mu.Lock()
	var slow []*sub
	for s := range h.subs {
		select {
		case s.ch <- msg:
		default:
			slow = append(slow, s)
		}
	}
	h.mu.Unlock()
	for _, s := range slow {
		h.unsubscribe(s)
	}
}

// subscribers is the number of open streams.
func (h *hub) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// events serves /api/events: server-sent events `case` (a case opened or
// changed; data: the Case) and `closed` (data: {"customer_id"}), and a
// `: ping` comment every Ping.
func (d *Desk) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeErr(w, http.StatusInternalServerError, "streaming is not supported here")
		return
	}
	s := d.hub.subscribe()
	defer d.hub.unsubscribe(s)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The browser reconnects 2 s after a drop; the page reloads the queue then.
	if _, err := fmt.Fprint(w, "retry: 2000\n: connected\n\n"); err != nil {
		return
	}
	fl.Flush()
	ping := time.NewTicker(d.o.Ping)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-d.quit:
			return // shutting down
		case <-s.gone:
			return // fell behind: the client reconnects and reloads
		case msg := <-s.ch:
			if _, err := w.Write(msg); err != nil {
				return
			}
			// Write what else is queued before flushing once.
			for more := true; more; {
				select {
				case m := <-s.ch:
					if _, err := w.Write(m); err != nil {
						return
					}
				default:
					more = false
				}
			}
			fl.Flush()
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// StreamCount is the number of open event streams.
func (d *Desk) StreamCount() int { return d.hub.subscribers() }
