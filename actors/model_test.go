package actors

import (
	"fmt"
	"slices"
	"time"

	"github.com/baconator/baconator/inventory"
)

// model is the sequential FEFO oracle: it replays a coordinator's events
// one at a time on plain values and checks, at every step, that the
// engine did exactly what a one-at-a-time allocator would have done.
// It shares no code with the planner it checks.
type model struct {
	pallets  map[string]*modelPallet
	requests map[string]inventory.OrderRequest
	holding  map[string]map[string]inventory.CentiLbs // order -> pallet -> lbs
	status   map[string]inventory.Status
}

type modelPallet struct {
	spec    inventory.PalletSpec
	onHand  inventory.CentiLbs
	version int64
}

func newModel(requests map[string]inventory.OrderRequest) *model {
	return &model{
		pallets:  map[string]*modelPallet{},
		requests: requests,
		holding:  map[string]map[string]inventory.CentiLbs{},
		status:   map[string]inventory.Status{},
	}
}

// fefo lists a SKU's pallets the slow, obvious way: sort every time.
func (m *model) fefo(sku string) []*modelPallet {
	var out []*modelPallet
	for _, p := range m.pallets {
		if p.spec.SKU == sku {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *modelPallet) int {
		switch {
		case !a.spec.Expires.Equal(b.spec.Expires):
			return a.spec.Expires.Compare(b.spec.Expires)
		case !a.spec.Received.Equal(b.spec.Received):
			return a.spec.Received.Compare(b.spec.Received)
		}
		return cmpString(a.spec.ID, b.spec.ID)
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

// eligible lists the pallets an order may take from at now.
func (m *model) eligible(req inventory.OrderRequest, now time.Time) []*modelPallet {
	cutoff := now.Add(time.Duration(req.MinShelfLifeDays) * 24 * time.Hour)
	var out []*modelPallet
	for _, p := range m.fefo(req.SKU) {
		if p.spec.Expires.After(cutoff) && p.spec.Expires.After(now) {
			out = append(out, p)
		}
	}
	return out
}

func (m *model) bump(id string, want int64) error {
	p := m.pallets[id]
	if p == nil {
		return fmt.Errorf("event names unknown pallet %s", id)
	}
	p.version++
	if p.version != want {
		return fmt.Errorf("pallet %s: event says version %d, sequential replay has %d (events out of pallet order)", id, want, p.version)
	}
	return nil
}

func (m *model) missing(id string) inventory.CentiLbs {
	var held inventory.CentiLbs
	for _, l := range m.holding[id] {
		held += l
	}
	return m.requests[id].Amount - held
}

func (m *model) apply(ev Event) error {
	switch ev := ev.(type) {
	case PalletsReceived:
		for _, s := range ev.Specs {
			if m.pallets[s.ID] != nil {
				return fmt.Errorf("pallet %s received twice", s.ID)
			}
			m.pallets[s.ID] = &modelPallet{spec: s, onHand: s.Weight, version: 1}
		}
	case PalletAdjusted:
		p := m.pallets[ev.PalletID]
		if p == nil {
			return fmt.Errorf("adjusted unknown pallet %s", ev.PalletID)
		}
		p.onHand += ev.Delta
		if p.onHand < 0 {
			return fmt.Errorf("pallet %s below zero after adjustment: %s", ev.PalletID, p.onHand)
		}
		return m.bump(ev.PalletID, ev.Version)
	case AllocationStep:
		return m.step(ev)
	case OrderReturned:
		for _, r := range ev.Returns {
			if got := m.holding[ev.OrderID][r.PalletID]; got != r.Lbs {
				return fmt.Errorf("order %s returned %s to %s but held %s there", ev.OrderID, r.Lbs, r.PalletID, got)
			}
			delete(m.holding[ev.OrderID], r.PalletID)
			m.pallets[r.PalletID].onHand += r.Lbs
			if err := m.bump(r.PalletID, ev.Versions[r.PalletID]); err != nil {
				return err
			}
		}
	case OrderFinished:
		m.status[ev.OrderID] = ev.Status
		missing := m.missing(ev.OrderID)
		switch ev.Status {
		case inventory.StatusAllocated:
			if missing != 0 {
				return fmt.Errorf("order %s allocated but %s short of its request (all-or-nothing)", ev.OrderID, missing)
			}
		default:
			if missing != m.requests[ev.OrderID].Amount {
				return fmt.Errorf("order %s ended %s still holding %s", ev.OrderID, ev.Status, m.requests[ev.OrderID].Amount-missing)
			}
		}
	}
	return nil
}

// step checks one atomic commit: each order's take must be exactly the
// FEFO take of its amount at its turn, and each rejection must be forced.
func (m *model) step(ev AllocationStep) error {
	for _, take := range ev.Takes {
		req, ok := m.requests[take.OrderID]
		if !ok {
			return fmt.Errorf("step allocates unknown order %s", take.OrderID)
		}
		var amount inventory.CentiLbs
		for _, t := range take.Takes {
			amount += t.Lbs
		}
		if amount > m.missing(take.OrderID) {
			return fmt.Errorf("order %s takes %s but only %s was missing", take.OrderID, amount, m.missing(take.OrderID))
		}
		var want []PalletLbs
		need := amount
		for _, p := range m.eligible(req, ev.At) {
			if need == 0 {
				break
			}
			if p.onHand > 0 {
				n := min(p.onHand, need)
				want = append(want, PalletLbs{PalletID: p.spec.ID, Lbs: n})
				need -= n
			}
		}
		if !slices.Equal(want, take.Takes) {
			return fmt.Errorf("order %s took %v; sequential FEFO at its turn takes %v", take.OrderID, take.Takes, want)
		}
		if m.holding[take.OrderID] == nil {
			m.holding[take.OrderID] = map[string]inventory.CentiLbs{}
		}
		for _, t := range take.Takes {
			m.pallets[t.PalletID].onHand -= t.Lbs
			m.holding[take.OrderID][t.PalletID] += t.Lbs
		}
	}
	for _, r := range ev.Rejections {
		req := m.requests[r.OrderID]
		el := m.eligible(req, ev.At)
		var avail inventory.CentiLbs
		for _, p := range el {
			avail += p.onHand
		}
		switch {
		case len(el) == 0 && r.Reason != inventory.ReasonNoEligibleStock:
			return fmt.Errorf("order %s rejected %s, but no pallet was eligible: want no_eligible_stock", r.OrderID, r.Reason)
		case len(el) > 0 && r.Reason != inventory.ReasonInsufficientStock:
			return fmt.Errorf("order %s rejected %s with eligible pallets: want insufficient_stock", r.OrderID, r.Reason)
		case avail >= m.missing(r.OrderID):
			return fmt.Errorf("order %s rejected but %s eligible covers the %s it needed", r.OrderID, avail, m.missing(r.OrderID))
		}
	}
	for id, v := range ev.Versions {
		if err := m.bump(id, v); err != nil {
			return err
		}
	}
	return nil
}
