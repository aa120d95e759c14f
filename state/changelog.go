package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// The changelog is a Kafka topic that mirrors every write of every
// partition's batches: key = the Pebble key, value = the Pebble value, nil
// for a delete. These helpers let the stream package capture a batch's
// writes and apply changelog records back, without knowing the key layout.

// ErrChangelogRecord is wrapped by ValidateRecord for a record that cannot be
// restored.
var ErrChangelogRecord = errors.New("state: bad changelog record")

// Ops calls fn for every write in the batch, in order: key and value (nil
// for a delete). The slices are valid only during the call. Only Set and
// Delete are used by peakend's batches; any other kind of write is an error,
// so that no write can silently miss the changelog.
//
// Outbox entries are the one exception: they stay local. Their deliverer
// deletes them outside any batch, so a changelog copy would never be
// tombstoned: it would grow forever, and an instance restoring the partition
// would send every alert ever made again. The instance that queued an alert
// delivers it, whoever owns the partition by then. The desk's view
// (KindDesk) stays out too: every instance rebuilds it from its topics.
func (b *Batch) Ops(fn func(key, value []byte) error) error {
	r := b.b.Reader()
	for {
		kind, k, v, ok, err := r.Next()
		if err != nil {
			return fmt.Errorf("state: read batch of partition %d: %w", b.p, err)
		}
		if !ok {
			return nil
		}
		switch kind {
		case pebble.InternalKeyKindSet:
		case pebble.InternalKeyKindDelete:
			v = nil
		default:
			return fmt.Errorf("state: batch of partition %d holds a %s write, which the changelog cannot carry", b.p, kind)
		}
		if len(k) > 0 && local(k[0]) {
			continue
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
}

// Partition is the partition this batch writes.
func (b *Batch) Partition() int32 { return b.p }

// Apply writes one changelog record into the batch: a Set, or a Delete when
// value is nil. The key must belong to the batch's partition.
func (b *Batch) Apply(key, value []byte) error {
	b.opaque = true
	if p, ok := KeyPartition(key); !ok || p != b.p {
		return fmt.Errorf("%w: key %q is not of partition %d", ErrChangelogRecord, key, b.p)
	}
	if value == nil {
		return b.b.Delete(key, nil)
	}
	return b.b.Set(key, value, nil)
}

// Count is the number of writes in the batch.
func (b *Batch) Count() uint32 { return b.b.Count() }

// OffsetKey is the key under which partition p records the next offset to
// consume on topic (an input topic, or the changelog itself).
func OffsetKey(p int32, topic string) []byte { return offsetKey(p, topic) }

// KeyPartition returns the partition a state key belongs to.
func KeyPartition(key []byte) (int32, bool) {
	if len(key) < 3 {
		return 0, false
	}
	return int32(binary.BigEndian.Uint16(key[1:3])), true
}

// ValidateRecord checks a changelog record of partition p before it is
// restored: the key must be of partition p, and values of the kinds this
// package knows must decode. Kinds it does not know pass (helpers may add
// their own).
func ValidateRecord(p int32, key, value []byte) error {
	kp, ok := KeyPartition(key)
	if !ok {
		return fmt.Errorf("%w: key of %d bytes is too short", ErrChangelogRecord, len(key))
	}
	if kp != p {
		return fmt.Errorf("%w: key of partition %d in the changelog of partition %d", ErrChangelogRecord, kp, p)
	}
	if value == nil {
		return nil // a delete
	}
	var err error
	switch key[0] {
	case kindCustomer:
		c := Customer{ID: string(key[3:])}
		err = c.UnmarshalBinary(value)
	case kindExperience:
		_, err = ExperienceSeq(value)
	case kindOffset:
		if len(value) != 8 {
			err = fmt.Errorf("offset of %d bytes", len(value))
		}
	case kindMeta:
		if _, n := binary.Varint(value); n <= 0 {
			err = errors.New("bad customer count")
		}
	}
	if err != nil {
		return fmt.Errorf("%w: key %q: %w", ErrChangelogRecord, key, err)
	}
	return nil
}

// Get returns a copy of the value stored under key, or nil if there is none.
func (s *Store) Get(key []byte) ([]byte, error) {
	if err := s.fenceAll(); err != nil {
		return nil, err
	}
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: get: %w", err)
	}
	defer closer.Close()
	return append([]byte{}, v...), nil
}

// HasState reports whether any state is stored for partition p. The local
// outbox is not partition state: it is this instance's queue of alerts to
// deliver, whoever owns the partition.
func (s *Store) HasState(p int32) (bool, error) {
	kinds, err := s.stateKinds(p)
	return len(kinds) > 0, err
}

// WipePartition deletes partition p's state, of every kind (including kinds
// added after this function was written), durably. It keeps the local
// outbox: alerts queued here are still to be delivered.
func (s *Store) WipePartition(p int32) error {
	kinds, err := s.stateKinds(p)
	if err != nil || len(kinds) == 0 {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, k := range kinds {
		lo := prefix(nil, k, p)
		if err := b.DeleteRange(lo, upperBound(lo), nil); err != nil {
			return fmt.Errorf("state: wipe partition %d: %w", p, err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("state: wipe partition %d: %w", p, err)
	}
	return nil
}

// Snapshot calls fn with every key and value of partition p that the
// changelog carries, in key order: everything but the local outbox and the
// key skip (the partition's changelog offset, whose key is the marker's).
// It seeds a changelog from local state that is its only copy.
func (s *Store) Snapshot(p int32, skip []byte, fn func(key, value []byte) error) error {
	kinds, err := s.stateKinds(p)
	if err != nil {
		return err
	}
	for _, k := range kinds {
		lo := prefix(nil, k, p)
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: upperBound(lo)})
		if err != nil {
			return fmt.Errorf("state: snapshot partition %d: %w", p, err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			if bytes.Equal(it.Key(), skip) {
				continue
			}
			if err := fn(it.Key(), it.Value()); err != nil {
				_ = it.Close()
				return err
			}
		}
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			return fmt.Errorf("state: snapshot partition %d: %w", p, err)
		}
	}
	return nil
}

// stateKinds is kindsOf without the local kinds (outbox, desk).
func (s *Store) stateKinds(p int32) ([]byte, error) {
	kinds, err := s.kindsOf(p)
	return slices.DeleteFunc(kinds, local), err
}

// kindsOf lists the key kinds that hold data for partition p: one seek per
// possible kind byte.
func (s *Store) kindsOf(p int32) ([]byte, error) {
	if err := s.fence(p); err != nil {
		return nil, err
	}
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, fmt.Errorf("state: scan partition %d: %w", p, err)
	}
	defer it.Close()
	var kinds []byte
	for k := 0; k < 256; k++ {
		lo := prefix(nil, byte(k), p)
		if it.SeekGE(lo) && len(it.Key()) >= 3 && it.Key()[0] == byte(k) {
			if kp, _ := KeyPartition(it.Key()); kp == p {
				kinds = append(kinds, byte(k))
			}
		}
	}
	return kinds, it.Error()
}
