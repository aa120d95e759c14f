package state

import (
	"encoding/hex"
	"fmt"
	"math"

	"github.com/cespare/xxhash/v2"

	"github.com/peakend/peakend/event"
)

// Limits of the per-customer header, so that it stays small (a few hundred
// bytes) whatever the input: reads dominate the hot path.
const (
	// MaxSeriesValues is how many recent values of one journey/metric a
	// customer keeps for the baseline detector ("their usual").
	MaxSeriesValues = 16
	// MaxBadMarks is how many recent bad experiences are kept for repeat detectors.
	MaxBadMarks = 16
	// MaxAlertRefs is how many recent alerts are kept for /customers/{id}.
	MaxAlertRefs = 5
	// MaxRecent is how many recent event identities a customer remembers to
	// drop exact redeliveries. Redeliveries (producer retries, a replayed
	// batch) arrive close together; 16 keeps the header small, which is
	// what every event reads and writes.
	MaxRecent = 16
)

// Customer is one customer's header: everything the detectors need on every
// event, without reading the window of experiences. It is owned by the
// partition that owns the customer; it is not safe for concurrent use.
type Customer struct {
	ID       string
	Seq      uint64 // experiences ever appended; the window holds (Seq-window, Seq]
	FirstAt  int64  // event time of the first experience (unix ns)
	LastAt   int64  // highest event time seen (unix ns)
	Tier     string
	Value    float64
	Recent   []uint64 // identity hashes of the last MaxRecent events, oldest first (dedup)
	Series   []Series // recent values per journey/metric tracked by baseline detectors
	Bad      []Mark   // recent bad experiences, oldest first (repeat detectors)
	Alerts   []AlertRef
	Cooldown AlertRef // the alert that started the current cooldown
	// Complaint is the event time of the last complaint (0 = none).
	Complaint int64
	// Recovered is the time of the latest "recovered" outcome staff
	// recorded for this customer on the feedback topic (0 = none).
	Recovered int64
	// Peak-end memory: the worst recent experience and the last one, each a
	// badness in 0..1 (see engine).
	WorstBad float64
	WorstAt  int64
	LastBad  float64
}

// Series is a short history of one journey/metric's values for a customer.
type Series struct {
	ID     uint32 // SeriesID(journey + "/" + metric)
	Values []float64
}

// SeriesID is the stored identity of a series key: four bytes instead of
// the key itself in every header. detectors.New rejects configurations
// whose keys collide.
func SeriesID(key string) uint32 { return uint32(xxhash.Sum64String(key)) }

// Mark is one bad experience remembered for repeat detection.
type Mark struct {
	Time    int64
	Journey string
	Outcome string
	Seq     uint64
}

// AlertRef is one alert remembered on the customer.
type AlertRef struct {
	ID       string
	Detector string
	Severity uint8
	Time     int64 // event time of the alert's trigger (cooldown runs on event time)
	Reason   string
}

// SeriesValues returns the values kept for series id (nil if none).
func (c *Customer) SeriesValues(id uint32) []float64 {
	for i := range c.Series {
		if c.Series[i].ID == id {
			return c.Series[i].Values
		}
	}
	return nil
}

// PushSeries appends v to series id, keeping the last MaxSeriesValues.
func (c *Customer) PushSeries(id uint32, v float64) {
	for i := range c.Series {
		if c.Series[i].ID == id {
			s := &c.Series[i]
			if len(s.Values) >= MaxSeriesValues {
				copy(s.Values, s.Values[1:])
				s.Values = s.Values[:len(s.Values)-1]
			}
			s.Values = append(s.Values, v)
			return
		}
	}
	c.Series = append(c.Series, Series{ID: id, Values: []float64{v}})
}

// PushBad remembers a bad experience, keeping the last MaxBadMarks.
func (c *Customer) PushBad(m Mark) {
	if len(c.Bad) >= MaxBadMarks {
		copy(c.Bad, c.Bad[1:])
		c.Bad = c.Bad[:len(c.Bad)-1]
	}
	c.Bad = append(c.Bad, m)
}

// PushAlert remembers an alert, keeping the last MaxAlertRefs.
func (c *Customer) PushAlert(a AlertRef) {
	if len(c.Alerts) >= MaxAlertRefs {
		copy(c.Alerts, c.Alerts[1:])
		c.Alerts = c.Alerts[:len(c.Alerts)-1]
	}
	c.Alerts = append(c.Alerts, a)
}

