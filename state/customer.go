package state

import (
	"github.com/peakend/peakend/internal/event"
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
	// Peak-end memory: the worst recent experience and the last one, each a
	// badness in 0..1 (see engine).
	WorstBad float64
	WorstAt  int64
	LastBad  float64
}

// Series is a short history of one journey/metric's values for a customer.
type Series struct {
	Key    string // journey + "/" + metric
	Values []float64
}

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

// SeriesValues returns the values kept for key (nil if none).
func (c *Customer) SeriesValues(key string) []float64 {
	for i := range c.Series {
		if c.Series[i].Key == key {
			return c.Series[i].Values
		}
	}
	return nil
}

// PushSeries appends v to key's series, keeping the last MaxSeriesValues.
func (c *Customer) PushSeries(key string, v float64) {
	for i := range c.Series {
		if c.Series[i].Key == key {
			s := &c.Series[i]
			if len(s.Values) >= MaxSeriesValues {
				copy(s.Values, s.Values[1:])
				s.Values = s.Values[:len(s.Values)-1]
			}
			s.Values = append(s.Values, v)
			return
		}
	}
	c.Series = append(c.Series, Series{Key: key, Values: []float64{v}})
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

const customerVersion = 1

// AppendBinary appends c's encoding to b.
func (c *Customer) AppendBinary(b []byte) []byte {
	e := enc(b).byte1(customerVersion).uvarint(c.Seq).varint(c.FirstAt).varint(c.LastAt).
		str(c.Tier).f64(c.Value)
	e = e.uvarint(uint64(len(c.Recent)))
	for _, r := range c.Recent {
		e = e.u64(r)
	}
	e = e.uvarint(uint64(len(c.Series)))
	for _, s := range c.Series {
		e = e.str(s.Key).uvarint(uint64(len(s.Values)))
		for _, v := range s.Values {
			e = e.f64(v)
		}
	}
	e = e.uvarint(uint64(len(c.Bad)))
	for _, m := range c.Bad {
		e = e.varint(m.Time).str(m.Journey).str(m.Outcome).uvarint(m.Seq)
	}
	e = e.uvarint(uint64(len(c.Alerts)))
	for _, a := range c.Alerts {
		e = appendAlertRef(e, a)
	}
	e = appendAlertRef(e, c.Cooldown)
	e = e.varint(c.Complaint).f64(c.WorstBad).varint(c.WorstAt).f64(c.LastBad)
	return e
}

func appendAlertRef(e enc, a AlertRef) enc {
	return e.str(a.ID).str(a.Detector).byte1(a.Severity).varint(a.Time).str(a.Reason)
}

func readAlertRef(d *dec) AlertRef {
	return AlertRef{ID: d.str(), Detector: d.str(), Severity: d.byte1(), Time: d.varint(), Reason: d.str()}
}

// UnmarshalBinary decodes a header written by AppendBinary. ID is not part
// of the encoding (it is the key) and is left unchanged.
func (c *Customer) UnmarshalBinary(b []byte) error {
	d := dec{b: b}
	if v := d.byte1(); v != customerVersion && d.err == nil {
		return ErrCorrupt
	}
	id := c.ID
	*c = Customer{ID: id}
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
			c.Series[i].Key = d.str()
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
			c.Alerts[i] = readAlertRef(&d)
		}
	}
	c.Cooldown = readAlertRef(&d)
	c.Complaint = d.varint()
	c.WorstBad = d.f64()
	c.WorstAt = d.varint()
	c.LastBad = d.f64()
	return d.done("customer " + c.ID)
}

// Experience is one entry of a customer's window: the decoded event without
// the customer block (which lives in the header).
type Experience struct {
	Seq   uint64
	Event event.Event
}

const experienceVersion = 2

// AppendExperience appends the window encoding of ev, the customer's seq-th
// experience, to b.
func AppendExperience(b []byte, seq uint64, ev *event.Event) []byte {
	e := enc(b).byte1(experienceVersion).uvarint(seq).str(ev.EventID).varint(ev.Time).str(ev.Journey).str(ev.Outcome)
	e = e.uvarint(uint64(len(ev.Metrics)))
	for _, m := range ev.Metrics {
		e = e.str(m.Name).f64(m.Value)
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
	if v := d.byte1(); v != experienceVersion && d.err == nil {
		return 0, ErrCorrupt
	}
	seq := d.uvarint()
	return seq, d.done("experience seq")
}

// DecodeExperience decodes a window entry; cust is the owning customer.
func DecodeExperience(b []byte, cust string, ev *event.Event) error {
	d := dec{b: b}
	if v := d.byte1(); v != experienceVersion && d.err == nil {
		return ErrCorrupt
	}
	ev.Reset()
	ev.CustomerID = cust
	d.uvarint() // seq: see ExperienceSeq
	ev.EventID = d.str()
	ev.Time = d.varint()
	ev.Journey = d.str()
	ev.Outcome = d.str()
	n := d.count(9)
	for range n {
		ev.Metrics = append(ev.Metrics, event.Metric{Name: d.str(), Value: d.f64()})
	}
	n = d.count(2)
	for range n {
		ev.Attrs = append(ev.Attrs, event.Attr{Key: d.str(), Value: d.str()})
	}
	return d.done("experience of " + cust)
}
