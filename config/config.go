// Package config defines peakend's YAML configuration (docs/configuration.md),
// its documented defaults, and validation errors that name file, line and field.
package config

import "time"

// Config is the whole configuration file. The zero value plus Default()
// is a valid configuration for the demo.
type Config struct {
	Kafka     Kafka      `yaml:"kafka"`
	State     State      `yaml:"state"`
	HTTP      HTTP       `yaml:"http"`
	Events    Events     `yaml:"events"`
	Journeys  []string   `yaml:"journeys"`  // optional allow-list; empty = any journey
	Detectors []Detector `yaml:"detectors"` // at least one
	Alerting  Alerting   `yaml:"alerting"`
	Desk      Desk       `yaml:"desk"` // the recovery desk at / (docs/desk.md)
	// Hotspots are the causes looked for across customers (docs/hotspots.md):
	// one carrier in one region failing many customers at once. Default
	// none. `peakend run` and `peakend replay` evaluate them alike; live,
	// through the internal topic peakend-<group>-hotspots.
	Hotspots []Hotspot `yaml:"hotspots"`

	// File is the path the configuration was loaded from ("" if built in code).
	File string `yaml:"-"`
}

// Kafka is the connection and topic configuration.
type Kafka struct {
	Brokers     []string `yaml:"brokers"`      // default [localhost:9092]; overridden by --brokers or PEAKEND_BROKERS
	Group       string   `yaml:"group"`        // consumer group, default "peakend"
	ClientID    string   `yaml:"client_id"`    // default "peakend"
	Topics      Topics   `yaml:"topics"`       // see Topics
	ExactlyOnce bool     `yaml:"exactly_once"` // one Kafka transaction per cycle: alerts, DLQ, changelog, offsets; default false
	Partitions  int      `yaml:"partitions"`   // partitions for topics peakend creates; default 4
	Replication int      `yaml:"replication"`  // replication factor for topics peakend creates; default -1 (broker default)
	// SessionTimeout is the consumer group session: how long the group waits
	// for a member that stopped heartbeating (a crash) before it gives its
	// partitions to others, or back to the restarted instance. Default 45s;
	// 6s..30m.
	SessionTimeout Duration `yaml:"session_timeout"`
	// StartupWait is how long `peakend run` waits for brokers it cannot
	// reach at startup (a pod beside a Kafka still starting), alive but not
	// ready, retrying with backoff, before it gives up with exit status 1.
	// Default 2m. Wrong credentials or an untrusted certificate end it at
	// once.
	StartupWait Duration `yaml:"startup_wait"`
	TLS         TLS      `yaml:"tls"`  // see TLS (config/kafka_conn.go); default off
	SASL        SASL     `yaml:"sasl"` // see SASL; default off
}

// Topics names the topics peakend reads and writes.
type Topics struct {
	Experiences string `yaml:"experiences"` // default "experiences"
	Complaints  string `yaml:"complaints"`  // default "complaints"; "-" disables
	Feedback    string `yaml:"feedback"`    // default "peakend-feedback"
	Alerts      string `yaml:"alerts"`      // default "peakend-alerts"
	DLQ         string `yaml:"dlq"`         // default "peakend-dlq"
}

// State configures the Pebble store.
type State struct {
	Dir       string   `yaml:"dir"`       // default "./peakend-data"
	Retention Duration `yaml:"retention"` // forget customers idle this long; default 2160h (90 days)
	Window    int      `yaml:"window"`    // experiences kept per customer; default 50, 1..1000
	// CacheMiB is Pebble's block cache, which also holds its memtables
	// (Pebble reserves them from it); default 64.
	CacheMiB    int `yaml:"cache_mib"`
	MemtableMiB int `yaml:"memtable_mib"` // Pebble memtable size; default 8; cache_mib must be at least 4× this + 16
	// HeaderCacheMiB is the memory for customer headers kept in RAM (about
	// 100 bytes per customer): size it for the active customers. Default
	// 128; -1 disables it.
	HeaderCacheMiB int `yaml:"header_cache_mib"`
	// JourneyCacheMiB is the memory for the journeys of overdue and deadline
	// detectors kept in RAM (about 80 bytes per journey, most of them open
	// orders): while every stored journey fits, an event of a journey reads
	// no state. Size it for the orders open at once (about 200 MiB per
	// million). Default 128; -1 disables it.
	JourneyCacheMiB int `yaml:"journey_cache_mib"`
}

