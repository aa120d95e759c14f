package event

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func ns(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

// base is a minimal valid record without its closing brace.
const base = `{"customer_id":"c1","time":"2025-03-01T12:00:00Z","journey":"delivery"`

var goodCases = []struct {
	name string
	in   string
	want Event
}{
	{"minimal", base + `}`,
		Event{CustomerID: "c1", Time: ns("2025-03-01T12:00:00Z"), Journey: "delivery"}},
	{"full", `{"event_id":"e1","customer_id":"c-0000042","time":"2025-03-01T12:00:00.5Z",
		"journey":"delivery","outcome":"delivered","metrics":{"delay_hours":52.5,"stops":3},
		"attributes":{"order_id":"o-1","region":"eu-west"},"customer":{"tier":"gold","value":1200}}`,
		Event{EventID: "e1", CustomerID: "c-0000042", Time: ns("2025-03-01T12:00:00.5Z"), Journey: "delivery",
			Outcome: "delivered", Metrics: []Metric{{"delay_hours", 52.5}, {"stops", 3}},
			Attrs: []Attr{{"order_id", "o-1"}, {"region", "eu-west"}}, Tier: "gold", Value: 1200, HasValue: true}},
	{"whitespace", " \t\r\n{ \"customer_id\" : \"c1\" ,\n\"time\":\"2025-03-01T12:00:00Z\" , \"journey\" :\"x\" , \"metrics\" : { \"a\" : 1 , \"b\" : 2 } } \n",
		Event{CustomerID: "c1", Time: ns("2025-03-01T12:00:00Z"), Journey: "x", Metrics: []Metric{{"a", 1}, {"b", 2}}}},
	{"escapes", `{"customer_id":"c\u00e9\n\"\\\/\b\f\r\t","time":"2025-03-01T12:00:00Z","journey":"deli\u0076ery","attributes":{"k\u0000":"v\u20ac"}}`,
		Event{CustomerID: "cé\n\"\\/\b\f\r\t", Time: ns("2025-03-01T12:00:00Z"), Journey: "delivery", Attrs: []Attr{{"k\x00", "v€"}}}},
	{"surrogate pair", base + `,"outcome":"\ud83d\ude00 ok"}`,
		Event{CustomerID: "c1", Time: ns("2025-03-01T12:00:00Z"), Journey: "delivery", Outcome: "😀 ok"}},
	{"lone surrogates become U+FFFD", base + `,"outcome":"\ud83d-\ude00-\ud83d\u0041"}`,
		Event{CustomerID: "c1", Time: ns("2025-03-01T12:00:00Z"), Journey: "delivery", Outcome: "\uFFFD-\uFFFD-\uFFFDA"}},
	{"raw unicode", `{"customer_id":"客户-1","time":"2025-03-01T12:00:00Z","journey":"livraison→"}`,
		Event{CustomerID: "客户-1", Time: ns("2025-03-01T12:00:00Z"), Journey: "livraison→"}},
	{"escaped key", `{"customer\u005fid":"c1","time":"2025-03-01T12:00:00Z","journey":"delivery"}`,
		Event{CustomerID: "c1", Time: ns("2025-03-01T12:00:00Z"), Journey: "delivery"}},
	{"keys are case-sensitive", base + `,"Outcome":5,"JOURNEY":[]}`,
		Event{CustomerID: "c1", Time: ns("2025-03-01T12:00:00Z"), Journey: "delivery"}},
	{"nulls are absent", base + `,"event_id":null,"outcome":null,"metrics":null,"attributes":null,"customer":null}`,
		Event{CustomerID: "c1", Time: ns("2025-03-01T12:00:00Z"), Journey: "delivery"}},
	{"null customer fields", base + `,"customer":{"tier":null,"value":null}}`,
		Event{CustomerID: "c1", Time: ns("2025-03-01T12:00:00Z"), Journey: "delivery"}},
	{"unknown fields skipped", base + `,"extra":{"a":[1,-2.5e+3,{"b":null,"c":[[],{}]}],"d":true,"e":false,"f":"\u00e9"},"g":[],"h":0,
		"customer":{"tier":"gold","since":{"y":2020},"tags":["a"]}}`,
		Event{CustomerID: "c1", Time: ns("2025-03-01T12:00:00Z"), Journey: "delivery", Tier: "gold"}},
	{"last key wins", `{"customer_id":5,"customer_id":"c1","time":"bad","time":"2025-03-01T12:00:00Z","journey":"a","journey":"b",
		"metrics":{"x":"bad"},"metrics":{"a":1,"b":2,"a":3,"c":"bad","c":4},"attributes":[],"attributes":{"k":1,"k":"v"},
		"customer":{"tier":"gold","value":5},"customer":{"value":"bad","value":7}}`,
		Event{CustomerID: "c1", Time: ns("2025-03-01T12:00:00Z"), Journey: "b", Metrics: []Metric{{"a", 3}, {"b", 2}, {"c", 4}},
			Attrs: []Attr{{"k", "v"}}, Value: 7, HasValue: true}},
	{"null replaces an earlier value", base + `,"outcome":"ok","outcome":null,"metrics":{"a":1},"metrics":null,"customer":{"tier":"x"},"customer":null}`,
		Event{CustomerID: "c1", Time: ns("2025-03-01T12:00:00Z"), Journey: "delivery"}},
	{"time with fraction and offset", `{"customer_id":"c1","time":"2025-03-01T12:00:00.123456789+02:00","journey":"x"}`,
		Event{CustomerID: "c1", Time: ns("2025-03-01T10:00:00.123456789Z"), Journey: "x"}},
	{"time lower case, long fraction, negative offset", `{"customer_id":"c1","time":"2024-02-29t23:59:59.1234567891234z","journey":"x","time":"2024-02-29t23:59:59.1234567891234-00:30"}`,
		Event{CustomerID: "c1", Time: ns("2024-03-01T00:29:59.123456789Z"), Journey: "x"}},
	{"time range edges", `{"customer_id":"c1","time":"1970-01-01T00:00:00Z","journey":"x","time":"2200-12-31T23:59:59.999999999Z"}`,
		Event{CustomerID: "c1", Time: ns("2200-12-31T23:59:59.999999999Z"), Journey: "x"}},
	{"numbers", base + `,"metrics":{"a":-0,"b":1E+2,"c":0.5e-3,"d":1e-400,"e":12345678901234567890,"f":0.30240955088135326,"g":-1.7976931348623157e308}}`,
		Event{CustomerID: "c1", Time: ns("2025-03-01T12:00:00Z"), Journey: "delivery",
			Metrics: []Metric{{"a", math.Copysign(0, -1)}, {"b", 100}, {"c", 0.0005}, {"d", 0}, {"e", 12345678901234567890}, {"f", 0.30240955088135326}, {"g", -math.MaxFloat64}}}},
	{"empty objects", base + `,"metrics":{},"attributes":{},"customer":{}}`,
		Event{CustomerID: "c1", Time: ns("2025-03-01T12:00:00Z"), Journey: "delivery"}},
	{"10000 levels deep", base + `,"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
		Event{CustomerID: "c1", Time: ns("2025-03-01T12:00:00Z"), Journey: "delivery"}},
	{"256-byte customer id", `{"customer_id":"` + strings.Repeat("x", 256) + `","time":"2025-03-01T12:00:00Z","journey":"delivery"}`,
		Event{CustomerID: strings.Repeat("x", 256), Time: ns("2025-03-01T12:00:00Z"), Journey: "delivery"}},
}

var badCases = []struct {
	name     string
	in       string
	maxBytes int
	reason   string
}{
	{"too large", base + `,"pad":"` + strings.Repeat("x", 100) + `"}`, 100, "record too large (180 bytes, limit 100)"},
	{"too large, not even JSON", strings.Repeat("\xff", 70000), 0, "record too large (70000 bytes, limit 65536)"},
	{"invalid UTF-8", base + ",\"outcome\":\"\xff\"}", 0, "invalid UTF-8"},
	{"invalid UTF-8 in a key", base + ",\"\xc3\x28\":1}", 0, "invalid UTF-8"},
	{"empty input", ``, 0, "invalid JSON at byte 0: unexpected end of input"},
	{"only spaces", "  \n", 0, "invalid JSON at byte 3: unexpected end of input"},
	{"not an object", `["customer_id"]`, 0, "invalid JSON at byte 0: want a JSON object"},
	{"not JSON", `customer_id=c1`, 0, "invalid JSON at byte 0: unexpected 'c'"},
	{"trailing comma", base + `,}`, 0, "invalid JSON at byte 71: unexpected '}'"},
	{"trailing data", base + `} {}`, 0, "invalid JSON at byte 72: unexpected '{'"},
	{"truncated", base, 0, "invalid JSON at byte 70: unexpected end of input"},
	{"unterminated string", `{"customer_id":"c1`, 0, "invalid JSON at byte 18: unexpected end of input in a string"},
	{"single quotes", `{'customer_id':1}`, 0, "invalid JSON at byte 1: unexpected '\\''"},
	{"missing colon", `{"customer_id" "c1"}`, 0, "invalid JSON at byte 15: unexpected '\"'"},
	{"bad escape", `{"customer_id":"c\x"}`, 0, "invalid JSON at byte 18: invalid escape '\\x'"},
	{"bad unicode escape", `{"customer_id":"\u12G4"}`, 0, "invalid JSON at byte 20: unexpected 'G'"},
	{"bad lower-case unicode escape", `{"customer_id":"\u00g0"}`, 0, "invalid JSON at byte 20: unexpected 'g'"},
	{"control character in a long string", "{\"customer_id\":\"0123456789\x00abcdefgh\"}", 0, "invalid JSON at byte 26: control character in a string"},
	{"control character", "{\"customer_id\":\"c\t1\"}", 0, "invalid JSON at byte 17: control character in a string"},
	{"leading zero", base + `,"metrics":{"a":01}}`, 0, "invalid JSON at byte 87: unexpected '1'"},
	{"bare minus", base + `,"x":-}`, 0, "invalid JSON at byte 76: unexpected '}'"},
	{"no fraction digits", base + `,"x":1.}`, 0, "invalid JSON at byte 77: unexpected '}'"},
	{"no exponent digits", base + `,"x":1e+}`, 0, "invalid JSON at byte 78: unexpected '}'"},
	{"plus sign", base + `,"x":+1}`, 0, "invalid JSON at byte 75: unexpected '+'"},
	{"NaN", base + `,"metrics":{"a":NaN}}`, 0, "invalid JSON at byte 86: unexpected 'N'"},
	{"bad literal", base + `,"x":nul}`, 0, "invalid JSON at byte 78: unexpected '}'"},
	{"bad literal in skipped value", base + `,"x":[true,fals]}`, 0, "invalid JSON at byte 85: unexpected ']'"},
	{"mismatched brackets", base + `,"x":[1}}`, 0, "invalid JSON at byte 77: unexpected '}'"},
	{"too deep", base + `,"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, 0, "invalid JSON at byte 10074: nesting deeper than 10000 levels"},
	{"missing customer_id", `{"time":"2025-03-01T12:00:00Z","journey":"delivery"}`, 0, `missing field "customer_id"`},
	{"null customer_id", `{"customer_id":null,"time":"2025-03-01T12:00:00Z","journey":"delivery"}`, 0, `missing field "customer_id"`},
	{"missing time", `{"customer_id":"c1","journey":"delivery"}`, 0, `missing field "time"`},
	{"missing journey", `{"customer_id":"c1","time":"2025-03-01T12:00:00Z"}`, 0, `missing field "journey"`},
	{"missing all: first in order", `{}`, 0, `missing field "customer_id"`},
	{"event_id type", base + `,"event_id":7}`, 0, `field "event_id": want a string`},
	{"customer_id type", `{"customer_id":42}`, 0, `field "customer_id": want a string`},
	{"customer_id empty", `{"customer_id":""}`, 0, `field "customer_id": empty`},
	{"customer_id too long", `{"customer_id":"` + strings.Repeat("x", 257) + `"}`, 0, `field "customer_id": longer than 256 bytes`},
	{"customer_id too long once unescaped", `{"customer_id":"` + strings.Repeat(`\u00e9`, 129) + `"}`, 0, `field "customer_id": longer than 256 bytes`},
	{"time type", `{"customer_id":"c1","time":1740830400}`, 0, `field "time": want RFC 3339 string`},
	{"time not RFC 3339", `{"customer_id":"c1","time":"2025-03-01 12:00:00Z"}`, 0, `field "time": want RFC 3339 string`},
	{"time without zone", `{"customer_id":"c1","time":"2025-03-01T12:00:00"}`, 0, `field "time": want RFC 3339 string`},
	{"time Feb 30", `{"customer_id":"c1","time":"2025-02-30T12:00:00Z"}`, 0, `field "time": want RFC 3339 string`},
	{"time Feb 29 of 2100", `{"customer_id":"c1","time":"2100-02-29T12:00:00Z"}`, 0, `field "time": want RFC 3339 string`},
	{"time leap second", `{"customer_id":"c1","time":"2016-12-31T23:59:60Z"}`, 0, `field "time": want RFC 3339 string`},
	{"time offset hour 24", `{"customer_id":"c1","time":"2025-03-01T12:00:00+24:00"}`, 0, `field "time": want RFC 3339 string`},
	{"time empty fraction", `{"customer_id":"c1","time":"2025-03-01T12:00:00.Z"}`, 0, `field "time": want RFC 3339 string`},
	{"time comma fraction", `{"customer_id":"c1","time":"2025-03-01T12:00:00,5Z"}`, 0, `field "time": want RFC 3339 string`},
	{"time before 1970", `{"customer_id":"c1","time":"1969-12-31T23:59:59Z"}`, 0, `field "time": year outside 1970..2200`},
	{"time before 1970 in UTC", `{"customer_id":"c1","time":"1970-01-01T00:30:00+01:00"}`, 0, `field "time": year outside 1970..2200`},
	{"time after 2200", `{"customer_id":"c1","time":"2201-01-01T00:00:00Z"}`, 0, `field "time": year outside 1970..2200`},
	{"journey type", `{"customer_id":"c1","time":"2025-03-01T12:00:00Z","journey":{}}`, 0, `field "journey": want a string`},
	{"journey empty", `{"customer_id":"c1","time":"2025-03-01T12:00:00Z","journey":""}`, 0, `field "journey": empty`},
	{"journey too long", `{"customer_id":"c1","time":"2025-03-01T12:00:00Z","journey":"` + strings.Repeat("j", 129) + `"}`, 0, `field "journey": longer than 128 bytes`},
	{"outcome type", base + `,"outcome":true}`, 0, `field "outcome": want a string`},
	{"metrics type", base + `,"metrics":[1]}`, 0, `field "metrics": want an object of numbers`},
	{"metric overflow", base + `,"metrics":{"delay_hours":1e999}}`, 0, `field "metrics.delay_hours": want a finite number`},
	{"metric negative overflow", base + `,"metrics":{"x":-2e308}}`, 0, `field "metrics.x": want a finite number`},
	{"metric string", base + `,"metrics":{"a":1,"wait":"12"}}`, 0, `field "metrics.wait": want a finite number`},
	{"metric null", base + `,"metrics":{"a":null}}`, 0, `field "metrics.a": want a finite number`},
	{"metric smallest bad name", base + `,"metrics":{"z":"1","b":[],"a":2}}`, 0, `field "metrics.b": want a finite number`},
	{"metric bad last value", base + `,"metrics":{"a":1,"a":"x"}}`, 0, `field "metrics.a": want a finite number`},
	{"attributes type", base + `,"attributes":"x"}`, 0, `field "attributes": want an object of strings`},
	{"attribute number", base + `,"attributes":{"order_id":12}}`, 0, `field "attributes.order_id": want a string`},
	{"customer type", base + `,"customer":"gold"}`, 0, `field "customer": want an object`},
	{"tier type", base + `,"customer":{"tier":1}}`, 0, `field "customer.tier": want a string`},
	{"value type", base + `,"customer":{"value":"1"}}`, 0, `field "customer.value": want a finite number`},
	{"value overflow", base + `,"customer":{"value":1e400}}`, 0, `field "customer.value": want a finite number`},
}

func TestDecodeGood(t *testing.T) {
	d := NewDecoder(0, nil)
	var ev Event
	for _, tc := range goodCases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, d.Decode([]byte(tc.in), &ev))
			got := norm(ev)
			require.Equal(t, tc.want, got)
			for i, m := range tc.want.Metrics { // Equal treats -0 as 0
				require.Equal(t, math.Float64bits(m.Value), math.Float64bits(got.Metrics[i].Value), m.Name)
			}
			checkAgainstRef(t, d, &ev, []byte(tc.in))
		})
	}
}

func TestDecodeBad(t *testing.T) {
	var ev Event
	for _, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(tc.maxBytes, nil)
			ev.CustomerID, ev.Metrics = "stale", append(ev.Metrics, Metric{"stale", 1})
			err := d.Decode([]byte(tc.in), &ev)
			require.ErrorIs(t, err, ErrInvalid)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.reason, e.Reason)
			require.Equal(t, "invalid record: "+tc.reason, err.Error())
			require.Empty(t, ev.CustomerID)
			require.Empty(t, ev.Metrics)
			checkAgainstRef(t, d, &ev, []byte(tc.in))
		})
	}
}

func TestDecodeJourneyAllowList(t *testing.T) {
	d := NewDecoder(0, []string{"delivery", "checkout"})
	var ev Event
	require.NoError(t, d.Decode([]byte(base+`}`), &ev))
	err := d.Decode([]byte(`{"customer_id":"c1","time":"2025-03-01T12:00:00Z","journey":"teleport"}`), &ev)
	require.EqualError(t, err, `invalid record: unknown journey "teleport"`)
}

func TestDecodeManyMetrics(t *testing.T) {
	// Past indexAfter entries, names are found through an index; repeats
	// keep their first position and last value.
	var sb strings.Builder
	sb.WriteString(base + `,"metrics":{`)
	for i := range 40 {
		fmt.Fprintf(&sb, `"m%02d":1,`, i)
	}
	for i := range 40 {
		fmt.Fprintf(&sb, `"m%02d":%d,`, i, i%10)
	}
	sb.WriteString(`"last":"bad","last":9},"attributes":{`)
	for i := range 40 {
		fmt.Fprintf(&sb, `"a%02d":1,"a%02d":"v%d",`, i, i, i)
	}
	sb.WriteString(`"z":"end"}}`)
	in := []byte(sb.String())
	d := NewDecoder(0, nil)
	var ev Event
	for range 2 { // twice: the index is reset between records
		require.NoError(t, d.Decode(in, &ev))
		require.Len(t, ev.Metrics, 41)
		for i := range 40 {
			require.Equal(t, Metric{fmt.Sprintf("m%02d", i), float64(i % 10)}, ev.Metrics[i])
		}
		require.Equal(t, Metric{"last", 9}, ev.Metrics[40])
		require.Len(t, ev.Attrs, 41)
		require.Equal(t, Attr{"a02", "v2"}, ev.Attrs[2])
		checkAgainstRef(t, d, &ev, in)
	}
}

func TestDecodeInterns(t *testing.T) {
	d := NewDecoder(0, nil)
	var a, b Event
	in := []byte(base + `,"outcome":"ok","metrics":{"delay_hours":1},"attributes":{"region":"eu"},"customer":{"tier":"gold"}}`)
	require.NoError(t, d.Decode(in, &a))
	require.NoError(t, d.Decode(bytes.Clone(in), &b))
	for _, pair := range [][2]string{{a.Journey, b.Journey}, {a.Outcome, b.Outcome}, {a.Metrics[0].Name, b.Metrics[0].Name},
		{a.Attrs[0].Key, b.Attrs[0].Key}, {a.Tier, b.Tier}} {
		require.Equal(t, pair[0], pair[1])
		require.Equal(t, addr(pair[0]), addr(pair[1]), "interned %q", pair[0])
	}
	require.NotEqual(t, addr(a.CustomerID), addr(b.CustomerID), "customer_id is fresh")

	// The table is bounded: it starts afresh when full.
	for i := range maxInterned + 10 {
		d.intern([]byte("name-" + string(rune(0x4e00+i))))
	}
	require.LessOrEqual(t, len(d.names), maxInterned)
}

// addr is the address of s's bytes.
func addr(s string) uintptr { return uintptr(unsafe.Pointer(unsafe.StringData(s))) }

func TestDecodeAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts")
	}
	events := SampleEvents(256, 3)
	d := NewDecoder(0, nil)
	var ev Event
	for _, b := range events { // warm the intern table and ev's slices
		require.NoError(t, d.Decode(b, &ev))
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		if err := d.Decode(events[i%len(events)], &ev); err != nil {
			panic(err)
		}
		i++
	})
	require.LessOrEqual(t, allocs, 3.0)
}

// TestDecodeDifferential checks the decoder against the reference on sample
// events and on many random mutations of them.
func TestDecodeDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := NewDecoder(0, nil)
	dl := NewDecoder(0, []string{"delivery", "checkout"})
	var ev Event
	n := 3000
	if testing.Short() {
		n = 300
	}
	pieces := []string{`"`, `\`, `\u`, `\ud83d`, `\udc00`, `{`, `}`, `[`, `]`, `:`, `,`, `null`, `-`, `0`, `1e999`, `.`, `e`,
		` `, "\xff", "é", `"metrics"`, `"customer_id"`, `"time"`, `"journey"`, `"customer"`, `"value"`, `"tier"`, `"attributes"`, `{"a":1}`}
	for i, b := range SampleEvents(n, 11) {
		checkAgainstRef(t, d, &ev, b)
		for range 4 {
			m := bytes.Clone(b)
			for range 1 + rng.IntN(3) {
				pos := rng.IntN(len(m) + 1)
				switch rng.IntN(4) {
				case 0: // delete a run
					end := min(len(m), pos+1+rng.IntN(8))
					m = append(m[:pos:pos], m[end:]...)
				case 1: // insert a piece
					m = append(m[:pos:pos], append([]byte(pieces[rng.IntN(len(pieces))]), m[pos:]...)...)
				case 2: // duplicate a run
					end := min(len(m), pos+rng.IntN(40))
					m = append(m[:end:end], append(bytes.Clone(m[pos:end]), m[end:]...)...)
				default: // replace a byte
					if pos < len(m) {
						m[pos] = pieces[rng.IntN(len(pieces))][0]
					}
				}
			}
			if i%2 == 0 {
				checkAgainstRef(t, d, &ev, m)
			} else {
				checkAgainstRef(t, dl, &ev, m)
			}
		}
	}
}

