package alloc

import (
	"time"

	"github.com/baconator/baconator/inventory"
)

// Event is one entry of a coordinator's history. A coordinator emits its
// SKU's events in the order it serializes them; that order is consistent
// with every pallet's own version order, so replaying the events one at a
// time reproduces every pallet's state. It is the certificate the
// sequential FEFO oracle (package oracle) checks. The journal persists what
// the events did — ledger lines and order snapshots, from the same Ready —
// in the same order, which is why any prefix of it that a crash leaves is
// a real state.
type Event interface{ event() }

// PalletsReceived: pallets arrived with their full weight, at version 1.
type PalletsReceived struct {
	Specs []inventory.PalletSpec
}

// PalletAdjusted: a change a pallet made on its own took it to Version: a
// physical one (Kind adjusted: an adjustment or a chaos strike), or a
// status change or write-off (Status is the pallet's status after it).
type PalletAdjusted struct {
	PalletID string
	Delta    inventory.CentiLbs
	Reason   string
	Version  int64
	At       time.Time
	Kind     inventory.LedgerKind
	Status   inventory.PalletStatus
}

// PalletLbs is weight moved on one pallet.
type PalletLbs struct {
	PalletID string
	Lbs      inventory.CentiLbs
}

// Turn is one order's turn in an AllocationStep: it took Takes, or, with
// a Reason, was rejected for lack of eligible weight.
type Turn struct {
	OrderID string
	Takes   []PalletLbs // FEFO order
	Reason  inventory.Reason
}

// AllocationStep is one atomic commit: orders, in turn, each took the
// earliest-expiring eligible weight left at its turn (or was rejected for
// lack of it). Versions gives each touched pallet's version after the step.
// An order interrupted by a physical change between reserve and confirm
// commits in more than one step; each step is FEFO at its own turn.
type AllocationStep struct {
	At       time.Time
	Turns    []Turn
	Versions map[string]int64
}

// OrderReturned: an order's weight went back to its pallets (a cancel, or
// compensation of an order that could not be completed).
type OrderReturned struct {
	OrderID  string
	Returns  []PalletLbs
	Versions map[string]int64
	At       time.Time
}

// OrderFinished: an order reached a terminal state.
type OrderFinished struct {
	OrderID string
	Status  inventory.Status
	Reason  inventory.Reason
}

func (PalletsReceived) event() {}
func (PalletAdjusted) event()  {}
func (AllocationStep) event()  {}
func (OrderReturned) event()   {}
func (OrderFinished) event()   {}
