package event

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

const (
	maxDepth      = 10000 // nesting limit, the same as encoding/json's
	maxInterned   = 4096  // intern table size; it starts afresh when full
	maxInternLen  = 128   // longer names are not interned
	maxCustomerID = 256   // bytes
	maxJourney    = 128   // bytes
	indexAfter    = 16    // metrics/attributes beyond this count get a name index
)

// Decoder decodes experience events (docs/reference.md, "Experience event") from JSON. It
// accepts exactly the JSON of RFC 8259 (nesting up to 10000 levels, as
// encoding/json), rejects invalid UTF-8, and applies the event's rules to the
// last occurrence of each key, as encoding/json does with a repeated key.
// A syntax error's reason gives the zero-based offset of the offending byte,
// e.g. `invalid JSON at byte 17: unexpected '}'`. When several fields are
// wrong, the reason names the first in the contract's order (event_id,
// customer_id, time, journey, outcome, metrics, attributes, customer), and
// for metrics and attributes the smallest offending name.
//
// A Decoder reuses internal buffers and interns names (journey, outcome,
// metric names, attribute keys, tier), so it is not safe for concurrent use:
// use one per goroutine. The zero value is ready to use, with no journey
// allow-list and the default size limit.
type Decoder struct {
	// MaxBytes is the size limit of one record; 0 means DefaultMaxBytes.
	MaxBytes int
	// Journeys, when not empty, lists the accepted journeys; a record with
	// another journey is rejected as `unknown journey "..."`.
	Journeys []string

	names map[string]string // intern table
	kbuf  []byte            // unescaped keys
	vbuf  []byte            // unescaped values
	sbuf  []byte            // bytes of the fresh strings: ids, attribute values
	stack []byte            // open containers while skipping a value
	mbad  []bool            // per ev.Metrics: last value was not a finite number
	aval  []span            // per ev.Attrs: value bytes in sbuf; off < 0: not a string
	midx  map[string]int    // metric name -> index, for long metric lists
	aidx  map[string]int    // attribute key -> index, for long attribute lists
}

// NewDecoder returns a Decoder with the given size limit (0 means
// DefaultMaxBytes) and journey allow-list (nil: any journey).
func NewDecoder(maxBytes int, journeys []string) *Decoder {
	return &Decoder{MaxBytes: maxBytes, Journeys: journeys}
}

// span locates bytes in Decoder.sbuf.
type span struct{ off, end int }

// state is what the last occurrence of a field held.
type state uint8

const (
	absent    state = iota // missing or null
	present                // of the right JSON type
	wrongType              // of another JSON type
)

// time parse results
const (
	timeOK uint8 = iota
	timeFormat
	timeRange
)

// fields tracks the top-level fields of the record being decoded.
type fields struct {
	eid, cid, time, journey, outcome, metrics, attrs, cust, tier, value state
	timeErr                                                             uint8
	eidS, cidS                                                          span
	ns                                                                  int64
}

// Decode decodes one experience event from b into ev, which is reset first.
// On success ev holds no reference to b; CustomerID and EventID are fresh
// strings, the attribute values share one fresh allocation, and the names
// are interned. On failure it returns an *Error wrapping ErrInvalid and ev is
// left reset. The size limit is checked before anything else.
func (d *Decoder) Decode(b []byte, ev *Event) error {
	ev.Reset()
	limit := d.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	if len(b) > limit {
		return invalidf("record too large (%d bytes, limit %d)", len(b), limit)
	}
	if !utf8.Valid(b) {
		return &Error{Reason: "invalid UTF-8"}
	}
	if d.names == nil {
		d.names = make(map[string]string, 64)
	}
	d.sbuf = d.sbuf[:0]
	d.stack = d.stack[:0]
	d.mbad = d.mbad[:0]
	d.aval = d.aval[:0]
	p := parser{b: b, d: d}
	var f fields
	if !p.object(ev, &f) {
		ev.Reset()
		return p.err
	}
	if err := d.finish(ev, &f); err != nil {
		ev.Reset()
		return err
	}
	return nil
}

