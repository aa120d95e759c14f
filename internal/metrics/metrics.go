// Package metrics defines peakend's Prometheus metrics (docs/reference.md, "Metrics")
// on a private registry. No label ever holds a customer id.
package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Results of peakend_events_total.
const (
	Processed = "processed"
	Invalid   = "invalid"
	Duplicate = "duplicate"
	Late      = "late"
)

// Metrics holds every metric peakend exports. A nil *Metrics is valid and
// records nothing (replay uses that).
type Metrics struct {
	Registry *prometheus.Registry

	Events           *prometheus.CounterVec // journey, result
	Alerts           *prometheus.CounterVec // detector, severity
	AlertsSuppressed *prometheus.CounterVec // detector
	Deliveries       *prometheus.CounterVec // sink, result
	OutboxBacklog    *prometheus.GaugeVec   // sink
	OutboxOldest     *prometheus.GaugeVec   // sink
	EventLag         prometheus.Histogram
	DetectLatency    prometheus.Histogram
	ConsumerLag      *prometheus.GaugeVec // topic, partition
	Customers        prometheus.Gauge
	Complaints       prometheus.Counter
	FlaggedBefore    prometheus.Counter
	ComplaintLead    prometheus.Histogram   // first alert within the lookback → complaint
	FeedbackRead     *prometheus.CounterVec // result: recovered, unknown, other, malformed (the engine's reading of the feedback topic)
	HotspotPartials  *prometheus.CounterVec // result: counted, repeated (the owners' reading of the hotspots topic)
	Ready            prometheus.Gauge
	Partitions       prometheus.Gauge
	CycleSeconds     prometheus.Histogram
	Restored         prometheus.Counter
	RestoreSkipped   prometheus.Counter
	Restoring        prometheus.Gauge
	RestoreSeconds   prometheus.Histogram
	Transactions     *prometheus.CounterVec // result

	OverCapacity     *prometheus.CounterVec // severity
	HeaderCache      *prometheus.CounterVec // result: hit, miss
	HeaderCacheBytes prometheus.Gauge
	CustomersExpired prometheus.Counter

	DeskSessions       prometheus.GaugeFunc   // reads the function given to SetDeskSessions
	DeskSignInFailures *prometheus.CounterVec // reason: password, rate_limited, token

	deskSessions atomic.Pointer[func() float64]
}

// SetDeskSessions makes peakend_desk_sessions read f at every scrape
// (package auth counts its live sessions).
func (m *Metrics) SetDeskSessions(f func() float64) {
	if m != nil {
		m.deskSessions.Store(&f)
	}
}