// Seen reports whether identity hash h is among the recent events.
func (c *Customer) Seen(h uint64) bool {
	for _, r := range c.Recent {
		if r == h {
			return true
		}
	}
	return false
}

// Remember adds identity hash h, keeping the last window hashes.
func (c *Customer) Remember(h uint64, window int) {
	if len(c.Recent) >= window {
		n := len(c.Recent) - window + 1
		copy(c.Recent, c.Recent[n:])
		c.Recent = c.Recent[:len(c.Recent)-n]
	}
	c.Recent = append(c.Recent, h)
}

// Header encodings. Version 3 is what AppendBinary writes: version 2 with
// its times and numbers in their compact forms (enc.when, enc.num: a time in
// whole seconds takes 5 bytes instead of 9, a value such as 300 or 0.532
// 2 instead of 8), because an idle customer's header is most of what the
// state keeps of them. Version 2 (about half the size of version 1: times
// as deltas from LastAt, optional fields behind a flags byte, badness and
// alert ids in their short forms, series by id) and version 1 are still read.
const (
	customerV1 = 1
	customerV2 = 2
	customerV3 = 3
)

const (
	hasTier = 1 << iota
	hasValue
	hasComplaint
	hasWorst
	hasCooldown
	// hasRecovered: a Recovered time follows the peak-end memory. Added
	// after version 2 shipped: headers without the flag decode as before.
	hasRecovered
)

// badnessCodes are the badness values stored in one byte; anything else
// takes a marker and eight bytes, so the encoding stays exact.
var badnessCodes = [...]float64{0, 0.4, 0.7, 1}

const badnessExact = 0xff

func appendBadness(e enc, v float64) enc {
	for i, b := range badnessCodes {
		if v == b && !math.Signbit(v) {
			return e.byte1(byte(i))
		}
	}
	return e.byte1(badnessExact).f64(v)
}

func readBadness(d *dec) float64 {
	code := d.byte1()
	if code == badnessExact {
		return d.f64()
	}
	if int(code) >= len(badnessCodes) {
		d.fail()
		return 0
	}
	return badnessCodes[code]
}

// AppendBinary appends c's encoding to b. The ID is not part of it (it is
// the key).
func (c *Customer) AppendBinary(b []byte) []byte {
	var flags byte
	if c.Tier != "" {
		flags |= hasTier
	}
	if c.Value != 0 || math.Signbit(c.Value) {
		flags |= hasValue
	}
	if c.Complaint != 0 {
		flags |= hasComplaint
	}
	if c.WorstBad != 0 || c.WorstAt != 0 {
		flags |= hasWorst
	}
	if c.Cooldown != (AlertRef{}) {
		flags |= hasCooldown
	}
	if c.Recovered != 0 {
		flags |= hasRecovered
	}
	base := c.LastAt
	e := enc(b).byte1(customerV3).byte1(flags).uvarint(c.Seq).when(base).when(base - c.FirstAt)
	if flags&hasTier != 0 {
		e = e.str(c.Tier)
	}
	if flags&hasValue != 0 {
		e = e.num(c.Value)
	}
	e = e.uvarint(uint64(len(c.Recent)))
	for _, r := range c.Recent {
		e = e.u64(r)
	}
	e = e.uvarint(uint64(len(c.Series)))
	for _, s := range c.Series {
		e = e.u32(s.ID).uvarint(uint64(len(s.Values)))
		for _, v := range s.Values {
			e = e.num(v)
		}
	}
	e = e.uvarint(uint64(len(c.Bad)))
	for _, m := range c.Bad {
		e = e.when(base - m.Time).str(m.Journey).str(m.Outcome).varint(int64(c.Seq - m.Seq))
	}
	e = e.uvarint(uint64(len(c.Alerts)))
	cooldown := -1
	for i, a := range c.Alerts {
		e = appendAlertRef(e, a, base)
		if a == c.Cooldown {
			cooldown = i
		}
	}
	if flags&hasCooldown != 0 {
		// The cooldown alert is nearly always one of the recent alerts.
		if cooldown >= 0 {
			e = e.byte1(byte(cooldown))
		} else {
			e = appendAlertRef(e.byte1(0xff), c.Cooldown, base)
		}
	}
	if flags&hasComplaint != 0 {
		e = e.when(base - c.Complaint)
	}
	e = appendBadness(e, c.LastBad)
	if flags&hasWorst != 0 {
		e = appendBadness(e, c.WorstBad).when(base - c.WorstAt)
	}
	if flags&hasRecovered != 0 {
		e = e.when(base - c.Recovered)
	}
	return e
}

