// Package oracle is the sequential FEFO oracle: it replays a coordinator's
// history (alloc events) one event at a time on plain values and checks, at
// every step, that the engine did exactly what a one-at-a-time allocator
// would have done — serial-equivalent FEFO, all-or-nothing, no weight below
// zero, versions in every pallet's order. It shares no code with the
// planner it checks. Tests of the actor engine and the deterministic
// simulator both use it.
package oracle

import (
	"fmt"
	"slices"
	"time"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
)

// Model replays histories. Its fields are the state a one-at-a-time
// allocator would be in after the events applied so far.
type Model struct {
	Pallets  map[string]*Pallet
	Requests map[string]inventory.OrderRequest
	Holding  map[string]map[string]inventory.CentiLbs // order -> pallet -> lbs
	Status   map[string]inventory.Status              // orders that ended
}

// Pallet is the model's pallet.
type Pallet struct {
	Spec    inventory.PalletSpec
	OnHand  inventory.CentiLbs
	Version int64
	Status  inventory.PalletStatus
}

// New returns a model of an empty warehouse; requests are every order the
// history may name.
func New(requests map[string]inventory.OrderRequest) *Model {
	return &Model{
		Pallets:  map[string]*Pallet{},
		Requests: requests,
		Holding:  map[string]map[string]inventory.CentiLbs{},
		Status:   map[string]inventory.Status{},
	}
}