// Time returns the event time of the experience in b, as Decode would (the
// last "time" member counts), without validating or decoding anything else:
// a quick look for ordering, several times cheaper than Decode. ok is false
// when b has no readable time; Decode may still reject a b that Time reads.
func (d *Decoder) Time(b []byte) (ns int64, ok bool) {
	d.stack = d.stack[:0]
	p := parser{b: b, d: d}
	p.ws()
	if p.peek() != '{' {
		return 0, false
	}
	p.i++
	p.ws()
	if p.peek() == '}' {
		return 0, false
	}
	for {
		if p.peek() != '"' {
			return 0, false
		}
		key, kok := p.str(&d.kbuf)
		if !kok || !p.colon() {
			return 0, false
		}
		if string(key) == "time" {
			raw, st, vok := p.strValue(1)
			if !vok {
				return 0, false
			}
			ns, ok = 0, false
			if st == present {
				t, bad := parseTime(raw)
				ns, ok = t, bad == 0
			}
		} else if !p.skip(1) {
			return 0, false
		}
		more, nok := p.next('}')
		if !nok {
			return 0, false
		}
		if !more {
			return ns, ok
		}
	}
}

// finish validates the last occurrence of each field, in a fixed order, and
// then makes the fresh strings.
func (d *Decoder) finish(ev *Event, f *fields) *Error {
	if f.eid == wrongType {
		return wantString("event_id")
	}
	switch f.cid {
	case absent:
		return missing("customer_id")
	case wrongType:
		return wantString("customer_id")
	}
	switch n := f.cidS.end - f.cidS.off; {
	case n == 0:
		return empty("customer_id")
	case n > maxCustomerID:
		return tooLong("customer_id", maxCustomerID)
	}
	switch {
	case f.time == absent:
		return missing("time")
	case f.time == wrongType || f.timeErr == timeFormat:
		return &Error{Reason: `field "time": want RFC 3339 string`}
	case f.timeErr == timeRange:
		return &Error{Reason: `field "time": year outside 1970..2200`}
	}
	switch f.journey {
	case absent:
		return missing("journey")
	case wrongType:
		return wantString("journey")
	}
	switch n := len(ev.Journey); {
	case n == 0:
		return empty("journey")
	case n > maxJourney:
		return tooLong("journey", maxJourney)
	}
	if len(d.Journeys) > 0 && !contains(d.Journeys, ev.Journey) {
		return invalidf("unknown journey %q", ev.Journey)
	}
	if f.outcome == wrongType {
		return wantString("outcome")
	}
	if f.metrics == wrongType {
		return &Error{Reason: `field "metrics": want an object of numbers`}
	}
	if name, bad := firstBad(len(d.mbad), func(i int) bool { return d.mbad[i] }, func(i int) string { return ev.Metrics[i].Name }); bad {
		return wantNumber("metrics." + name)
	}
	if f.attrs == wrongType {
		return &Error{Reason: `field "attributes": want an object of strings`}
	}
	if name, bad := firstBad(len(d.aval), func(i int) bool { return d.aval[i].off < 0 }, func(i int) string { return ev.Attrs[i].Key }); bad {
		return wantString("attributes." + name)
	}
	switch {
	case f.cust == wrongType:
		return &Error{Reason: `field "customer": want an object`}
	case f.tier == wrongType:
		return wantString("customer.tier")
	case f.value == wrongType:
		return wantNumber("customer.value")
	}

	ev.Time = f.ns
	ev.CustomerID = string(d.sbuf[f.cidS.off:f.cidS.end])
	if f.eid == present && f.eidS.end > f.eidS.off {
		ev.EventID = string(d.sbuf[f.eidS.off:f.eidS.end])
	}
	if len(ev.Attrs) > 0 {
		lo, hi := d.aval[0].off, d.aval[0].end
		for _, s := range d.aval[1:] {
			lo, hi = min(lo, s.off), max(hi, s.end)
		}
		all := string(d.sbuf[lo:hi])
		for i, s := range d.aval {
			ev.Attrs[i].Value = all[s.off-lo : s.end-lo]
		}
	}
	return nil
}