// checkAgainstRef decodes b with d and with the reference decoder and
// requires the same verdict, the same reason (only the class for syntax
// errors) and, on success, the same fields. It also checks that the event
// does not alias the input, and that a fresh decoder agrees with d.
func checkAgainstRef(t *testing.T, d *Decoder, ev *Event, b []byte) {
	t.Helper()
	in := bytes.Clone(b)
	err := d.Decode(in, ev)
	for i := range in {
		in[i] = '#' // the event must not alias the input
	}
	want, reason := refDecode(b, d.MaxBytes, d.Journeys)

	var fresh Event
	ferr := NewDecoder(d.MaxBytes, d.Journeys).Decode(b, &fresh)
	require.Equal(t, err, ferr, "fresh decoder: %q", b)

	if reason != "" {
		require.Error(t, err, "reference says %q for %q", reason, b)
		require.ErrorIs(t, err, ErrInvalid)
		var e *Error
		require.ErrorAs(t, err, &e)
		if reason == syntaxReason {
			require.True(t, strings.HasPrefix(e.Reason, "invalid JSON at byte "), "want a syntax error, got %q for %q", e.Reason, b)
		} else {
			require.Equal(t, reason, e.Reason, "input %q", b)
		}
		require.Equal(t, Event{Metrics: ev.Metrics[:0], Attrs: ev.Attrs[:0]}, *ev, "event reset after an error")
		return
	}
	require.NoError(t, err, "input %q", b)
	require.Equal(t, want.EventID, ev.EventID)
	require.Equal(t, want.CustomerID, ev.CustomerID)
	require.Equal(t, want.Time, ev.Time)
	require.Equal(t, want.Journey, ev.Journey)
	require.Equal(t, want.Outcome, ev.Outcome)
	require.Equal(t, want.Tier, ev.Tier)
	require.Equal(t, want.HasValue, ev.HasValue)
	require.Equal(t, math.Float64bits(want.Value), math.Float64bits(ev.Value), "value")
	require.Len(t, ev.Metrics, len(want.Metrics), "metrics of %q", b)
	for _, m := range ev.Metrics {
		v, ok := want.Metrics[m.Name]
		require.True(t, ok, "metric %q", m.Name)
		require.Equal(t, math.Float64bits(v), math.Float64bits(m.Value), "metric %q", m.Name)
	}
	require.Len(t, ev.Attrs, len(want.Attrs), "attributes of %q", b)
	for _, a := range ev.Attrs {
		v, ok := want.Attrs[a.Key]
		require.True(t, ok, "attribute %q", a.Key)
		require.Equal(t, v, a.Value, "attribute %q", a.Key)
	}
	require.Equal(t, norm(*ev), norm(fresh))
}

