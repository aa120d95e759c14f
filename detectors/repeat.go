package detectors

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/internal/human"
	"github.com/peakend/peakend/state"
)

// repeat fires when a customer has several bad experiences (outcome in the
// bad set, optionally of one journey) within `within`, this one included.
// Cut-offs are counts. Counting uses the customer's last state.MaxBadMarks
// bad experiences, so cut-offs above that are never reached.
//
// Out of order: a bad experience older than some the customer already has
// counts as it would have in event-time order: the count is the largest
// over the windows that end at it or at a later bad experience within
// `within` (the counts those later experiences would have had with it).
// Marks are kept in event-time order.
type repeat struct {
	base
	outcomes map[string]bool
	levels   levels
	within   time.Duration
}

func newRepeat(d *config.Detector, order int) (*repeat, error) {
	l, err := newLevels(d)
	if err != nil {
		return nil, err
	}
	if len(d.Outcome) == 0 {
		return nil, fmt.Errorf("no bad outcomes")
	}
	if l.highest() > state.MaxBadMarks {
		return nil, fmt.Errorf("cut-off %v above the %d bad experiences kept per customer", l.highest(), state.MaxBadMarks)
	}
	return &repeat{base: base{name: d.Name, order: order, journey: d.Journey}, outcomes: outcomeSet(d.Outcome),
		levels: l, within: d.Within.D()}, nil
}

func (r *repeat) bad(ev *event.Event) bool { return r.applies(ev) && r.outcomes[ev.Outcome] }

func (r *repeat) counts(m *state.Mark, now int64) bool {
	return r.outcomes[m.Outcome] && (r.journey == "" || m.Journey == r.journey) &&
		m.Time <= now && now-m.Time <= int64(r.within)
}

func (r *repeat) Detect(ev *event.Event, c *state.Customer, _ *Population) (alerts.Finding, bool) {
	if !r.bad(ev) {
		return alerts.Finding{}, false
	}
	end := ev.Time
	n := r.countAt(c, end)
	for i := range c.Bad {
		if m := &c.Bad[i]; r.counts(m, m.Time) && m.Time > ev.Time && m.Time-ev.Time <= int64(r.within) {
			if k := r.countAt(c, m.Time); k > n {
				n, end = k, m.Time
			}
		}
	}
	sev, _ := r.levels.severity(float64(n))
	if sev == alerts.None {
		return alerts.Finding{}, false
	}
	// Name the experiences, newest first, at most four.
	parts := []string{lowerFirst(human.Outcome(ev.Journey, ev.Outcome))}
	for i := len(c.Bad) - 1; i >= 0 && len(parts) < 4; i-- {
		if m := &c.Bad[i]; r.counts(m, end) {
			parts = append(parts, lowerFirst(human.Outcome(m.Journey, m.Outcome)))
		}
	}
	if n > len(parts) {
		parts = append(parts, "…")
	}
	reason := fmt.Sprintf("%d bad experiences within %s: %s", n, human.Duration(r.within), strings.Join(parts, ", "))
	f := r.finding(sev, float64(n)/r.levels.highest(), reason)
	f.Evidence = alerts.EvidenceBad
	f.Since = end - int64(r.within)
	return f, true
}

// countAt is how many bad experiences the customer has in the window of
// `within` ending at t, the event being judged included.
func (r *repeat) countAt(c *state.Customer, t int64) int {
	n := 1
	for i := range c.Bad {
		if r.counts(&c.Bad[i], t) {
			n++
		}
	}
	return n
}

func (r *repeat) Learn(ev *event.Event, c *state.Customer, _ *Population) {
	if !r.bad(ev) {
		return
	}
	// Several repeat detectors may share a bad experience: remember it once.
	for i := len(c.Bad) - 1; i >= 0; i-- {
		if c.Bad[i].Seq == c.Seq {
			return
		}
	}
	m := state.Mark{Time: ev.Time, Journey: ev.Journey, Outcome: ev.Outcome, Seq: c.Seq}
	// Keep the marks in event-time order: an out-of-order one goes in its place.
	at := len(c.Bad)
	for at > 0 && c.Bad[at-1].Time > m.Time {
		at--
	}
	if at == 0 && len(c.Bad) >= state.MaxBadMarks {
		return // older than every mark kept
	}
	c.Bad = slices.Insert(c.Bad, at, m)
	if len(c.Bad) > state.MaxBadMarks {
		c.Bad = slices.Delete(c.Bad, 0, len(c.Bad)-state.MaxBadMarks)
	}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
