package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/inventory"
)

// Messages between actors. They are plain data — strings, integers, times,
// slices and PIDs, never channels or functions — so each maps one-to-one
// onto a protobuf message if pallets ever live on another node.

// Reserve asks a pallet (phase 1) to hold weight for several orders at
// once, if it is still at ExpectedVersion. The pallet answers ReserveReply.
type Reserve struct {
	Batch           uint64
	ExpectedVersion int64
	Holds           []inventory.HoldRequest
	Deadline        time.Time // holds lapse then if never confirmed
}

// Refusal says why a pallet refused.
type Refusal int8

// Refusals.
const (
	RefusalNone Refusal = iota
	RefusalStale
	RefusalInsufficient
	RefusalHoldMissing
)

func (r Refusal) String() string {
	switch r {
	case RefusalNone:
		return "granted"
	case RefusalStale:
		return "version changed"
	case RefusalInsufficient:
		return "not enough available"
	case RefusalHoldMissing:
		return "hold revoked"
	}
	return fmt.Sprintf("refusal(%d)", int8(r))
}

// ReserveReply answers Reserve.
type ReserveReply struct {
	Batch    uint64
	PalletID string
	Refusal  Refusal
	Version  int64 // the pallet's version when it answered
}

// ConfirmLink is one pallet's part of a confirm chain.
type ConfirmLink struct {
	Pallet   *actor.PID
	PalletID string
	Keys     []inventory.HoldKey
}

// ConfirmResult is what one link did.
type ConfirmResult struct {
	PalletID string
	Refusal  Refusal
	OnHand   inventory.CentiLbs
	Version  int64
	// Repeated: every key was confirmed before (a resent chain). Version is
	// the one they committed at; OnHand is the pallet's current weight,
	// which may belong to a later version.
	Repeated bool
}

// ConfirmChain is phase 2. It visits pallets in FEFO order: each confirms
// its link's holds, appends its result and forwards the chain to the next
// pallet; the last one, or the first that refuses, sends it to ReplyTo.
// A refusal therefore leaves every later pallet untouched, so what commits
// is always a FEFO prefix of the batch's plan.
type ConfirmChain struct {
	Batch   uint64
	At      time.Time
	Links   []ConfirmLink
	Results []ConfirmResult
	ReplyTo *actor.PID
}

// Release drops holds; unknown keys are ignored.
type Release struct {
	Keys []inventory.HoldKey
}

// ReturnOrder gives back what an order was allocated from a pallet. The
// pallet answers ReturnReply.
type ReturnOrder struct {
	Op      uint64
	OrderID string
	At      time.Time
}

// ReturnReply answers ReturnOrder.
type ReturnReply struct {
	Op       uint64
	PalletID string
	Lbs      inventory.CentiLbs
	OnHand   inventory.CentiLbs
	Version  int64
	At       time.Time // the time on the ledger entry
}

// Adjust applies a physical weight change to a pallet (an operator's
// adjustment, or with Clamp a chaos strike that stops at zero). The pallet
// answers AdjustReply and tells its coordinator PalletChanged.
type Adjust struct {
	Delta  inventory.CentiLbs
	Reason string
	Clamp  bool
}

// AdjustReply answers Adjust.
type AdjustReply struct {
	State   inventory.PalletState
	Applied inventory.CentiLbs
	Revoked int
	Err     error
}

// PalletChanged tells a coordinator of a physical change it did not make.
type PalletChanged struct {
	PalletID string
	Supplier string
	Revoked  int // holds the change revoked
	Delta    inventory.CentiLbs
	Reason   string
	OnHand   inventory.CentiLbs
	Version  int64
	At       time.Time
}

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

// expireHolds asks a pallet to drop its lapsed holds (from the sweeper).
type expireHolds struct{}
