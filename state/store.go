// Package state keeps peakend's durable state in Pebble: per-customer headers
// and windows, population sketches, and the input offsets they reflect.
package state

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"

	"github.com/cespare/xxhash/v2"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options configures the store. The zero value is valid: it opens an
// on-disk store in Dir with the defaults below.
type Options struct {
	// Dir is the directory of the Pebble store. Required unless FS is an in-memory FS.
	Dir string
	// FS overrides the filesystem (vfs.NewMem() in tests). Default: the OS.
	FS vfs.FS
	// CacheBytes is the block cache size, memtables included: Pebble
	// reserves each memtable's size from it. Default 64 MiB. What is left
	// must hold the bloom filter and index blocks, or every read of a new
	// customer goes to disk (measured: 4× slower with the cache all reserved).
	// Customer headers are served by the engine's header cache instead.
	CacheBytes int64
	// MemtableBytes is the memtable size. Default 8 MiB; up to four may be
	// queued for flushing before writes wait.
	MemtableBytes uint64
	// Logger receives Pebble's own log lines at debug level. Default: discard.
	Logger *slog.Logger
	// DisableWAL skips Pebble's write-ahead log: only for stores that are
	// rebuilt from scratch after a crash (replay). Default false.
	DisableWAL bool
}

// Store is the Pebble database. It is safe for concurrent use; each
// partition writes only its own key ranges.
type Store struct {
	db     *pebble.DB
	noWAL  bool
	fences fences // partitions with a commit in flight (CommitAsync)
}

// Open opens (creating if needed) the store.
func Open(o Options) (*Store, error) {
	if o.CacheBytes <= 0 {
		o.CacheBytes = 64 << 20
	}
	if o.MemtableBytes == 0 {
		o.MemtableBytes = 8 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cache := pebble.NewCache(o.CacheBytes)
	opts := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                o.MemtableBytes,
		MemTableStopWritesThreshold: 4,
		// Customers' keys are spread evenly, so every L0 compaction
		// rewrites all of the base level it overlaps: letting L0 gather
		// 16 sublevels first cut the bytes compactions write by a third and
		// CPU by a tenth on the replay benchmark. Reads pay at most 16 bloom
		// filter probes, and the header cache answers most of them first.
		// Writes stop only at 64 sublevels: a long stall hurts more than
		// the extra read amplification.
		L0CompactionThreshold: 16,
		L0StopWritesThreshold: 64,
		FS:                    o.FS,
		DisableWAL:            o.DisableWAL,
		Logger:                pebbleLogger{o.Logger},
	}
	// Journeys and timers are deleted as fast as they are written (an order
	// delivered on time deletes its journeys and their timers): blocks of
	// timer tombstones made Pebble's tombstone-density compactions rewrite
	// the whole base level every few flushes (4× the bytes written on a
	// shop's delivery journeys), defeating the L0 threshold above. The
	// tombstones go with the ordinary L0 compactions instead.
	opts.Experimental.TombstoneDenseCompactionThreshold = -1
	// Every read is a point Get of one customer: bloom filters on every level
	// spare the disk reads for customers we have never seen.
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		opts.Levels[i].BlockSize = 16 << 10
	}
	// Except on the bottom level, where nearly all state lives once
	// compacted: Pebble never reads L6 filters for a Get (only iterators
	// with UseL6Filters, which we do not use), so they were 10 bits per key
	// written for nothing: 3.7 of the 55 bytes a compacted idle customer took
	// (three keys). Tables written with them still open, filters ignored.
	opts.Levels[len(opts.Levels)-1].FilterPolicy = pebble.NoFilterPolicy
	// Snappy on every level. zstd (level 3) on the bottom level, where
	// nearly all state lives, takes a million idle customers from 55 to 41
	// bytes each (compacted), but its compression in compactions and
	// decompression on reads cost 10–35% more CPU in the replay benchmark
	// (docs/performance.md): not worth it while replay is CPU-bound. (Pebble's
	// Balanced profile and MinLZ need table format v6: on ours they fall back
	// to snappy.)
	opts.EnsureDefaults()
	db, err := pebble.Open(o.Dir, opts)
	cache.Unref() // the DB holds its own reference
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", o.Dir, err)
	}
	return &Store{db: db, noWAL: o.DisableWAL}, nil
}

