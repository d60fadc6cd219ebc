package alloc

import (
	"time"

	"github.com/baconator/baconator/inventory"
)

// Input is one thing that happens to a coordinator: a message from a
// pallet, or one of the inputs below from its engine.
type Input interface{ input() }

// OrderArrived: an accepted, journaled order reaches its coordinator. Its
// Allocations are what it already holds — a recovered order keeps what it
// had committed and plans only the rest.
type OrderArrived struct {
	Order inventory.Order
}

// CancelRequested: a client asks to cancel an order. Order is the order as
// clients last saw it; Reply is where the answer goes.
type CancelRequested struct {
	Order inventory.Order
	Reply any
}

// PalletsArrived: durable pallets join the SKU — new receipts the engine
// journaled, or with Recovered, pallets rebuilt from the journal at start
// (not new events), or with Revived, retired pallets brought back to the
// floor (Ready.Revive asked for them, or an operator adjusts one). They
// are at the state given.
type PalletsArrived struct {
	Pallets            []inventory.PalletState
	Recovered, Revived bool
	Reply              any
}

// TimerFired: a timer armed by an earlier Ready went off.
type TimerFired struct {
	ID uint64
}

// FlushRequested asks for a ReplyFlushed once the coordinator has applied
// every change reported to it and has no operation in flight.
type FlushRequested struct {
	Reply any
}

func (*OrderArrived) input()    {}
func (*CancelRequested) input() {}
func (*PalletsArrived) input()  {}
func (*TimerFired) input()      {}
func (*FlushRequested) input()  {}
func (*ReserveReply) input()    {}
func (*ConfirmChain) input()    {}
func (*ReturnReply) input()     {}
func (*PalletChanged) input()   {}
func (*RetireReply) input()     {}

// Ready is what one Step decided must happen, in this order: journal
// Ledger and the Orders marked Journal as one batch; once that is durable,
// publish Pallets and Orders, count, answer Replies, send Messages, stop
// and arm Timers, log Notes, record Events. If the journal refuses, nothing
// is published and Replies are answered with the journal's error. A Halt
// means the coordinator met a broken bound: the engine must stop.
//
// A Ready belongs to the coordinator and is valid until the next Step.
type Ready struct {
	Ledger   []LedgerLine
	Orders   []OrderUpdate
	Pallets  []PalletUpdate // durable states, holds excluded
	Revive   []Revival      // retired pallets needed back: answer with PalletsArrived{Revived}
	Replies  []Reply
	Messages []Envelope
	Timers   []Timer
	Stopped  []uint64 // timers no longer needed
	Notes    []Note
	Events   []Event
	Counters Counters
	Halt     error
}

// LedgerLine is one ledger entry of a pallet to journal. Index orders the
// entries that share a version (one confirm allocating to several orders).
type LedgerLine struct {
	PalletID string
	Index    int
	Entry    inventory.LedgerEntry
	// Status is the pallet's status after the line: one step may change a
	// pallet more than once (a strike, then a hold), and each line's event
	// says what that line left.
	Status inventory.PalletStatus
}

// OrderUpdate is an order's new snapshot. Journal: it is a snapshot the
// journal keeps (an end, or allocations that changed), not a passing
// detail (attempts, conflicts); Was is the status the journal held for it
// until now. Finished: the order's first terminal state (count it, free
// its slot). CancelledAfter: the cancel of an order that had ended
// allocated.
type OrderUpdate struct {
	Order                             inventory.Order
	Was                               inventory.Status
	Journal, Finished, CancelledAfter bool
}

// Revival asks for a retired pallet back, from its journaled state, as a
// PalletNode that takes return ops from ReturnFloor on.
type Revival struct {
	PalletID    string
	ReturnFloor uint64
}

// PalletUpdate is a pallet's new durable state. Retired: it left the floor
// (an empty pallet; journal it among the retired, stop its actor).
// Revived: it was retired and weight came back to it (its journal entry
// moves back to the floor). Both: it was brought back and leaves again
// before anything changed — the journal still has it retired.
type PalletUpdate struct {
	State            inventory.PalletState
	Retired, Revived bool
}

// ReplyKind says what a Reply answers.
type ReplyKind int8

// Reply kinds.
const (
	ReplyCancel   ReplyKind = iota + 1 // Order is the order after the cancel; Err if refused
	ReplyReceived                      // PalletIDs were listed
	ReplyFlushed
)

// Reply answers a caller.
type Reply struct {
	To        any
	Kind      ReplyKind
	Order     inventory.Order
	PalletIDs []string
	Err       error
}

// Timer asks for a TimerFired{ID} after After.
type Timer struct {
	ID    uint64
	After time.Duration
}

// NoteLevel is how loud a Note is.
type NoteLevel int8

// Note levels.
const (
	NoteDebug NoteLevel = iota
	NoteInfo
	NoteWarn
	NoteError
)

// Note is a line for the log: the coordinator decides what is worth
// saying, the engine says it.
type Note struct {
	Level NoteLevel
	Text  string
	Attrs []any // slog-style key/value pairs
}

// Counters are what a Step adds to the engine's metrics.
type Counters struct {
	Conflicts, Retries, Strikes int64
}

func (r *Ready) reset() {
	clear(r.Ledger)
	r.Ledger = r.Ledger[:0]
	clear(r.Orders)
	r.Orders = r.Orders[:0]
	clear(r.Pallets)
	r.Pallets = r.Pallets[:0]
	r.Revive = r.Revive[:0]
	clear(r.Replies)
	r.Replies = r.Replies[:0]
	clear(r.Messages)
	r.Messages = r.Messages[:0]
	r.Timers = r.Timers[:0]
	r.Stopped = r.Stopped[:0]
	clear(r.Notes)
	r.Notes = r.Notes[:0]
	clear(r.Events)
	r.Events = r.Events[:0]
	r.Counters = Counters{}
	r.Halt = nil
}

// Empty reports whether the Ready asks for nothing.
func (r *Ready) Empty() bool {
	return len(r.Ledger) == 0 && len(r.Orders) == 0 && len(r.Pallets) == 0 && len(r.Revive) == 0 && len(r.Replies) == 0 &&
		len(r.Messages) == 0 && len(r.Timers) == 0 && len(r.Stopped) == 0 && len(r.Notes) == 0 &&
		len(r.Events) == 0 && r.Counters == (Counters{}) && r.Halt == nil
}

// Durable reports whether the Ready has anything to journal.
func (r *Ready) Durable() bool {
	if len(r.Ledger) > 0 || len(r.Pallets) > 0 {
		return true
	}
	for _, o := range r.Orders {
		if o.Journal {
			return true
		}
	}
	return false
}
