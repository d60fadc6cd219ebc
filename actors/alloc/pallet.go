package alloc

import (
	"errors"
	"fmt"
	"time"

	"github.com/baconator/baconator/inventory"
)

// PalletNode is a pallet's side of the protocol: it turns each message
// into calls on the pallet's bookkeeping (inventory.Pallet) and says what
// to send. Like the coordinator it is pure: the same messages at the same
// times give the same pallet and the same outputs.
type PalletNode struct {
	P       *inventory.Pallet
	out     []Envelope
	retired bool // it agreed to leave the floor: it takes no more part
	// A coordinator's returns run one at a time with rising op numbers,
	// and each gives an order's weight back to a pallet once: lastReturn
	// answers a resend of the latest, anything older is a stale copy, and
	// returnFloor is where a pallet brought back from the retired starts
	// (ops before it finished before it left).
	returnFloor, lastReturnOp uint64
	lastReturn                inventory.Returned
}

// NewPalletNode wraps a pallet. returnFloor is the first return op it may
// take: 0 for a pallet new to its coordinator, Revival.ReturnFloor for one
// brought back from the retired.
func NewPalletNode(p *inventory.Pallet, returnFloor uint64) PalletNode {
	return PalletNode{P: p, out: make([]Envelope, 0, 1), returnFloor: returnFloor} // a step sends at most one envelope
}

// ErrRetired: the pallet left the floor; its coordinator brings it back
// when weight returns to it.
var ErrRetired = errors.New("pallet retired")

// Retired reports whether the pallet agreed to leave the floor.
func (n *PalletNode) Retired() bool { return n.retired }

// Step handles one message at time now. It returns the envelopes to send
// (to the coordinator, or the next pallet of a confirm chain), the answer
// for the message's sender if it wants one, and whether the pallet's state
// changed (so its snapshot should be published). The envelopes are valid
// until the next Step.
func (n *PalletNode) Step(now time.Time, m Message) (out []Envelope, reply Message, changed bool) {
	clear(n.out)
	n.out = n.out[:0]
	p := n.P
	if n.retired {
		switch m.(type) {
		case *Adjust:
			reply = &AdjustReply{State: p.State(), Err: fmt.Errorf("adjust pallet %s: %w", p.State().Spec.ID, ErrRetired)}
		case *SetStatus:
			reply = &StatusReply{State: p.State(), Err: fmt.Errorf("change pallet %s: %w", p.State().Spec.ID, ErrRetired)}
		}
		return n.out, reply, false
	}
	switch m := m.(type) {
	case *Reserve:
		lapsed := p.ExpireHolds(now) // lapsed holds must not block a fresh reserve
		err := p.Reserve(m.ExpectedVersion, m.Holds, m.Deadline)
		s := p.State()
		n.toCoordinator(&ReserveReply{Batch: m.Batch, PalletID: s.Spec.ID, Refusal: refusalOf(err), Version: s.Version})
		changed = err == nil || lapsed > 0
	case *ConfirmChain:
		n.confirm(m)
		changed = true
	case *Release:
		p.Release(m.Keys)
		changed = true
	case *ReturnOrder:
		changed = n.giveBack(m)
	case *Adjust:
		applied, revoked, err := p.Adjust(m.Delta, m.Reason, now, m.Clamp)
		s := p.State()
		if applied != 0 {
			n.toCoordinator(&PalletChanged{PalletID: s.Spec.ID, Supplier: s.Spec.Supplier, Revoked: revoked, Delta: applied,
				Reason: m.Reason, OnHand: s.OnHand, Version: s.Version, At: now})
			changed = true
		}
		reply = &AdjustReply{State: s, Applied: applied, Revoked: revoked, Err: err}
	case *SetStatus:
		reply, changed = n.setStatus(m, now)
	case *ExpireHolds:
		changed = p.ExpireHolds(now) > 0
	case *Retire:
		s := p.State()
		n.retired = s.Version == m.ExpectedVersion && s.OnHand == 0 && s.Held == 0
		n.toCoordinator(&RetireReply{PalletID: s.Spec.ID, Version: s.Version, OK: n.retired})
	}
	return n.out, reply, changed
}

// confirm does this pallet's link of a chain and passes the chain on: to
// the next pallet, or — after the last link or a refusal — back to the
// coordinator.
func (n *PalletNode) confirm(m *ConfirmChain) {
	link := m.Links[len(m.Results)]
	version, err := n.P.Confirm(link.Keys, m.At)
	s := n.P.State()
	r := ConfirmResult{PalletID: s.Spec.ID, Refusal: refusalOf(err), OnHand: s.OnHand, Version: s.Version}
	if err == nil && version != s.Version {
		// A repeated confirm: report the version it committed at; the view
		// learns the pallet's later state from the change that followed.
		r.Version, r.Repeated = version, true
	}
	m.Results = append(m.Results, r)
	if err != nil || len(m.Results) == len(m.Links) {
		n.toCoordinator(m)
		return
	}
	n.out = append(n.out, Envelope{Pallet: m.Links[len(m.Results)].PalletID, Msg: m})
}

// setStatus changes the pallet's status (or writes it off) and tells the
// coordinator, which journals the ledger entry it makes.
func (n *PalletNode) setStatus(m *SetStatus, now time.Time) (Message, bool) {
	var ch inventory.StatusChange
	var err error
	if m.WriteOff {
		ch = n.P.WriteOff(m.Reason, m.Note, now)
	} else {
		ch, err = n.P.SetStatus(m.Status, m.Reason, m.Note, now)
	}
	s := n.P.State()
	changed := ch.Entry.Kind != ""
	if changed {
		e := ch.Entry
		n.toCoordinator(&PalletChanged{PalletID: s.Spec.ID, Supplier: s.Spec.Supplier, Revoked: ch.Revoked, Delta: e.Lbs,
			Reason: e.Reason, OnHand: s.OnHand, Version: s.Version, At: now, Kind: e.Kind, Status: e.Status, Note: e.Note})
	}
	return &StatusReply{State: s, Changed: changed, Revoked: ch.Revoked, Err: err}, changed
}

// giveBack does a return once: a resend of the latest is answered with
// what it did; a stale copy of an older one is dropped.
func (n *PalletNode) giveBack(m *ReturnOrder) bool {
	var r inventory.Returned
	switch {
	case m.Op < n.returnFloor || m.Op < n.lastReturnOp:
		return false
	case m.Op == n.lastReturnOp:
		r = n.lastReturn
		r.Repeated = true
	default:
		r = n.P.Return(m.Lbs, m.At)
		n.lastReturnOp, n.lastReturn = m.Op, r
	}
	s := n.P.State()
	n.toCoordinator(&ReturnReply{Op: m.Op, PalletID: s.Spec.ID, Lbs: r.Lbs, OnHand: s.OnHand, Version: r.Version, At: r.At, Repeated: r.Repeated})
	return !r.Repeated
}

func (n *PalletNode) toCoordinator(m Message) { n.out = append(n.out, Envelope{Msg: m}) }

func refusalOf(err error) Refusal {
	switch {
	case err == nil:
		return RefusalNone
	case errors.Is(err, inventory.ErrStaleVersion):
		return RefusalStale
	case errors.Is(err, inventory.ErrInsufficientStock):
		return RefusalInsufficient
	case errors.Is(err, inventory.ErrNotAvailable):
		return RefusalUnavailable
	default:
		return RefusalHoldMissing
	}
}
