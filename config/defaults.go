package config

import "time"

// Detector types.
const (
	TypeThreshold = "threshold"
	TypeRarity    = "rarity"
	TypeBaseline  = "baseline"
	TypeRepeat    = "repeat"
	TypeOverdue   = "overdue"
	TypeDeadline  = "deadline"
)

// Sink types.
const (
	SinkKafka        = "kafka"
	SinkStdout       = "stdout"
	SinkWebhook      = "webhook"
	SinkSlack        = "slack"
	SinkAlertmanager = "alertmanager"
	SinkPagerDuty    = "pagerduty"
)

// Severity names, in increasing order.
const (
	SeverityMinor    = "minor"
	SeverityMajor    = "major"
	SeverityCritical = "critical"
)

// PagerDutyURL is the default URL of pagerduty sinks (Events API v2).
const PagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// Disabled, as kafka.topics.complaints or http.listen, turns that off.
const Disabled = "-"

// ApplyDefaults fills every field left at its zero value with its documented
// default. It is idempotent, and leaves invalid values for Validate to report.
func (c *Config) ApplyDefaults() {
	k := &c.Kafka
	if len(k.Brokers) == 0 {
		k.Brokers = []string{"localhost:9092"}
	}
	setString(&k.Group, "peakend")
	setString(&k.ClientID, "peakend")
	setString(&k.Topics.Experiences, "experiences")
	setString(&k.Topics.Complaints, "complaints")
	setString(&k.Topics.Feedback, "peakend-feedback")
	setString(&k.Topics.Alerts, "peakend-alerts")
	setString(&k.Topics.DLQ, "peakend-dlq")
	setInt(&k.Partitions, 4)
	setInt(&k.Replication, -1)
	k.applyConnDefaults()

	s := &c.State
	setString(&s.Dir, "./peakend-data")
	setDuration(&s.Retention, 2160*time.Hour)
	setInt(&s.Window, 50)
	setInt(&s.CacheMiB, 64)
	setInt(&s.HeaderCacheMiB, 128)
	setInt(&s.JourneyCacheMiB, 128)
	setInt(&s.MemtableMiB, 8)

	setString(&c.HTTP.Listen, ":8080")
	setString(&c.HTTP.PublicURL, "http://localhost:8080")

	e := &c.Events
	setInt(&e.MaxBytes, 64<<10)
	setDuration(&e.AllowedLateness, time.Hour)
	setDuration(&e.IdleTimeout, time.Minute)

	for i := range c.Detectors {
		c.Detectors[i].applyDefaults()
	}

	a := &c.Alerting
	setDuration(&a.Cooldown, 72*time.Hour)
	setInt(&a.MaxBacklog, 100_000)
	setDuration(&a.Lookback, 720*time.Hour)
	setDuration(&a.PeakHalfLife, 336*time.Hour)
	// A playbook entry left out entirely gets the built-in example action,
	// so every alert carries something staff may do at once. An entry with
	// only some fields set is the user's, and Validate checks it.
	for i, r := range []*Recovery{&a.Playbook.Minor, &a.Playbook.Major, &a.Playbook.Critical} {
		if *r == (Recovery{}) {
			*r = DefaultPlaybook[i]
		}
		setString(&r.Currency, "EUR")
	}
	if len(a.Sinks) == 0 {
		a.Sinks = []Sink{{Type: SinkKafka}}
	}
	for i := range a.Sinks {
		a.Sinks[i].applyDefaults()
	}

	for i := range c.Hotspots {
		c.Hotspots[i].applyDefaults()
	}

	d := &c.Desk
	setDuration(&d.ClaimTTL, 30*time.Minute)
	setDuration(&d.Keep, 720*time.Hour)
	setDuration(&d.SessionTTL, 12*time.Hour)
	setString(&d.SessionKeyEnv, "PEAKEND_SESSION_KEY")
	for i := range d.Accounts {
		setString(&d.Accounts[i].Role, RoleAgent)
	}
}

// DefaultPlaybook is the playbook of the documented example, minor to
// critical: used for any severity the configuration leaves out.
var DefaultPlaybook = [3]Recovery{
	{Action: "Personal apology and a 10% voucher", Budget: 5, Currency: "EUR"},
	{Action: "Call the customer; refund shipping", Budget: 25, Currency: "EUR"},
	{Action: "Call today; full refund if wanted", Budget: 150, Currency: "EUR"},
}