// Alert ids are 32 lowercase hex digits: stored as their 16 bytes.
const (
	alertIDText = 0
	alertIDHex  = 1
)

func appendAlertRef(e enc, a AlertRef, base int64) enc {
	if raw, ok := hexID(a.ID); ok {
		e = append(e.byte1(alertIDHex), raw[:]...)
	} else {
		e = e.byte1(alertIDText).str(a.ID)
	}
	return e.str(a.Detector).byte1(a.Severity).when(base - a.Time).str(a.Reason)
}

// readAlertRef reads an alert reference of header version 2 or 3.
func readAlertRef(d *dec, base int64, v3 bool) AlertRef {
	var a AlertRef
	switch d.byte1() {
	case alertIDHex:
		if len(d.b) < 16 {
			d.fail()
			return a
		}
		a.ID = hex.EncodeToString(d.b[:16])
		d.b = d.b[16:]
	case alertIDText:
		a.ID = d.str()
	default:
		d.fail()
		return a
	}
	a.Detector = d.str()
	a.Severity = d.byte1()
	a.Time = base - d.time(v3)
	a.Reason = d.str()
	return a
}

func hexID(s string) (raw [16]byte, ok bool) {
	if len(s) != 32 {
		return raw, false
	}
	for i := range 32 {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return raw, false
		}
	}
	_, err := hex.Decode(raw[:], []byte(s))
	return raw, err == nil
}

// UnmarshalBinary decodes a header written by AppendBinary (or by version 1).
// ID is not part of the encoding (it is the key) and is left unchanged. The
// slices c already has are reused: decoding into a recycled Customer does not
// allocate for them.
func (c *Customer) UnmarshalBinary(b []byte) error {
	d := dec{b: b}
	id := c.ID
	reuse := *c
	*c = Customer{ID: id}
	switch v := d.byte1(); {
	case d.err != nil:
	case v == customerV3 || v == customerV2:
		c.unmarshalV2(&d, &reuse, v == customerV3)
	case v == customerV1:
		c.unmarshalV1(&d)
	default:
		return fmt.Errorf("%w: customer %s: unknown header version %d", ErrCorrupt, c.ID, v)
	}
	return d.done("customer " + c.ID)
}

// unmarshalV2 decodes header version 2, or 3 (v3: compact times and numbers).
func (c *Customer) unmarshalV2(d *dec, old *Customer, v3 bool) {
	flags := d.byte1()
	c.Seq = d.uvarint()
	base := d.time(v3)
	c.LastAt = base
	c.FirstAt = base - d.time(v3)
	if flags&hasTier != 0 {
		c.Tier = d.str()
	}
	if flags&hasValue != 0 {
		c.Value = d.number(v3)
	}
	if n := d.count(8); n > 0 {
		c.Recent = resize(old.Recent, n)
		for i := range c.Recent {
			c.Recent[i] = d.u64()
		}
	}
	if n := d.count(5); n > 0 {
		c.Series = resize(old.Series, n)
		for i := range c.Series {
			c.Series[i].ID = d.u32()
			m := d.count(numBytes(v3))
			c.Series[i].Values = resize(c.Series[i].Values, max(m, 1))[:m]
			for j := range c.Series[i].Values {
				c.Series[i].Values[j] = d.number(v3)
			}
		}
	}
	if n := d.count(4); n > 0 {
		c.Bad = resize(old.Bad, n)
		for i := range c.Bad {
			c.Bad[i] = Mark{Time: base - d.time(v3), Journey: d.str(), Outcome: d.str(), Seq: c.Seq - uint64(d.varint())}
		}
	}
	if n := d.count(5); n > 0 {
		c.Alerts = resize(old.Alerts, n)
		for i := range c.Alerts {
			c.Alerts[i] = readAlertRef(d, base, v3)
		}
	}
	if flags&hasCooldown != 0 {
		k := d.byte1()
		switch {
		case k == 0xff:
			c.Cooldown = readAlertRef(d, base, v3)
		case int(k) < len(c.Alerts):
			c.Cooldown = c.Alerts[k]
		default:
			d.fail()
		}
	}
	if flags&hasComplaint != 0 {
		c.Complaint = base - d.time(v3)
	}
	c.LastBad = readBadness(d)
	if flags&hasWorst != 0 {
		c.WorstBad = readBadness(d)
		c.WorstAt = base - d.time(v3)
	}
	if flags&hasRecovered != 0 {
		c.Recovered = base - d.time(v3)
	}
}

