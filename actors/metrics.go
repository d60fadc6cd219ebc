package actors

import (
	"sync/atomic"
	"time"

	"github.com/baconator/baconator/inventory"
)

// metrics are the engine's counters; the HTTP layer exports them.
type metrics struct {
	accepted, throttled                                          atomic.Int64
	allocated, cancelled, cancelledAfterAllocation               atomic.Int64
	rejectedInsufficient, rejectedNoEligible, rejectedContention atomic.Int64
	conflicts, retries, strikes                                  atomic.Int64
}

func (m *metrics) finished(status inventory.Status, reason inventory.Reason) {
	switch {
	case status == inventory.StatusAllocated:
		m.allocated.Add(1)
	case status == inventory.StatusCancelled:
		m.cancelled.Add(1)
	case reason == inventory.ReasonInsufficientStock:
		m.rejectedInsufficient.Add(1)
	case reason == inventory.ReasonNoEligibleStock:
		m.rejectedNoEligible.Add(1)
	default:
		m.rejectedContention.Add(1)
	}
}

// Stats is a snapshot of the engine's counters.
type Stats struct {
	Accepted, Throttled                                          int64
	Allocated, Cancelled, CancelledAfterAllocation               int64
	RejectedInsufficient, RejectedNoEligible, RejectedContention int64
	Conflicts, Retries, Strikes                                  int64
	IntakeDepth, InFlight                                        int64
	// JournalCommits and JournalSyncs count durable commits and the syncs
	// they shared (group commit); JournalFailed is set once a write failed.
	JournalCommits, JournalSyncs int64
	JournalFailed                bool
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	m := &e.metrics
	var commits, syncs int64
	var failed bool
	if e.journal != nil {
		commits, syncs = e.journal.Stats()
		failed = e.journal.Err() != nil
	}
	return Stats{
		JournalCommits: commits, JournalSyncs: syncs, JournalFailed: failed,
		Accepted: m.accepted.Load(), Throttled: m.throttled.Load(),
		Allocated: m.allocated.Load(), Cancelled: m.cancelled.Load(),
		CancelledAfterAllocation: m.cancelledAfterAllocation.Load(),
		RejectedInsufficient:     m.rejectedInsufficient.Load(),
		RejectedNoEligible:       m.rejectedNoEligible.Load(),
		RejectedContention:       m.rejectedContention.Load(),
		Conflicts:                m.conflicts.Load(), Retries: m.retries.Load(), Strikes: m.strikes.Load(),
		IntakeDepth: e.queued.Load(), InFlight: int64(len(e.inFlight)),
	}
}

// ChaosInterval is how often the chaos actor strikes (0: off), for the
// metrics: a load report says what chaos it ran against.
func (e *Engine) ChaosInterval() time.Duration { return e.cfg.Chaos.Interval }