// fefo lists a SKU's pallets the slow, obvious way: sort every time.
func (m *Model) fefo(sku string) []*Pallet {
	var out []*Pallet
	for _, p := range m.Pallets {
		if p.Spec.SKU == sku {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *Pallet) int {
		switch {
		case !a.Spec.Expires.Equal(b.Spec.Expires):
			return a.Spec.Expires.Compare(b.Spec.Expires)
		case !a.Spec.Received.Equal(b.Spec.Received):
			return a.Spec.Received.Compare(b.Spec.Received)
		}
		return cmpString(a.Spec.ID, b.Spec.ID)
	})
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// eligible lists the pallets an order may take from at now: available,
// and expiring after its shelf-life cutoff.
func (m *Model) eligible(req inventory.OrderRequest, now time.Time) []*Pallet {
	cutoff := now.Add(time.Duration(req.MinShelfLifeDays) * 24 * time.Hour)
	var out []*Pallet
	for _, p := range m.fefo(req.SKU) {
		if p.Status == inventory.StatusAvailable && p.Spec.Expires.After(cutoff) && p.Spec.Expires.After(now) {
			out = append(out, p)
		}
	}
	return out
}

func (m *Model) bump(id string, want int64) error {
	p := m.Pallets[id]
	if p == nil {
		return fmt.Errorf("event names unknown pallet %s", id)
	}
	p.Version++
	if p.Version != want {
		return fmt.Errorf("pallet %s: event says version %d, sequential replay has %d (events out of pallet order)", id, want, p.Version)
	}
	return nil
}

func (m *Model) missing(id string) inventory.CentiLbs {
	var held inventory.CentiLbs
	for _, l := range m.Holding[id] {
		held += l
	}
	return m.Requests[id].Amount - held
}

// Apply checks one event against the model and applies it.
func (m *Model) Apply(ev alloc.Event) error {
	switch ev := ev.(type) {
	case alloc.PalletsReceived:
		for _, s := range ev.Specs {
			if m.Pallets[s.ID] != nil {
				return fmt.Errorf("pallet %s received twice", s.ID)
			}
			m.Pallets[s.ID] = &Pallet{Spec: s, OnHand: s.Weight, Version: 1, Status: inventory.StatusAvailable}
		}
	case alloc.PalletAdjusted:
		p := m.Pallets[ev.PalletID]
		if p == nil {
			return fmt.Errorf("adjusted unknown pallet %s", ev.PalletID)
		}
		if err := m.changeStatus(p, ev); err != nil {
			return err
		}
		p.OnHand += ev.Delta
		if p.OnHand < 0 {
			return fmt.Errorf("pallet %s below zero after adjustment: %s", ev.PalletID, p.OnHand)
		}
		return m.bump(ev.PalletID, ev.Version)
	case alloc.AllocationStep:
		return m.step(ev)
	case alloc.OrderReturned:
		for _, r := range ev.Returns {
			if got := m.Holding[ev.OrderID][r.PalletID]; got != r.Lbs {
				return fmt.Errorf("order %s returned %s to %s but held %s there", ev.OrderID, r.Lbs, r.PalletID, got)
			}
			delete(m.Holding[ev.OrderID], r.PalletID)
			m.Pallets[r.PalletID].OnHand += r.Lbs
			if err := m.bump(r.PalletID, ev.Versions[r.PalletID]); err != nil {
				return err
			}
		}
	case alloc.OrderFinished:
		m.Status[ev.OrderID] = ev.Status
		missing := m.missing(ev.OrderID)
		switch ev.Status {
		case inventory.StatusAllocated:
			if missing != 0 {
				return fmt.Errorf("order %s allocated but %s short of its request (all-or-nothing)", ev.OrderID, missing)
			}
		default:
			if missing != m.Requests[ev.OrderID].Amount {
				return fmt.Errorf("order %s ended %s still holding %s", ev.OrderID, ev.Status, m.Requests[ev.OrderID].Amount-missing)
			}
		}
	}
	return nil
}

// changeStatus checks and applies a status change or write-off: recalled
// and written off are final (a recalled pallet may only be written off), a
// write-off takes exactly what is on hand, and no other change touches the
// status.
func (m *Model) changeStatus(p *Pallet, ev alloc.PalletAdjusted) error {
	switch ev.Kind {
	case "", inventory.LedgerAdjusted:
		if ev.Status != "" {
			return fmt.Errorf("pallet %s: an adjustment set status %s", ev.PalletID, ev.Status)
		}
		return nil
	case inventory.LedgerWrittenOff:
		if ev.Status != inventory.StatusWrittenOff || ev.Delta != -p.OnHand {
			return fmt.Errorf("pallet %s: write-off of %s with %s on hand (status %s)", ev.PalletID, ev.Delta, p.OnHand, ev.Status)
		}
	default:
		if ev.Delta != 0 || !ev.Status.Valid() || ev.Status == inventory.StatusWrittenOff || ev.Status == p.Status {
			return fmt.Errorf("pallet %s: %s to %s by %s from %s", ev.PalletID, ev.Kind, ev.Status, ev.Delta, p.Status)
		}
		if p.Status.Final() {
			return fmt.Errorf("pallet %s: %s from final status %s", ev.PalletID, ev.Kind, p.Status)
		}
	}
	p.Status = ev.Status
	return nil
}

// step checks one atomic commit, turn by turn: each order's take must be
// exactly the FEFO take of its amount at its turn, and each rejection must
// be forced at its turn.
func (m *Model) step(ev alloc.AllocationStep) error {
	for _, turn := range ev.Turns {
		var err error
		if turn.Reason != inventory.ReasonNone {
			err = m.reject(turn, ev.At)
		} else {
			err = m.take(turn, ev.At)
		}
		if err != nil {
			return err
		}
	}
	for id, v := range ev.Versions {
		if err := m.bump(id, v); err != nil {
			return err
		}
	}
	return nil
}

func (m *Model) take(turn alloc.Turn, at time.Time) error {
	req, ok := m.Requests[turn.OrderID]
	if !ok {
		return fmt.Errorf("step allocates unknown order %s", turn.OrderID)
	}
	var amount inventory.CentiLbs
	for _, t := range turn.Takes {
		amount += t.Lbs
	}
	if amount > m.missing(turn.OrderID) {
		return fmt.Errorf("order %s takes %s but only %s was missing", turn.OrderID, amount, m.missing(turn.OrderID))
	}
	var want []alloc.PalletLbs
	need := amount
	for _, p := range m.eligible(req, at) {
		if need == 0 {
			break
		}
		if p.OnHand > 0 {
			n := min(p.OnHand, need)
			want = append(want, alloc.PalletLbs{PalletID: p.Spec.ID, Lbs: n})
			need -= n
		}
	}
	if !slices.Equal(want, turn.Takes) {
		return fmt.Errorf("order %s took %v; sequential FEFO at its turn takes %v", turn.OrderID, turn.Takes, want)
	}
	if m.Holding[turn.OrderID] == nil {
		m.Holding[turn.OrderID] = map[string]inventory.CentiLbs{}
	}
	for _, t := range turn.Takes {
		m.Pallets[t.PalletID].OnHand -= t.Lbs
		m.Holding[turn.OrderID][t.PalletID] += t.Lbs
	}
	return nil
}

func (m *Model) reject(turn alloc.Turn, at time.Time) error {
	req := m.Requests[turn.OrderID]
	var avail, left inventory.CentiLbs
	for _, p := range m.eligible(req, at) {
		avail += p.OnHand
	}
	for _, p := range m.fefo(req.SKU) {
		if p.Status == inventory.StatusAvailable {
			left += p.OnHand
		}
	}
	// Weight left, but none of it eligible (too close to expiry, or
	// expired), is "no eligible stock"; too little eligible weight, or none
	// left at all (sold out, or all of it held), is "insufficient".
	noneEligible := avail == 0 && left > 0
	switch {
	case noneEligible && turn.Reason != inventory.ReasonNoEligibleStock:
		return fmt.Errorf("order %s rejected %s with %s left, none eligible: want no_eligible_stock", turn.OrderID, turn.Reason, left)
	case !noneEligible && turn.Reason != inventory.ReasonInsufficientStock:
		return fmt.Errorf("order %s rejected %s with %s eligible of %s left: want insufficient_stock", turn.OrderID, turn.Reason, avail, left)
	case avail >= m.missing(turn.OrderID):
		return fmt.Errorf("order %s rejected but %s eligible covers the %s it needed", turn.OrderID, avail, m.missing(turn.OrderID))
	}
	return nil
}
