package stream

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/config"
)

// TransactionalID is the default transactional id of an instance under
// exactly_once: the group, and a hash of the host name and the absolute
// state directory. It is stable across restarts of one instance (so a
// restarted instance fences the unfinished transaction of its previous
// life at once) and differs between instances (which would otherwise fence
// each other).
func TransactionalID(cfg *config.Config) string {
	host, _ := os.Hostname()
	dir, err := filepath.Abs(cfg.State.Dir)
	if err != nil {
		dir = cfg.State.Dir
	}
	return "peakend-" + cfg.Kafka.Group + "-" + strconv.FormatUint(xxhash.Sum64String(host+"\x00"+dir), 36)
}

func (r *Runner) transactionalID() string {
	if r.o.TransactionalID != "" {
		return r.o.TransactionalID
	}
	return TransactionalID(r.o.Config)
}

// cycleEOS processes one poll under exactly-once: every partition's records
// processed (in parallel) and idle partitions ticked (their timers may fall
// due); if there is anything to write, Begin; alerts, DLQ records,
// changelog records and markers produced in the transaction; End commits
// them with the consumed offsets. Only when End reports the commit are the partitions'
// Pebble batches applied, so local state is never ahead of Kafka; a crash
// between the commit and the apply leaves it behind, and the restore rolls
// it forward from the changelog. On abort every partition discards the
// cycle and the session rewinds to the committed offsets. If the broker
// fenced the transaction (fencedError), the cycle is discarded and Run
// replaces the whole group session.
//
// The runner's goroutine alone calls PollRecords, Begin, ProduceSync and End,
// in that order; rebalance callbacks never call End, and run only between
// cycles (BlockRebalanceOnPoll, AllowRebalance at the end of each cycle).
func (r *Runner) cycleEOS(ctx context.Context, s *kgo.GroupTransactSession, fetches kgo.Fetches) error {
	start := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	defer s.AllowRebalance()
	if r.err != nil {
		return r.err
	}
	// The poll's records are processed first, and idle partitions ticked
	// (their timers may fall due: an empty poll has work too); the
	// transaction begins only if there is something to write.
	c, err := r.prepare(fetches, start)
	if err != nil {
		return err
	}
	if c == nil {
		return nil
	}
	if err := s.Begin(); err != nil {
		if derr := c.discard(false); derr != nil {
			return errors.Join(err, derr)
		}
		return asFenced(fmt.Errorf("stream: begin transaction: %w", err))
	}
	// End's context is cancelled only when a stop's grace has run out (ctx
	// is the runner's graceful context): a cancelled End leaves the client
	// unusable, but it is being closed then, and the cycle, not applied to
	// Pebble, is done again on restart (the broker aborts the transaction,
	// or the restore rolls state forward if it committed).
	endCtx := ctx
	try := kgo.TryCommit
	if c.orphans > 0 {
		// Records of a partition we do not have open were consumed: their
		// offsets must not be committed unprocessed.
		r.log.Warn("records of partitions not open in this cycle: aborting it", "records", c.orphans)
		try = kgo.TryAbort
	}
	if try {
		all := c.out
		for _, w := range c.parts {
			all = append(all, w.marker)
		}
		if err := s.ProduceSync(ctx, all...).FirstErr(); err != nil {
			r.log.Warn("produce in transaction failed: aborting it", "err", err)
			try = kgo.TryAbort
		}
	}
	committed, err := s.End(endCtx, try)
	if err != nil {
		// The broker may have committed the transaction (a restart then
		// rolls state forward and never processes the cycle again): its
		// alerts stay queued.
		if derr := c.discard(true); derr != nil {
			return errors.Join(err, derr)
		}
		return asFenced(r.abandoned(ctx, fmt.Errorf("stream: end transaction: %w", err)))
	}
	m := r.o.Metrics
	if !committed {
		if err := c.discard(false); err != nil {
			return err
		}
		if m != nil {
			m.Transactions.WithLabelValues("aborted").Inc()
		}
		r.log.Info("transaction aborted; the cycle will be processed again from the committed offsets", "partitions", len(c.parts))
		return nil
	}
	if m != nil {
		m.Transactions.WithLabelValues("committed").Inc()
	}
	if _, err := r.apply(c, start); err != nil {
		return err
	}
	r.deliver(ctx, c.fired)
	r.updateGauges()
	return nil
}

// fencedError is a cycle ended because the broker no longer accepts this
// client's transactions: its producer epoch was bumped under it. Our
// transactional id is unique to one state directory, so the usual cause
// is the broker aborting a transaction that outlived the transaction
// timeout (an End held open across a rebalance that waited for a dead
// member); a twin with the same id is the other. franz-go's client cannot
// begin another transaction after it (PRODUCER_FENCED is fatal to the
// producer id), so Run replaces the session (runSession).
type fencedError struct{ err error }

func (e *fencedError) Error() string { return e.err.Error() }
func (e *fencedError) Unwrap() error { return e.err }

// fencingErrs are the brokers' answers that mean the transaction is gone
// and this producer epoch with it. INVALID_PRODUCER_EPOCH: a transaction
// timeout before KIP-890 part 2 (franz-go recovers it itself where it can);
// INVALID_TXN_STATE: the same race under transaction.version 2 on brokers
// before KAFKA-20785; INVALID_PRODUCER_ID_MAPPING: the id expired.
var fencingErrs = []error{kerr.ProducerFenced, kerr.InvalidProducerEpoch, kerr.InvalidTxnState, kerr.InvalidProducerIDMapping}

// asFenced wraps err in a fencedError if the broker fenced the
// transaction; other errors (and nil) are returned as they are.
func asFenced(err error) error {
	if err == nil {
		return nil
	}
	for _, f := range fencingErrs {
		if errors.Is(err, f) {
			return &fencedError{err: err}
		}
	}
	return err
}
