package state

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Event-time state: timers, open journeys, the retention index and the
// partition's clock. Every write goes through the partition's Batch.
//
// A journey's record holds its timer's due time; the engine keeps the
// partition's due times in memory (rebuilt from the journeys when it
// opens), so only a parked journey's timer (due Parked: listed by key,
// never due) has a key of its own. A store written before that has a timer
// key for every timer; the engine deletes them as their journeys move on.
//
//	't' p due(u64 BE, sign-flipped) len(cust) cust len(det) det key   timer of a parked journey (empty value)
//	'j' p len(cust) cust len(det) det key                              journey (Journey)
//	'x' p day(u64 BE, sign-flipped) cust                               customer last active on that day (empty value)
//	'w' p                                                              partition clock (Clock)
const (
	kindTimer   = 't'
	kindJourney = 'j'
	kindActive  = 'x'
	kindClock   = 'w'
)

// ordered maps a signed time onto an unsigned one with the same order, so
// that big-endian keys sort by time even before 1970.
func ordered(t int64) uint64 { return uint64(t) ^ (1 << 63) }

func str16(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(s))), s...)
}

// Timer is one pending timer: the journey (customer, detector, key) it
// belongs to falls due at Due (event time, unix ns).
type Timer struct {
	Due      int64
	Customer string
	Detector string
	Key      string
}

func timerKey(buf []byte, p int32, t *Timer) []byte {
	b := binary.BigEndian.AppendUint64(prefix(buf, kindTimer, p), ordered(t.Due))
	return append(str16(str16(b, t.Customer), t.Detector), t.Key...)
}

func parseTimer(k []byte) (Timer, bool) {
	if len(k) < 3+8+2 {
		return Timer{}, false
	}
	t := Timer{Due: int64(binary.BigEndian.Uint64(k[3:]) ^ (1 << 63))}
	rest := k[11:]
	var ok bool
	if t.Customer, rest, ok = cut16(rest); !ok {
		return t, false
	}
	if t.Detector, rest, ok = cut16(rest); !ok {
		return t, false
	}
	t.Key = string(rest)
	return t, true
}

