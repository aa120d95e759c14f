package desk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/peakend/peakend/state"
)

// The desk's keys in the shared Pebble store, all under state.KindDesk:
//
//	D c cust                       open case (JSON)
//	D h len(cust) cust closedAt    closed case (JSON), kept for desk.keep
//	D x closedAt len(cust) cust    index of closed cases by closing time (pruning)
//	D a alert_id                   alert index: kind (c customer, h hotspot) + closedAt (0: open) + customer id or hotspot key
//	D s key                        hotspot: its latest alert, episode, acknowledgement (JSON), by hotspot key
//	D g hotspot_id                 the customer alerts carrying hotspot_id (JSON)
//	D o topic 0 partition          next offset to read on topic/partition
//
// closedAt is unix nanoseconds, big-endian. The offsets are written in the
// same batch as the view they produced.
const (
	subOpen     = 'c'
	subHistory  = 'h'
	subClosed   = 'x'
	subAlert    = 'a'
	subHotspot  = 's'
	subHotGroup = 'g'
	subOffset   = 'o'
)

func dkey(sub byte, parts ...[]byte) []byte {
	b := []byte{state.KindDesk, sub}
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func lenStr(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

func be64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func openKey(cust string) []byte { return dkey(subOpen, []byte(cust)) }
func historyPrefix(cust string) []byte {
	return dkey(subHistory, lenStr(cust))
}
func historyKey(cust string, closed int64) []byte {
	return append(historyPrefix(cust), be64(closed)...)
}
func closedKey(closed int64, cust string) []byte {
	return dkey(subClosed, be64(closed), lenStr(cust))
}
func alertKey(id string) []byte    { return dkey(subAlert, []byte(id)) }
func hotspotKey(key string) []byte { return dkey(subHotspot, []byte(key)) }
func hotGroupKey(id string) []byte { return dkey(subHotGroup, []byte(id)) }
func offsetKey(topic string, p int32) []byte {
	return dkey(subOffset, []byte(topic), []byte{0}, binary.BigEndian.AppendUint32(nil, uint32(p)))
}

// alertRef is an alert index entry.
type alertRef struct {
	hotspot bool
	closed  int64 // 0 while its case is open
	owner   string
}

func (r alertRef) encode() []byte {
	k := byte('c')
	if r.hotspot {
		k = 'h'
	}
	return append(append([]byte{k}, be64(r.closed)...), r.owner...)
}

func decodeRef(b []byte) (alertRef, error) {
	if len(b) < 9 {
		return alertRef{}, fmt.Errorf("%w: desk alert index of %d bytes", state.ErrCorrupt, len(b))
	}
	return alertRef{hotspot: b[0] == 'h', closed: int64(binary.BigEndian.Uint64(b[1:9])), owner: string(b[9:])}, nil
}

func upper(p []byte) []byte {
	b := append([]byte(nil), p...)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return b[:i+1]
		}
	}
	return nil
}

// get reads key from db (nil if absent).
func get(db *pebble.DB, key []byte) ([]byte, error) {
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("desk: read view: %w", err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// scan calls fn for every key with prefix pre, in key order (reverse if
// rev), until fn returns false.
func scan(db *pebble.DB, pre []byte, rev bool, fn func(k, v []byte) (bool, error)) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: upper(pre)})
	if err != nil {
		return fmt.Errorf("desk: scan view: %w", err)
	}
	defer it.Close()
	first, next := it.First, it.Next
	if rev {
		first, next = it.Last, it.Prev
	}
	for ok := first(); ok; ok = next() {
		more, err := fn(it.Key(), it.Value())
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("desk: scan view: %w", err)
	}
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
