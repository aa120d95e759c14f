package state

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// The outbox holds alerts waiting for a sink (webhook, Slack, ...): one entry
// per sink and alert, written in the same batch as the state change that
// produced the alert, deleted once the sink has it.
//
//	'b' p len(sink) sink seq     outbox entry: enqueue time (unix ns, 8 bytes) + the alert's JSON
//	'n' p                        the partition's next outbox seq
const (
	kindOutbox    = 'b'
	kindOutboxSeq = 'n'
)

func outboxKey(p int32, sink string, seq uint64) []byte {
	b := prefix(nil, kindOutbox, p)
	b = binary.BigEndian.AppendUint16(b, uint16(len(sink)))
	b = append(b, sink...)
	return binary.BigEndian.AppendUint64(b, seq)
}

// PutOutbox queues alert (its JSON) for sink as entry seq, enqueued at t.
func (b *Batch) PutOutbox(sink string, seq uint64, t int64, alert []byte) error {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(alert)), uint64(t))
	return b.b.Set(outboxKey(b.p, sink, seq), append(v, alert...), nil)
}

// DeleteOutbox deletes entry seq of sink (a discarded cycle's).
func (b *Batch) DeleteOutbox(sink string, seq uint64) error {
	return b.b.Delete(outboxKey(b.p, sink, seq), nil)
}

// PutOutboxSeq records the partition's next outbox seq.
func (b *Batch) PutOutboxSeq(next uint64) error {
	return b.b.Set(prefix(nil, kindOutboxSeq, b.p), binary.BigEndian.AppendUint64(nil, next), nil)
}

// OutboxSeq returns partition p's next outbox seq.
func (s *Store) OutboxSeq(p int32) (uint64, error) {
	if err := s.fence(p); err != nil {
		return 0, err
	}
	v, closer, err := s.db.Get(prefix(nil, kindOutboxSeq, p))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("state: outbox seq: %w", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: outbox seq of partition %d", ErrCorrupt, p)
	}
	return binary.BigEndian.Uint64(v), nil
}

// OutboxEntry is one queued alert.
type OutboxEntry struct {
	Partition int32
	Sink      string
	Seq       uint64
	Enqueued  int64  // unix ns
	Alert     []byte // JSON
}

// Outbox calls fn with sink's queued entries, over every partition stored
// here, oldest first within a partition, until fn returns false. The
// entry's bytes are only valid during the call.
func (s *Store) Outbox(sink string, fn func(e *OutboxEntry) bool) error {
	if err := s.fenceAll(); err != nil {
		return err
	}
	lo := []byte{kindOutbox}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: []byte{kindOutbox + 1}})
	if err != nil {
		return fmt.Errorf("state: outbox: %w", err)
	}
	defer it.Close()
	var e OutboxEntry
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) < 5 || len(v) < 8 {
			continue
		}
		n := int(binary.BigEndian.Uint16(k[3:5]))
		if len(k) != 5+n+8 || string(k[5:5+n]) != sink {
			continue
		}
		e = OutboxEntry{Partition: int32(binary.BigEndian.Uint16(k[1:3])), Sink: sink,
			Seq: binary.BigEndian.Uint64(k[5+n:]), Enqueued: int64(binary.BigEndian.Uint64(v)), Alert: v[8:]}
		if !fn(&e) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("state: outbox: %w", err)
	}
	return nil
}

// DeleteOutbox removes a delivered entry. Without sync: a crash before the
// next WAL write delivers it again, which at-least-once allows.
func (s *Store) DeleteOutbox(p int32, sink string, seq uint64) error {
	if err := s.db.Delete(outboxKey(p, sink, seq), pebble.NoSync); err != nil {
		return fmt.Errorf("state: outbox delete: %w", err)
	}
	return nil
}
