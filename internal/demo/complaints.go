package demo

import (
	"cmp"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Complainer makes the complaints of synthetic traffic, for replay's
// evaluation (complaint coverage, lead time). A complaint comes from a bad
// experience the generator planted (Generator.OnBad), never from an alert,
// so that the coverage a replay reports is earned: a customer whose bad
// experience no detector caught, or caught too late, counts against it.
// Some complaints come from customers with no planted bad experience at
// all (noise: a complaint about something peakend never sees).
//
// It is deterministic for a seed and not safe for concurrent use.
type Complainer struct {
	rnd *rand.Rand
	// Chance is the probability that a customer complains about a bad
	// experience (default 0.3; people complain far less in life, about 4
	// in 100, but a sample needs complaints to measure anything).
	Chance float64
	// Delay is the median time from the bad experience to the complaint
	// (default 20 minutes, on the demo's time scale where a delivery is
	// promised 3 minutes out); the delay is log-normal with a spread of
	// one (a tenth of complaints come within 6 minutes, a tenth after an
	// hour), so a few complaints beat even a timely alert.
	Delay time.Duration
	// Noise is the share of complaints from customers with no planted bad
	// experience (default 0.15).
	Noise float64

	customers int
	out       []Complaint
	seq       int
}

// Complaint is one complaint event (the complaints topic's format).
type Complaint struct {
	ComplaintID string    `json:"complaint_id"`
	CustomerID  string    `json:"customer_id"`
	Time        time.Time `json:"time"`
	Channel     string    `json:"channel"`
	Text        string    `json:"text"`
}

// NewComplainer returns a complainer over the generator's n customers.
func NewComplainer(n int, seed uint64) *Complainer {
	return &Complainer{rnd: rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)), customers: n,
		Chance: 0.3, Delay: 20 * time.Minute, Noise: 0.15}
}

var complaintText = map[string]string{
	"late delivery":     "My parcel came days late.",
	"failed checkout":   "I could not pay for my order.",
	"long wait":         "I waited on the phone for an hour.",
	"worse than usual":  "My delivery was much later than usual.",
	"repeated failures": "Nothing works: the video dropped and then so did my call.",
	"broken promise":    "My order did not arrive when you promised.",
}

var channels = []string{"email", "phone", "chat", "app_review"}

// Bad is Generator.OnBad: the customer complains with probability Chance,
// after a log-normal delay; and now and then (Noise) a customer with
// nothing planted complains too.
func (c *Complainer) Bad(b Bad) {
	if c.rnd.Float64() < c.Chance {
		c.add(b.Customer, b.Time.Add(c.delay()), complaintText[b.What])
	}
	// Noise complaints, in proportion: Noise/(1−Noise) per real one.
	if c.Noise > 0 && c.rnd.Float64() < c.Chance*c.Noise/(1-c.Noise) {
		u := c.rnd.Float64()
		c.add(custID(int(u*u*float64(c.customers))), b.Time.Add(c.delay()), "I am not happy with your service.")
	}
}

func (c *Complainer) delay() time.Duration {
	return time.Duration(float64(c.Delay) * math.Exp(c.rnd.NormFloat64()))
}

func (c *Complainer) add(cust string, at time.Time, text string) {
	c.seq++
	c.out = append(c.out, Complaint{ComplaintID: "c-" + strconv.Itoa(c.seq), CustomerID: cust, Time: at.UTC().Truncate(time.Second),
		Channel: channels[c.rnd.IntN(len(channels))], Text: text})
}

// Complaints returns the complaints made up to and including until, in
// time order (a complaint later than the traffic is left out, as an export
// of both would).
func (c *Complainer) Complaints(until time.Time) []Complaint {
	out := make([]Complaint, 0, len(c.out))
	for _, x := range c.out {
		if !x.Time.After(until) {
			out = append(out, x)
		}
	}
	slices.SortStableFunc(out, func(a, b Complaint) int { return cmp.Compare(a.Time.UnixNano(), b.Time.UnixNano()) })
	return out
}

// MarshalLine returns the complaint as one JSON line, without the newline.
func (x Complaint) MarshalLine() []byte {
	b, _ := json.Marshal(x) // plain strings and a time: cannot fail
	return b
}