// New creates the metrics and registers them, with Go and process collectors,
// on a new private registry. journeys and detectors pre-create series so
// they exist at zero before the first event.
func New(journeys []string, detectors []string) *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{Registry: reg}
	m.Events = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peakend", Name: "events_total",
		Help: "Input records by journey and result (processed, invalid, duplicate, late). Journeys outside the configured ones count as \"other\"."},
		[]string{"journey", "result"})
	m.Alerts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peakend", Name: "alerts_total",
		Help: "Alerts emitted by detector and severity."}, []string{"detector", "severity"})
	m.AlertsSuppressed = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peakend", Name: "alerts_suppressed_total",
		Help: "Findings not alerted because the customer was in cooldown, by detector."}, []string{"detector"})
	m.Deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peakend", Name: "alert_deliveries_total",
		Help: "Alert delivery attempts by sink and result (delivered; retried, rejected or dropped_backlog_full for outbox sinks; failed for stdout)."}, []string{"sink", "result"})
	m.OutboxBacklog = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "peakend", Name: "outbox_backlog",
		Help: "Alerts waiting in the durable outbox, by sink."}, []string{"sink"})
	m.OutboxOldest = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "peakend", Name: "outbox_oldest_age_seconds",
		Help: "Age of the oldest undelivered alert, by sink."}, []string{"sink"})
	m.EventLag = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "peakend", Name: "event_lag_seconds",
		Help:    "Time from an experience's event time to its processing.",
		Buckets: []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600}})
	m.DetectLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "peakend", Name: "detect_latency_seconds",
		Help:    "Time from a record's fetch to its alert being produced.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)})
	m.ConsumerLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "peakend", Name: "consumer_lag_records",
		Help: "Records waiting in an assigned input partition: its last stable offset minus the next offset to process, a trailing transaction marker not counted; 0 when caught up, measured every 10 s."}, []string{"topic", "partition"})
	m.Customers = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "peakend", Name: "state_customers",
		Help: "Customers held in state, over the partitions this instance owns."})
	m.Complaints = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "peakend", Name: "complaints_total",
		Help: "Complaints received."})
	m.FlaggedBefore = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "peakend", Name: "complaints_flagged_before_total",
		Help: "Complaints from customers peakend had alerted on within the lookback before they complained."})
	m.ComplaintLead = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "peakend", Name: "complaint_lead_seconds",
		Help: "For a complaint from a customer peakend had flagged within the lookback: the time from the first of those alerts to the complaint (event times).",
		Buckets: []float64{60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 2 * 24 * 3600, 4 * 24 * 3600,
			7 * 24 * 3600, 14 * 24 * 3600, 30 * 24 * 3600}})
	m.FeedbackRead = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peakend", Name: "engine_feedback_records_total",
		Help: "Feedback records the engine read for recovered_before, by result: recovered (marked the customer), unknown (names an alert the customer's state does not hold, or not yet: not applied), other (another action or outcome, ignored), malformed (skipped; the desk sends it to the DLQ)."},
		[]string{"result"})
	m.HotspotPartials = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peakend", Name: "hotspot_partials_total",
		Help: "Partial hotspot counts read from the hotspots topic by the partitions that own them, by result: counted, repeated (a cycle done again after a crash: its counts replace the first ones, or are dropped if older)."},
		[]string{"result"})
	m.Ready = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "peakend", Name: "ready",
		Help: "1 when state is restored and partitions are assigned."})
	m.Partitions = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "peakend", Name: "partitions_owned",
		Help: "Input partitions this instance owns."})
	m.CycleSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "peakend", Name: "cycle_seconds",
		Help:    "Duration of one poll-process-produce-commit cycle.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)})
	m.Restored = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "peakend", Name: "restore_records_total",
		Help: "State records restored from the changelog."})
	m.CustomersExpired = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "peakend", Name: "customers_expired_total",
		Help: "Customers removed from state (with their window, journeys and timers) after being idle longer than state.retention."})
	m.RestoreSkipped = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "peakend", Name: "restore_skipped_total",
		Help: "Changelog records skipped during restore because they could not be restored (logged with their offset)."})
	m.Restoring = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "peakend", Name: "restoring_partitions",
		Help: "Assigned partitions whose state is being restored from the changelog; not ready while above 0."})
	m.RestoreSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "peakend", Name: "restore_seconds",
		Help:    "Duration of one partition's restore from the changelog.",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)})
	m.Transactions = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peakend", Name: "transactions_total",
		Help: "Kafka transactions ended (exactly_once), by result (committed, aborted, fenced: aborted by the broker under the instance, which then starts a new group session)."}, []string{"result"})
	for _, c := range []prometheus.Collector{m.CustomersExpired, m.Events, m.Alerts, m.AlertsSuppressed, m.Deliveries, m.OutboxBacklog,
		m.OutboxOldest, m.EventLag, m.DetectLatency, m.ConsumerLag, m.Customers, m.Complaints, m.FlaggedBefore,
		m.Ready, m.Partitions, m.CycleSeconds, m.Restored, m.RestoreSkipped, m.Restoring, m.RestoreSeconds,
		m.Transactions, m.ComplaintLead, m.FeedbackRead, m.HotspotPartials} {
		f(c)
	}
	for _, r := range []string{"recovered", "unknown", "other", "malformed"} {
		m.FeedbackRead.WithLabelValues(r)
	}
	for _, r := range []string{"counted", "repeated"} {
		m.HotspotPartials.WithLabelValues(r)
	}
	m.HeaderCache = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peakend", Name: "header_cache_lookups_total",
		Help: "Customer header lookups in the in-memory header cache by result (hit; miss: read from Pebble)."}, []string{"result"})
	m.HeaderCacheBytes = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "peakend", Name: "header_cache_bytes",
		Help: "Memory held by the header caches (state.header_cache_mib is the bound)."})
	m.OverCapacity = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peakend", Name: "alerts_over_capacity_total",
		Help: "Alerts kept from the frontline sinks (Kafka topic only) because alerting.max_per_hour was reached, by severity."},
		[]string{"severity"})
	f(m.OverCapacity)
	m.OverCapacity.WithLabelValues("minor")
	m.OverCapacity.WithLabelValues("major")
	f(m.HeaderCache)
	f(m.HeaderCacheBytes)
	m.HeaderCache.WithLabelValues("hit")
	m.HeaderCache.WithLabelValues("miss")
	m.DeskSessions = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "peakend", Name: "desk_sessions",
		Help: "Desk sessions live on this instance: password sign-ins not yet expired or signed out, and proxy users seen within desk.session_ttl."},
		func() float64 {
			if f := m.deskSessions.Load(); f != nil {
				return (*f)()
			}
			return 0
		})
	m.DeskSignInFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "peakend", Name: "desk_signin_failures_total",
		Help: "Refused desk sign-ins by reason: password (wrong user or password), rate_limited (too many failures), token (expired form or cross-site)."},
		[]string{"reason"})
	f(m.DeskSessions)
	f(m.DeskSignInFailures)
	for _, r := range []string{"password", "rate_limited", "token"} {
		m.DeskSignInFailures.WithLabelValues(r)
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "peakend"}))
	for _, j := range append(append([]string(nil), journeys...), "other") {
		for _, r := range []string{Processed, Invalid, Duplicate, Late} {
			m.Events.WithLabelValues(j, r)
		}
	}
	for _, r := range []string{"committed", "aborted", "fenced"} {
		m.Transactions.WithLabelValues(r)
	}
	for _, d := range detectors {
		for _, s := range []string{"minor", "major", "critical"} {
			m.Alerts.WithLabelValues(d, s)
		}
		m.AlertsSuppressed.WithLabelValues(d)
	}
	return m
}

// Register adds an extra collector (the Pebble collector, for one).
func (m *Metrics) Register(c prometheus.Collector) {
	if m != nil {
		m.Registry.MustRegister(c)
	}
}