// firstBad returns the smallest name among the n entries for which bad is
// true, so that the reason does not depend on the input order.
func firstBad(n int, bad func(int) bool, name func(int) string) (string, bool) {
	first, found := "", false
	for i := 0; i < n; i++ {
		if bad(i) && (!found || name(i) < first) {
			first, found = name(i), true
		}
	}
	return first, found
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func missing(field string) *Error    { return invalidf("missing field %q", field) }
func wantString(field string) *Error { return invalidf("field %q: want a string", field) }
func wantNumber(field string) *Error { return invalidf("field %q: want a finite number", field) }
func empty(field string) *Error      { return invalidf("field %q: empty", field) }
func tooLong(field string, n int) *Error {
	return invalidf("field %q: longer than %d bytes", field, n)
}

// intern returns b as a string, from the intern table when it is there.
// The m[string(b)] lookup does not allocate.
func (d *Decoder) intern(b []byte) string {
	if s, ok := d.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) <= maxInternLen {
		if len(d.names) >= maxInterned {
			clear(d.names) // start afresh rather than pin a burst of odd names
		}
		d.names[s] = s
	}
	return s
}

// keep copies b into sbuf, to become a fresh string once the record is valid.
func (d *Decoder) keep(b []byte) span {
	off := len(d.sbuf)
	d.sbuf = append(d.sbuf, b...)
	return span{off, len(d.sbuf)}
}

func (d *Decoder) setMetric(ev *Event, name string, v float64, bad bool) {
	i := -1
	if ms := ev.Metrics; len(ms) <= indexAfter {
		for j := range ms {
			if ms[j].Name == name {
				i = j
				break
			}
		}
	} else {
		if len(d.midx) == 0 {
			if d.midx == nil {
				d.midx = make(map[string]int)
			}
			for j := range ms {
				d.midx[ms[j].Name] = j
			}
		}
		if j, ok := d.midx[name]; ok {
			i = j
		}
	}
	if i >= 0 {
		ev.Metrics[i].Value = v
		d.mbad[i] = bad
		return
	}
	if len(d.midx) > 0 {
		d.midx[name] = len(ev.Metrics)
	}
	ev.Metrics = append(ev.Metrics, Metric{Name: name, Value: v})
	d.mbad = append(d.mbad, bad)
}

func (d *Decoder) setAttr(ev *Event, key string, s span) {
	i := -1
	if as := ev.Attrs; len(as) <= indexAfter {
		for j := range as {
			if as[j].Key == key {
				i = j
				break
			}
		}
	} else {
		if len(d.aidx) == 0 {
			if d.aidx == nil {
				d.aidx = make(map[string]int)
			}
			for j := range as {
				d.aidx[as[j].Key] = j
			}
		}
		if j, ok := d.aidx[key]; ok {
			i = j
		}
	}
	if i >= 0 {
		d.aval[i] = s
		return
	}
	if len(d.aidx) > 0 {
		d.aidx[key] = len(ev.Attrs)
	}
	ev.Attrs = append(ev.Attrs, Attr{Key: key})
	d.aval = append(d.aval, s)
}

// parser is the state of one Decode. Its methods report a syntax error by
// setting err and returning false.
type parser struct {
	b   []byte
	i   int
	d   *Decoder
	err *Error
}

func (p *parser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *parser) ws() {
	b, i := p.b, p.i
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	p.i = i
}

// fail records a syntax error at byte offset i (zero-based).
func (p *parser) fail(i int, msg string) bool {
	p.err = invalidf("invalid JSON at byte %d: %s", i, msg)
	return false
}

// unexpected fails on the byte at p.i.
func (p *parser) unexpected() bool { return p.unexpectedAt(p.i) }

func (p *parser) unexpectedAt(i int) bool {
	if i >= len(p.b) {
		return p.fail(i, "unexpected end of input")
	}
	r, _ := utf8.DecodeRune(p.b[i:])
	return p.fail(i, fmt.Sprintf("unexpected %q", r))
}