// Reset makes c an empty header of customer id, keeping the capacity of
// its slices for the next decode.
func (c *Customer) Reset(id string) {
	*c = Customer{ID: id, Recent: c.Recent[:0], Series: c.Series[:0], Bad: c.Bad[:0], Alerts: c.Alerts[:0]}
}

// resize returns s with length n, reusing its array when it is large enough.
func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

func (c *Customer) unmarshalV1(d *dec) {
	readRef := func() AlertRef {
		return AlertRef{ID: d.str(), Detector: d.str(), Severity: d.byte1(), Time: d.varint(), Reason: d.str()}
	}
	c.Seq = d.uvarint()
	c.FirstAt = d.varint()
	c.LastAt = d.varint()
	c.Tier = d.str()
	c.Value = d.f64()
	if n := d.count(8); n > 0 {
		c.Recent = make([]uint64, n)
		for i := range c.Recent {
			c.Recent[i] = d.u64()
		}
	}
	if n := d.count(2); n > 0 {
		c.Series = make([]Series, n)
		for i := range c.Series {
			c.Series[i].ID = SeriesID(d.str())
			m := d.count(8)
			c.Series[i].Values = make([]float64, m, max(m, 1))
			for j := range c.Series[i].Values {
				c.Series[i].Values[j] = d.f64()
			}
		}
	}
	if n := d.count(4); n > 0 {
		c.Bad = make([]Mark, n)
		for i := range c.Bad {
			c.Bad[i] = Mark{Time: d.varint(), Journey: d.str(), Outcome: d.str(), Seq: d.uvarint()}
		}
	}
	if n := d.count(5); n > 0 {
		c.Alerts = make([]AlertRef, n)
		for i := range c.Alerts {
			c.Alerts[i] = readRef()
		}
	}
	c.Cooldown = readRef()
	c.Complaint = d.varint()
	c.WorstBad = d.f64()
	c.WorstAt = d.varint()
	c.LastBad = d.f64()
}

// Experience is one entry of a customer's window: the decoded event without
// the customer block (which lives in the header).
type Experience struct {
	Seq   uint64
	Event event.Event
}

// Window entry versions: 3 (what AppendExperience writes) stores the time
// and metric values in their compact forms (enc.when, enc.num); 2 is still read.
const (
	experienceV2 = 2
	experienceV3 = 3
)

// AppendExperience appends the window encoding of ev, the customer's seq-th
// experience, to b.
func AppendExperience(b []byte, seq uint64, ev *event.Event) []byte {
	e := enc(b).byte1(experienceV3).uvarint(seq).str(ev.EventID).when(ev.Time).str(ev.Journey).str(ev.Outcome)
	e = e.uvarint(uint64(len(ev.Metrics)))
	for _, m := range ev.Metrics {
		e = e.str(m.Name).num(m.Value)
	}
	e = e.uvarint(uint64(len(ev.Attrs)))
	for _, a := range ev.Attrs {
		e = e.str(a.Key).str(a.Value)
	}
	return e
}

// ExperienceSeq reads the seq of an encoded window entry without decoding it.
func ExperienceSeq(b []byte) (uint64, error) {
	d := dec{b: b}
	if v := d.byte1(); v != experienceV3 && v != experienceV2 && d.err == nil {
		return 0, ErrCorrupt
	}
	seq := d.uvarint()
	return seq, d.done("experience seq")
}

// DecodeExperience decodes a window entry; cust is the owning customer.
func DecodeExperience(b []byte, cust string, ev *event.Event) error {
	d := dec{b: b}
	v := d.byte1()
	if v != experienceV3 && v != experienceV2 && d.err == nil {
		return ErrCorrupt
	}
	v3 := v == experienceV3
	ev.Reset()
	ev.CustomerID = cust
	d.uvarint() // seq: see ExperienceSeq
	ev.EventID = d.str()
	ev.Time = d.time(v3)
	ev.Journey = d.str()
	ev.Outcome = d.str()
	n := d.count(1 + numBytes(v3))
	for range n {
		ev.Metrics = append(ev.Metrics, event.Metric{Name: d.str(), Value: d.number(v3)})
	}
	n = d.count(2)
	for range n {
		ev.Attrs = append(ev.Attrs, event.Attr{Key: d.str(), Value: d.str()})
	}
	return d.done("experience of " + cust)
}