// Close closes the store. It is safe to call twice.
func (s *Store) Close() error {
	if s.db == nil {
		return nil
	}
	// Commits still in flight (CommitAsync) land first, and their error
	// is not lost.
	ferr := s.fenceAll()
	if s.noWAL {
		// Without a WAL, only flushed memtables survive Close.
		if err := s.db.Flush(); err != nil {
			_ = s.db.Close()
			s.db = nil
			return fmt.Errorf("state: flush: %w", err)
		}
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("state: close: %w", err)
	}
	return ferr
}

// Metrics returns Pebble's own figures.
func (s *Store) Metrics() *pebble.Metrics { return s.db.Metrics() }

// DB exposes the underlying database to the packages that write batches.
func (s *Store) DB() *pebble.DB { return s.db }

// LoadCustomer reads a customer's header into c (c.ID must be set). It
// reports false if the customer is unknown.
func (s *Store) LoadCustomer(p int32, c *Customer, keyBuf []byte) (bool, error) {
	if err := s.fenceCustomer(p, c.ID); err != nil {
		return false, err
	}
	v, closer, err := s.db.Get(customerKey(keyBuf[:0], p, c.ID))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state: get customer: %w", err)
	}
	defer closer.Close()
	if err := c.UnmarshalBinary(v); err != nil {
		return false, err
	}
	return true, nil
}

// Headers calls fn with every stored customer header of partition p, in key
// order, until fn returns false. enc is only valid during the call.
func (s *Store) Headers(p int32, fn func(id string, enc []byte) bool) error {
	if err := s.fence(p); err != nil {
		return err
	}
	pre := prefix(nil, kindCustomer, p)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: upperBound(pre)})
	if err != nil {
		return fmt.Errorf("state: headers: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if !fn(string(it.Key()[len(pre):]), it.Value()) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("state: headers: %w", err)
	}
	return nil
}

// Window calls fn for the customer's stored experiences, newest first, until
// fn returns false. Experiences still in an uncommitted batch are not seen.
// b is only valid during the call.
func (s *Store) Window(p int32, cust string, fn func(seq uint64, b []byte) bool) error {
	if err := s.fenceCustomer(p, cust); err != nil {
		return err
	}
	pre := experiencePrefix(nil, p, cust)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: upperBound(pre)})
	if err != nil {
		return fmt.Errorf("state: window: %w", err)
	}
	defer it.Close()
	type slot struct {
		seq uint64
		b   []byte
	}
	var slots []slot
	for ok := it.First(); ok; ok = it.Next() {
		if len(it.Key()) != len(pre)+2 {
			continue // a longer id that shares the prefix cannot: the length is in the prefix
		}
		v := it.Value()
		seq, err := ExperienceSeq(v)
		if err != nil {
			return err
		}
		slots = append(slots, slot{seq, append([]byte(nil), v...)})
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("state: window: %w", err)
	}
	slices.SortFunc(slots, func(a, b slot) int { return cmp.Compare(b.seq, a.seq) })
	for _, sl := range slots {
		if !fn(sl.seq, sl.b) {
			break
		}
	}
	return nil
}

// Experience calls fn with window entry seq of cust, if its ring slot (for
// a window of window entries) still holds it; b is only valid during the
// call. A point read: bloom filters skip the tables without it, where an
// iterator over the customer's window opens every level.
func (s *Store) Experience(p int32, cust string, seq uint64, window int, fn func(b []byte) error) (bool, error) {
	if err := s.fenceCustomer(p, cust); err != nil {
		return false, err
	}
	v, closer, err := s.db.Get(experienceKey(nil, p, cust, uint16(seq%uint64(window))))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state: get experience: %w", err)
	}
	defer closer.Close()
	got, err := ExperienceSeq(v)
	if err != nil || got != seq {
		return false, err
	}
	return true, fn(v)
}