func cut16(b []byte) (string, []byte, bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", nil, false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}

// Parked is the due time of a journey waiting for its detector (overdue
// with too few finished journeys to predict from): it never falls due. The
// engine moves it to a real timer once the detector is ready.
const Parked int64 = 1<<63 - 1

// Journey status.
const (
	// JourneyOpen: started, the follow-up has not arrived; a timer is pending.
	JourneyOpen uint8 = 1
	// JourneyAlerted: the timer fired and alerted; the follow-up has not arrived.
	JourneyAlerted uint8 = 2
	// JourneyArrivedLate: alerted, and the follow-up arrived afterwards (at Until).
	JourneyArrivedLate uint8 = 3
)

// Journey is one started journey of one timed detector for one customer,
// paired by a key attribute (order_id). Due is the pending timer's time
// (0 = none): the timer key is derived from it.
type Journey struct {
	Status   uint8
	Level    uint8 // detector-defined (overdue: the quantile level the timer is for)
	Start    int64 // event time of the start
	Deadline int64 // the promise (deadline) or the predicted end (overdue), for reasons
	Due      int64 // pending timer, 0 = none, Parked = waiting for the detector
	Until    int64 // event time of the follow-up, once seen
	Alerted  int64 // event time the alert fired at, 0 = none
	AlertID  string
}

// Journey encodings: version 2 (what AppendBinary writes) stores the times
// in their compact form (enc.when: 5 bytes for a time in whole seconds
// instead of 9); version 1 is still read.
const (
	journeyV1 = 1
	journeyV2 = 2
)

// AppendBinary appends j's encoding to b.
func (j *Journey) AppendBinary(b []byte) []byte {
	return enc(b).byte1(journeyV2).byte1(j.Status).byte1(j.Level).when(j.Start).when(j.Deadline).
		when(j.Due).when(j.Until).when(j.Alerted).str(j.AlertID)
}

// UnmarshalBinary decodes a journey written by AppendBinary (or version 1).
func (j *Journey) UnmarshalBinary(b []byte) error {
	d := dec{b: b}
	v := d.byte1()
	if v != journeyV2 && v != journeyV1 && d.err == nil {
		return ErrCorrupt
	}
	v2 := v == journeyV2
	*j = Journey{Status: d.byte1(), Level: d.byte1(), Start: d.time(v2), Deadline: d.time(v2), Due: d.time(v2),
		Until: d.time(v2), Alerted: d.time(v2), AlertID: d.str()}
	return d.done("journey")
}

func journeyPrefix(buf []byte, p int32, cust string) []byte {
	return str16(prefix(buf, kindJourney, p), cust)
}

func journeyKey(buf []byte, p int32, cust, det, key string) []byte {
	return append(str16(journeyPrefix(buf, p, cust), det), key...)
}

// Clock is a partition's event-time progress.
type Clock struct {
	MaxTime   int64 // highest event time seen (unix ns); 0 = none yet
	Watermark int64 // event time up to which timers have fired
	Swept     int64 // retention: customers last active before this day were expired (days since epoch)
}

func clockKey(p int32) []byte { return prefix(nil, kindClock, p) }

func activeKey(buf []byte, p int32, day int64, cust string) []byte {
	return append(binary.BigEndian.AppendUint64(prefix(buf, kindActive, p), ordered(day)), cust...)
}

// PutTimer schedules t.
func (b *Batch) PutTimer(t *Timer) error {
	b.keyBuf = timerKey(b.keyBuf[:0], b.p, t)
	b.timers.add(b.keyBuf, false)
	return b.b.Set(b.keyBuf, nil, nil)
}

// DeleteTimer cancels t.
func (b *Batch) DeleteTimer(t *Timer) error {
	b.keyBuf = timerKey(b.keyBuf[:0], b.p, t)
	b.timers.add(b.keyBuf, true)
	return b.b.Delete(b.keyBuf, nil)
}

// PutJourney writes a journey of cust for detector det and key.
func (b *Batch) PutJourney(cust, det, key string, j *Journey) error {
	b.touch(cust)
	b.keyBuf = journeyKey(b.keyBuf[:0], b.p, cust, det, key)
	b.valBuf = j.AppendBinary(b.valBuf[:0])
	return b.b.Set(b.keyBuf, b.valBuf, nil)
}

// DeleteJourney removes a journey.
func (b *Batch) DeleteJourney(cust, det, key string) error {
	b.touch(cust)
	b.keyBuf = journeyKey(b.keyBuf[:0], b.p, cust, det, key)
	return b.b.Delete(b.keyBuf, nil)
}

// PutActive records that cust was last active on day (days since the epoch).
func (b *Batch) PutActive(day int64, cust string) error {
	b.keyBuf = activeKey(b.keyBuf[:0], b.p, day, cust)
	return b.b.Set(b.keyBuf, nil, nil)
}

// DeleteActive removes cust's entry for day.
func (b *Batch) DeleteActive(day int64, cust string) error {
	b.keyBuf = activeKey(b.keyBuf[:0], b.p, day, cust)
	return b.b.Delete(b.keyBuf, nil)
}

// PutClock records the partition's clock.
func (b *Batch) PutClock(c Clock) error {
	v := enc(nil).byte1(1).varint(c.MaxTime).varint(c.Watermark).varint(c.Swept)
	return b.b.Set(clockKey(b.p), v, nil)
}

// DeleteCustomer removes cust's header and the window slots of its last
// min(seq, window) experiences (point deletes: no range tombstones).
func (b *Batch) DeleteCustomer(cust string, seq uint64, window int) error {
	b.touch(cust)
	b.keyBuf = customerKey(b.keyBuf[:0], b.p, cust)
	if err := b.b.Delete(b.keyBuf, nil); err != nil {
		return err
	}
	for i := uint64(0); i < seq && i < uint64(window); i++ {
		b.keyBuf = experienceKey(b.keyBuf[:0], b.p, cust, uint16((seq-i)%uint64(window)))
		if err := b.b.Delete(b.keyBuf, nil); err != nil {
			return err
		}
	}
	return nil
}

// Clock returns partition p's clock (zero if none is stored).
func (s *Store) Clock(p int32) (Clock, error) {
	if err := s.fence(p); err != nil {
		return Clock{}, err
	}
	v, closer, err := s.db.Get(clockKey(p))
	if errors.Is(err, pebble.ErrNotFound) {
		return Clock{}, nil
	}
	if err != nil {
		return Clock{}, fmt.Errorf("state: get clock: %w", err)
	}
	defer closer.Close()
	d := dec{b: v}
	d.byte1()
	c := Clock{MaxTime: d.varint(), Watermark: d.varint(), Swept: d.varint()}
	return c, d.done("clock")
}

// Journey reads one journey into j; it reports false if there is none.
func (s *Store) Journey(p int32, cust, det, key string, j *Journey) (bool, error) {
	if err := s.fenceCustomer(p, cust); err != nil {
		return false, err
	}
	v, closer, err := s.db.Get(journeyKey(nil, p, cust, det, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state: get journey: %w", err)
	}
	defer closer.Close()
	return true, j.UnmarshalBinary(v)
}

// Journeys calls fn for each stored journey of cust, in (detector, key) order,
// until fn returns false.
func (s *Store) Journeys(p int32, cust string, fn func(det, key string, j *Journey) bool) error {
	if err := s.fenceCustomer(p, cust); err != nil {
		return err
	}
	pre := journeyPrefix(nil, p, cust)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: upperBound(pre)})
	if err != nil {
		return fmt.Errorf("state: journeys: %w", err)
	}
	defer it.Close()
	var j Journey
	for ok := it.First(); ok; ok = it.Next() {
		det, rest, ok := cut16(it.Key()[len(pre):])
		if !ok {
			return fmt.Errorf("%w: journey key of %s", ErrCorrupt, cust)
		}
		if err := j.UnmarshalBinary(it.Value()); err != nil {
			return err
		}
		if !fn(det, string(rest), &j) {
			break
		}
	}
	return it.Error()
}