// norm makes empty slices nil, for comparisons.
func norm(e Event) Event {
	if len(e.Metrics) == 0 {
		e.Metrics = nil
	}
	if len(e.Attrs) == 0 {
		e.Attrs = nil
	}
	return e
}

func FuzzDecode(f *testing.F) {
	for _, b := range SampleEvents(4, 5) {
		f.Add(b)
	}
	for _, tc := range goodCases {
		f.Add([]byte(tc.in))
	}
	for _, tc := range badCases {
		if len(tc.in) < 1000 {
			f.Add([]byte(tc.in))
		}
	}
	d := NewDecoder(0, nil)
	dl := NewDecoder(0, []string{"delivery", "checkout", "support_call", "playback"})
	var ev Event
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b)%2 == 1 {
			checkAgainstRef(t, dl, &ev, b)
		} else {
			checkAgainstRef(t, d, &ev, b)
		}
		checkTime(t, d, b)
	})
}

// checkTime: for every record Decode accepts, Time reads the same event time
// (replay orders input by it before decoding).
func checkTime(t *testing.T, d *Decoder, b []byte) {
	var ev Event
	if d.Decode(b, &ev) != nil {
		return
	}
	ns, ok := d.Time(b)
	require.True(t, ok, "Time rejects a record Decode accepts: %q", b)
	require.Equal(t, ev.Time, ns, "%q", b)
}