// applyDefaults fills the defaults of the detector's type; fields that do
// not apply to the type stay as they are, for Validate to report.
func (d *Detector) applyDefaults() {
	switch d.Type {
	case TypeThreshold:
		if len(d.Outcome) > 0 && d.Metric == "" {
			setString(&d.Severity, SeverityMinor)
		}
	case TypeRarity:
		setDuration(&d.Over, 168*time.Hour)
		setInt(&d.MinSamples, 500)
	case TypeBaseline:
		if d.Factor == 0 {
			d.Factor = 3
		}
		setInt(&d.MinHistory, 3)
	case TypeRepeat:
		setDuration(&d.Within, 24*time.Hour)
	case TypeOverdue:
		setDuration(&d.Over, 720*time.Hour)
		setInt(&d.MinSamples, 200)
		setString(&d.KeyAttribute, "order_id")
	case TypeDeadline:
		setString(&d.Severity, SeverityMajor)
		setString(&d.KeyAttribute, "order_id")
	}
}

// Hotspot defaults (docs/hotspots.md).
const (
	DefaultHotspotWindow    = 6 * time.Hour
	DefaultHotspotBaseline  = 168 * time.Hour
	DefaultHotspotMinEvents = 30
	DefaultHotspotFactor    = 3
	DefaultHotspotMinRate   = 0.10
)

func (h *Hotspot) applyDefaults() {
	setDuration(&h.Window, DefaultHotspotWindow)
	setDuration(&h.Baseline, DefaultHotspotBaseline)
	setInt(&h.MinEvents, DefaultHotspotMinEvents)
	if h.Factor == 0 {
		h.Factor = DefaultHotspotFactor
	}
	if h.MinRate == 0 {
		h.MinRate = DefaultHotspotMinRate
	}
	setString(&h.Severity, SeverityMajor)
}

func (s *Sink) applyDefaults() {
	setString(&s.Name, s.Type)
	setDuration(&s.Timeout, 10*time.Second)
	setInt(&s.Concurrency, 4)
	if s.Type == SinkSlack && s.GroupFor == nil {
		d := Duration(10 * time.Minute)
		s.GroupFor = &d
	}
	if s.Type == SinkPagerDuty {
		setString(&s.MinSeverity, SeverityCritical)
		if s.URLEnv == "" {
			setString(&s.URL, PagerDutyURL)
		}
	}
	setString(&s.MinSeverity, SeverityMinor)
}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func setDuration(p *Duration, v time.Duration) {
	if *p == 0 {
		*p = Duration(v)
	}
}

// Default is the built-in configuration of `peakend demo`: the detectors of
// the documented example (docs/configuration.md), with rarity and overdue needing only 200
// samples so that the demo fires within seconds, alerts to Kafka and standard
// output, and every default applied.
func Default() *Config {
	c := &Config{
		Kafka:    Kafka{ExactlyOnce: true},
		State:    State{Window: 50},
		Journeys: []string{"delivery", "support_call", "checkout", "playback"},
		Detectors: []Detector{
			{Name: "late_delivery", Type: TypeThreshold, Journey: "delivery", Metric: "delay_hours",
				Minor: ptr(24), Major: ptr(72), Critical: ptr(168)},
			{Name: "failed_checkout", Type: TypeThreshold, Journey: "checkout", Outcome: []string{"failed"}},
			{Name: "rare_wait", Type: TypeRarity, Journey: "support_call", Metric: "wait_seconds",
				Minor: ptr(0.99), Major: ptr(0.999), Critical: ptr(0.9999),
				Over: Duration(168 * time.Hour), MinSamples: 200},
			{Name: "worse_than_usual", Type: TypeBaseline, Journey: "delivery", Metric: "delay_hours",
				Factor: 3, MinHistory: 3, Floor: 12},
			{Name: "repeated_failures", Type: TypeRepeat, Outcome: []string{"failed", "dropped"},
				Minor: ptr(2), Major: ptr(3), Critical: ptr(5), Within: Duration(24 * time.Hour)},
			{Name: "running_late", Type: TypeOverdue, Journey: "delivery",
				Start: &Match{Outcome: "shipped"}, Until: &Match{Outcome: "delivered"},
				Minor: ptr(0.99), Major: ptr(0.999), Over: Duration(720 * time.Hour), MinSamples: 200},
			{Name: "broken_promise", Type: TypeDeadline, Journey: "delivery",
				Start: &Match{Outcome: "promised"}, DeadlineAttribute: "promised_by", Grace: Duration(2 * time.Hour),
				Until: &Match{Outcome: "delivered"}, Severity: SeverityMajor},
		},
		Alerting: Alerting{
			Cooldown: Duration(72 * time.Hour),
			Lookback: Duration(720 * time.Hour),
			Playbook: Playbook{
				Minor:    Recovery{Action: "Personal apology and a 10% voucher", Budget: 5, Currency: "EUR"},
				Major:    Recovery{Action: "Call the customer; refund shipping", Budget: 25, Currency: "EUR"},
				Critical: Recovery{Action: "Call today; full refund if wanted", Budget: 150, Currency: "EUR"},
			},
			Sinks: []Sink{{Type: SinkKafka}, {Type: SinkStdout}},
		},
	}
	c.ApplyDefaults()
	return c
}

func ptr(v float64) *float64 { return &v }
