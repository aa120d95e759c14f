package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// refEvent is the reference decoder's result: metrics and attributes as maps.
type refEvent struct {
	EventID, CustomerID string
	Time                int64
	Journey, Outcome    string
	Metrics             map[string]float64
	Attrs               map[string]string
	Tier                string
	Value               float64
	HasValue            bool
}

// syntaxReason is the reference's reason for input that is not a JSON
// object; the decoder's reasons for it carry byte offsets, so tests only
// check that both say "invalid JSON".
const syntaxReason = "invalid JSON"

// refDecode is the reference decoder: encoding/json into any (UseNumber),
// then the contract's rules applied to the map, in the same order as
// Decoder.finish. It is slow and simple on purpose.
func refDecode(b []byte, limit int, journeys []string) (*refEvent, string) {
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	if len(b) > limit {
		return nil, fmt.Sprintf("record too large (%d bytes, limit %d)", len(b), limit)
	}
	if !utf8.Valid(b) {
		return nil, "invalid UTF-8"
	}
	if !json.Valid(b) {
		return nil, syntaxReason
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		panic(err) // json.Valid said yes
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, syntaxReason
	}
	ev := &refEvent{}

	// str reads an optional string field: absent, present or wrongType.
	str := func(m map[string]any, key string) (string, state) {
		x, ok := m[key]
		if !ok || x == nil {
			return "", absent
		}
		s, ok := x.(string)
		if !ok {
			return "", wrongType
		}
		return s, present
	}
	finite := func(x any) (float64, bool) {
		n, ok := x.(json.Number)
		if !ok {
			return 0, false
		}
		f, _ := strconv.ParseFloat(string(n), 64)
		return f, !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	field := func(name, want string) string { return fmt.Sprintf("field %q: %s", name, want) }

	var st state
	if ev.EventID, st = str(m, "event_id"); st == wrongType {
		return nil, field("event_id", "want a string")
	}
	switch ev.CustomerID, st = str(m, "customer_id"); {
	case st == absent:
		return nil, `missing field "customer_id"`
	case st == wrongType:
		return nil, field("customer_id", "want a string")
	case len(ev.CustomerID) == 0:
		return nil, field("customer_id", "empty")
	case len(ev.CustomerID) > 256:
		return nil, field("customer_id", "longer than 256 bytes")
	}
	ts, st := str(m, "time")
	if st == absent {
		return nil, `missing field "time"`
	}
	t, ok := refTime(ts)
	if st == wrongType || !ok {
		return nil, field("time", "want RFC 3339 string")
	}
	if y := t.UTC().Year(); y < 1970 || y > 2200 {
		return nil, field("time", "year outside 1970..2200")
	}
	ev.Time = t.UnixNano()
	switch ev.Journey, st = str(m, "journey"); {
	case st == absent:
		return nil, `missing field "journey"`
	case st == wrongType:
		return nil, field("journey", "want a string")
	case len(ev.Journey) == 0:
		return nil, field("journey", "empty")
	case len(ev.Journey) > 128:
		return nil, field("journey", "longer than 128 bytes")
	}
	if len(journeys) > 0 {
		found := false
		for _, j := range journeys {
			found = found || j == ev.Journey
		}
		if !found {
			return nil, fmt.Sprintf("unknown journey %q", ev.Journey)
		}
	}
	if ev.Outcome, st = str(m, "outcome"); st == wrongType {
		return nil, field("outcome", "want a string")
	}
	if x := m["metrics"]; x != nil {
		obj, ok := x.(map[string]any)
		if !ok {
			return nil, field("metrics", "want an object of numbers")
		}
		ev.Metrics = map[string]float64{}
		for _, k := range sortedKeys(obj) {
			f, ok := finite(obj[k])
			if !ok {
				return nil, field("metrics."+k, "want a finite number")
			}
			ev.Metrics[k] = f
		}
	}
	if x := m["attributes"]; x != nil {
		obj, ok := x.(map[string]any)
		if !ok {
			return nil, field("attributes", "want an object of strings")
		}
		ev.Attrs = map[string]string{}
		for _, k := range sortedKeys(obj) {
			s, ok := obj[k].(string)
			if !ok {
				return nil, field("attributes."+k, "want a string")
			}
			ev.Attrs[k] = s
		}
	}
	if x := m["customer"]; x != nil {
		obj, ok := x.(map[string]any)
		if !ok {
			return nil, field("customer", "want an object")
		}
		if ev.Tier, st = str(obj, "tier"); st == wrongType {
			return nil, field("customer.tier", "want a string")
		}
		if x := obj["value"]; x != nil {
			if ev.Value, ok = finite(x); !ok {
				return nil, field("customer.value", "want a finite number")
			}
			ev.HasValue = true
		}
	}
	return ev, ""
}

var rfc3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$`)

// refTime parses RFC 3339 with package time, after a check of the shape
// (time.Parse alone accepts more, e.g. a comma before the fraction).
func refTime(s string) (time.Time, bool) {
	m := rfc3339.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	if m[3] != "" {
		hh, _ := strconv.Atoi(m[3])
		mm, _ := strconv.Atoi(m[4])
		if hh > 23 || mm > 59 {
			return time.Time{}, false
		}
	}
	t, err := time.Parse(time.RFC3339Nano, strings.Map(func(r rune) rune {
		switch r {
		case 't':
			return 'T'
		case 'z':
			return 'Z'
		}
		return r
	}, s))
	return t, err == nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
