package config

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const file = "peakend.yaml"

// top is a valid file of 7 lines (a playbook, then one detector); the
// text it is given starts at line 8, as more detectors or top-level keys.
func top(s string) string {
	return `alerting:
  playbook:
    minor: {action: a}
    major: {action: b}
    critical: {action: c}
detectors:
  - {name: d, type: threshold, metric: m, minor: 1}
` + s
}

// alerting is a valid file of 7 lines ending in the alerting section; the
// text it is given starts at line 8, as more alerting keys.
func alerting(s string) string {
	return `detectors:
  - {name: d, type: threshold, metric: m, minor: 1}
alerting:
  playbook:
    minor: {action: a}
    major: {action: b}
    critical: {action: c}
` + s
}

// noEnv has no environment variables set.
func noEnv(string) string { return "" }

func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// errorLines returns err's problems one per line, or nil.
func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// validSecret is a Standard Webhooks secret: whsec_ and base64.
const validSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		env  map[string]string
		want []string // nil: valid
	}{
		// Decoding: syntax, unknown fields, wrong types.
		{"valid base", top(""), nil, nil},
		{"valid alerting base", alerting(""), nil, nil},
		{"syntax error", "kafka: [a,\n", nil,
			[]string{"peakend.yaml:1: invalid YAML: did not find expected node content"}},
		{"syntax error line", top("kafka\n  group: x\n"), nil,
			[]string{"peakend.yaml:8: invalid YAML: could not find expected ':'"}},
		{"unknown anchor", top("journeys: *nope\n"), nil,
			[]string{"peakend.yaml: invalid YAML: unknown anchor 'nope' referenced"}},
		{"not a mapping", "- a\n", nil,
			[]string{"peakend.yaml:1: expected a mapping of settings (kafka:, detectors:, ...), got a list"}},
		{"two documents", top("---\nkafka: {}\n"), nil,
			[]string{"peakend.yaml:8: only one YAML document is allowed (remove the second ---)"}},
		{"unknown field", top("kafka:\n  group: g\n  topicz: {}\n"), nil,
			[]string{"peakend.yaml:10: kafka.topicz: unknown field"}},
		{"unknown top-level field", top("kafkaa: {}\n"), nil,
			[]string{"peakend.yaml:8: kafkaa: unknown field"}},
		{"unknown detector field", top("  - {name: x, type: threshold, metric: m, minor: 1, majr: 2}\n"), nil,
			[]string{"peakend.yaml:8: detectors[x].majr: unknown field"}},
		{"field set twice", top("http:\n  listen: \":1\"\n  listen: \":2\"\n"), nil,
			[]string{"peakend.yaml:10: http.listen: set twice (first at line 9)"}},
		{"not a whole number", top("state:\n  window: lots\n"), nil,
			[]string{`peakend.yaml:9: state.window: expected a whole number, got "lots"`}},
		{"fraction for int", top("state:\n  window: 2.5\n"), nil,
			[]string{`peakend.yaml:9: state.window: expected a whole number, got "2.5"`}},
		{"not a number", top("  - {name: x, type: threshold, metric: m,\n     minor: lots}\n"), nil,
			[]string{`peakend.yaml:9: detectors[x].minor: expected a number, got "lots"`}},
		{"not a bool", top("kafka:\n  exactly_once: maybe\n"), nil,
			[]string{`peakend.yaml:9: kafka.exactly_once: expected true or false, got "maybe"`}},
		{"not a string", top("kafka:\n  group: [a]\n"), nil,
			[]string{`peakend.yaml:9: kafka.group: expected a string, got a list`}},
		{"not a mapping field", top("kafka: localhost\n"), nil,
			[]string{`peakend.yaml:8: kafka: expected a mapping (key: value), got "localhost"`}},
		{"not a list", top("journeys: {a: b}\n"), nil,
			[]string{`peakend.yaml:8: journeys: expected a list, got a mapping`}},
		{"not a list of detectors", "detectors: late\n", nil,
			// The playbook left out gets the contract's example: only the detectors are wrong.
			[]string{`peakend.yaml:1: detectors: expected a list, got "late"`}},
		{"detector not a mapping", top("  - late\n"), nil,
			[]string{`peakend.yaml:8: detectors[1]: expected a mapping (key: value), got "late"`}},
		{"bad duration", top("state:\n  retention: lots\n"), nil,
			[]string{`peakend.yaml:9: state.retention: invalid duration "lots" (use e.g. 90s, 1h30m or 7d)`}},
		{"negative duration", alerting("  cooldown: -1h\n"), nil,
			[]string{`peakend.yaml:8: alerting.cooldown: duration must not be negative (got "-1h")`}},
		{"duration in days", alerting("  lookback: 30d\n"), nil, nil},

		// kafka
		{"broker with scheme", top("kafka:\n  brokers: [\"kafka://k:9092\"]\n"), nil,
			[]string{`peakend.yaml:9: kafka.brokers[0]: must be host:port, e.g. localhost:9092 (got "kafka://k:9092")`}},
		{"broker bad port", top("kafka:\n  brokers:\n    - k:9092\n    - k:port\n"), nil,
			[]string{`peakend.yaml:11: kafka.brokers[1]: must be host:port, e.g. localhost:9092 (got "k:port")`}},
		{"broker without port", top("kafka:\n  brokers: [k1, k2:9093]\n"), nil, nil},
		{"empty group", top("kafka:\n  group: \" \"\n"), nil,
			[]string{`peakend.yaml:9: kafka.group: must not be empty`}},
		{"bad topic name", top("kafka:\n  topics: {alerts: \"my alerts\"}\n"), nil,
			[]string{`peakend.yaml:9: kafka.topics.alerts: "my alerts" is not a valid topic name (use letters, digits, '.', '_' and '-')`}},
		{"topic name too long", top("kafka:\n  topics:\n    dlq: " + strings.Repeat("x", 250) + "\n"), nil,
			[]string{`peakend.yaml:10: kafka.topics.dlq: must be at most 249 characters long (got 250)`}},
		{"topic name dot", top("kafka:\n  topics: {feedback: ..}\n"), nil,
			[]string{`peakend.yaml:9: kafka.topics.feedback: ".." is not a valid topic name`}},
		{"topic used twice", top("kafka:\n  topics: {alerts: experiences}\n"), nil,
			[]string{`peakend.yaml:9: kafka.topics.alerts: topic "experiences" is also kafka.topics.experiences; each topic needs its own name`}},
		{"complaints disabled", top("kafka:\n  topics: {complaints: \"-\"}\n"), nil, nil},
		{"partitions", top("kafka:\n  partitions: -1\n"), nil,
			[]string{`peakend.yaml:9: kafka.partitions: must be at least 1 (got -1)`}},
		{"replication", top("kafka:\n  replication: -2\n"), nil,
			[]string{`peakend.yaml:9: kafka.replication: must be at least 1, or -1 for the broker default (got -2)`}},

		// state, http, events, journeys
		{"window too large", top("state:\n  window: 5000\n"), nil,
			[]string{`peakend.yaml:9: state.window: must be between 1 and 1000 (got 5000)`}},
		{"window negative", top("state:\n  window: -1\n"), nil,
			[]string{`peakend.yaml:9: state.window: must be between 1 and 1000 (got -1)`}},
		{"cache", top("state: {cache_mib: -1, memtable_mib: -5}\n"), nil,
			[]string{
				`peakend.yaml:8: state.cache_mib: must be positive (got -1)`,
				`peakend.yaml:8: state.memtable_mib: must be positive (got -5)`,
			}},
		{"cache too small for the memtables", top("state:\n  memtable_mib: 16\n  cache_mib: 32\n  header_cache_mib: -2\n"), nil,
			[]string{
				`peakend.yaml:10: state.cache_mib: must be at least 4 × memtable_mib + 16 = 80: Pebble reserves up to four memtables from the block cache, and filter and index blocks need the rest (got 32)`,
				`peakend.yaml:11: state.header_cache_mib: must be positive, or -1 to disable the cache (got -2)`,
			}},
		{"listen without colon", top("http: {listen: 8080}\n"), nil,
			[]string{`peakend.yaml:8: http.listen: must be [host]:port, e.g. ":8080", or "-" to disable (got "8080")`}},
		{"listen disabled", top("http: {listen: \"-\"}\n"), nil, nil},
		{"public url", top("http:\n  public_url: localhost:8080\n"), nil,
			[]string{`peakend.yaml:9: http.public_url: must be an http or https URL, e.g. http://localhost:8080 (got "localhost:8080")`}},
		{"max bytes", top("events: {max_bytes: -1}\n"), nil,
			[]string{`peakend.yaml:8: events.max_bytes: must be positive (got -1)`}},
		{"journeys", top("journeys:\n  - delivery\n  - \"\"\n  - delivery\n"), nil,
			[]string{
				`peakend.yaml:10: journeys[1]: must not be empty`,
				`peakend.yaml:11: journeys[2]: "delivery" is listed twice`,
			}},

		// detectors: names and types
		{"no detectors", "alerting: {playbook: {minor: {action: a}, major: {action: b}, critical: {action: c}}}\n", nil,
			[]string{`peakend.yaml: detectors: at least one detector is required`}},
		{"name missing", top("  - {type: threshold, metric: m, minor: 1}\n"), nil,
			[]string{`peakend.yaml:8: detectors[1].name: is required`}},
		{"named by name", top("  - name: late_delivery\n    type: threshold\n    metric: delay_hours\n    major: 24\n    minor: 72\n"), nil,
			[]string{`peakend.yaml:12: detectors[late_delivery].minor: must be less than major (72 < 24)`}},
		{"named by name, name after the problem", top("  - majr: 2\n    name: late\n    type: threshold\n    metric: m\n    minor: 1\n"), nil,
			[]string{`peakend.yaml:8: detectors[late].majr: unknown field`}},
		{"without a name, by index", top("  - {type: threshold, metric: m, minor: 2, major: 1}\n"), nil,
			[]string{`peakend.yaml:8: detectors[1].name: is required`, `peakend.yaml:8: detectors[1].minor: must be less than major (2 < 1)`}},
		{"name invalid", top("  - {name: Late-Delivery, type: threshold, metric: m, minor: 1, critical: 0}\n"), nil,
			[]string{ // an invalid name names nothing: the index does
				`peakend.yaml:8: detectors[1].name: must match [a-z0-9_]+ (got "Late-Delivery")`,
				`peakend.yaml:8: detectors[1].minor: must be less than critical (1 < 0)`,
			}},
		{"name duplicate", top("  - name: d\n    type: threshold\n    metric: m\n    minor: 1\n"), nil,
			[]string{`peakend.yaml:8: detectors[1].name: "d" is already the name of detectors[0]`}},
		{"type missing", top("  - {name: x, metric: m, minor: 1}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].type: is required (one of threshold, rarity, baseline, repeat, overdue, deadline)`}},
		{"type unknown", top("  - {name: x, type: treshold, metric: m, minor: 1}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].type: unknown type "treshold" (want one of threshold, rarity, baseline, repeat, overdue, deadline)`}},
		{"field does not apply", top("  - {name: x, type: repeat, outcome: [failed], minor: 2,\n     metric: m, within: 1h, factor: 2}\n"), nil,
			[]string{
				`peakend.yaml:9: detectors[x].metric: does not apply to type repeat`,
				`peakend.yaml:9: detectors[x].factor: does not apply to type repeat`,
			}},
		{"zero field does not apply", top("  - {name: x, type: rarity, journey: j, metric: m, minor: 0.9, grace: 0}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].grace: does not apply to type rarity`}},
		{"journey required", top("  - {name: x, type: baseline, metric: m}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].journey: is required for type baseline`}},
		{"journey not allowed", top("  - {name: x, type: threshold, journey: deliveries, outcome: [failed]}\njourneys: [delivery, checkout]\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].journey: "deliveries" is not in journeys (delivery, checkout)`}},
		{"journey allowed", top("  - {name: x, type: threshold, journey: delivery, outcome: [failed]}\njourneys: [delivery, checkout]\n"), nil, nil},

		// threshold
		{"threshold without metric or outcome", top("  - {name: x, type: threshold}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x]: needs a metric with cut-offs (minor, major, critical) or an outcome list`}},
		{"threshold with metric and outcome", top("  - {name: x, type: threshold, metric: m, minor: 1, outcome: [failed]}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].outcome: a threshold takes a metric or an outcome list, not both`}},
		{"threshold without cut-offs", top("  - {name: x, type: threshold, metric: m}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x]: needs at least one of minor, major, critical`}},
		{"metric threshold with severity", top("  - {name: x, type: threshold, metric: m, minor: 1, severity: major}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].severity: does not apply to a metric threshold (use minor, major, critical)`}},
		{"outcome threshold with cut-off", top("  - {name: x, type: threshold, outcome: [failed], major: 3}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].major: does not apply to an outcome threshold (use severity)`}},
		{"outcome threshold severity", top("  - {name: x, type: threshold, outcome: [failed], severity: high}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].severity: unknown severity "high" (want minor, major or critical)`}},
		{"outcome listed twice", top("  - {name: x, type: threshold, outcome: [failed, failed]}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].outcome[1]: "failed" is listed twice`}},
		{"outcome as a single string", top("  - {name: x, type: threshold, outcome: failed}\n"), nil, nil},
		{"cut-offs decrease", top("  - {name: x, type: threshold, metric: m,\n     major: 24,\n     minor: 72}\n"), nil,
			[]string{`peakend.yaml:10: detectors[x].minor: must be less than major (72 < 24)`}},
		{"cut-offs equal", top("  - {name: x, type: threshold, metric: m, major: 5, critical: 5}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].major: must be less than critical (5 < 5)`}},
		{"cut-offs skip a level", top("  - {name: x, type: threshold, metric: m, minor: 5, critical: 3}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].minor: must be less than critical (5 < 3)`}},

		// rarity
		{"rarity valid", top("  - {name: x, type: rarity, journey: j, metric: m, minor: 0.99, over: 7d, min_samples: 10}\n"), nil, nil},
		{"rarity without metric", top("  - {name: x, type: rarity, journey: j, minor: 0.99}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].metric: is required for type rarity`}},
		{"rarity without quantiles", top("  - {name: x, type: rarity, journey: j, metric: m}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x]: needs at least one of minor, major, critical`}},
		{"rarity quantile out of range", top("  - {name: x, type: rarity, journey: j, metric: m, minor: 0.9, major: 99}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].major: must be a quantile between 0 and 1, exclusive, e.g. 0.99 (got 99)`}},
		{"rarity quantile zero", top("  - {name: x, type: rarity, journey: j, metric: m, minor: 0}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].minor: must be a quantile between 0 and 1, exclusive, e.g. 0.99 (got 0)`}},
		{"rarity min_samples", top("  - {name: x, type: rarity, journey: j, metric: m, minor: 0.9, min_samples: -1}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].min_samples: must be at least 1 (got -1)`}},

		// baseline
		{"baseline valid", top("  - {name: x, type: baseline, journey: j, metric: m, factor: 2, floor: 1}\n"), nil, nil},
		{"baseline without metric", top("  - {name: x, type: baseline, journey: j}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].metric: is required for type baseline`}},
		{"baseline factor", top("  - {name: x, type: baseline, journey: j, metric: m, factor: 1}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].factor: must be greater than 1 (got 1)`}},
		{"baseline min_history and floor", top("  - {name: x, type: baseline, journey: j, metric: m,\n     min_history: -2, floor: -1}\n"), nil,
			[]string{
				`peakend.yaml:9: detectors[x].min_history: must be at least 1 (got -2)`,
				`peakend.yaml:9: detectors[x].floor: must not be negative (got -1)`,
			}},

		// repeat
		{"repeat valid", top("  - {name: x, type: repeat, outcome: [failed], major: 3, within: 2d}\n"), nil, nil},
		{"repeat without outcome", top("  - {name: x, type: repeat, minor: 2}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].outcome: is required for type repeat (the bad outcomes to count)`}},
		{"repeat count fraction", top("  - {name: x, type: repeat, outcome: [failed], minor: 2.5}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].minor: must be a whole number of experiences, at least 2 (got 2.5)`}},
		{"repeat count one", top("  - {name: x, type: repeat, outcome: [failed], minor: 1, major: 3}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].minor: must be a whole number of experiences, at least 2 (got 1)`}},
		{"repeat without counts", top("  - {name: x, type: repeat, outcome: [failed]}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x]: needs at least one of minor, major, critical`}},

		// overdue
		{"overdue valid", top("  - {name: x, type: overdue, journey: j, start: {outcome: shipped},\n     until: {outcome: delivered}, major: 0.99}\n"), nil, nil},
		{"overdue without start and until", top("  - {name: x, type: overdue, journey: j, minor: 0.99}\n"), nil,
			[]string{
				`peakend.yaml:8: detectors[x].start: is required for type overdue, e.g. {outcome: shipped}`,
				`peakend.yaml:8: detectors[x].until: is required for type overdue, e.g. {outcome: delivered}`,
			}},
		{"overdue start without outcome", top("  - {name: x, type: overdue, journey: j, minor: 0.99,\n     start: {}, until: {outcome: delivered}}\n"), nil,
			[]string{`peakend.yaml:9: detectors[x].start.outcome: is required`}},
		{"overdue same outcomes", top("  - {name: x, type: overdue, journey: j, minor: 0.99,\n     start: {outcome: shipped},\n     until: {outcome: shipped}}\n"), nil,
			[]string{`peakend.yaml:10: detectors[x].until.outcome: must differ from start.outcome (both "shipped")`}},
		{"overdue without quantiles", top("  - {name: x, type: overdue, journey: j, start: {outcome: a}, until: {outcome: b}}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x]: needs at least one of minor, major, critical`}},
		{"overdue journey", top("  - {name: x, type: overdue, start: {outcome: a}, until: {outcome: b}, minor: 0.9}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].journey: is required for type overdue`}},

		// deadline
		{"deadline valid after", top("  - {name: x, type: deadline, journey: j, start: {outcome: a}, until: {outcome: b}, after: 48h}\n"), nil, nil},
		{"deadline neither attribute nor after", top("  - {name: x, type: deadline, journey: j, start: {outcome: a}, until: {outcome: b}}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x]: needs deadline_attribute (an RFC 3339 attribute of the start event) or after (a fixed time after start)`}},
		{"deadline attribute and after", top("  - {name: x, type: deadline, journey: j, start: {outcome: a}, until: {outcome: b},\n     deadline_attribute: promised_by, after: 48h}\n"), nil,
			[]string{`peakend.yaml:9: detectors[x].after: set deadline_attribute or after, not both`}},
		{"deadline after zero", top("  - {name: x, type: deadline, journey: j, start: {outcome: a}, until: {outcome: b}, after: 0s}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].after: must be positive (got 0s)`}},
		{"deadline grace negative", top("  - {name: x, type: deadline, journey: j, start: {outcome: a}, until: {outcome: b}, after: 1h, grace: -1h}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].grace: duration must not be negative (got "-1h")`}},
		{"deadline severity", top("  - {name: x, type: deadline, journey: j, start: {outcome: a}, until: {outcome: b}, after: 1h, severity: Major}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].severity: unknown severity "Major" (want minor, major or critical)`}},
		{"deadline cut-off", top("  - {name: x, type: deadline, journey: j, start: {outcome: a}, until: {outcome: b}, after: 1h, minor: 1}\n"), nil,
			[]string{`peakend.yaml:8: detectors[x].minor: does not apply to type deadline`}},

		// alerting
		{"max_per_hour", alerting("  max_per_hour: -1\n"), nil,
			[]string{`peakend.yaml:8: alerting.max_per_hour: must not be negative (got -1); 0 means unlimited`}},
		{"playbook", "detectors: [{name: d, type: threshold, metric: m, minor: 1}]\nalerting:\n  playbook:\n    minor: {action: a, budget: -5}\n    major: {action: \" \", currency: euro}\n    critical: {budget: 5}\n", nil,
			[]string{ // in line order
				`peakend.yaml:4: alerting.playbook.minor.budget: must be a number, 0 or more (got -5)`,
				`peakend.yaml:5: alerting.playbook.major.action: is required: what staff may do at once for a major alert`,
				`peakend.yaml:5: alerting.playbook.major.currency: must be a three-letter currency code such as EUR (got "euro")`,
				`peakend.yaml:6: alerting.playbook.critical.action: is required: what staff may do at once for a critical alert`,
			}},
		{"playbook left out", "detectors: [{name: d, type: threshold, metric: m, minor: 1}]\nalerting:\n  playbook:\n    minor: {action: a}\n", nil, nil},

		// sinks
		{"sink type missing", alerting("  sinks:\n    - {name: x}\n"), nil,
			[]string{`peakend.yaml:9: alerting.sinks[0].type: is required (one of kafka, stdout, webhook, slack, alertmanager, pagerduty)`}},
		{"sink type unknown", alerting("  sinks:\n    - {type: email}\n"), nil,
			[]string{`peakend.yaml:9: alerting.sinks[0].type: unknown type "email" (want one of kafka, stdout, webhook, slack, alertmanager, pagerduty)`}},
		{"sink names", alerting("  sinks:\n    - {type: stdout}\n    - {type: stdout}\n"), nil,
			[]string{`peakend.yaml:10: alerting.sinks[1].name: "stdout" is already the name of alerting.sinks[0]; give each sink its own name`}},
		{"two kafka sinks", alerting("  sinks:\n    - {type: kafka, name: a}\n    - {type: kafka, name: b}\n"), nil,
			[]string{`peakend.yaml:10: alerting.sinks[1].type: only one kafka sink is allowed (already alerting.sinks[0])`}},
		{"webhook without url", alerting("  sinks:\n    - {type: webhook}\n"), nil,
			[]string{`peakend.yaml:9: alerting.sinks[0]: needs url or url_env (an environment variable holding the URL)`}},
		{"url and url_env", alerting("  sinks:\n    - {type: slack, url: \"https://x\", url_env: SLACK}\n"), map[string]string{"SLACK": "https://x"},
			[]string{`peakend.yaml:9: alerting.sinks[0].url_env: set url or url_env, not both`}},
		{"group_for negative", alerting("  sinks:\n    - {type: slack, url: \"https://x\", group_for: -1m}\n"), nil,
			[]string{`peakend.yaml:9: alerting.sinks[0].group_for: duration must not be negative (got "-1m")`}},
		{"group_for not slack", alerting("  sinks:\n    - {type: webhook, url: \"https://x\", group_for: 5m}\n"), nil,
			[]string{`peakend.yaml:9: alerting.sinks[0].group_for: applies to slack sinks only (this one is webhook)`}},
		{"group_for 0", alerting("  sinks:\n    - {type: slack, url: \"https://x\", group_for: 0s}\n"), nil, nil},
		{"url not http", alerting("  sinks:\n    - type: alertmanager\n      url: ftp://am:9093\n"), nil,
			[]string{`peakend.yaml:10: alerting.sinks[0].url: must be an http or https URL (got "ftp://am:9093")`}},
		{"url_env not set", alerting("  sinks:\n    - {type: kafka}\n    - {type: slack, url_env: SLACK_WEBHOOK_URL}\n"), nil,
			[]string{`peakend.yaml:10: alerting.sinks[1].url_env: environment variable SLACK_WEBHOOK_URL is not set`}},
		{"url_env not a url", alerting("  sinks:\n    - {type: slack, url_env: SLACK_WEBHOOK_URL}\n"), map[string]string{"SLACK_WEBHOOK_URL": "hooks.slack.com/x"},
			[]string{`peakend.yaml:9: alerting.sinks[0].url_env: environment variable SLACK_WEBHOOK_URL must hold an http or https URL`}},
		{"url_env is a url", alerting("  sinks:\n    - {type: slack, url_env: \"https://hooks.slack.com/x\"}\n"), nil,
			[]string{`peakend.yaml:9: alerting.sinks[0].url_env: must be the name of an environment variable (got "https://hooks.slack.com/x")`}},
		{"url_env set", alerting("  sinks:\n    - {type: slack, url_env: SLACK_WEBHOOK_URL}\n"), map[string]string{"SLACK_WEBHOOK_URL": "https://hooks.slack.com/x"}, nil},
		{"secret_env not set", alerting("  sinks:\n    - {type: kafka}\n    - {type: webhook, url: \"https://example.com/h\", secret_env: PEAKEND_WEBHOOK_SECRET}\n"), nil,
			[]string{`peakend.yaml:10: alerting.sinks[1].secret_env: environment variable PEAKEND_WEBHOOK_SECRET is not set`}},
		{"secret without whsec_", alerting("  sinks:\n    - {type: webhook, url: \"https://example.com/h\", secret_env: S}\n"), map[string]string{"S": "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
			[]string{`peakend.yaml:9: alerting.sinks[0].secret_env: environment variable S must hold a Standard Webhooks secret: whsec_ followed by base64`}},
		{"secret not base64", alerting("  sinks:\n    - {type: webhook, url: \"https://example.com/h\", secret_env: S}\n"), map[string]string{"S": "whsec_not base64!"},
			[]string{`peakend.yaml:9: alerting.sinks[0].secret_env: environment variable S must hold a Standard Webhooks secret: whsec_ followed by base64`}},
		{"secret valid", alerting("  sinks:\n    - {type: webhook, url: \"https://example.com/h\", secret_env: S}\n"), map[string]string{"S": validSecret}, nil},
		{"unsigned webhook", alerting("  sinks:\n    - {type: webhook, url: \"https://example.com/h\"}\n"), nil, nil},
		{"pagerduty without routing key", alerting("  sinks:\n    - {type: pagerduty}\n"), nil,
			[]string{`peakend.yaml:9: alerting.sinks[0].secret_env: is required for type pagerduty: the environment variable holding the routing key`}},
		{"pagerduty", alerting("  sinks:\n    - {type: pagerduty, secret_env: PD_KEY}\n"), map[string]string{"PD_KEY": "R0UT1NG"}, nil},
		{"field does not apply to sink", alerting("  sinks:\n    - {type: kafka, url: \"http://x\"}\n    - {type: slack, url: \"https://x\", secret_env: S}\n"), map[string]string{"S": "s"},
			[]string{
				`peakend.yaml:9: alerting.sinks[0].url: does not apply to type kafka`,
				`peakend.yaml:10: alerting.sinks[1].secret_env: does not apply to type slack`,
			}},
		{"min_severity", alerting("  sinks:\n    - {type: stdout, min_severity: warning}\n"), nil,
			[]string{`peakend.yaml:9: alerting.sinks[0].min_severity: unknown severity "warning" (want minor, major or critical)`}},
		{"sink journeys", "journeys: [delivery]\n" + alerting("  sinks:\n    - {type: stdout, journeys: [delivery, checkout], tiers: [\"\"]}\n"), nil,
			[]string{
				`peakend.yaml:10: alerting.sinks[0].journeys[1]: "checkout" is not in journeys (delivery)`,
				`peakend.yaml:10: alerting.sinks[0].tiers[0]: must not be empty`,
			}},
		{"sink timeout and concurrency", alerting("  sinks:\n    - type: stdout\n      timeout: -1s\n      concurrency: -1\n"), nil,
			[]string{
				`peakend.yaml:10: alerting.sinks[0].timeout: duration must not be negative (got "-1s")`,
				`peakend.yaml:11: alerting.sinks[0].concurrency: must be at least 1 (got -1)`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parse(file, []byte(tc.yaml), envOf(tc.env))
			require.Equal(t, tc.want, errorLines(err), "config:\n%s", tc.yaml)
			if tc.want == nil {
				require.NotNil(t, cfg)
			} else {
				require.Nil(t, cfg)
			}
		})
	}
}

func TestSeveralErrorsAreAllReported(t *testing.T) {
	yaml := `kafka:
  brokers: []
  topicz: {}
state: {window: 0, retention: soon}
detectors:
  - {name: late, type: threshold, metric: delay_hours, minor: 72, major: 24}
  - {name: late, type: rarity, metric: wait, minor: 0.99}
alerting:
  playbook:
    minor: {action: apologise}
    major: {action: call}
    critical: {budget: 150}
  sinks:
    - {type: webhook, url: "https://example.com/h", secret_env: PEAKEND_WEBHOOK_SECRET}
`
	_, err := parse(file, []byte(yaml), noEnv)
	require.Equal(t, []string{
		`peakend.yaml:3: kafka.topicz: unknown field`,
		`peakend.yaml:4: state.retention: invalid duration "soon" (use e.g. 90s, 1h30m or 7d)`,
		`peakend.yaml:6: detectors[0].minor: must be less than major (72 < 24)`,
		`peakend.yaml:7: detectors[1].name: "late" is already the name of detectors[0]`,
		`peakend.yaml:7: detectors[1].journey: is required for type rarity`,
		`peakend.yaml:12: alerting.playbook.critical.action: is required: what staff may do at once for a critical alert`,
		`peakend.yaml:14: alerting.sinks[0].secret_env: environment variable PEAKEND_WEBHOOK_SECRET is not set`,
	}, errorLines(err))

	var errs Errors
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 7)
	require.Equal(t, &Error{File: file, Line: 6, Field: "detectors[0].minor", Msg: "must be less than major (72 < 24)"}, errs[2])

	var first *Error
	require.ErrorAs(t, err, &first)
	require.Equal(t, "kafka.topicz", first.Field)
	require.Len(t, List(err), 7)
}

func TestOneErrorIsAnError(t *testing.T) {
	_, err := parse(file, []byte(top("state: {window: 0.5}\n")), noEnv)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, &Error{File: file, Line: 8, Field: "state.window", Msg: `expected a whole number, got "0.5"`}, e)
	require.Equal(t, []*Error{e}, List(err))
}

func TestValidateInCode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		env    map[string]string
		want   []string
	}{
		{"default", func(c *Config) {}, nil, nil},
		{"no brokers", func(c *Config) { c.Kafka.Brokers = nil }, nil,
			[]string{"kafka.brokers: at least one broker is required"}},
		{"empty broker", func(c *Config) { c.Kafka.Brokers = []string{""} }, nil,
			[]string{`kafka.brokers[0]: must be host:port, e.g. localhost:9092 (got "")`}},
		{"empty group", func(c *Config) { c.Kafka.Group = "" }, nil,
			[]string{"kafka.group: must not be empty"}},
		{"empty topic", func(c *Config) { c.Kafka.Topics.Experiences = "" }, nil,
			[]string{"kafka.topics.experiences: must not be empty"}},
		{"window", func(c *Config) { c.State.Window = 0 }, nil,
			[]string{"state.window: must be between 1 and 1000 (got 0)"}},
		{"retention", func(c *Config) { c.State.Retention = 0 }, nil,
			[]string{"state.retention: must be positive (got 0s)"}},
		{"idle timeout", func(c *Config) { c.Events.IdleTimeout = Duration(-time.Second) }, nil,
			[]string{"events.idle_timeout: must be positive (got -1s)"}},
		{"allowed lateness", func(c *Config) { c.Events.AllowedLateness = Duration(-time.Second) }, nil,
			[]string{"events.allowed_lateness: must not be negative (got -1s)"}},
		{"cut-offs", func(c *Config) { c.Detectors[0].Minor, c.Detectors[0].Major = ptr(72), ptr(24) }, nil,
			[]string{"detectors[late_delivery].minor: must be less than major (72 < 24)"}},
		{"does not apply", func(c *Config) { c.Detectors[2].Within = Duration(time.Hour) }, nil,
			[]string{"detectors[rare_wait].within: does not apply to type rarity"}},
		{"over", func(c *Config) { c.Detectors[2].Over = 0 }, nil,
			[]string{"detectors[rare_wait].over: must be positive (got 0s)"}},
		{"within", func(c *Config) { c.Detectors[4].Within = Duration(-time.Hour) }, nil,
			[]string{"detectors[repeated_failures].within: must be positive (got -1h0m0s)"}},
		{"nan", func(c *Config) { c.Detectors[0].Major = ptr(math.NaN()) }, nil,
			[]string{"detectors[late_delivery].major: must be a finite number (got NaN)"}},
		{"detector without a name", func(c *Config) { c.Detectors[5].Name, c.Detectors[5].KeyAttribute = "", "" }, nil,
			[]string{"detectors[5].name: is required", "detectors[5].key_attribute: must not be empty"}},
		{"detectors sharing a name", func(c *Config) {
			c.Detectors[6].Name = c.Detectors[5].Name
			c.Detectors[6].Grace = Duration(-time.Hour)
		}, nil,
			[]string{`detectors[6].name: "running_late" is already the name of detectors[5]`, "detectors[6].grace: must not be negative (got -1h0m0s)"}},
		{"key attribute", func(c *Config) { c.Detectors[5].KeyAttribute = "" }, nil,
			[]string{"detectors[running_late].key_attribute: must not be empty"}},
		{"deadline grace", func(c *Config) { c.Detectors[6].Grace = Duration(-time.Hour) }, nil,
			[]string{"detectors[broken_promise].grace: must not be negative (got -1h0m0s)"}},
		{"journey allow-list", func(c *Config) { c.Journeys = []string{"checkout"} }, nil,
			[]string{
				`detectors[late_delivery].journey: "delivery" is not in journeys (checkout)`,
				`detectors[rare_wait].journey: "support_call" is not in journeys (checkout)`,
				`detectors[worse_than_usual].journey: "delivery" is not in journeys (checkout)`,
				`detectors[running_late].journey: "delivery" is not in journeys (checkout)`,
				`detectors[broken_promise].journey: "delivery" is not in journeys (checkout)`,
			}},
		{"cooldown", func(c *Config) { c.Alerting.Cooldown = Duration(-time.Hour) }, nil,
			[]string{"alerting.cooldown: must not be negative (got -1h0m0s)"}},
		{"lookback", func(c *Config) { c.Alerting.Lookback = Duration(-time.Hour) }, nil,
			[]string{"alerting.lookback: must not be negative (got -1h0m0s)"}},
		{"no sinks", func(c *Config) { c.Alerting.Sinks = nil }, nil,
			[]string{"alerting.sinks: at least one sink is required"}},
		{"sink name", func(c *Config) { c.Alerting.Sinks[1].Name = "" }, nil,
			[]string{"alerting.sinks[1].name: is required"}},
		{"webhook secret", func(c *Config) {
			c.Alerting.Sinks = append(c.Alerting.Sinks, Sink{Type: SinkWebhook, Name: "hook",
				URL: "https://example.com/h", SecretEnv: "PEAKEND_WEBHOOK_SECRET", MinSeverity: "major",
				Timeout: Duration(time.Second), Concurrency: 1})
		}, nil,
			[]string{"alerting.sinks[2].secret_env: environment variable PEAKEND_WEBHOOK_SECRET is not set"}},
		{"webhook secret set", func(c *Config) {
			c.Alerting.Sinks = append(c.Alerting.Sinks, Sink{Type: SinkWebhook, Name: "hook",
				URL: "https://example.com/h", SecretEnv: "PEAKEND_WEBHOOK_SECRET", MinSeverity: "major",
				Timeout: Duration(time.Second), Concurrency: 1})
		}, map[string]string{"PEAKEND_WEBHOOK_SECRET": validSecret}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.change(c)
			require.Equal(t, tc.want, errorLines(c.validate(envOf(tc.env))))
		})
	}
}

func TestValidateZeroConfig(t *testing.T) {
	// Validate does not apply defaults: an empty Config has many problems.
	err := (&Config{}).Validate()
	lines := errorLines(err)
	require.Contains(t, lines, "kafka.brokers: at least one broker is required")
	require.Contains(t, lines, "detectors: at least one detector is required")
	require.Contains(t, lines, "state.window: must be between 1 and 1000 (got 0)")

	// With defaults, only what has no default is missing.
	c := &Config{}
	c.ApplyDefaults()
	require.Equal(t, []string{
		"detectors: at least one detector is required",
	}, errorLines(c.Validate()))
}

func TestDefault(t *testing.T) {
	c := Default()
	require.NoError(t, c.Validate())

	names := map[string]string{}
	for _, d := range c.Detectors {
		names[d.Name] = d.Type
	}
	require.Equal(t, map[string]string{
		"late_delivery": TypeThreshold, "failed_checkout": TypeThreshold, "rare_wait": TypeRarity,
		"worse_than_usual": TypeBaseline, "repeated_failures": TypeRepeat, "running_late": TypeOverdue,
		"broken_promise": TypeDeadline,
	}, names)
	require.Equal(t, 200, c.Detectors[2].MinSamples) // rarity, lowered for the demo
	require.Equal(t, 200, c.Detectors[5].MinSamples) // overdue
	require.Equal(t, 50, c.State.Window)
	require.Equal(t, []Sink{
		{Type: SinkKafka, Name: "kafka", MinSeverity: "minor", Timeout: Duration(10 * time.Second), Concurrency: 4},
		{Type: SinkStdout, Name: "stdout", MinSeverity: "minor", Timeout: Duration(10 * time.Second), Concurrency: 4},
	}, c.Alerting.Sinks)

	// Default() is a fresh value each time.
	c.Detectors[0].Name = "changed"
	require.Equal(t, "late_delivery", Default().Detectors[0].Name)
}

func TestExample(t *testing.T) {
	c, err := Parse("example.yaml", Example)
	require.NoError(t, err)
	require.Equal(t, "example.yaml", c.File)

	// The example means the contract's configuration, as Default does,
	// except for the demo's lower sample counts and its stdout sink.
	want := Default()
	want.Detectors[2].MinSamples = 500
	want.Alerting.Sinks = want.Alerting.Sinks[:1]
	want.File = "example.yaml"
	require.Equal(t, want, c)
}

func TestDefaults(t *testing.T) {
	yaml := `detectors:
  - {name: t, type: threshold, metric: m, minor: 1}
  - {name: r, type: rarity, journey: j, metric: m, minor: 0.9}
  - {name: b, type: baseline, journey: j, metric: m}
  - {name: p, type: repeat, outcome: [failed], minor: 2}
  - {name: o, type: overdue, journey: j, start: {outcome: a}, until: {outcome: b}, minor: 0.9}
  - {name: dl, type: deadline, journey: j, start: {outcome: a}, until: {outcome: b}, after: 2d}
  - {name: f, type: threshold, outcome: [failed]}
alerting:
  playbook:
    minor: {action: a}
    major: {action: b}
    critical: {action: c}
  sinks:
    - {type: pagerduty, secret_env: PD}
    - {type: webhook, name: hook, url: "https://example.com/h"}
`
	c, err := parse(file, []byte(yaml), envOf(map[string]string{"PD": "key"}))
	require.NoError(t, err, yaml)

	require.Equal(t, Kafka{
		Brokers: []string{"localhost:9092"}, Group: "peakend", ClientID: "peakend",
		Topics: Topics{Experiences: "experiences", Complaints: "complaints", Feedback: "peakend-feedback",
			Alerts: "peakend-alerts", DLQ: "peakend-dlq"},
		Partitions: 4, Replication: -1, SessionTimeout: Duration(45 * time.Second), StartupWait: Duration(2 * time.Minute),
	}, c.Kafka)
	require.Equal(t, State{Dir: "./peakend-data", Retention: Duration(2160 * time.Hour), Window: 50,
		CacheMiB: 64, MemtableMiB: 8, HeaderCacheMiB: 128, JourneyCacheMiB: 128}, c.State)
	require.Equal(t, HTTP{Listen: ":8080", PublicURL: "http://localhost:8080"}, c.HTTP)
	require.Equal(t, Events{MaxBytes: 65536, AllowedLateness: Duration(time.Hour), IdleTimeout: Duration(time.Minute)}, c.Events)

	d := c.Detectors
	require.Len(t, d, 7)
	require.Equal(t, Duration(168*time.Hour), d[1].Over)
	require.Equal(t, 500, d[1].MinSamples)
	require.Equal(t, 3.0, d[2].Factor)
	require.Equal(t, 3, d[2].MinHistory)
	require.Equal(t, Duration(24*time.Hour), d[3].Within)
	require.Equal(t, Duration(720*time.Hour), d[4].Over)
	require.Equal(t, 200, d[4].MinSamples)
	require.Equal(t, "order_id", d[4].KeyAttribute)
	require.Equal(t, "major", d[5].Severity)
	require.Equal(t, "order_id", d[5].KeyAttribute)
	require.Equal(t, Duration(48*time.Hour), d[5].After)
	require.Equal(t, "minor", d[6].Severity)
	require.Empty(t, d[0].Severity, "no severity for a metric threshold")
	require.Zero(t, d[0].Over, "no rarity defaults for a threshold")

	a := c.Alerting
	require.Equal(t, Duration(72*time.Hour), a.Cooldown)
	require.Equal(t, Duration(720*time.Hour), a.Lookback)
	require.Equal(t, "EUR", a.Playbook.Critical.Currency)
	require.Equal(t, Sink{Type: SinkPagerDuty, Name: "pagerduty", URL: PagerDutyURL, SecretEnv: "PD",
		MinSeverity: "critical", Timeout: Duration(10 * time.Second), Concurrency: 4}, a.Sinks[0])
	require.Equal(t, "hook", a.Sinks[1].Name)
	require.Equal(t, "minor", a.Sinks[1].MinSeverity)

	// Idempotent.
	again := *c
	again.Detectors = append([]Detector(nil), c.Detectors...)
	again.Alerting.Sinks = append([]Sink(nil), c.Alerting.Sinks...)
	again.ApplyDefaults()
	require.Equal(t, c, &again)
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "peakend.yaml")
	require.NoError(t, os.WriteFile(path, Example, 0o600))
	c, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, path, c.File)
	require.Len(t, c.Detectors, 7)

	require.NoError(t, os.WriteFile(path, []byte(top("state:\n  window: lots\n")), 0o600))
	_, err = Load(path)
	require.EqualError(t, err, path+`:9: state.window: expected a whole number, got "lots"`)

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestEmptyFileNeedsDetectors(t *testing.T) {
	for _, in := range []string{"", "# nothing\n", "~\n"} {
		_, err := parse(file, []byte(in), noEnv)
		require.Equal(t, []string{
			"peakend.yaml: detectors: at least one detector is required",
		}, errorLines(err), "input %q", in)
	}
}

func TestPlaybookDefaultsToTheContractExample(t *testing.T) {
	const dets = "detectors:\n  - {name: d, type: threshold, metric: m, minor: 1}\n"
	c, err := parse(file, []byte(dets+"alerting:\n  playbook:\n    major: {action: Ring them, budget: 30}\n"), noEnv)
	require.NoError(t, err)
	require.Equal(t, DefaultPlaybook[0], c.Alerting.Playbook.Minor)
	require.Equal(t, Recovery{Action: "Ring them", Budget: 30, Currency: "EUR"}, c.Alerting.Playbook.Major)
	require.Equal(t, DefaultPlaybook[2], c.Alerting.Playbook.Critical)
	// An entry with some fields but no action is the user's mistake, not a default.
	_, err = parse(file, []byte(dets+"alerting:\n  playbook:\n    minor: {budget: 5}\n"), noEnv)
	require.ErrorContains(t, err, "alerting.playbook.minor.action: is required")
}

func TestMergeKeys(t *testing.T) {
	c, err := parse(file, []byte(top(`  - &slow {name: slow, type: threshold, metric: wait_seconds, minor: 60}
  - <<: *slow
    name: slower
    major: 600
`)), noEnv)
	require.NoError(t, err)
	require.Equal(t, "slower", c.Detectors[2].Name)
	require.Equal(t, "wait_seconds", c.Detectors[2].Metric)
	require.Equal(t, 60.0, *c.Detectors[2].Minor)
	require.Equal(t, 600.0, *c.Detectors[2].Major)

	c, err = parse(file, []byte(top(`  - {name: a, type: repeat, outcome: &bad [failed, dropped], minor: 2}
  - {name: b, type: threshold, outcome: *bad}
`)), noEnv)
	require.NoError(t, err)
	require.Equal(t, []string{"failed", "dropped"}, c.Detectors[2].Outcome)
}

func TestAliasBomb(t *testing.T) {
	// Each mapping merges the previous one ten times: 10^8 merges if expanded.
	var b strings.Builder
	b.WriteString("detectors:\n  - &m0 {name: x, type: threshold, metric: m, minor: 1}\n")
	for i := 1; i <= 8; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*m%d, ", i-1), 10), ", ")
		fmt.Fprintf(&b, "  - &m%d {<<: [%s]}\n", i, refs)
	}
	start := time.Now()
	_, err := parse(file, []byte(b.String()), noEnv)
	require.Len(t, errorLines(err), 1)
	require.Contains(t, err.Error(), "document too complex (excessive aliasing)")
	require.Less(t, time.Since(start), 10*time.Second)
}

func TestErrorFormat(t *testing.T) {
	require.Equal(t, "peakend.yaml:14: detectors[2].minor: must be less than major (72 < 24)",
		(&Error{File: "peakend.yaml", Line: 14, Field: "detectors[2].minor", Msg: "must be less than major (72 < 24)"}).Error())
	require.Equal(t, "peakend.yaml: detectors: at least one detector is required",
		(&Error{File: "peakend.yaml", Field: "detectors", Msg: "at least one detector is required"}).Error())
	require.Equal(t, "detectors[2].minor: must be less than major (72 < 24)",
		(&Error{Field: "detectors[2].minor", Msg: "must be less than major (72 < 24)"}).Error())
	require.Equal(t, "peakend.yaml:3: invalid YAML: did not find expected key",
		(&Error{File: "peakend.yaml", Line: 3, Msg: "invalid YAML: did not find expected key"}).Error())

	e := &Error{Field: "x", Msg: "y"}
	require.ErrorIs(t, Errors{&Error{Msg: "z"}, e}, e)
}