// Timers calls fn for partition p's stored timers due in [from, upTo], in
// (due, customer, detector, key) order, until fn returns false.
//
// It does not wait for partition p's commit in flight (CommitAsync): it
// reads what Pebble holds and lays the batch's timer writes over it, so a
// replay that scans for due timers after nearly every event keeps its
// memtable insert on the other core.
func (s *Store) Timers(p int32, from, upTo int64, fn func(t Timer) bool) error {
	fl, err := s.fences.timerOverlay(p)
	if err != nil {
		return err
	}
	lo := binary.BigEndian.AppendUint64(prefix(nil, kindTimer, p), ordered(from))
	hi := binary.BigEndian.AppendUint64(prefix(nil, kindTimer, p), ordered(upTo)+1)
	if ordered(upTo) == ^uint64(0) {
		hi = upperBound(prefix(nil, kindTimer, p))
	}
	var ov timerWrites
	if fl != nil {
		ov = fl.timers.within(lo, hi)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("state: timers: %w", err)
	}
	defer it.Close()
	// Merge Pebble's keys with the batch in flight's writes, in key order;
	// the batch's write wins where both have a key (the iterator may or may
	// not see the batch: either way the result is the same).
	ok := it.First()
	for ok || ov.len() > 0 {
		if ov.len() > 0 && (!ok || bytes.Compare(ov.key(0), it.Key()) <= 0) {
			if ok && bytes.Equal(ov.key(0), it.Key()) {
				ok = it.Next() // the batch's write replaces it
			}
			k, del := ov.key(0), ov.deleted(0)
			ov = ov.next()
			if del {
				continue
			}
			t, valid := parseTimer(k)
			if !valid {
				return fmt.Errorf("%w: timer key", ErrCorrupt)
			}
			if !fn(t) {
				break
			}
			continue
		}
		t, valid := parseTimer(it.Key())
		if !valid {
			return fmt.Errorf("%w: timer key", ErrCorrupt)
		}
		if !fn(t) {
			break
		}
		ok = it.Next()
	}
	return it.Error()
}