func TestTimeAgreesWithDecode(t *testing.T) {
	d := NewDecoder(0, nil)
	for _, tc := range goodCases {
		checkTime(t, d, []byte(tc.in))
	}
	for _, b := range SampleEvents(50, 9) {
		checkTime(t, d, b)
	}
	// The last "time" counts, as in Decode; a nested "time" does not.
	b := []byte(`{"time":"2026-01-01T00:00:00Z","customer_id":"c","journey":"j","attributes":{"time":"x"},"time":"2026-01-02T00:00:00Z"}`)
	checkTime(t, d, b)
	ns, ok := d.Time(b)
	require.True(t, ok)
	require.Equal(t, int64(1767312000)*1e9, ns)
	for _, bad := range []string{``, `[]`, `{}`, `{"time":1}`, `{"time":"yesterday"}`, `{"time":"2026-01-01T00:00:00Z"`} {
		_, ok := d.Time([]byte(bad))
		require.False(t, ok, "%q", bad)
	}
}

func TestErrorsAreInvalid(t *testing.T) {
	err := NewDecoder(0, nil).Decode([]byte(`{}`), new(Event))
	require.True(t, errors.Is(err, ErrInvalid))
}

func TestPlain8(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	special := []byte{'"', '\\', 0, 0x1f, 0x20, 0x7f, 0x80, 0xff, '!', '[', ']', 0x5c ^ 0x80, 0x22 ^ 0x80}
	for range 200000 {
		var w [8]byte
		for j := range w {
			if rng.IntN(4) == 0 {
				w[j] = special[rng.IntN(len(special))]
			} else {
				w[j] = byte(rng.Uint32())
			}
		}
		want := true
		for _, c := range w {
			want = want && strPlain[c]
		}
		x := uint64(0)
		for j := 7; j >= 0; j-- {
			x = x<<8 | uint64(w[j])
		}
		require.Equal(t, want, plain8(x), "%q", w[:])
	}
}
