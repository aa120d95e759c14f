package state

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Live hotspot state of a partition (docs/hotspots.md): the Aggregator of
// the hotspots-topic partition it owns, and its view of the open hotspots.
// Partition state like any other: in the changelog, moved with the
// partition.
//
//	'h' p 'a'   the Aggregator's own state (hotspots.Aggregator.Changes, key "")
//	'h' p 'k' part one part of a hotspot key (Changes: the key's values and
//	               episode, or its counts in one step)
//	'h' p 'v'   the open hotspots (hotspots.View.Encode)
//	'h' p 's'   the sequence number of the last partial sent (uint64 BE)
const kindHotspots = 'h'

// Hotspot state parts.
const (
	HotspotAggregator byte = 'a'
	HotspotView       byte = 'v'
	HotspotSent       byte = 's'
	hotspotKeyPart    byte = 'k'
)

func hotspotKey(p int32, part byte) []byte { return append(prefix(nil, kindHotspots, p), part) }

// PutHotspots writes one part of the partition's hotspot state.
func (b *Batch) PutHotspots(part byte, v []byte) error {
	return b.b.Set(hotspotKey(b.p, part), v, nil)
}

// Hotspots returns one part of partition p's hotspot state (nil if none).
func (s *Store) Hotspots(p int32, part byte) ([]byte, error) {
	if err := s.fence(p); err != nil {
		return nil, err
	}
	v, closer, err := s.db.Get(hotspotKey(p, part))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: get hotspots: %w", err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// PutHotspotKey writes one part of a hotspot key of the partition's
// Aggregator (hotspots.Aggregator.Changes); nil deletes it.
func (b *Batch) PutHotspotKey(key string, v []byte) error {
	k := append(hotspotKey(b.p, hotspotKeyPart), key...)
	if v == nil {
		return b.b.Delete(k, nil)
	}
	return b.b.Set(k, v, nil)
}

// HotspotKeys calls fn with every hotspot key part stored for partition
// p, in order, until fn returns an error.
func (s *Store) HotspotKeys(p int32, fn func(key string, v []byte) error) error {
	if err := s.fence(p); err != nil {
		return err
	}
	pre := hotspotKey(p, hotspotKeyPart)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: upperBound(pre)})
	if err != nil {
		return fmt.Errorf("state: hotspot keys: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(string(it.Key()[len(pre):]), it.Value()); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("state: hotspot keys: %w", err)
	}
	return nil
}
