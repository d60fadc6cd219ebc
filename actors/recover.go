package actors

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// Recovery is what Recover found.
type Recovery struct {
	Pallets    int
	Orders     int
	Redriven   int // accepted but unfinished: allocated again from where they stood
	LedgerRows int
	Took       time.Duration
}

// Recover rebuilds the warehouse from the engine's journal — every pallet
// from its ledger, every order from its snapshot — checks that the two
// agree, and re-drives every order that was accepted and not finished:
// it keeps what it had committed (read from the ledgers, so nothing is
// allocated twice) and plans only what is missing. Until it returns the
// engine takes no writes. Anything inconsistent fails it with
// journal.ErrCorrupt: a start over a damaged journal, never a silent one.
func (e *Engine) Recover() (Recovery, error) {
	started := time.Now()
	if e.journal == nil || e.recovered.Load() {
		return Recovery{}, errors.New("recover: nothing to recover from")
	}
	st, err := e.journal.Load()
	if err != nil {
		return Recovery{}, fmt.Errorf("recover: %w", err)
	}
	corrupt := func(err error) error {
		return fmt.Errorf("recover from %s: %w: %w", e.journal.Dir(), journal.ErrCorrupt, err)
	}
	r := Recovery{Pallets: len(st.Pallets), Orders: len(st.Orders)}
	pallets := make([]*inventory.Pallet, 0, len(st.Pallets))
	specs := make(map[string]inventory.PalletSpec, len(st.Pallets))
	holdings := map[string]map[string]inventory.CentiLbs{} // order → pallet → lbs it holds
	for _, sp := range st.Pallets {
		p, err := inventory.RestorePallet(sp.Spec, sp.Ledger)
		if err != nil {
			return r, corrupt(err)
		}
		pallets = append(pallets, p)
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
	if len(pallets) > 0 {
		if _, err := e.place(pallets, true); err != nil {
			return r, fmt.Errorf("recover: %w", err)
		}
	}
	var redrive []*orderRecord
	for _, o := range st.Orders {
		held := allocationsOf(holdings[o.Request.ID], specs)
		delete(holdings, o.Request.ID)
		if err := o.Request.Validate(); err != nil {
			return r, corrupt(fmt.Errorf("order %s: %w", o.Request.ID, err))
		}
		if o.Status.Terminal() {
			if !sameWeights(held, o.Allocations) {
				return r, corrupt(fmt.Errorf("order %s ended %s holding %v by the ledgers, %v by itself", o.Request.ID, o.Status, held, o.Allocations))
			}
			e.orders.insert(o, false, e.route(o.Request.SKU))
			continue
		}
		// Accepted, not finished: it keeps what it committed and plans the
		// rest. It may hold all of it: allocated in full, then a cancel or
		// a compensation was returning it when the crash came — never
		// acknowledged, so it simply ends allocated.
		o.Status, o.Allocations = inventory.StatusQueued, held
		if total(held) > o.Request.Amount {
			return r, corrupt(fmt.Errorf("order %s holds %s lbs, more than the %s it asked for", o.Request.ID, total(held), o.Request.Amount))
		}
		rec, _ := e.orders.insert(o, false, e.route(o.Request.SKU))
		redrive = append(redrive, rec)
	}
	for id := range holdings {
		return r, corrupt(fmt.Errorf("ledgers allocate to order %s, which was never accepted", id))
	}
	r.Redriven = len(redrive)
	e.start(redrive)
	r.Took = time.Since(started)
	e.log.Info(fmt.Sprintf("[SYSTEM] Recovered %d pallets (%d ledger rows) and %d orders from %s in %s; re-driving %d unfinished",
		r.Pallets, r.LedgerRows, r.Orders, e.journal.Dir(), r.Took.Round(time.Millisecond), r.Redriven))
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
		out = append(out, inventory.Allocation{PalletID: id, Lot: s.Lot, Supplier: s.Supplier, Lbs: lbs, Expires: s.Expires})
	}
	slices.SortFunc(out, func(a, b inventory.Allocation) int {
		sa, sb := specs[a.PalletID], specs[b.PalletID]
		return inventory.FEFOCompare(&sa, &sb)
	})
	return out
}

func sameWeights(a, b []inventory.Allocation) bool {
	return slices.EqualFunc(a, b, func(x, y inventory.Allocation) bool { return x.PalletID == y.PalletID && x.Lbs == y.Lbs })
}

func total(allocs []inventory.Allocation) inventory.CentiLbs {
	var t inventory.CentiLbs
	for _, a := range allocs {
		t += a.Lbs
	}
	return t
}
