package stream

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/state"
)

// The changelog mirrors every partition's state writes, so that a partition
// can move to another instance with its state (DESIGN.md, "Changelog and
// restore"). Partition p of the changelog holds the writes of input
// partition p, in order; each cycle's writes end with a marker record whose
// key is the partition's changelog-offset key (state.OffsetKey(p,
// changelog)). Only writes followed by a marker are restored.

// ChangelogTopic is the changelog topic of a consumer group.
func ChangelogTopic(group string) string { return "peakend-" + group + "-changelog" }

// EnsureChangelog creates the group's changelog topic if it is missing:
// compacted, with the experiences topic's partition count, so that
// changelog partition p holds the state of input partition p. It waits for
// the experiences topic to exist. An existing changelog with fewer
// partitions than the experiences topic is an error.
func EnsureChangelog(ctx context.Context, cfg *config.Config, log *slog.Logger, extra ...kgo.Opt) error {
	adm, err := adminClient(cfg, extra)
	if err != nil {
		return err
	}
	defer adm.Close()
	exp, topic := cfg.Kafka.Topics.Experiences, ChangelogTopic(cfg.Kafka.Group)
	for wait := time.Duration(0); ; wait = min(max(2*wait, 100*time.Millisecond), 5*time.Second) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		ds, err := adm.ListTopics(ctx, exp, topic, cfg.Kafka.Topics.Feedback)
		if err != nil {
			log.Warn("changelog: list topics", "err", err)
			continue
		}
		in, ok := ds[exp]
		if !ok || in.Err != nil || len(in.Partitions) == 0 {
			log.Warn("changelog: waiting for the experiences topic to exist", "topic", exp)
			continue
		}
		n := len(in.Partitions)
		if fb, ok := ds[cfg.Kafka.Topics.Feedback]; ok && fb.Err == nil && len(fb.Partitions) != n && wait == 0 {
			// Feedback is keyed by customer id: on another partition count
			// it reaches a partition that does not hold the customer.
			log.Warn("the feedback topic's partition count differs from the experiences topic's: recovered_before misses recoveries",
				"feedback", cfg.Kafka.Topics.Feedback, "partitions", len(fb.Partitions), "experiences", exp, "experiences_partitions", n)
		}
		if ch, ok := ds[topic]; ok && ch.Err == nil {
			if len(ch.Partitions) < n {
				return fmt.Errorf("stream: changelog %s has %d partitions, fewer than the %d of %s: delete it or add partitions",
					topic, len(ch.Partitions), n, exp)
			}
			return nil
		}
		policy := "compact"
		resp, err := adm.CreateTopic(ctx, int32(n), int16(cfg.Kafka.Replication), map[string]*string{"cleanup.policy": &policy}, topic)
		switch {
		case err == nil:
			log.Info("created topic", "topic", topic, "partitions", resp.NumPartitions, "cleanup.policy", policy)
			return nil
		case errors.Is(err, kerr.TopicAlreadyExists):
			continue // created concurrently (another instance): check its partitions
		}
		return fmt.Errorf("stream: create changelog %s: %w", topic, err)
	}
}

// appendChangelog appends to out one changelog record per write in b, in
// order, then the cycle's marker record, and returns out and the marker.
func appendChangelog(out []*kgo.Record, topic string, b *state.Batch) ([]*kgo.Record, *kgo.Record, error) {
	p := b.Partition()
	err := b.Ops(func(k, v []byte) error {
		r := &kgo.Record{Topic: topic, Partition: p, Key: append([]byte(nil), k...)}
		if v != nil {
			r.Value = append([]byte{}, v...)
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return out, nil, err
	}
	marker := markerRecord(topic, p)
	return append(out, marker), marker, nil
}

// markerRecord ends one cycle's writes of partition p in the changelog. Its
// value is the time it was written (information only): restore records the
// marker's own offset + 1 as the partition's changelog offset.
func markerRecord(topic string, p int32) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: p, Key: state.OffsetKey(p, topic),
		Value: binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixMilli()))}
}

// partitioner sends changelog and hotspots-topic records to the partition they name and every
// other record where franz-go's default partitioner would.
type partitioner struct {
	changelog string
	hotspots  string // records name their partition (hotspots.go)
	manual    kgo.Partitioner
	def       kgo.Partitioner
}

func newPartitioner(changelog, hotspots string) kgo.Partitioner {
	return partitioner{changelog: changelog, hotspots: hotspots, manual: kgo.ManualPartitioner(),
		def: kgo.UniformBytesPartitioner(64<<10, true, true, nil)} // franz-go's default
}

func (p partitioner) ForTopic(t string) kgo.TopicPartitioner {
	if t == p.changelog || (t == p.hotspots && t != "") {
		return p.manual.ForTopic(t)
	}
	return p.def.ForTopic(t)
}

// seedTimeout bounds the transaction that seeds one changelog partition:
// below the broker's default transaction.max.timeout.ms (15 minutes).
const seedTimeout = 10 * time.Minute

// seedChangelog writes partition p's local state into its empty changelog
// partition, followed by a marker, in one Kafka transaction, and records
// the changelog offset locally. It runs when local state is the only copy:
// state written before the changelog existed, or a changelog topic deleted
// and created again. The transaction makes the seed all or nothing: a crash
// midway leaves nothing visible to the read_committed restore, and the next
// attempt, with the same transactional id, aborts the unfinished one first.
func (r *Runner) seedChangelog(ctx context.Context, p int32) (int64, error) {
	topic, store := r.changelog, r.o.Store
	txnID := fmt.Sprintf("peakend-%s-seed-%d", r.o.Config.Kafka.Group, p)
	cl, err := kgo.NewClient(append(r.connOpts(),
		kgo.TransactionalID(txnID), kgo.TransactionTimeout(seedTimeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return 0, fmt.Errorf("stream: seed client: %w", err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		return 0, fmt.Errorf("stream: seed changelog partition %d: %w", p, err)
	}
	var (
		n    int64
		mu   sync.Mutex
		perr error
	)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			perr = errors.Join(perr, err)
			mu.Unlock()
		}
	}
	marker := state.OffsetKey(p, topic)
	err = store.Snapshot(p, marker, func(k, v []byte) error {
		n++
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Key: bytes.Clone(k), Value: bytes.Clone(v)}, done)
		return ctx.Err()
	})
	m := markerRecord(topic, p)
	if err == nil {
		cl.Produce(ctx, m, done)
		err = cl.Flush(ctx)
	}
	mu.Lock()
	err = errors.Join(err, perr)
	mu.Unlock()
	commit := kgo.TryCommit
	if err != nil {
		commit = kgo.TryAbort
	}
	// The end of a transaction is never cancelled (NOTES.md): a cancelled
	// EndTransaction leaves the client unusable.
	if eerr := cl.EndTransaction(context.WithoutCancel(ctx), commit); eerr != nil || err != nil {
		return 0, fmt.Errorf("stream: seed changelog partition %d: %w", p, errors.Join(err, eerr))
	}
	b := store.NewBatch(p)
	defer b.Close()
	if err := b.PutOffset(topic, m.Offset+1); err != nil {
		return 0, err
	}
	if err := b.Commit(true); err != nil {
		return 0, err
	}
	return n, nil
}