// object parses the top-level object.
func (p *parser) object(ev *Event, f *fields) bool {
	d := p.d
	p.ws()
	switch c := p.peek(); {
	case c == '{':
	case c == '[' || c == '"' || c == 't' || c == 'f' || c == 'n' || c == '-' || c >= '0' && c <= '9':
		return p.fail(p.i, "want a JSON object")
	default:
		return p.unexpected()
	}
	p.i++
	p.ws()
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			if p.peek() != '"' {
				return p.unexpected()
			}
			key, ok := p.str(&d.kbuf)
			if !ok || !p.colon() {
				return false
			}
			switch string(key) {
			case "event_id":
				raw, st, ok := p.strValue(1)
				if !ok {
					return false
				}
				if f.eid = st; st == present {
					f.eidS = d.keep(raw)
				}
			case "customer_id":
				raw, st, ok := p.strValue(1)
				if !ok {
					return false
				}
				if f.cid = st; st == present {
					f.cidS = d.keep(raw)
				}
			case "time":
				raw, st, ok := p.strValue(1)
				if !ok {
					return false
				}
				if f.time = st; st == present {
					f.ns, f.timeErr = parseTime(raw)
				}
			case "journey":
				raw, st, ok := p.strValue(1)
				if !ok {
					return false
				}
				ev.Journey = ""
				if f.journey = st; st == present {
					ev.Journey = d.intern(raw)
				}
			case "outcome":
				raw, st, ok := p.strValue(1)
				if !ok {
					return false
				}
				ev.Outcome = ""
				if f.outcome = st; st == present {
					ev.Outcome = d.intern(raw)
				}
			case "metrics":
				if !p.metrics(ev, f) {
					return false
				}
			case "attributes":
				if !p.attributes(ev, f) {
					return false
				}
			case "customer":
				if !p.customer(ev, f) {
					return false
				}
			default:
				if !p.skip(1) {
					return false
				}
			}
			more, ok := p.next('}')
			if !ok {
				return false
			}
			if !more {
				break
			}
		}
	}
	p.ws()
	if p.i < len(p.b) {
		return p.unexpected()
	}
	return true
}

// next consumes the ',' or the closing byte after a member: more reports a
// ',' (p.i is then at the next key), else p.i is past the closing byte.
func (p *parser) next(closing byte) (more, ok bool) {
	p.ws()
	switch p.peek() {
	case ',':
		p.i++
		p.ws()
		return true, true
	case closing:
		p.i++
		return false, true
	}
	return false, p.unexpected()
}

// colon consumes the ':' between a key and its value, with the spaces around.
func (p *parser) colon() bool {
	p.ws()
	if p.peek() != ':' {
		return p.unexpected()
	}
	p.i++
	p.ws()
	return true
}

// strValue parses a string-or-null value; any other value is skipped and
// reported as wrongType. depth is the number of containers open around it.
func (p *parser) strValue(depth int) (raw []byte, st state, ok bool) {
	switch p.peek() {
	case '"':
		raw, ok = p.str(&p.d.vbuf)
		return raw, present, ok
	case 'n':
		return nil, absent, p.lit("null")
	}
	return nil, wrongType, p.skip(depth)
}

// numValue parses a number-or-null value; other values are skipped and
// reported as wrongType, as are numbers too large for a float64.
func (p *parser) numValue(depth int) (float64, state, bool) {
	switch c := p.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		v, finite, ok := p.num()
		if !finite {
			return 0, wrongType, ok
		}
		return v, present, ok
	case c == 'n':
		return 0, absent, p.lit("null")
	}
	return 0, wrongType, p.skip(depth)
}

