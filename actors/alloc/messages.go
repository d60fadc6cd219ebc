package alloc

import (
	"fmt"
	"time"

	"github.com/baconator/baconator/inventory"
)

// Messages between a coordinator and its pallets. They are plain data —
// strings, integers, times, slices and opaque addresses, never channels or
// functions — so each maps one-to-one onto a protobuf message if pallets
// ever live on another node. Addr fields are filled and read only by the
// network that carries the messages (protoactor PIDs in the engine, nothing
// in the simulator); the protocol never looks inside them.

// Message is anything a coordinator or a pallet sends.
type Message interface{ message() }

// Envelope is a message and where it goes: a pallet by id, or, with an
// empty Pallet, the coordinator of the sender's SKU.
type Envelope struct {
	Pallet string
	Msg    Message
}

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
	RefusalUnavailable
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
	case RefusalUnavailable:
		return "not available (on hold, recalled or written off)"
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
	PalletID string
	Keys     []inventory.HoldKey
	Addr     any // the pallet's address, for the network
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
// pallet; the last one, or the first that refuses, returns it to the
// coordinator. A refusal therefore leaves every later pallet untouched, so
// what commits is always a FEFO prefix of the batch's plan. Send counts
// the chain's sends (a resend is a new send), so the coordinator knows a
// late copy of an earlier send.
type ConfirmChain struct {
	Batch   uint64
	Send    int
	At      time.Time
	Links   []ConfirmLink
	Results []ConfirmResult
	ReplyTo any // the coordinator's address, for the network
}

// Release drops holds; unknown keys are ignored.
type Release struct {
	Keys []inventory.HoldKey
}

// ReturnOrder gives back what an order was allocated from a pallet: Lbs,
// from the order's allocations. The pallet answers ReturnReply.
type ReturnOrder struct {
	Op      uint64
	OrderID string
	Lbs     inventory.CentiLbs
	At      time.Time
}

// ReturnReply answers ReturnOrder.
type ReturnReply struct {
	Op       uint64
	PalletID string
	Lbs      inventory.CentiLbs
	OnHand   inventory.CentiLbs // the pallet's weight now
	Version  int64              // of the return
	At       time.Time          // the time on the ledger entry
	// Repeated: the weight was given back before (a resent return whose
	// first answer was lost); Lbs, Version and At describe that return, and
	// OnHand may belong to a later version.
	Repeated bool
}

// Adjust applies a physical weight change to a pallet (an operator's
// adjustment, or with Clamp a chaos strike that stops at zero). The pallet
// answers the sender with AdjustReply and tells its coordinator
// PalletChanged.
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

// SetStatus changes whether a pallet may be allocated from: a hold, a
// quarantine, a release, a recall, or with WriteOff a write-off of all it
// holds. Like Adjust it bumps the version and revokes every hold; the
// pallet answers the sender with StatusReply and, if anything changed,
// tells its coordinator PalletChanged.
type SetStatus struct {
	Status   inventory.PalletStatus // ignored with WriteOff
	WriteOff bool
	Reason   string
	Note     string
}

// StatusReply answers SetStatus. Changed false: the pallet was in that
// status already (or Err says why it cannot change).
type StatusReply struct {
	State   inventory.PalletState
	Changed bool
	Revoked int
	Err     error
}

// PalletChanged tells a coordinator of a change it did not make: a
// physical one (Kind adjusted, or empty), or a status change or write-off
// (Kind held, released, recalled or written_off, with the pallet's Status
// after it).
type PalletChanged struct {
	PalletID string
	Supplier string
	Revoked  int // holds the change revoked
	Delta    inventory.CentiLbs
	Reason   string
	OnHand   inventory.CentiLbs
	Version  int64
	At       time.Time
	Kind     inventory.LedgerKind
	Status   inventory.PalletStatus
	Note     string
}

// ExpireHolds asks a pallet to drop its lapsed holds (from a sweeper).
type ExpireHolds struct{}

// Retire asks an empty pallet to leave the floor, if it is still at
// ExpectedVersion with nothing held: its coordinator's books say it holds
// nothing as of that version. The pallet answers RetireReply; once it has
// agreed it takes no more part in allocation.
type Retire struct {
	ExpectedVersion int64
}

// RetireReply answers Retire. OK false: the pallet moved on since (a
// change its coordinator is yet to hear of), and stays.
type RetireReply struct {
	PalletID string
	Version  int64
	OK       bool
}

func (*Reserve) message()       {}
func (*ReserveReply) message()  {}
func (*ConfirmChain) message()  {}
func (*Release) message()       {}
func (*ReturnOrder) message()   {}
func (*ReturnReply) message()   {}
func (*Adjust) message()        {}
func (*AdjustReply) message()   {}
func (*PalletChanged) message() {}
func (*SetStatus) message()     {}
func (*StatusReply) message()   {}
func (*ExpireHolds) message()   {}
func (*Retire) message()        {}
func (*RetireReply) message()   {}
