package metrics

import "github.com/prometheus/client_golang/prometheus"

// Desk holds the recovery desk's metrics. A nil *Desk records nothing.
type Desk struct {
	OpenAlerts     *prometheus.GaugeVec   // severity: alerts in open cases
	OpenCases      prometheus.Gauge       // open cases
	Claims         prometheus.Counter     // claims taken
	Outcomes       *prometheus.CounterVec // detector, outcome
	Feedback       *prometheus.CounterVec // detector, severity, outcome (the loop's shared counter)
	ClaimSeconds   prometheus.Histogram   // alert detected → claimed
	OutcomeSeconds prometheus.Histogram   // alert detected → outcome
	Rejected       *prometheus.CounterVec // reason: malformed, unknown_alert (sent to the DLQ)
	Streams        prometheus.Gauge       // open event streams (/api/events)
}

// NewDesk creates the desk's metrics and registers them on m's registry
// (nil if m is nil). detectors pre-create the outcome series at zero.
func (m *Metrics) NewDesk(detectors []string) *Desk {
	if m == nil {
		return nil
	}
	d := &Desk{}
	d.OpenAlerts = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "peakend", Name: "desk_open_alerts",
		Help: "Alerts in the desk's open cases, by severity (the whole queue, as every instance sees it)."}, []string{"severity"})
	d.OpenCases = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "peakend", Name: "desk_open_cases",
		Help: "Open cases in the desk's queue (one per customer with open alerts)."})
	d.Claims = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "peakend", Name: "desk_claims_total",
		Help: "Claims taken, counted by the instance owning the feedback partition."})
	d.Outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peakend", Name: "desk_outcomes_total",
		Help: "Outcomes recorded on cases, by the detector of the alert named and the outcome; counted by the instance owning the feedback partition."},
		[]string{"detector", "outcome"})
	d.Feedback = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peakend", Name: "feedback_total",
		Help: "Outcomes from the feedback topic, by detector, severity and outcome; counted once, by the instance owning the feedback partition."},
		[]string{"detector", "severity", "outcome"})
	buckets := []float64{10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 3 * 24 * 3600}
	d.ClaimSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "peakend", Name: "desk_claim_seconds",
		Help: "Time from an alert's detection to the first claim of its case.", Buckets: buckets})
	d.OutcomeSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "peakend", Name: "desk_outcome_seconds",
		Help: "Time from an alert's detection to its case's outcome.", Buckets: buckets})
	d.Rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peakend", Name: "desk_feedback_rejected_total",
		Help: "Feedback events sent to the DLQ, by reason (malformed, unknown_alert, wrong_customer); counted by the instance owning the feedback partition."},
		[]string{"reason"})
	d.Streams = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "peakend", Name: "desk_event_streams",
		Help: "Open desk event streams (/api/events)."})
	for _, c := range []prometheus.Collector{d.OpenAlerts, d.OpenCases, d.Claims, d.Outcomes, d.Feedback, d.ClaimSeconds,
		d.OutcomeSeconds, d.Rejected, d.Streams} {
		m.Registry.MustRegister(c)
	}
	for _, s := range []string{"minor", "major", "critical"} {
		d.OpenAlerts.WithLabelValues(s)
	}
	for _, r := range []string{"malformed", "unknown_alert", "wrong_customer"} {
		d.Rejected.WithLabelValues(r)
	}
	for _, det := range detectors {
		for _, o := range []string{"recovered", "declined", "unreachable", "false_alarm"} {
			d.Outcomes.WithLabelValues(det, o)
		}
	}
	return d
}