func (p *parser) metrics(ev *Event, f *fields) bool {
	d := p.d
	ev.Metrics = ev.Metrics[:0]
	d.mbad = d.mbad[:0]
	if len(d.midx) > 0 {
		clear(d.midx)
	}
	switch p.peek() {
	case '{':
	case 'n':
		f.metrics = absent
		return p.lit("null")
	default:
		f.metrics = wrongType
		return p.skip(1)
	}
	f.metrics = present
	p.i++
	p.ws()
	if p.peek() == '}' {
		p.i++
		return true
	}
	for {
		if p.peek() != '"' {
			return p.unexpected()
		}
		key, ok := p.str(&d.kbuf)
		if !ok || !p.colon() {
			return false
		}
		name := d.intern(key)
		v, st, ok := p.numValue(2)
		if !ok {
			return false
		}
		d.setMetric(ev, name, v, st != present)
		if more, ok := p.next('}'); !more {
			return ok
		}
	}
}

func (p *parser) attributes(ev *Event, f *fields) bool {
	d := p.d
	ev.Attrs = ev.Attrs[:0]
	d.aval = d.aval[:0]
	if len(d.aidx) > 0 {
		clear(d.aidx)
	}
	switch p.peek() {
	case '{':
	case 'n':
		f.attrs = absent
		return p.lit("null")
	default:
		f.attrs = wrongType
		return p.skip(1)
	}
	f.attrs = present
	p.i++
	p.ws()
	if p.peek() == '}' {
		p.i++
		return true
	}
	for {
		if p.peek() != '"' {
			return p.unexpected()
		}
		key, ok := p.str(&d.kbuf)
		if !ok || !p.colon() {
			return false
		}
		name := d.intern(key)
		s := span{off: -1}
		if p.peek() == '"' {
			raw, ok := p.str(&d.vbuf)
			if !ok {
				return false
			}
			s = d.keep(raw)
		} else if !p.skip(2) {
			return false
		}
		d.setAttr(ev, name, s)
		if more, ok := p.next('}'); !more {
			return ok
		}
	}
}

func (p *parser) customer(ev *Event, f *fields) bool {
	d := p.d
	ev.Tier, ev.Value, ev.HasValue = "", 0, false
	f.tier, f.value = absent, absent
	switch p.peek() {
	case '{':
	case 'n':
		f.cust = absent
		return p.lit("null")
	default:
		f.cust = wrongType
		return p.skip(1)
	}
	f.cust = present
	p.i++
	p.ws()
	if p.peek() == '}' {
		p.i++
		return true
	}
	for {
		if p.peek() != '"' {
			return p.unexpected()
		}
		key, ok := p.str(&d.kbuf)
		if !ok || !p.colon() {
			return false
		}
		switch string(key) {
		case "tier":
			raw, st, ok := p.strValue(2)
			if !ok {
				return false
			}
			ev.Tier = ""
			if f.tier = st; st == present {
				ev.Tier = d.intern(raw)
			}
		case "value":
			v, st, ok := p.numValue(2)
			if !ok {
				return false
			}
			f.value = st
			ev.Value, ev.HasValue = v, st == present
		default:
			if !p.skip(2) {
				return false
			}
		}
		if more, ok := p.next('}'); !more {
			return ok
		}
	}
}

// skip validates and skips one value at p.i, without recursion. depth is
// the number of containers already open around the value.
func (p *parser) skip(depth int) bool {
	d := p.d
	base := len(d.stack)
	for {
		// One value.
		closed := false
		switch c := p.peek(); {
		case c == '{' || c == '[':
			if depth+len(d.stack)-base >= maxDepth {
				return p.fail(p.i, "nesting deeper than 10000 levels")
			}
			d.stack = append(d.stack, c)
			p.i++
			p.ws()
			if p.peek() == c+2 { // '}' or ']'
				p.i++
				d.stack = d.stack[:len(d.stack)-1]
				closed = true
			} else if c == '{' && !p.key() {
				return false
			}
		case c == '"':
			if _, ok := p.str(&d.vbuf); !ok {
				return false
			}
			closed = true
		case c == 't':
			if !p.lit("true") {
				return false
			}
			closed = true
		case c == 'f':
			if !p.lit("false") {
				return false
			}
			closed = true
		case c == 'n':
			if !p.lit("null") {
				return false
			}
			closed = true
		case c == '-' || c >= '0' && c <= '9':
			end, ok := p.scanNumber()
			if !ok {
				return false
			}
			p.i = end
			closed = true
		default:
			return p.unexpected()
		}
		if !closed {
			continue // the first value of a container
		}
		// After a value: close containers, or move on to the next element.
		for {
			if len(d.stack) == base {
				return true
			}
			p.ws()
			top := d.stack[len(d.stack)-1]
			c := p.peek()
			if c == ',' {
				p.i++
				p.ws()
				if top == '{' && !p.key() {
					return false
				}
				break
			}
			if c != top+2 {
				return p.unexpected()
			}
			p.i++
			d.stack = d.stack[:len(d.stack)-1]
		}
	}
}

