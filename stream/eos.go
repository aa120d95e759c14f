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
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/peakend/peakend/config"
	"github.com/peakend/peakend/internal/metrics"
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
// cycle and the session rewinds to the committed offsets.
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
	m := r.o.Metrics
	lap := start
	m.Lap(metrics.StageProcess, &lap)
	if err := s.Begin(); err != nil {
		return errors.Join(fmt.Errorf("stream: begin transaction: %w", err), c.discard(false))
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
		m.Lap(metrics.StageProduce, &lap)
	}
	committed, err := s.End(endCtx, try)
	if err != nil {
		// The broker may have committed the transaction (a restart then
		// rolls state forward and never processes the cycle again): its
		// alerts stay queued.
		if derr := c.discard(true); derr != nil {
			return errors.Join(err, derr)
		}
		return r.abandoned(ctx, fmt.Errorf("stream: end transaction: %w", err))
	}
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
	m.Lap(metrics.StageCommit, &lap)
	if _, err := r.apply(c, start); err != nil {
		return err
	}
	m.Lap(metrics.StageApply, &lap)
	r.deliver(ctx, c.fired)
	m.Lap(metrics.StageDeliver, &lap)
	r.updateGauges()
	return nil
}
