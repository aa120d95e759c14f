package engine

import (
	"encoding/json"
	"fmt"
	"time"
)

// outKey names one outbox entry of the cycle in hand.
type outKey struct {
	sink string
	seq  uint64
}

// stageOutbox queues the cycle's alerts in the durable outbox, one entry per
// sink that wants the alert, and commits them to Pebble, synced, before the
// cycle's records are written to Kafka: an alert that reaches the Kafka
// alerts topic always has its outbox entries on disk, even if the process
// dies before its cycle's state commit (the restart then rolls that state
// forward from the changelog, which does not carry the local outbox).
// The entries wait (outbox.Book holds them) until the cycle commits;
// Discard deletes them. A crash in between leaves them deliverable, and
// the cycle, processed again, queues the same alert_ids again: at least
// once.
func (p *Partition) stageOutbox() error {
	book := p.e.outbox
	if book == nil || len(p.out.Alerts) == 0 {
		return nil
	}
	if p.obatch == nil {
		p.obatch = p.e.store.NewBatch(p.id)
	}
	wall := time.Now()
	now := wall.UnixNano()
	start := p.outSeq
	for _, a := range p.out.Alerts {
		if !book.Frontline(a.Severity, wall) {
			continue // over alerting.max_per_hour: the Kafka topic only, counted
		}
		var js []byte
		for _, sink := range book.Sinks() {
			if allow := p.e.allows[sink]; allow != nil && !allow(a) {
				continue
			}
			if !book.Admit(sink, p.outPending[sink]) {
				continue // counted and logged by the book; the alert is on the topic
			}
			if js == nil {
				var err error
				if js, err = json.Marshal(a); err != nil {
					return fmt.Errorf("engine: outbox: %w", err)
				}
			}
			if err := p.obatch.PutOutbox(sink, p.outSeq, now, js); err != nil {
				return err
			}
			p.outKeys = append(p.outKeys, outKey{sink, p.outSeq})
			p.outSeq++
			p.outPending[sink]++
		}
	}
	if p.outSeq == start {
		return nil
	}
	if err := p.obatch.PutOutboxSeq(p.outSeq); err != nil {
		return err
	}
	if err := p.obatch.Commit(true); err != nil {
		return fmt.Errorf("engine: outbox: %w", err)
	}
	return nil
}

// committedOutbox hands the committed entries to the deliverers.
func (p *Partition) committedOutbox() {
	if p.e.outbox == nil {
		return
	}
	// Released before the deliverers are woken: woken first, one could
	// scan, find the entries still held, and sleep until its next poll.
	p.e.outbox.Release(p.id, p.outSeq)
	for sink, n := range p.outPending {
		p.e.outbox.Committed(sink, n)
	}
	clear(p.outPending)
	p.outKeys = p.outKeys[:0]
	p.outCommitted = p.outSeq
}

// discardOutbox deletes the entries the discarded cycle put in the outbox,
// then releases the (now empty) held range. The outbox seq stays where the
// cycle left it, as on disk. If the delete fails, the entries stay held
// until the partition is closed; the error should end the run.
func (p *Partition) discardOutbox() error {
	if p.e.outbox == nil {
		return nil
	}
	if len(p.outKeys) > 0 {
		p.obatch.Reset() // the writes of a stage whose commit failed, if any
		if err := p.deleteOutboxKeys(); err != nil {
			p.obatch.Reset()
			return fmt.Errorf("engine: discard partition %d: outbox: %w", p.id, err)
		}
	}
	p.outKeys = p.outKeys[:0]
	clear(p.outPending)
	p.outCommitted = p.outSeq
	p.e.outbox.Release(p.id, p.outSeq)
	return nil
}

// deleteOutboxKeys deletes the cycle's outbox entries in one write.
func (p *Partition) deleteOutboxKeys() error {
	for _, k := range p.outKeys {
		if err := p.obatch.DeleteOutbox(k.sink, k.seq); err != nil {
			return err
		}
	}
	return p.obatch.Commit(false)
}