// key parses an object key being skipped, and the colon after it.
func (p *parser) key() bool {
	if p.peek() != '"' {
		return p.unexpected()
	}
	if _, ok := p.str(&p.d.kbuf); !ok {
		return false
	}
	return p.colon()
}

// lit consumes the literal word (true, false, null).
func (p *parser) lit(word string) bool {
	for j := 0; j < len(word); j++ {
		if p.i+j >= len(p.b) || p.b[p.i+j] != word[j] {
			return p.unexpectedAt(p.i + j)
		}
	}
	p.i += len(word)
	return true
}

// strPlain marks the bytes that stand for themselves inside a string.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plain8 reports whether the 8 bytes in x are all plain string bytes: no
// '"', no '\\' and none below 0x20 (bit tricks: a byte of x^'"'... is zero
// where x has a '"'; x-0x20.. & ^x sets the high bit of bytes below 0x20).
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	special := (q-ones) & ^q | (bs-ones) & ^bs | (x-ones*0x20) & ^x
	return special&highs == 0
}

// str parses the string at p.i (a '"'). It returns the decoded bytes: a
// sub-slice of the input when there is no escape, else *buf's bytes; either
// way valid only until the next call with the same buffer.
func (p *parser) str(buf *[]byte) ([]byte, bool) {
	b := p.b
	start := p.i + 1
	i := start
	for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:])) {
		i += 8
	}
	for i < len(b) && strPlain[b[i]] {
		i++
	}
	if i < len(b) && b[i] == '"' {
		p.i = i + 1
		return b[start:i], true
	}
	return p.strEscaped(start, i, buf)
}

