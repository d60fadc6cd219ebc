package alloc

import (
	"errors"
	"fmt"
	"slices"

	"github.com/baconator/baconator/inventory"
)

// ErrInconsistent: stored state that no run of the protocol can leave —
// a ledger that does not add up, an order holding what the ledgers do not
// give it. Recovery refuses it rather than start on it.
var ErrInconsistent = errors.New("inconsistent state")

// StoredPallet is a pallet as the journal keeps it: its receipt and its
// ledger, oldest first.
type StoredPallet struct {
	Spec   inventory.PalletSpec
	Ledger []inventory.LedgerEntry
}

// Rebuilt is a warehouse rebuilt from stored state.
type Rebuilt struct {
	Pallets []*inventory.Pallet
	// Ended are orders that reached a terminal state, as stored.
	Ended []inventory.Order
	// Unfinished are orders accepted and not ended, to drive again: queued,
	// holding what the ledgers gave them (FEFO order), planning the rest.
	Unfinished []inventory.Order
	LedgerRows int
}

// Rebuild rebuilds pallets from their ledgers and orders from their
// snapshots, and checks that the two agree: an ended order holds exactly
// what the ledgers say, an unfinished one never more than it asked for,
// and no ledger gives weight to an order never accepted. An unfinished
// order may hold all it asked for: allocated in full, then a cancel or a
// compensation was returning it when the crash came — never acknowledged,
// so it simply ends allocated when driven again.
func Rebuild(pallets []StoredPallet, orders []inventory.Order) (Rebuilt, error) {
	var r Rebuilt
	specs := make(map[string]inventory.PalletSpec, len(pallets))
	holdings := map[string]map[string]inventory.CentiLbs{} // order → pallet → lbs it holds
	for _, sp := range pallets {
		p, err := inventory.RestorePallet(sp.Spec, sp.Ledger)
		if err != nil {
			return r, fmt.Errorf("%w: %w", ErrInconsistent, err)
		}
		r.Pallets = append(r.Pallets, p)
		specs[sp.Spec.ID] = sp.Spec
		r.LedgerRows += len(sp.Ledger)
		for _, le := range sp.Ledger {
			if le.OrderID == "" {
				continue
			}
			if holdings[le.OrderID] == nil {
				holdings[le.OrderID] = map[string]inventory.CentiLbs{}
			}
			holdings[le.OrderID][sp.Spec.ID] -= le.Lbs
		}
	}
	for _, o := range orders {
		held := allocationsOf(holdings[o.Request.ID], specs)
		delete(holdings, o.Request.ID)
		if err := o.Request.Validate(); err != nil {
			return r, fmt.Errorf("%w: order %s: %w", ErrInconsistent, o.Request.ID, err)
		}
		if o.Status.Terminal() {
			if !sameWeights(held, o.Allocations) {
				return r, fmt.Errorf("%w: order %s ended %s holding %v by the ledgers, %v by itself", ErrInconsistent, o.Request.ID, o.Status, held, o.Allocations)
			}
			r.Ended = append(r.Ended, o)
			continue
		}
		if total(held) > o.Request.Amount {
			return r, fmt.Errorf("%w: order %s holds %s lbs, more than the %s it asked for", ErrInconsistent, o.Request.ID, total(held), o.Request.Amount)
		}
		o.Status, o.Allocations = inventory.StatusQueued, held
		r.Unfinished = append(r.Unfinished, o)
	}
	for id := range holdings {
		return r, fmt.Errorf("%w: ledgers allocate to order %s, which was never accepted", ErrInconsistent, id)
	}
	return r, nil
}

// allocationsOf turns what an order holds per pallet into allocations in
// FEFO order, dropping pallets it gave everything back to.
func allocationsOf(held map[string]inventory.CentiLbs, specs map[string]inventory.PalletSpec) []inventory.Allocation {
	var out []inventory.Allocation
	for id, lbs := range held {
		if lbs == 0 {
			continue
		}
		s := specs[id]
		out = append(out, inventory.Allocation{PalletID: id, Lot: s.Lot, Supplier: s.Supplier, Lbs: lbs, Expires: s.Expires, Received: s.Received})
	}
	slices.SortFunc(out, inventory.CompareAllocations)
	return out
}

func sameWeights(a, b []inventory.Allocation) bool {
	return slices.EqualFunc(a, b, func(x, y inventory.Allocation) bool { return x.PalletID == y.PalletID && x.Lbs == y.Lbs })
}
