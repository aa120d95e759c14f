package httpapi

import (
	"errors"
	"math"
	"slices"
	"time"

	"github.com/peakend/peakend/alerts"
	"github.com/peakend/peakend/event"
	"github.com/peakend/peakend/state"
)

// CustomerView is the JSON of /customers/{id}.
type CustomerView struct {
	CustomerID  string             `json:"customer_id"`
	Partition   int32              `json:"partition"`
	Tier        string             `json:"tier,omitempty"`
	Value       float64            `json:"value"`
	Perceived   float64            `json:"perceived"`
	Experiences int                `json:"experiences_total"`
	LastSeen    time.Time          `json:"last_seen"`
	ComplaintAt *time.Time         `json:"last_complaint,omitempty"`
	Recent      []alerts.Evidence  `json:"recent"` // newest event time first
	Alerts      []CustomerAlertRef `json:"alerts"`
	// Journeys are the customer's journeys watched by overdue and deadline
	// detectors: open ones, and those alerted on (with the follow-up's late
	// arrival, if it came).
	Journeys []JourneyView `json:"journeys"`
}

// JourneyView is one journey of a timed detector on /customers/{id}.
type JourneyView struct {
	Detector string     `json:"detector"`
	Key      string     `json:"key"`
	Status   string     `json:"status"` // open, alerted, arrived_after_alert
	Started  time.Time  `json:"started"`
	Due      *time.Time `json:"due,omitempty"` // the pending timer (none while overdue waits for min_samples)
	AlertID  string     `json:"alert_id,omitempty"`
	Alerted  *time.Time `json:"alerted_at,omitempty"`
	Arrived  *time.Time `json:"arrived_at,omitempty"` // the follow-up, once it came
}

// CustomerAlertRef is one of the customer's recent alerts.
type CustomerAlertRef struct {
	AlertID  string    `json:"alert_id"`
	Detector string    `json:"detector"`
	Severity string    `json:"severity"`
	Time     time.Time `json:"event_time"`
	Reason   string    `json:"reason"`
}

// ViewOptions configures LookupCustomer.
type ViewOptions struct {
	Window   int           // state.window
	HalfLife time.Duration // alerting.peak_half_life; default alerts.PeakHalfLife
}

// LookupCustomer reads a customer's committed state from whichever of the
// given partitions holds it. It is safe to call concurrently with processing.
func LookupCustomer(store *state.Store, o ViewOptions, partitions []int32, id string) (*CustomerView, bool, error) {
	window := o.Window
	for _, p := range partitions {
		c := state.Customer{ID: id}
		ok, err := store.LoadCustomer(p, &c, nil)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			continue
		}
		v := &CustomerView{CustomerID: id, Partition: p, Tier: c.Tier, Value: c.Value,
			Perceived: math.Round(alerts.Perceived(&c, c.LastAt, o.HalfLife)*1000) / 1000, Experiences: int(c.Seq),
			LastSeen: time.Unix(0, c.LastAt).UTC(), Recent: []alerts.Evidence{}, Alerts: []CustomerAlertRef{},
			Journeys: []JourneyView{}}
		if c.Complaint != 0 {
			t := time.Unix(0, c.Complaint).UTC()
			v.ComplaintAt = &t
		}
		for i := len(c.Alerts) - 1; i >= 0; i-- {
			a := c.Alerts[i]
			v.Alerts = append(v.Alerts, CustomerAlertRef{AlertID: a.ID, Detector: a.Detector,
				Severity: alerts.Severity(a.Severity).String(), Time: time.Unix(0, a.Time).UTC(), Reason: a.Reason})
		}
		oldest := uint64(0)
		if c.Seq > uint64(window) {
			oldest = c.Seq - uint64(window)
		}
		var ev event.Event
		var derr error
		err = store.Window(p, id, func(seq uint64, b []byte) bool {
			if seq <= oldest {
				return false
			}
			if derr = state.DecodeExperience(b, id, &ev); derr != nil {
				return false
			}
			v.Recent = append(v.Recent, alerts.EvidenceOf(&ev))
			return true
		})
		// Out-of-order arrivals are shown as if they had come in order.
		slices.SortStableFunc(v.Recent, func(a, b alerts.Evidence) int { return b.Time.Compare(a.Time) })
		jerr := journeyViews(store, p, id, v)
		return v, true, errors.Join(err, derr, jerr)
	}
	return nil, false, nil
}

// journeyViews adds the customer's journeys to v.
func journeyViews(store *state.Store, p int32, id string, v *CustomerView) error {
	status := map[uint8]string{state.JourneyOpen: "open", state.JourneyAlerted: "alerted",
		state.JourneyArrivedLate: "arrived_after_alert"}
	ts := func(t int64) *time.Time {
		if t == 0 {
			return nil
		}
		u := time.Unix(0, t).UTC()
		return &u
	}
	return store.Journeys(p, id, func(det, key string, j *state.Journey) bool {
		jv := JourneyView{Detector: det, Key: key, Status: status[j.Status], Started: time.Unix(0, j.Start).UTC(),
			AlertID: j.AlertID, Alerted: ts(j.Alerted), Arrived: ts(j.Until)}
		if j.Status == state.JourneyOpen && j.Due != state.Parked {
			jv.Due = ts(j.Due) // none while parked: waiting for enough finished journeys
		}
		v.Journeys = append(v.Journeys, jv)
		return true
	})
}