// HTTP configures the HTTP server.
type HTTP struct {
	Listen    string  `yaml:"listen"`     // default ":8080"; "-" disables
	PublicURL string  `yaml:"public_url"` // base URL for links in alerts (recovery desk); default "http://localhost:8080"
	TLS       HTTPTLS `yaml:"tls"`        // serve HTTPS; default off (plain HTTP)
}

// HTTPTLS makes the HTTP server serve HTTPS. Both files or neither.
type HTTPTLS struct {
	CertFile string `yaml:"cert_file"` // PEM certificate chain
	KeyFile  string `yaml:"key_file"`  // PEM private key
}

// Desk configures the recovery desk: the page at / where frontline staff
// claim customers, take the pre-authorised action and record outcomes. Every
// customer-data path (/, /customers/{id}, /api/...) needs a signed-in user:
// from Accounts, or named by a trusted reverse proxy (Proxy).
type Desk struct {
	// Enabled serves the desk at /. Default true when Accounts or Proxy is
	// configured, else false. With neither Accounts nor Proxy, nobody can
	// sign in and every customer-data path answers 401 (docs/desk-access.md);
	// `peakend validate` refuses enabled: true without them.
	Enabled *bool `yaml:"enabled"`
	// ClaimTTL is how long a claim holds without an outcome; it lapses at
	// the claim record's timestamp + this. Default 30m.
	ClaimTTL Duration `yaml:"claim_ttl"`
	// Keep is how long a closed case stays in the desk's view (and the
	// least retention peakend gives the alerts and feedback topics it
	// creates). Default 720h (30 days).
	Keep Duration `yaml:"keep"`
	// Accounts sign in with a password (bcrypt hash from `peakend
	// hash-password`).
	Accounts []Account `yaml:"accounts"`
	// Proxy trusts a reverse proxy (oauth2-proxy and the like) to name the
	// user in a header.
	Proxy Proxy `yaml:"proxy"`
	// SessionKeyEnv names the environment variable holding the key that
	// signs session cookies (at least 32 bytes; every instance behind one
	// load balancer needs the same). Default "PEAKEND_SESSION_KEY"; if the
	// variable is unset, a random key is made at start (sessions then end
	// with the process and do not carry across instances).
	SessionKeyEnv string `yaml:"session_key_env"`
	// SessionTTL is how long a sign-in lasts. Default 12h.
	SessionTTL Duration `yaml:"session_ttl"`
}

// Account is one desk user who signs in with a password.
type Account struct {
	User         string `yaml:"user"`          // sign-in name, shown on claims and feedback ("by")
	PasswordHash string `yaml:"password_hash"` // bcrypt hash (peakend hash-password); never the password itself
	Role         string `yaml:"role"`          // agent (default) or supervisor (may approve actions)
}

// Proxy configures sign-in by a trusted reverse proxy.
type Proxy struct {
	Header string `yaml:"header"` // the header naming the user, e.g. X-Forwarded-User; "" = off
	// Trusted lists the proxy addresses (CIDRs or single IPs) whose header
	// is believed; a request from anywhere else is treated as signed out.
	Trusted []string `yaml:"trusted"`
	// RoleHeader, if set, names a header carrying the user's role (agent or
	// supervisor); otherwise Supervisors decides and everyone else is an agent.
	RoleHeader  string   `yaml:"role_header"`
	Supervisors []string `yaml:"supervisors"` // users who are supervisors when role_header is not set
}

// Desk roles.
const (
	RoleAgent      = "agent"
	RoleSupervisor = "supervisor"
)

