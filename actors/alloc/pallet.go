package alloc

import (
	"errors"
	"time"

	"github.com/baconator/baconator/inventory"
)

// PalletNode is a pallet's side of the protocol: it turns each message
// into calls on the pallet's bookkeeping (inventory.Pallet) and says what
// to send. Like the coordinator it is pure: the same messages at the same
// times give the same pallet and the same outputs.
type PalletNode struct {
	P   *inventory.Pallet
	out []Envelope
}

// NewPalletNode wraps a pallet.
func NewPalletNode(p *inventory.Pallet) PalletNode {
	return PalletNode{P: p, out: make([]Envelope, 0, 1)} // a step sends at most one envelope
}

// Step handles one message at time now. It returns the envelopes to send
// (to the coordinator, or the next pallet of a confirm chain), the answer
// for the message's sender if it wants one, and whether the pallet's state
// changed (so its snapshot should be published). The envelopes are valid
// until the next Step.
func (n *PalletNode) Step(now time.Time, m Message) (out []Envelope, reply Message, changed bool) {
	clear(n.out)
	n.out = n.out[:0]
	p := n.P
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
		r := p.Return(m.OrderID, m.At)
		s := p.State()
		n.toCoordinator(&ReturnReply{Op: m.Op, PalletID: s.Spec.ID, Lbs: r.Lbs, OnHand: s.OnHand, Version: r.Version, At: r.At, Repeated: r.Repeated})
		changed = r.Lbs > 0 && !r.Repeated
	case *Adjust:
		applied, revoked, err := p.Adjust(m.Delta, m.Reason, now, m.Clamp)
		s := p.State()
		if applied != 0 {
			n.toCoordinator(&PalletChanged{PalletID: s.Spec.ID, Supplier: s.Spec.Supplier, Revoked: revoked, Delta: applied,
				Reason: m.Reason, OnHand: s.OnHand, Version: s.Version, At: now})
			changed = true
		}
		reply = &AdjustReply{State: s, Applied: applied, Revoked: revoked, Err: err}
	case *ExpireHolds:
		changed = p.ExpireHolds(now) > 0
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

func (n *PalletNode) toCoordinator(m Message) { n.out = append(n.out, Envelope{Msg: m}) }

func refusalOf(err error) Refusal {
	switch {
	case err == nil:
		return RefusalNone
	case errors.Is(err, inventory.ErrStaleVersion):
		return RefusalStale
	case errors.Is(err, inventory.ErrInsufficientStock):
		return RefusalInsufficient
	default:
		return RefusalHoldMissing
	}
}
