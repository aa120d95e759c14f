package state

// KindDesk is the key kind of the recovery desk's view (package desk): its
// open and closed cases, alert index and the alerts/feedback offsets they
// reflect. Like the outbox, the desk's keys are not partition state: every
// instance keeps the whole view, rebuilt from the alerts and feedback
// topics. Batch.Ops leaves them out of the changelog, HasState does not
// count them, and WipePartition keeps them. The desk writes them directly
// (Store.DB) under this first byte; what follows it is the desk's own.
const KindDesk = 'D'

// local reports whether a key kind belongs to this instance rather than to
// a partition's state: the outbox and the desk's view.
func local(kind byte) bool {
	return kind == kindOutbox || kind == kindOutboxSeq || kind == KindDesk
}
