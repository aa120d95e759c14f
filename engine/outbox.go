package engine

import (
	"encoding/json"
	"fmt"
	"time"
)

// stageOutbox queues the cycle's alerts in the durable outbox, one entry per
// sink that wants the alert, in the same batch as the state that produced
// them: after a crash, either both are there or neither.
func (p *Partition) stageOutbox() error {
	book := p.e.outbox
	if book == nil || len(p.out.Alerts) == 0 {
		return nil
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
			if err := p.batch.PutOutbox(sink, p.outSeq, now, js); err != nil {
				return err
			}
			p.outSeq++
			p.outPending[sink]++
		}
	}
	if p.outSeq != start {
		return p.batch.PutOutboxSeq(p.outSeq)
	}
	return nil
}

// committedOutbox hands the committed entries to the deliverers.
func (p *Partition) committedOutbox() {
	if p.e.outbox == nil {
		return
	}
	for sink, n := range p.outPending {
		p.e.outbox.Committed(sink, n)
	}
	clear(p.outPending)
	p.outCommitted = p.outSeq
}