// strEscaped continues str at b[i], the first byte that is not plain.
// Invalid surrogate escapes become U+FFFD, as with encoding/json.
func (p *parser) strEscaped(start, i int, buf *[]byte) ([]byte, bool) {
	b := p.b
	out := append((*buf)[:0], b[start:i]...)
	for {
		if i >= len(b) {
			*buf = out
			return nil, p.fail(i, "unexpected end of input in a string")
		}
		c := b[i]
		switch {
		case strPlain[c]:
			out = append(out, c)
			i++
			continue
		case c == '"':
			p.i = i + 1
			*buf = out
			return out, true
		case c < 0x20:
			*buf = out
			return nil, p.fail(i, "control character in a string")
		}
		// A backslash.
		if i+1 >= len(b) {
			*buf = out
			return nil, p.fail(i+1, "unexpected end of input in a string")
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, bad := hex4(b, i+2)
			if bad >= 0 {
				*buf = out
				return nil, p.unexpectedAt(bad)
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if r2, bad := hex4(b, i+2); bad < 0 {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							i += 6
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			*buf = out
			return nil, p.fail(i+1, fmt.Sprintf("invalid escape '\\%c'", rune(e)))
		}
		i += 2
	}
}

// hex4 decodes the four hex digits at b[i:]; bad is the offset of the first
// byte that is not one, or -1.
func hex4(b []byte, i int) (r rune, bad int) {
	for j := i; j < i+4; j++ {
		if j >= len(b) {
			return 0, j
		}
		c := b[j]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, j
		}
		r = r<<4 | rune(c)
	}
	return r, -1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber checks the JSON number grammar at p.i and returns its end.
func (p *parser) scanNumber() (int, bool) {
	b, i := p.b, p.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	default:
		return 0, p.unexpectedAt(i)
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0, p.unexpectedAt(i)
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, p.unexpectedAt(i)
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	return i, true
}

// num parses the number at p.i; finite is false when it overflows float64.
func (p *parser) num() (v float64, finite, ok bool) {
	start := p.i
	end, ok := p.scanNumber()
	if !ok {
		return 0, false, false
	}
	p.i = end
	v = parseFloat(p.b[start:end])
	return v, !math.IsInf(v, 0), true
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat converts a number already checked against the JSON grammar.
// Numbers with at most 2^53 as mantissa and a decimal exponent within ±22
// convert exactly with one multiplication or division (Clinger's fast
// path); the others go to strconv.ParseFloat.
func parseFloat(b []byte) float64 {
	i, neg := 0, false
	if b[0] == '-' {
		neg, i = true, 1
	}
	var mant uint64
	exp := 0
	slow := false
	for ; i < len(b) && isDigit(b[i]); i++ {
		if mant >= 1<<53 {
			slow = true
			break
		}
		mant = mant*10 + uint64(b[i]-'0')
	}
	if !slow && i < len(b) && b[i] == '.' {
		for i++; i < len(b) && isDigit(b[i]); i++ {
			if mant >= 1<<53 {
				slow = true
				break
			}
			mant = mant*10 + uint64(b[i]-'0')
			exp--
		}
	}
	if !slow && i < len(b) {
		// An exponent.
		i++
		eneg := false
		if b[i] == '+' || b[i] == '-' {
			eneg = b[i] == '-'
			i++
		}
		e := 0
		for ; i < len(b); i++ {
			if e < 10000 {
				e = e*10 + int(b[i]-'0')
			}
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if slow || mant > 1<<53 || exp < -22 || exp > 22 {
		// The string does not outlive the call: strconv copies it into
		// its errors, and overflow is all we look at.
		v, _ := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
		return v
	}
	v := float64(mant)
	if exp > 0 {
		v *= pow10[exp]
	} else if exp < 0 {
		v /= pow10[-exp]
	}
	if neg {
		v = -v
	}
	return v
}

// parseTime parses an RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS, an optional
// fraction of any length (digits beyond nanoseconds are dropped), then Z or
// ±HH:MM; T and Z may be lower case. Leap seconds (:60) are rejected, as by
// package time. It returns unix nanoseconds, and timeRange when the instant
// is not within the years 1970..2200 (UTC).
func parseTime(s []byte) (int64, uint8) {
	if len(s) < len("2006-01-02T15:04:05Z") ||
		s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return 0, timeFormat
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return 0, timeFormat
	}
	rest := s[19:]
	nsec := 0
	if rest[0] == '.' {
		n := 1
		for ; n < len(rest) && isDigit(rest[n]); n++ {
			if n <= 9 {
				nsec = nsec*10 + int(rest[n]-'0')
			}
		}
		if n == 1 {
			return 0, timeFormat
		}
		for k := min(n-1, 9); k < 9; k++ {
			nsec *= 10
		}
		rest = rest[n:]
	}
	offset := 0
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		hh, ok1 := digits(rest[1:3])
		mm, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || hh > 23 || mm > 59 {
			return 0, timeFormat
		}
		offset = (hh*60 + mm) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, timeFormat
	}
	secs := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec-offset)
	if secs < 0 || secs >= maxSeconds {
		return 0, timeRange
	}
	return secs*1e9 + int64(nsec), timeOK
}

// maxSeconds is 2201-01-01T00:00:00Z in unix seconds.
var maxSeconds = daysSinceEpoch(2201, 1, 1) * 86400

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch returns the days from 1970-01-01 to the given proleptic
// Gregorian date (year >= 0).
func daysSinceEpoch(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := int64((month + 9) % 12)
	doy := (153*mp+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
