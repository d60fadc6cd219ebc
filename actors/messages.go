package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
)

// Messages only the engine's own actors use; the protocol's messages
// between coordinators and pallets are alloc's.

// Flush asks an actor to answer Flushed once it has handled everything
// sent to it before. A coordinator answers only when no operation is in
// flight, so a flush of every pallet and then of their coordinator proves
// that every change reported so far has been applied.
type Flush struct{}

// Flushed answers Flush.
type Flushed struct{}

// flushPallet flushes one of a coordinator's pallets through it: the
// coordinator is the one that lets pallets go, so the flush never meets a
// pallet on its way out (a pallet gone answers at once).
type flushPallet struct{ id string }

// palletPID asks a coordinator for one of its pallets' actor, started if
// it had none; it answers the *actor.PID, or nil for a pallet not on its
// floor. Tests use it to talk to a pallet directly.
type palletPID struct{ id string }

// strikePallet passes a chaos strike to a pallet that had no actor when
// chaos picked it; one that has left the floor since is not struck.
type strikePallet struct {
	id     string
	adjust *alloc.Adjust
}

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
	// cancelOrder cancels an order: rec is its record while it is in
	// memory; without one the coordinator reads it from the journal.
	cancelOrder struct {
		id    string
		rec   *orderRecord
		route *actor.PID
	}
	// revivePallet hands a pallet of the coordinator's a message (an
	// operator's adjustment), bringing it back to the floor first if it
	// retired: the pallet takes the message before anything else can ask it
	// to leave. The pallet answers the message's sender; a pallet that
	// cannot be brought back is answered receivedPallets with the error.
	revivePallet struct {
		id   string
		then alloc.Message
	}
	cancelReply struct {
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