// Offset returns the next offset to consume for topic/partition, or -1.
func (s *Store) Offset(p int32, topic string) (int64, error) {
	if err := s.fence(p); err != nil {
		return 0, err
	}
	v, closer, err := s.db.Get(offsetKey(p, topic))
	if errors.Is(err, pebble.ErrNotFound) {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("state: get offset: %w", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return -1, fmt.Errorf("%w: offset %s/%d", ErrCorrupt, topic, p)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// Customers returns the number of customers stored for partition p.
func (s *Store) Customers(p int32) (int64, error) {
	if err := s.fence(p); err != nil {
		return 0, err
	}
	v, closer, err := s.db.Get(metaKey(p))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("state: get meta: %w", err)
	}
	defer closer.Close()
	n, _ := binary.Varint(v)
	return n, nil
}

// Populations calls fn for every stored bucket of the named population.
func (s *Store) Populations(p int32, name string, fn func(bucket int64, b []byte) error) error {
	if err := s.fence(p); err != nil {
		return err
	}
	pre := populationPrefix(p, name)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: upperBound(pre)})
	if err != nil {
		return fmt.Errorf("state: populations: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(pre)+8 {
			continue
		}
		if err := fn(int64(binary.BigEndian.Uint64(k[len(pre):])), it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}

// Batch collects one partition's writes for one cycle. Commit applies them
// atomically, offsets included: state and the offsets it reflects never
// disagree.
type Batch struct {
	b *pebble.Batch
	p int32
	s *Store
	// For CommitAsync: the batch in flight comes back as spare.
	flight     *flight
	spare      *pebble.Batch
	spareCh    chan *pebble.Batch
	custs      []uint64 // hashes of the customers the batch writes (touch)
	spareCusts []uint64
	opaque     bool // written by Apply: which customers is unknown
	timers     timerWrites
	keyBuf     []byte
	valBuf     []byte
}

// NewBatch starts a batch for partition p.
func (s *Store) NewBatch(p int32) *Batch {
	return &Batch{b: s.db.NewBatch(), p: p, s: s, spareCh: make(chan *pebble.Batch, 1)}
}

// PutCustomer writes c's header.
func (b *Batch) PutCustomer(c *Customer) error {
	b.valBuf = c.AppendBinary(b.valBuf[:0])
	return b.PutCustomerBytes(c.ID, b.valBuf)
}

// PutCustomerBytes writes a header already encoded with AppendBinary.
func (b *Batch) PutCustomerBytes(id string, enc []byte) error {
	b.keyBuf = customerKey(b.keyBuf[:0], b.p, id)
	b.touch(id)
	return b.b.Set(b.keyBuf, enc, nil)
}

// PutExperience writes window entry seq of cust into its ring slot,
// replacing the entry `window` places before it; enc is its encoding (from
// AppendExperience with the same seq).
func (b *Batch) PutExperience(cust string, seq uint64, window int, enc []byte) error {
	b.keyBuf = experienceKey(b.keyBuf[:0], b.p, cust, uint16(seq%uint64(window)))
	b.touch(cust)
	return b.b.Set(b.keyBuf, enc, nil)
}

// PutOffset records the next offset to consume on topic.
func (b *Batch) PutOffset(topic string, next int64) error {
	return b.b.Set(offsetKey(b.p, topic), binary.BigEndian.AppendUint64(nil, uint64(next)), nil)
}

// PutCustomers records the partition's customer count.
func (b *Batch) PutCustomers(n int64) error {
	return b.b.Set(metaKey(b.p), binary.AppendVarint(nil, n), nil)
}

// PutPopulation writes one bucket of a named population sketch.
func (b *Batch) PutPopulation(name string, bucket int64, enc []byte) error {
	return b.b.Set(populationKey(b.p, name, bucket), enc, nil)
}

// DeletePopulation removes one bucket of a named population sketch.
func (b *Batch) DeletePopulation(name string, bucket int64) error {
	return b.b.Delete(populationKey(b.p, name, bucket), nil)
}

// Empty reports whether the batch holds no writes.
func (b *Batch) Empty() bool { return b.b.Empty() }

// Len is the batch's size in bytes.
func (b *Batch) Len() int { return b.b.Len() }

// Commit applies the batch. Pebble's WAL makes it survive a process crash
// (kill -9) without fsync; sync additionally survives a machine crash.
func (b *Batch) Commit(sync bool) error {
	if err := b.Wait(); err != nil {
		return err
	}
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	if err := b.b.Commit(opt); err != nil {
		return fmt.Errorf("state: commit partition %d: %w", b.p, err)
	}
	b.Reset()
	return nil
}

// Reset discards uncommitted writes and makes the batch reusable.
func (b *Batch) Reset() {
	b.b.Reset()
	b.custs = b.custs[:0]
	b.opaque = false
	b.timers.reset()
}

// touch records that the batch writes one of cust's keys, for the
// customer fences of CommitAsync.
func (b *Batch) touch(cust string) { b.custs = append(b.custs, xxhash.Sum64String(cust)) }

// Close waits for a commit in flight and releases the batch.
func (b *Batch) Close() error {
	werr := b.Wait()
	if b.spare != nil {
		_ = b.spare.Close()
		b.spare = nil
	}
	if err := b.b.Close(); err != nil {
		return err
	}
	return werr
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	panic(fmt.Sprintf(format, args...))
}