// NextTimer returns the due time of partition p's earliest pending timer
// (PendingTimers).
func (s *Store) NextTimer(p int32) (int64, bool, error) {
	var due int64
	found := false
	err := s.PendingTimers(p, func(t Timer) bool {
		due, found = t.Due, true
		return false
	})
	return due, found, err
}

// PendingTimers calls fn for each pending timer of partition p (each stored
// journey with a due time, parked ones included), in the order of their
// timer keys (due, then customer, detector and key), until fn returns
// false. A timer has a key of its own only while its journey is parked (the
// engine keeps the others' due times in memory), so this reads every
// journey of the partition: for tests and tools.
func (s *Store) PendingTimers(p int32, fn func(t Timer) bool) error {
	type pending struct {
		t  Timer
		id string
	}
	var list []pending
	var j Journey
	var derr error
	err := s.JourneyRecords(p, func(id, enc []byte) bool {
		if derr = j.UnmarshalBinary(enc); derr != nil || j.Due == 0 {
			return derr == nil
		}
		t := Timer{Due: j.Due}
		cust, rest, ok := cut16(id)
		det, key, ok2 := cut16(rest)
		if !ok || !ok2 {
			derr = fmt.Errorf("%w: journey key", ErrCorrupt)
			return false
		}
		t.Customer, t.Detector, t.Key = cust, det, string(key)
		list = append(list, pending{t, string(id)})
		return true
	})
	if err = errors.Join(err, derr); err != nil {
		return err
	}
	slices.SortFunc(list, func(a, b pending) int {
		return cmp.Or(cmp.Compare(ordered(a.t.Due), ordered(b.t.Due)), strings.Compare(a.id, b.id))
	})
	for _, x := range list {
		if !fn(x.t) {
			break
		}
	}
	return nil
}

// Inactive calls fn for each customer of partition p whose last activity
// (as indexed) was on a day before `before`, oldest first, until fn returns false.
func (s *Store) Inactive(p int32, before int64, fn func(day int64, cust string) bool) error {
	if err := s.fence(p); err != nil {
		return err
	}
	lo := prefix(nil, kindActive, p)
	hi := binary.BigEndian.AppendUint64(prefix(nil, kindActive, p), ordered(before))
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("state: inactive: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 11 {
			return fmt.Errorf("%w: activity key", ErrCorrupt)
		}
		if !fn(int64(binary.BigEndian.Uint64(k[3:])^(1<<63)), string(k[11:])) {
			break
		}
	}
	return it.Error()
}

// JourneyID appends the identity of a journey within its partition (the
// end of its key) to buf: the same bytes JourneyRecords passes.
func JourneyID(buf []byte, cust, det, key string) []byte {
	return append(str16(str16(buf, cust), det), key...)
}

// JourneyRecords calls fn for each stored journey of partition p, in key
// order, with its JourneyID and encoded record, until fn returns false.
// Both slices are only valid during the call.
func (s *Store) JourneyRecords(p int32, fn func(id, enc []byte) bool) error {
	if err := s.fence(p); err != nil {
		return err
	}
	pre := prefix(nil, kindJourney, p)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: upperBound(pre)})
	if err != nil {
		return fmt.Errorf("state: journeys: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if !fn(it.Key()[len(pre):], it.Value()) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("state: journeys: %w", err)
	}
	return nil
}
