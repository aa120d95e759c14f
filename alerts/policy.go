package alerts

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"net/url"
	"time"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/state"
)

// Policy decides which findings become alerts and builds them. It runs on
// event time only, so replay, restarts and any instance decide alike. It is
// immutable and shared by all partitions.
type Policy struct {
	cooldown int64 // ns
	lookback int64 // ns
	playbook [4]config.Recovery
	deskURL  string
}

// NewPolicy builds the policy of an alerting configuration. deskURL is the
// recovery desk's base URL for links ("" for none).
func NewPolicy(a config.Alerting, deskURL string) *Policy {
	p := &Policy{cooldown: int64(a.Cooldown), lookback: int64(a.Lookback), deskURL: deskURL}
	p.playbook[Minor] = a.Playbook.Minor
	p.playbook[Major] = a.Playbook.Major
	p.playbook[Critical] = a.Playbook.Critical
	return p
}

// Decision is the outcome of Decide.
type Decision uint8

const (
	// Suppressed: the customer is in cooldown and the finding is no worse.
	Suppressed Decision = iota
	// Fire: a new alert (first, or after the cooldown).
	Fire
	// Escalate: a new alert inside the cooldown because severity rose.
	Escalate
)

// Decide applies the cooldown to f for customer c at event time now: one
// alert per customer per cooldown, unless the severity rises.
func (p *Policy) Decide(f Finding, c *state.Customer, now int64) Decision {
	last := c.Cooldown
	if last.ID == "" || p.cooldown <= 0 {
		return Fire
	}
	d := now - last.Time
	if d < 0 {
		d = -d // an out-of-order event close to the last alert is inside the cooldown too
	}
	if d >= p.cooldown {
		return Fire
	}
	if f.Severity > Severity(last.Severity) {
		return Escalate
	}
	return Suppressed
}

// ComplainedBefore reports whether c complained within the lookback before now.
func (p *Policy) ComplainedBefore(c *state.Customer, now int64) bool {
	return c.Complaint != 0 && c.Complaint <= now && now-c.Complaint <= p.lookback
}

// RecoveredBefore reports whether staff recorded a "recovered" outcome for
// c within the lookback before now (event time: the feedback's time).
func (p *Policy) RecoveredBefore(c *state.Customer, now int64) bool {
	return c.Recovered != 0 && c.Recovered <= now && now-c.Recovered <= p.lookback
}

// Recovery returns the playbook entry for a severity.
func (p *Policy) Recovery(s Severity) config.Recovery {
	if s > Critical {
		s = Critical
	}
	return p.playbook[s]
}

// Priority ranks alerts for frontline staff: severity first, then customer
// value (log-scaled, so a 10× more valuable customer ranks one step higher).
func Priority(s Severity, value float64) float64 {
	v := 0.0
	if value > 0 {
		v = math.Min(99, 10*math.Log10(1+value))
	}
	return math.Round((float64(s)*100+v)*100) / 100
}

// AlertID is deterministic: the same detector, customer and triggering
// experience give the same id in replay, after a crash, on any instance.
// identity is the experience's event_id, or its bytes when it has none.
func AlertID(detector, customer string, identity []byte) string {
	// Length-prefixed, so that no two (detector, customer, identity) triples
	// share an encoding, whatever bytes the fields hold.
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, f := range [][]byte{[]byte(detector), []byte(customer), identity} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write(f)
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// Build makes the alert for finding f on customer c. The caller supplies
// the trigger's journey and times, the evidence and the perceived score.
func (p *Policy) Build(f Finding, c *state.Customer, journey string, identity []byte, eventTime, detectedAt time.Time,
	evidence []Evidence, perceived float64) *Alert {
	a := &Alert{
		AlertID:          AlertID(f.Detector, c.ID, identity),
		CustomerID:       c.ID,
		Detector:         f.Detector,
		Journey:          journey,
		Severity:         f.Severity,
		Score:            math.Round(f.Score*1e6) / 1e6,
		Priority:         Priority(f.Severity, c.Value),
		Reason:           f.Reason,
		EventTime:        eventTime.UTC(),
		DetectedAt:       detectedAt.UTC(),
		Evidence:         evidence,
		Recovery:         p.Recovery(f.Severity),
		Customer:         Customer{Tier: c.Tier, Value: c.Value, Perceived: math.Round(perceived*1000) / 1000},
		ComplainedBefore: p.ComplainedBefore(c, eventTime.UnixNano()),
		RecoveredBefore:  p.RecoveredBefore(c, eventTime.UnixNano()),
		Kind:             KindCustomer,
	}
	if p.deskURL != "" {
		a.DeskURL = p.deskURL + "/customers/" + url.PathEscape(c.ID)
	}
	return a
}
