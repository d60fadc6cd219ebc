package cluster

import (
	"context"
	"sync"
)

// intakeProgress is how far a partition's owner has taken its intake, as
// stream sequences: every order up to a sequence taken (journaled, or
// dropped as no order) means a read of it finds it. Orders are delivered
// in sequence, but one offered back (the engine was full) comes again
// later, so the open ones are kept until taken.
type intakeProgress struct {
	mu      sync.Mutex
	floor   uint64              // every order at or below it was taken before this owner
	high    uint64              // the highest sequence this owner took
	open    map[uint64]struct{} // delivered, not yet taken; at most intakePendingMax
	changed chan struct{}       // closed, and replaced, when an order is taken
}

func newIntakeProgress(floor uint64) *intakeProgress {
	return &intakeProgress{floor: floor, open: map[uint64]struct{}{}, changed: make(chan struct{})}
}

// begin marks an order delivered and not yet taken.
func (ip *intakeProgress) begin(seq uint64) {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	if seq > ip.floor {
		ip.open[seq] = struct{}{}
	}
}

// taken marks an order taken.
func (ip *intakeProgress) taken(seq uint64) {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	delete(ip.open, seq)
	ip.high = max(ip.high, seq)
	close(ip.changed)
	ip.changed = make(chan struct{})
}

// reached reports whether every order up to seq is taken, and else a
// channel closed at the next change.
func (ip *intakeProgress) reached(seq uint64) (bool, <-chan struct{}) {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	if seq <= ip.floor {
		return true, nil
	}
	if ip.high < seq {
		return false, ip.changed
	}
	for o := range ip.open {
		if o <= seq {
			return false, ip.changed
		}
	}
	return true, nil
}

// wait returns once every order up to seq is taken (true), or when ctx
// ends (false).
func (ip *intakeProgress) wait(ctx context.Context, seq uint64) bool {
	for {
		ok, changed := ip.reached(seq)
		if ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		}
	}
}
