package actors

import (
	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
)

// Messages only the engine's own actors use; the protocol's messages
// between coordinators and pallets are alloc's.

// GetLedger asks a pallet for its ledger up to a version (the durable one:
// entries past it are not journaled yet); it answers LedgerReply.
type GetLedger struct {
	UpTo int64
}

// LedgerReply answers GetLedger.
type LedgerReply struct {
	Entries []inventory.LedgerEntry
}

// Flush asks an actor to answer Flushed once it has handled everything
// sent to it before. A coordinator answers only when no operation is in
// flight, so a flush of every pallet and then of their coordinator proves
// that every change reported so far has been applied.
type Flush struct{}

// Flushed answers Flush.
type Flushed struct{}

// Messages the engine sends to a coordinator.
type (
	placeOrder struct{ rec *orderRecord }
	// receivePallets hands a coordinator pallets that are already durable:
	// new receipts the engine journaled, or pallets recovered at start-up.
	receivePallets struct {
		pallets   []*inventory.Pallet
		entries   []*palletEntry
		recovered bool // from the journal at start-up: not a new event
	}
	receivedPallets struct{ err error }
	cancelOrder     struct{ rec *orderRecord }
	cancelReply     struct {
		order inventory.Order
		err   error
	}
	// timerFired is an alloc timer going off, sent by the actor to itself.
	timerFired struct{ id uint64 }
)

// The history a coordinator emits, for Config.Recorder: the protocol's own
// event types.
type (
	Event           = alloc.Event
	PalletsReceived = alloc.PalletsReceived
	PalletAdjusted  = alloc.PalletAdjusted
	AllocationStep  = alloc.AllocationStep
	OrderReturned   = alloc.OrderReturned
	OrderFinished   = alloc.OrderFinished
)

// Recorder receives events. Record is called from inside a coordinator and
// must not block for long.
type Recorder interface {
	Record(Event)
}
