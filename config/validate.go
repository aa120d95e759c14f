package config

import (
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks the configuration as it is (call ApplyDefaults first for a
// configuration built in code; Load and Parse do both). Every problem is
// reported, each as an *Error naming the field: nil if there are none, the
// *Error if there is one, Errors if there are several. Environment variables
// named by url_env and secret_env must be set (read with os.Getenv).
func (c *Config) Validate() error {
	return c.validate(os.Getenv)
}

func (c *Config) validate(getenv func(string) string) error {
	v := &validator{getenv: getenv}
	v.config(c)
	v.errs.nameAll(c)
	return v.errs.err()
}

var (
	detectorTypes = []string{TypeThreshold, TypeRarity, TypeBaseline, TypeRepeat, TypeOverdue, TypeDeadline}
	sinkTypes     = []string{SinkKafka, SinkStdout, SinkWebhook, SinkSlack, SinkAlertmanager, SinkPagerDuty}
	severities    = []string{SeverityMinor, SeverityMajor, SeverityCritical}

	detectorName = regexp.MustCompile(`^[a-z0-9_]+$`)
	topicName    = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	envName      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)
)

type validator struct {
	errs   Errors
	getenv func(string) string
	// present reports whether the file sets the field at a path, so that
	// "grace: 0" on a rarity detector is reported although 0 is the zero
	// value. Nil for configurations built in code.
	present func(path string) bool
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &Error{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// isSet reports whether a field is set: non-zero, or written in the file.
func (v *validator) isSet(path string, nonZero bool) bool {
	return nonZero || (v.present != nil && v.present(path))
}

func (v *validator) config(c *Config) {
	v.kafka(&c.Kafka)
	v.state(&c.State)
	v.http(&c.HTTP)
	v.httpTLS(&c.HTTP.TLS)
	v.events(&c.Events)
	v.journeys(c.Journeys)
	v.detectors(c.Detectors, c.Journeys)
	v.alerting(&c.Alerting, c.Journeys)
	v.desk(&c.Desk)
	v.hotspots(c.Hotspots, c.Detectors, c.Journeys)
}

func (v *validator) kafka(k *Kafka) {
	if len(k.Brokers) == 0 {
		v.add("kafka.brokers", "at least one broker is required")
	}
	for i, b := range k.Brokers {
		if checkHostPort(b, true) != "" {
			v.add(fmt.Sprintf("kafka.brokers[%d]", i), "must be host:port, e.g. localhost:9092 (got %q)", b)
		}
	}
	v.nonEmpty("kafka.group", k.Group)
	v.nonEmpty("kafka.client_id", k.ClientID)

	topics := []struct{ field, name string }{
		{"experiences", k.Topics.Experiences},
		{"complaints", k.Topics.Complaints},
		{"feedback", k.Topics.Feedback},
		{"alerts", k.Topics.Alerts},
		{"dlq", k.Topics.DLQ},
	}
	used := map[string]string{} // topic -> field
	for _, t := range topics {
		field := "kafka.topics." + t.field
		if t.field == "complaints" && t.name == Disabled {
			continue
		}
		if msg := checkTopic(t.name); msg != "" {
			v.add(field, "%s", msg)
			continue
		}
		if other, dup := used[t.name]; dup {
			v.add(field, "topic %q is also %s; each topic needs its own name", t.name, other)
			continue
		}
		used[t.name] = field
	}
	if k.Partitions < 1 {
		v.add("kafka.partitions", "must be at least 1 (got %d)", k.Partitions)
	}
	if k.Replication < -1 || k.Replication == 0 {
		v.add("kafka.replication", "must be at least 1, or -1 for the broker default (got %d)", k.Replication)
	}
	v.kafkaConn(k)
}

// checkTopic returns what is wrong with a Kafka topic name, or "".
func checkTopic(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > 249:
		return fmt.Sprintf("must be at most 249 characters long (got %d)", len(name))
	case name == "." || name == "..":
		return fmt.Sprintf("%q is not a valid topic name", name)
	case !topicName.MatchString(name):
		return fmt.Sprintf("%q is not a valid topic name (use letters, digits, '.', '_' and '-')", name)
	}
	return ""
}

// checkHostPort returns what is wrong with a host:port address, or "".
// With portOptional, a bare host is fine (Kafka clients default to 9092).
func checkHostPort(addr string, portOptional bool) string {
	if addr == "" {
		return "empty"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if portOptional && !strings.ContainsAny(addr, ":/ \t") {
			return ""
		}
		return err.Error()
	}
	if portOptional && host == "" {
		return "no host"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "bad port"
	}
	return ""
}

func (v *validator) state(s *State) {
	v.nonEmpty("state.dir", s.Dir)
	v.positive("state.retention", s.Retention)
	if s.Window < 1 || s.Window > 1000 {
		v.add("state.window", "must be between 1 and 1000 (got %d)", s.Window)
	}
	if s.CacheMiB <= 0 {
		v.add("state.cache_mib", "must be positive (got %d)", s.CacheMiB)
	}
	if s.HeaderCacheMiB < -1 {
		v.add("state.header_cache_mib", "must be positive, or -1 to disable the cache (got %d)", s.HeaderCacheMiB)
	}
	if s.JourneyCacheMiB < -1 {
		v.add("state.journey_cache_mib", "must be positive, or -1 to disable the cache (got %d)", s.JourneyCacheMiB)
	}
	if s.MemtableMiB <= 0 {
		v.add("state.memtable_mib", "must be positive (got %d)", s.MemtableMiB)
	} else if s.CacheMiB > 0 && s.CacheMiB < 4*s.MemtableMiB+16 {
		// Measured: with the cache all reserved, filter and index blocks are
		// not cached and every read of a customer goes to disk (4× slower).
		v.add("state.cache_mib", "must be at least 4 × memtable_mib + 16 = %d: Pebble reserves up to four memtables "+
			"from the block cache, and filter and index blocks need the rest (got %d)", 4*s.MemtableMiB+16, s.CacheMiB)
	}
}

func (v *validator) http(h *HTTP) {
	if h.Listen != Disabled && checkHostPort(h.Listen, false) != "" {
		v.add("http.listen", `must be [host]:port, e.g. ":8080", or "-" to disable (got %q)`, h.Listen)
	}
	if !isHTTPURL(h.PublicURL) {
		v.add("http.public_url", "must be an http or https URL, e.g. http://localhost:8080 (got %q)", h.PublicURL)
	}
}

func (v *validator) events(e *Events) {
	if e.MaxBytes <= 0 {
		v.add("events.max_bytes", "must be positive (got %d)", e.MaxBytes)
	}
	v.notNegative("events.allowed_lateness", e.AllowedLateness)
	v.positive("events.idle_timeout", e.IdleTimeout)
}

func (v *validator) journeys(journeys []string) {
	seen := map[string]bool{}
	for i, j := range journeys {
		field := fmt.Sprintf("journeys[%d]", i)
		switch {
		case j == "":
			v.add(field, "must not be empty")
		case seen[j]:
			v.add(field, "%q is listed twice", j)
		}
		seen[j] = true
	}
}

// checkJourney reports a journey outside a non-empty allow-list.
func (v *validator) checkJourney(field, journey string, allowed []string) {
	if journey != "" && len(allowed) > 0 && !slices.Contains(allowed, journey) {
		v.add(field, "%q is not in journeys (%s)", journey, strings.Join(allowed, ", "))
	}
}

func (v *validator) detectors(ds []Detector, journeys []string) {
	if len(ds) == 0 {
		v.add("detectors", "at least one detector is required")
	}
	names := map[string]string{} // name -> field path of its detector
	for i := range ds {
		d := &ds[i]
		p := fmt.Sprintf("detectors[%d]", i)
		v.uniqueName(p, d.Name, names)
		v.detector(p, d, journeys)
	}
}

// detectorField is an optional detector field and the types it applies to.
type detectorField struct {
	name  string
	types []string
	set   func(d *Detector) bool
}

var detectorFields = []detectorField{
	{"metric", []string{TypeThreshold, TypeRarity, TypeBaseline}, func(d *Detector) bool { return d.Metric != "" }},
	{"outcome", []string{TypeThreshold, TypeRepeat}, func(d *Detector) bool { return len(d.Outcome) > 0 }},
	{"minor", []string{TypeThreshold, TypeRarity, TypeRepeat, TypeOverdue}, func(d *Detector) bool { return d.Minor != nil }},
	{"major", []string{TypeThreshold, TypeRarity, TypeRepeat, TypeOverdue}, func(d *Detector) bool { return d.Major != nil }},
	{"critical", []string{TypeThreshold, TypeRarity, TypeRepeat, TypeOverdue}, func(d *Detector) bool { return d.Critical != nil }},
	{"severity", []string{TypeThreshold, TypeDeadline}, func(d *Detector) bool { return d.Severity != "" }},
	{"over", []string{TypeRarity, TypeOverdue}, func(d *Detector) bool { return d.Over != 0 }},
	{"min_samples", []string{TypeRarity, TypeOverdue}, func(d *Detector) bool { return d.MinSamples != 0 }},
	{"factor", []string{TypeBaseline}, func(d *Detector) bool { return d.Factor != 0 }},
	{"min_history", []string{TypeBaseline}, func(d *Detector) bool { return d.MinHistory != 0 }},
	{"floor", []string{TypeBaseline}, func(d *Detector) bool { return d.Floor != 0 }},
	{"within", []string{TypeRepeat}, func(d *Detector) bool { return d.Within != 0 }},
	{"start", []string{TypeOverdue, TypeDeadline}, func(d *Detector) bool { return d.Start != nil }},
	{"until", []string{TypeOverdue, TypeDeadline}, func(d *Detector) bool { return d.Until != nil }},
	{"key_attribute", []string{TypeOverdue, TypeDeadline}, func(d *Detector) bool { return d.KeyAttribute != "" }},
	{"deadline_attribute", []string{TypeDeadline}, func(d *Detector) bool { return d.DeadlineAttribute != "" }},
	{"after", []string{TypeDeadline}, func(d *Detector) bool { return d.After != 0 }},
	{"grace", []string{TypeDeadline}, func(d *Detector) bool { return d.Grace != 0 }},
}

// uniqueName checks the name of the entry at field path p (a detector, a
// hotspot rule): present, of [a-z0-9_]+, and not taken in names (name →
// path of the entry that has it), where it is then recorded. It reports
// whether the name is good.
func (v *validator) uniqueName(p, name string, names map[string]string) bool {
	switch {
	case name == "":
		v.add(p+".name", "is required")
	case !detectorName.MatchString(name):
		v.add(p+".name", "must match [a-z0-9_]+ (got %q)", name)
	case names[name] != "":
		v.add(p+".name", "%q is already the name of %s", name, names[name])
	default:
		names[name] = p
		return true
	}
	return false
}

func (v *validator) detector(p string, d *Detector, journeys []string) {
	switch {
	case d.Type == "":
		v.add(p+".type", "is required (one of %s)", strings.Join(detectorTypes, ", "))
		return
	case !slices.Contains(detectorTypes, d.Type):
		v.add(p+".type", "unknown type %q (want one of %s)", d.Type, strings.Join(detectorTypes, ", "))
		return
	}
	for _, f := range detectorFields {
		if v.isSet(p+"."+f.name, f.set(d)) && !slices.Contains(f.types, d.Type) {
			v.add(p+"."+f.name, "does not apply to type %s", d.Type)
		}
	}

	if d.Journey == "" && d.Type != TypeThreshold && d.Type != TypeRepeat {
		v.add(p+".journey", "is required for type %s", d.Type)
	}
	v.checkJourney(p+".journey", d.Journey, journeys)

	switch d.Type {
	case TypeThreshold:
		v.threshold(p, d)
	case TypeRarity:
		v.required(p+".metric", d.Metric, d.Type)
		v.quantiles(p, d)
		v.population(p, d)
	case TypeBaseline:
		v.required(p+".metric", d.Metric, d.Type)
		if d.Factor <= 1 {
			v.add(p+".factor", "must be greater than 1 (got %g)", d.Factor)
		}
		if d.MinHistory < 1 {
			v.add(p+".min_history", "must be at least 1 (got %d)", d.MinHistory)
		}
		if d.Floor < 0 {
			v.add(p+".floor", "must not be negative (got %g)", d.Floor)
		}
	case TypeRepeat:
		if len(d.Outcome) == 0 {
			v.add(p+".outcome", "is required for type repeat (the bad outcomes to count)")
		}
		v.outcomes(p+".outcome", d.Outcome)
		v.counts(p, d)
		v.positive(p+".within", d.Within)
	case TypeOverdue:
		v.journeyEnds(p, d)
		v.quantiles(p, d)
		v.population(p, d)
	case TypeDeadline:
		v.journeyEnds(p, d)
		switch {
		case d.DeadlineAttribute == "" && !v.isSet(p+".after", d.After != 0):
			v.add(p, "needs deadline_attribute (an RFC 3339 attribute of the start event) or after (a fixed time after start)")
		case d.DeadlineAttribute != "" && v.isSet(p+".after", d.After != 0):
			v.add(p+".after", "set deadline_attribute or after, not both")
		case d.DeadlineAttribute == "":
			v.positive(p+".after", d.After)
		}
		v.notNegative(p+".grace", d.Grace)
		v.severity(p+".severity", d.Severity)
	}
}

func (v *validator) threshold(p string, d *Detector) {
	switch {
	case d.Metric == "" && len(d.Outcome) == 0:
		v.add(p, "needs a metric with cut-offs (minor, major, critical) or an outcome list")
	case d.Metric != "" && len(d.Outcome) > 0:
		v.add(p+".outcome", "a threshold takes a metric or an outcome list, not both")
	case d.Metric != "":
		if v.isSet(p+".severity", d.Severity != "") {
			v.add(p+".severity", "does not apply to a metric threshold (use minor, major, critical)")
		}
		v.cutoffs(p, d, nil)
	default: // outcome form
		v.outcomes(p+".outcome", d.Outcome)
		for _, c := range cutoffsOf(d) {
			v.add(p+"."+c.name, "does not apply to an outcome threshold (use severity)")
		}
		v.severity(p+".severity", d.Severity)
	}
}

func (v *validator) outcomes(field string, outcomes []string) {
	seen := map[string]bool{}
	for i, o := range outcomes {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case o == "":
			v.add(f, "must not be empty")
		case seen[o]:
			v.add(f, "%q is listed twice", o)
		}
		seen[o] = true
	}
}

type cutoff struct {
	name  string
	value float64
}

// cutoffsOf returns the detector's cut-offs that are set, in severity order.
func cutoffsOf(d *Detector) []cutoff {
	var cs []cutoff
	for _, c := range []struct {
		name string
		p    *float64
	}{{SeverityMinor, d.Minor}, {SeverityMajor, d.Major}, {SeverityCritical, d.Critical}} {
		if c.p != nil {
			cs = append(cs, cutoff{c.name, *c.p})
		}
	}
	return cs
}

// cutoffs checks that at least one cut-off is set, that each passes check
// (if not nil), and that they increase with severity.
func (v *validator) cutoffs(p string, d *Detector, check func(field string, x float64)) {
	cs := cutoffsOf(d)
	if len(cs) == 0 {
		v.add(p, "needs at least one of minor, major, critical")
	}
	var finite []cutoff
	for _, c := range cs {
		if math.IsNaN(c.value) || math.IsInf(c.value, 0) {
			v.add(p+"."+c.name, "must be a finite number (got %g)", c.value)
			continue
		}
		if check != nil {
			check(p+"."+c.name, c.value)
		}
		finite = append(finite, c)
	}
	for i := 0; i+1 < len(finite); i++ {
		c, next := finite[i], finite[i+1]
		if !(c.value < next.value) {
			v.add(p+"."+c.name, "must be less than %s (%g < %g)", next.name, c.value, next.value)
		}
	}
}

func (v *validator) quantiles(p string, d *Detector) {
	v.cutoffs(p, d, func(field string, x float64) {
		if x <= 0 || x >= 1 {
			v.add(field, "must be a quantile between 0 and 1, exclusive, e.g. 0.99 (got %g)", x)
		}
	})
}

func (v *validator) counts(p string, d *Detector) {
	v.cutoffs(p, d, func(field string, x float64) {
		if x < 2 || x != math.Trunc(x) {
			v.add(field, "must be a whole number of experiences, at least 2 (got %g)", x)
		}
	})
}

// population checks the sliding population of rarity and overdue detectors.
func (v *validator) population(p string, d *Detector) {
	v.positive(p+".over", d.Over)
	if d.MinSamples < 1 {
		v.add(p+".min_samples", "must be at least 1 (got %d)", d.MinSamples)
	}
}

// journeyEnds checks start, until and key_attribute of overdue and deadline detectors.
func (v *validator) journeyEnds(p string, d *Detector) {
	for _, m := range []struct {
		name  string
		match *Match
		eg    string
	}{{"start", d.Start, "{outcome: shipped}"}, {"until", d.Until, "{outcome: delivered}"}} {
		switch {
		case m.match == nil:
			v.add(p+"."+m.name, "is required for type %s, e.g. %s", d.Type, m.eg)
		case m.match.Outcome == "":
			v.add(p+"."+m.name+".outcome", "is required")
		}
	}
	if d.Start != nil && d.Until != nil && d.Start.Outcome != "" && d.Start.Outcome == d.Until.Outcome {
		v.add(p+".until.outcome", "must differ from start.outcome (both %q)", d.Start.Outcome)
	}
	v.nonEmpty(p+".key_attribute", d.KeyAttribute)
}

func (v *validator) alerting(a *Alerting, journeys []string) {
	v.notNegative("alerting.cooldown", a.Cooldown)
	v.notNegative("alerting.lookback", a.Lookback)
	if a.MaxBacklog < 0 {
		v.add("alerting.max_backlog", "must be positive (got %d)", a.MaxBacklog)
	}
	v.positive("alerting.peak_half_life", a.PeakHalfLife)
	if a.MaxPerHour < 0 {
		v.add("alerting.max_per_hour", "must not be negative (got %d); 0 means unlimited", a.MaxPerHour)
	}
	for _, r := range []struct {
		severity string
		r        *Recovery
	}{{SeverityMinor, &a.Playbook.Minor}, {SeverityMajor, &a.Playbook.Major}, {SeverityCritical, &a.Playbook.Critical}} {
		p := "alerting.playbook." + r.severity
		if strings.TrimSpace(r.r.Action) == "" {
			v.add(p+".action", "is required: what staff may do at once for a %s alert", r.severity)
		}
		if r.r.Budget < 0 || math.IsNaN(r.r.Budget) || math.IsInf(r.r.Budget, 0) {
			v.add(p+".budget", "must be a number, 0 or more (got %g)", r.r.Budget)
		}
		if !currencyCode.MatchString(r.r.Currency) {
			v.add(p+".currency", "must be a three-letter currency code such as EUR (got %q)", r.r.Currency)
		}
	}

	if len(a.Sinks) == 0 {
		v.add("alerting.sinks", "at least one sink is required")
	}
	names := map[string]string{} // name -> field path of its sink
	kafka := ""                  // field path of the kafka sink
	for i := range a.Sinks {
		s := &a.Sinks[i]
		p := fmt.Sprintf("alerting.sinks[%d]", i)
		switch {
		case s.Name == "":
			v.add(p+".name", "is required")
		case names[s.Name] != "":
			v.add(p+".name", "%q is already the name of %s; give each sink its own name", s.Name, names[s.Name])
		default:
			names[s.Name] = p
		}
		if s.Type == SinkKafka {
			if kafka != "" {
				v.add(p+".type", "only one kafka sink is allowed (already %s)", kafka)
			}
			kafka = p
		}
		v.sink(p, s, journeys)
	}
}

func (v *validator) sink(p string, s *Sink, journeys []string) {
	switch {
	case s.Type == "":
		v.add(p+".type", "is required (one of %s)", strings.Join(sinkTypes, ", "))
		return
	case !slices.Contains(sinkTypes, s.Type):
		v.add(p+".type", "unknown type %q (want one of %s)", s.Type, strings.Join(sinkTypes, ", "))
		return
	}

	takesURL := s.Type != SinkKafka && s.Type != SinkStdout
	takesSecret := s.Type == SinkWebhook || s.Type == SinkPagerDuty
	for _, f := range []struct {
		name    string
		set     bool
		applies bool
	}{
		{"url", s.URL != "", takesURL},
		{"url_env", s.URLEnv != "", takesURL},
		{"secret_env", s.SecretEnv != "", takesSecret},
	} {
		if v.isSet(p+"."+f.name, f.set) && !f.applies {
			v.add(p+"."+f.name, "does not apply to type %s", s.Type)
		}
	}

	if takesURL {
		switch {
		case s.URL == "" && s.URLEnv == "":
			v.add(p, "needs url or url_env (an environment variable holding the URL)")
		case s.URL != "" && s.URLEnv != "":
			v.add(p+".url_env", "set url or url_env, not both")
		case s.URLEnv != "":
			if value, ok := v.env(p+".url_env", s.URLEnv); ok && !isHTTPURL(value) {
				v.add(p+".url_env", "environment variable %s must hold an http or https URL", s.URLEnv)
			}
		case !isHTTPURL(s.URL):
			v.add(p+".url", "must be an http or https URL (got %q)", s.URL)
		}
	}
	if takesSecret {
		switch {
		case s.SecretEnv == "" && s.Type == SinkPagerDuty:
			v.add(p+".secret_env", "is required for type pagerduty: the environment variable holding the routing key")
		case s.SecretEnv == "":
			// an unsigned webhook
		default:
			value, ok := v.env(p+".secret_env", s.SecretEnv)
			if ok && s.Type == SinkWebhook && !isWebhookSecret(value) {
				v.add(p+".secret_env", "environment variable %s must hold a Standard Webhooks secret: whsec_ followed by base64", s.SecretEnv)
			}
		}
	}

	v.severity(p+".min_severity", s.MinSeverity)
	for i, j := range s.Journeys {
		field := fmt.Sprintf("%s.journeys[%d]", p, i)
		if j == "" {
			v.add(field, "must not be empty")
		}
		v.checkJourney(field, j, journeys)
	}
	for i, t := range s.Tiers {
		if t == "" {
			v.add(fmt.Sprintf("%s.tiers[%d]", p, i), "must not be empty")
		}
	}
	v.positive(p+".timeout", s.Timeout)
	if s.Concurrency < 1 {
		v.add(p+".concurrency", "must be at least 1 (got %d)", s.Concurrency)
	}
	if s.GroupFor != nil {
		switch {
		case s.Type != SinkSlack:
			v.add(p+".group_for", "applies to slack sinks only (this one is %s)", s.Type)
		case *s.GroupFor < 0:
			v.add(p+".group_for", "must not be negative (got %s); 0 posts each alert on its own", s.GroupFor.D())
		}
	}
}

// env returns the value of the environment variable named at field, and
// whether it is set and non-empty; it reports the problem if not.
func (v *validator) env(field, name string) (string, bool) {
	if !envName.MatchString(name) {
		v.add(field, "must be the name of an environment variable (got %q)", name)
		return "", false
	}
	value := v.getenv(name)
	if value == "" {
		v.add(field, "environment variable %s is not set", name)
		return "", false
	}
	return value, true
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// isWebhookSecret reports whether s is a Standard Webhooks signing secret:
// "whsec_" and the base64 of at least one byte.
func isWebhookSecret(s string) bool {
	rest, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return false
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	return err == nil && len(key) > 0
}

func (v *validator) severity(field, s string) {
	if !slices.Contains(severities, s) {
		v.add(field, "unknown severity %q (want minor, major or critical)", s)
	}
}

func (v *validator) required(field, value, typ string) {
	if value == "" {
		v.add(field, "is required for type %s", typ)
	}
}

func (v *validator) nonEmpty(field, value string) {
	if strings.TrimSpace(value) == "" {
		v.add(field, "must not be empty")
	}
}

func (v *validator) positive(field string, d Duration) {
	if d <= 0 {
		v.add(field, "must be positive (got %s)", time.Duration(d))
	}
}

func (v *validator) notNegative(field string, d Duration) {
	if d < 0 {
		v.add(field, "must not be negative (got %s)", time.Duration(d))
	}
}