// DeskOn reports whether the desk (and every customer-data path) is served.
func (d *Desk) DeskOn() bool {
	if d.Enabled != nil {
		return *d.Enabled
	}
	return len(d.Accounts) > 0 || d.Proxy.Header != ""
}

// Events configures input handling.
type Events struct {
	MaxBytes        int      `yaml:"max_bytes"`        // per record; default 65536
	AllowedLateness Duration `yaml:"allowed_lateness"` // watermark = max event time - this; default 1h
	IdleTimeout     Duration `yaml:"idle_timeout"`     // an idle partition's watermark advances with processing time after this; default 1m
}

// Detector is one configured detector. Which fields apply depends on Type;
// Validate rejects fields that do not apply to the type.
type Detector struct {
	Name    string   `yaml:"name"`    // unique; appears in alerts and metrics
	Type    string   `yaml:"type"`    // threshold, rarity, baseline, repeat, overdue, deadline
	Journey string   `yaml:"journey"` // restrict to one journey; "" = all (required for rarity, baseline, overdue, deadline)
	Metric  string   `yaml:"metric"`  // threshold (metric form), rarity, baseline
	Outcome []string `yaml:"outcome"` // threshold (outcome form), repeat: the bad outcomes

	// Cut-offs. threshold: metric values; rarity/overdue: quantiles in (0,1);
	// repeat: counts. At least one is required; they must increase.
	Minor    *float64 `yaml:"minor"`
	Major    *float64 `yaml:"major"`    // the major cut-off; see Minor
	Critical *float64 `yaml:"critical"` // the critical cut-off; see Minor
	// Severity for detectors with one level (outcome thresholds, deadline); default minor
	// for outcome thresholds, major for deadline.
	Severity string `yaml:"severity"`

	Over       Duration `yaml:"over"`        // rarity, overdue: sliding population window; default 168h (rarity), 720h (overdue)
	MinSamples int      `yaml:"min_samples"` // rarity, overdue: population size before firing; default 500 (rarity), 200 (overdue)

	Factor     float64 `yaml:"factor"`      // baseline: multiple of the customer's usual; default 3
	MinHistory int     `yaml:"min_history"` // baseline: experiences before firing; default 3
	Floor      float64 `yaml:"floor"`       // baseline: never fire at or below this value; default 0

	Within Duration `yaml:"within"` // repeat: window for counting; default 24h

	Start             *Match   `yaml:"start"`              // overdue, deadline
	Until             *Match   `yaml:"until"`              // overdue, deadline
	KeyAttribute      string   `yaml:"key_attribute"`      // overdue, deadline: attribute pairing start and until; default "order_id"
	DeadlineAttribute string   `yaml:"deadline_attribute"` // deadline: RFC 3339 attribute with the promise
	After             Duration `yaml:"after"`              // deadline: fixed deadline after start (if no attribute)
	Grace             Duration `yaml:"grace"`              // deadline: slack past the deadline; default 0
}

// Hotspot is one hotspot rule (docs/hotspots.md): per combination of the
// By attributes' values on the journey, the rate of bad experiences in a
// sliding event-time window (steps of window/6) against that combination's
// usual rate.
type Hotspot struct {
	Name    string   `yaml:"name"`    // unique among hotspots and detectors; [a-z0-9_]+; in alerts and keys
	Journey string   `yaml:"journey"` // the journey whose experiences are counted; required
	By      []string `yaml:"by"`      // attributes; a hotspot is one combination of their values; required, e.g. [carrier, region]
	// Bad says which experiences are bad: those a listed detector found bad
	// (whether or not it alerted), or those with a listed outcome. Exactly
	// one of the two.
	Bad       HotspotBad `yaml:"bad"`
	Window    Duration   `yaml:"window"`     // event time compared with the usual; must divide into 6 whole steps (of at least 1s); default 6h
	Baseline  Duration   `yaml:"baseline"`   // history before the window the usual rate comes from; at least window; default 168h (7 days)
	MinEvents int        `yaml:"min_events"` // experiences in the window, for this combination, before it can open; default 30
	Factor    float64    `yaml:"factor"`     // opens at this many times the usual rate (critical at twice it); must be greater than 1; default 3
	MinRate   float64    `yaml:"min_rate"`   // ...and at least this rate of bad experiences, in (0,1]; default 0.10
	Severity  string     `yaml:"severity"`   // of the alert at opening: minor, major or critical; default major
}

