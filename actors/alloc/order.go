package alloc

import (
	"fmt"

	"github.com/baconator/baconator/inventory"
)

// phase is where an order the coordinator works on is in its life. Each
// order is in exactly one phase; to moves it and asserts the move is legal.
//
//	arrived ─┬─▶ queued ◀──────┐
//	         │     │           │ (cut, uncharged)
//	         │     ▼           │
//	         │   planned ──────┤
//	         │     │    └─▶ parked (a conflict of its own: backing off)
//	         │     │           │
//	         ▼     ▼           ▼
//	       returning (weight going back: a cancel or compensation)
//	             │
//	             ▼
//	           ended (terminal: it leaves the coordinator)
//
// queued, parked and arrived may also end at once (a cancel holding
// nothing), and planned ends when its batch allocates or rejects it.
type phase int8

const (
	phaseArrived   phase = iota // new to the coordinator
	phaseQueued                 // in line, to be planned
	phasePlanned                // in the batch in flight
	phaseParked                 // backing off after a conflict of its own
	phaseReturning              // its weight is going back: queued or under way
	phaseEnded                  // terminal; no longer the coordinator's
)

func (p phase) String() string {
	return [...]string{"arrived", "queued", "planned", "parked", "returning", "ended"}[p]
}

// legal lists every move an order may make.
var legal = map[[2]phase]bool{
	{phaseArrived, phaseQueued}: true, {phaseArrived, phaseReturning}: true, {phaseArrived, phaseEnded}: true,
	{phaseQueued, phasePlanned}: true, {phaseQueued, phaseReturning}: true, {phaseQueued, phaseEnded}: true,
	{phasePlanned, phaseQueued}: true, {phasePlanned, phaseParked}: true, {phasePlanned, phaseReturning}: true, {phasePlanned, phaseEnded}: true,
	{phaseParked, phaseQueued}: true, {phaseParked, phaseReturning}: true, {phaseParked, phaseEnded}: true,
	{phaseReturning, phaseEnded}: true,
}

// order is the coordinator's working state for one order.
type order struct {
	snap    inventory.Order    // published on every change
	missing inventory.CentiLbs // still to allocate
	phase   phase
	cancel  bool      // a cancel came while it was planned
	waiters []any     // cancel callers to answer
	retry   uint64    // the backoff timer while parked
	ret     *returnOp // while returning
	// wasTerminal: it had already ended allocated when a cancel came, so
	// its end does not count as finishing again.
	wasTerminal bool
	journaled   inventory.Status // the status the journal holds for it
}

func (o *order) id() string { return o.snap.Request.ID }

// to moves o to next; an illegal move is a programmer error.
func (o *order) to(next phase) {
	if !legal[[2]phase{o.phase, next}] {
		panic(fmt.Sprintf("order %s: illegal move %s -> %s", o.id(), o.phase, next))
	}
	o.phase = next
}

func total(allocs []inventory.Allocation) inventory.CentiLbs {
	var t inventory.CentiLbs
	for _, a := range allocs {
		t += a.Lbs
	}
	return t
}
