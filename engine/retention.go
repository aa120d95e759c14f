package engine

import (
	"math"
	"time"

	"github.com/peakend/peakend/state"
)

// Retention: a customer idle longer than state.retention (event time: the
// partition's watermark minus their last experience or complaint) is
// removed with their window, journeys and timers. A "recovered" outcome on
// the feedback topic counts as activity too.
//
// Idle customers are found through an index of activity buckets ('x'
// keys; a bucket is retention/16 rounded down to whole days, at least one
// day): an event adds an entry for the customer's bucket when it changes, one
// Set, and leaves the older entry in place: the sweep drops entries whose
// customer has been active since. So the index costs one write per customer
// per active bucket and holds at most about 17 entries per customer (it cost
// a delete and a set per active day, which doubled the writes of a replay
// where customers come back after a day or more). At Stage, once the
// watermark has passed a new bucket boundary by more than the retention, the
// entries of earlier buckets are scanned and those customers expired: a
// customer goes between retention and retention + one bucket after their
// last activity (a big sweep is spread over the next cycles, maxSweep
// entries each). A customer the cycle is working on is kept and looked at
// again at the next sweep. All of it runs on event time, so a
// replay expires the same customers at the same point of the input (with
// the same batch size).

const day = int64(24 * time.Hour)

// bucketOf is the retention index bucket of event time t.
func (p *Partition) bucketOf(t int64) int64 {
	n := p.e.retention / 16 / day * day
	return floorDiv(t, max(day, n))
}

func floorDiv(t, n int64) int64 {
	d := t / n
	if t < 0 && t%n != 0 {
		d--
	}
	return d
}

// touch records activity of en's customer at event time t in the index
// (before the header takes t).
func (p *Partition) touch(en *entry, t int64) error {
	c := &en.c
	old := lastActive(c)
	indexed := c.Seq > 0 || c.Complaint != 0 || c.Recovered != 0
	now := max(old, t)
	if indexed && p.bucketOf(now) == p.bucketOf(old) {
		return nil
	}
	return p.batch.PutActive(p.bucketOf(now), c.ID)
}

// stageTime expires idle customers, then writes the cycle's journeys, timers
// and clock into the batch. It returns how many customers it expired.
func (p *Partition) stageTime() (int64, error) {
	t := &p.tm
	var expired int64
	if p.e.retention > 0 && t.clock.Watermark != math.MinInt64 && t.clock.MaxTime != 0 {
		cut := p.bucketOf(t.clock.Watermark - p.e.retention)
		if cut > t.clock.Swept {
			n, more, err := p.expire(cut)
			if err != nil {
				return 0, err
			}
			expired = n
			if !more { // else the next cycle goes on with this sweep
				t.clock.Swept = cut
			}
		}
	}
	if err := p.stageJourneys(); err != nil {
		return 0, err
	}
	if t.clock != t.committed {
		if err := p.batch.PutClock(t.clock); err != nil {
			return 0, err
		}
	}
	t.expired = expired
	return expired, nil
}

// maxSweep is how many index entries one cycle's sweep takes at most. A
// bucket holds every customer last active in its days (at one event a
// second, 432,000 for 90 days' retention): expired in one cycle, their ids
// and the deletes of their headers, windows and index entries took about
// 100 MB of heap at once in a fill of 10 million customers. Over the bound,
// the sweep goes on in the next cycles (after this one's commit, the
// entries taken are gone from the index); a replay still expires the same
// customers at the same point of the input.
var maxSweep = 16384

// expire removes the customers whose last activity was before day cut, at
// most maxSweep index entries of them; more says that entries are left.
func (p *Partition) expire(cut int64) (n int64, more bool, err error) {
	type idle struct {
		day  int64
		cust string
	}
	var list []idle
	err = p.e.store.Inactive(p.id, cut, func(d int64, cust string) bool {
		if len(list) == maxSweep {
			more = true
			return false
		}
		if _, busy := p.customers[cust]; !busy {
			list = append(list, idle{d, cust})
		}
		return true
	})
	if err != nil {
		return 0, false, err
	}
	for _, x := range list {
		if err := p.batch.DeleteActive(x.day, x.cust); err != nil {
			return n, more, err
		}
		c := state.Customer{ID: x.cust}
		found, err := p.e.store.LoadCustomer(p.id, &c, p.keyBuf)
		if err != nil {
			return n, more, err
		}
		if !found || p.bucketOf(lastActive(&c)) != x.day {
			continue // a stale entry: the customer's own is another day's
		}
		if err := p.batch.DeleteCustomer(x.cust, c.Seq, p.e.window); err != nil {
			return n, more, err
		}
		var jerr error
		err = p.e.store.Journeys(p.id, x.cust, func(det, key string, j *state.Journey) bool {
			jerr = p.batch.DeleteJourney(x.cust, det, key)
			p.cacheJourney(x.cust, det, key, nil)
			if jerr == nil && (j.Due == state.Parked || j.Due != 0 && p.oldTimers) {
				jerr = p.batch.DeleteTimer(&state.Timer{Due: j.Due, Customer: x.cust, Detector: det, Key: key})
			}
			return jerr == nil
		})
		if err != nil || jerr != nil {
			return n, more, errorsJoin(err, jerr)
		}
		p.hc.Delete(x.cust) // the header cache must not bring it back (a miss reads Pebble)
		n++
	}
	return n, more, nil
}

// lastActive is c's last activity for retention: experience, complaint or
// recovery recorded by staff.
func lastActive(c *state.Customer) int64 { return max(c.LastAt, c.Complaint, c.Recovered) }

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