// HotspotBad says what makes an experience bad for a hotspot rule.
type HotspotBad struct {
	Detectors []string `yaml:"detectors"` // names of configured detectors (their findings, alerted or not)
	Outcome   []string `yaml:"outcome"`   // bad outcomes, e.g. [failed, lost]
}

// Match selects events for start/until conditions.
type Match struct {
	Outcome string `yaml:"outcome"` // the event's outcome, e.g. shipped or delivered; required
}

// Alerting configures alert policy, playbook and sinks.
type Alerting struct {
	Cooldown   Duration `yaml:"cooldown"`     // one alert per customer per cooldown unless severity rises; default 72h
	Lookback   Duration `yaml:"lookback"`     // how far back complained_before and recovered_before look, and the complaint evaluation; default 720h
	MaxPerHour int      `yaml:"max_per_hour"` // frontline capacity per rolling hour; beyond it only critical alerts reach the frontline sinks; default 0 = unlimited
	// MaxBacklog bounds each frontline sink's undelivered alerts in the
	// outbox; above it, new alerts reach the Kafka topic only (counted and
	// logged). Default 100000.
	MaxBacklog int `yaml:"max_backlog"`
	// PeakHalfLife is how fast the memory of a customer's worst experience
	// fades in the peak-end score (customer.perceived) and in escalation:
	// after this long it counts half. Default 336h (14 days).
	PeakHalfLife Duration `yaml:"peak_half_life"`
	Playbook     Playbook `yaml:"playbook"`
	Sinks        []Sink   `yaml:"sinks"` // default [{type: kafka}]
}

// Playbook maps severities to recovery actions staff may take at once. A
// severity left out entirely gets the built-in action and budget
// (DefaultPlaybook); an entry given in part is taken as written.
type Playbook struct {
	Minor    Recovery `yaml:"minor"`    // for minor alerts
	Major    Recovery `yaml:"major"`    // for major alerts
	Critical Recovery `yaml:"critical"` // for critical alerts
}

// Recovery is one playbook entry; it is copied into every alert of that severity.
type Recovery struct {
	Action           string  `yaml:"action"   json:"action"`                     // what staff may do at once, in words; default: the built-in playbook's (alerting.playbook)
	Budget           float64 `yaml:"budget"   json:"budget"`                     // what they may spend on it, in currency; default: the built-in playbook's (alerting.playbook)
	Currency         string  `yaml:"currency" json:"currency"`                   // default "EUR"
	RequiresApproval bool    `yaml:"requires_approval" json:"requires_approval"` // default false
}

// Sink is one alert channel.
type Sink struct {
	Type        string   `yaml:"type"`         // kafka, stdout, webhook, slack, alertmanager, pagerduty
	Name        string   `yaml:"name"`         // default: the type (must be unique)
	URL         string   `yaml:"url"`          // webhook, slack, alertmanager, pagerduty (default events API)
	URLEnv      string   `yaml:"url_env"`      // read the URL from this environment variable instead
	SecretEnv   string   `yaml:"secret_env"`   // webhook: whsec_ secret; pagerduty: routing key
	MinSeverity string   `yaml:"min_severity"` // default minor (pagerduty: critical)
	Journeys    []string `yaml:"journeys"`     // only these journeys; empty = all
	Tiers       []string `yaml:"tiers"`        // only these customer tiers; empty = all
	Timeout     Duration `yaml:"timeout"`      // per request; default 10s
	Concurrency int      `yaml:"concurrency"`  // in-flight deliveries; default 4
	// slack: customer alerts of one hotspot (with a hotspot_id) go out as
	// one message per hotspot at most this often; default 10m, 0 = one by one
	GroupFor *Duration `yaml:"group_for"`
}

// Duration is a time.Duration that reads "90s", "72h" and also "7d" in YAML.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
