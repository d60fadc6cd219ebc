package actors

import (
	"errors"
	"fmt"
	"time"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// Pallets on the floor live in memory, each an actor; an emptied pallet
// retires — it leaves its coordinator's view, its actor stops — and from
// then on it is read from the journal, until weight comes back to it.

// ReceivePallets receives pallets, all or none: each is validated (an
// empty SKU means pork, a zero received time means now), and a duplicate
// (of any pallet ever received) or already-expired pallet fails the whole
// call.
func (e *Engine) ReceivePallets(specs []inventory.PalletSpec) ([]inventory.PalletState, error) {
	if err := e.Err(); err != nil {
		return nil, fmt.Errorf("receive pallets: %w", err)
	}
	now := time.Now().UTC()
	specs = append([]inventory.PalletSpec(nil), specs...)
	for i := range specs {
		s := &specs[i]
		if s.SKU == "" {
			s.SKU = inventory.DefaultSKU
		}
		if s.ID == "" {
			s.ID = "P-" + newID()
		}
		if s.Received.IsZero() {
			s.Received = now
		}
		s.Received, s.Expires = s.Received.UTC(), s.Expires.UTC()
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("receive pallet %s: %w", s.ID, err)
		}
		if inventory.Expired(s.Expires, now) {
			return nil, fmt.Errorf("receive pallet %s: expirationDate %s: %w", s.ID, s.Expires.Format(time.RFC3339), inventory.ErrExpired)
		}
	}
	if err := e.oneSKUPerLot(specs); err != nil {
		return nil, err
	}
	pallets := make([]*inventory.Pallet, len(specs))
	for i, s := range specs {
		pallets[i] = inventory.NewPallet(s)
	}
	entries, err := e.place(pallets, false)
	if err != nil {
		return nil, err
	}
	out := make([]inventory.PalletState, len(entries))
	for i, en := range entries {
		out[i], _ = en.shown()
	}
	return out, nil
}

// place claims pallets' ids, journals new receipts — all in one batch, so
// a receipt is all or none even across SKUs and crashes — and hands the
// pallets to their SKUs' coordinators, waiting until they are listed.
// Recovered pallets are already in the journal. An id is claimed in memory
// first and then looked up in the journal: a pallet retires from memory
// only once the journal has it, so no id is ever received twice.
func (e *Engine) place(pallets []*inventory.Pallet, recovered bool) ([]*palletEntry, error) {
	specs := make([]inventory.PalletSpec, len(pallets))
	for i, p := range pallets {
		specs[i] = p.State().Spec
	}
	entries, dup := e.pallets.claim(specs)
	if dup != "" {
		return nil, fmt.Errorf("receive pallet %s: %w", dup, ErrDuplicatePallet)
	}
	if !recovered {
		var b journal.Batch
		for _, s := range specs {
			_, _, known, err := e.journal.Pallet(s.ID)
			if err != nil || known {
				e.pallets.unclaim(entries)
				if err != nil {
					return nil, fmt.Errorf("receive pallets: %w: %w", ErrUnavailable, err)
				}
				return nil, fmt.Errorf("receive pallet %s: %w", s.ID, ErrDuplicatePallet)
			}
			b.PutPallet(s)
		}
		if err := e.journal.Commit(&b); err != nil {
			e.pallets.unclaim(entries)
			return nil, fmt.Errorf("receive pallets: %w: %w", ErrUnavailable, err)
		}
	}
	bySKU := map[string][]int{}
	for i, s := range specs {
		bySKU[s.SKU] = append(bySKU[s.SKU], i)
	}
	for sku, idx := range bySKU {
		m := &receivePallets{recovered: recovered}
		for _, i := range idx {
			m.pallets = append(m.pallets, pallets[i])
			m.entries = append(m.entries, entries[i])
		}
		res, err := e.system.Root.RequestFuture(e.coordinator(sku), m, apiTimeout).Result()
		if err != nil {
			// The coordinator may still receive them: keep the ids claimed.
			return nil, fmt.Errorf("receive pallets of %s: outcome unknown: %w", sku, err)
		}
		if err := res.(*receivedPallets).err; err != nil {
			return nil, fmt.Errorf("receive pallets of %s: %w", sku, err)
		}
	}
	return entries, nil
}

// oneSKUPerLot refuses a receipt that would put two SKUs in one lot: a
// lot is one product from one supplier's run, and its holds, recalls and
// traces are served by one coordinator.
func (e *Engine) oneSKUPerLot(specs []inventory.PalletSpec) error {
	skus := map[string]string{}
	for _, s := range specs {
		if s.Lot == "" {
			continue
		}
		sku, seen := skus[s.Lot]
		if !seen {
			ids, err := e.journal.LotPallets(s.Lot)
			if err != nil {
				return fmt.Errorf("receive pallet %s: %w: %w", s.ID, ErrUnavailable, err)
			}
			sku = s.SKU
			if len(ids) > 0 {
				first, err := e.Pallet(ids[0])
				if err != nil {
					return fmt.Errorf("receive pallet %s: %w", s.ID, err)
				}
				sku = first.Spec.SKU
			}
			skus[s.Lot] = sku
		}
		if s.SKU != sku {
			return fmt.Errorf("receive pallet %s: lot %s is %s, not %s: %w", s.ID, s.Lot, sku, s.SKU, inventory.ErrInvalid)
		}
	}
	return nil
}

// operateAttemptsMax bounds how often an operator's change meets a pallet
// that has just agreed to leave the floor: each time, it goes again
// through the pallet's coordinator, which brings the pallet back first.
const operateAttemptsMax = 4

// AdjustPallet applies an operator's weight change. It fails with
// inventory.ErrBelowZero, changing nothing, if on-hand would go negative.
// A retired pallet is brought back to the floor for it. It answers once
// the change is journaled.
func (e *Engine) AdjustPallet(id string, delta inventory.CentiLbs, reason string) (inventory.PalletState, error) {
	return e.operate(id, "adjust", func(s inventory.PalletState) (alloc.Message, error) {
		if s.OnHand+delta < 0 { // on the floor or not, weight that is not there cannot be taken
			return nil, fmt.Errorf("adjust %s by %s (on hand %s): %w", id, delta, s.OnHand, inventory.ErrBelowZero)
		}
		return &alloc.Adjust{Delta: delta, Reason: reason}, nil
	})
}

// operate hands a pallet an operator's change, made from its durable state
// by change (which may refuse it), and answers with the pallet as the
// change left it, once that is journaled.
func (e *Engine) operate(id, verb string, change func(inventory.PalletState) (alloc.Message, error)) (inventory.PalletState, error) {
	for range operateAttemptsMax {
		if err := e.Err(); err != nil {
			return inventory.PalletState{}, fmt.Errorf("%s pallet %s: %w", verb, id, err)
		}
		s, err := e.Pallet(id)
		if err != nil {
			return inventory.PalletState{}, fmt.Errorf("%s pallet %s: %w", verb, id, err)
		}
		then, err := change(s)
		if err != nil {
			return inventory.PalletState{}, err
		}
		// Through the coordinator: it hands the change to the pallet, or
		// brings a retired pallet back first and hands it over before
		// anything else, so it cannot leave again first. And since the
		// coordinator is the one that lets a retired pallet's actor go, the
		// change never meets an actor on its way out.
		m := &revivePallet{id: id, then: then}
		res, err := e.system.Root.RequestFuture(e.coordinator(s.Spec.SKU), m, apiTimeout).Result()
		if err != nil {
			return inventory.PalletState{}, fmt.Errorf("%s pallet %s: %w", verb, id, err)
		}
		var state inventory.PalletState
		switch r := res.(type) {
		case *receivedPallets: // the pallet could not be brought back
			return inventory.PalletState{}, fmt.Errorf("%s pallet %s: %w", verb, id, r.err)
		case *alloc.AdjustReply:
			state, err = r.State, r.Err
		case *alloc.StatusReply:
			state, err = r.State, r.Err
		default:
			return inventory.PalletState{}, fmt.Errorf("%s pallet %s: unexpected answer %T", verb, id, res)
		}
		if errors.Is(err, alloc.ErrRetired) {
			// It agreed to leave just before; its coordinator hears of it
			// before it hears from us again, and brings it back.
			continue
		}
		if err != nil {
			return inventory.PalletState{}, err
		}
		return e.durable(id, state)
	}
	return inventory.PalletState{}, fmt.Errorf("%s pallet %s: %w: it kept leaving the floor", verb, id, ErrUnavailable)
}

// durable waits until a pallet's change to s is journaled and shown (its
// coordinator journals the change, then publishes it), and returns s.
func (e *Engine) durable(id string, s inventory.PalletState) (inventory.PalletState, error) {
	timeout := time.NewTimer(apiTimeout)
	defer timeout.Stop()
	for {
		changed := e.durableChanged.wait()
		if shown, err := e.Pallet(id); err == nil && shown.Version >= s.Version { // on the floor, or retired since
			return s, nil // the pallet as the change left it, now durable
		}
		if err := e.Err(); err != nil {
			return inventory.PalletState{}, fmt.Errorf("pallet %s: %w", id, err)
		}
		select {
		case <-changed:
		case <-timeout.C:
			return inventory.PalletState{}, fmt.Errorf("pallet %s: changed but not journaled within %s", id, apiTimeout)
		}
	}
}

// Pallet returns a pallet's latest durable state, on the floor or retired.
func (e *Engine) Pallet(id string) (inventory.PalletState, error) {
	if en, ok := e.pallets.get(id); ok {
		s, _ := en.shown()
		return s, nil
	}
	c, _, ok, err := e.journal.Pallet(id)
	switch {
	case err != nil:
		return inventory.PalletState{}, fmt.Errorf("pallet %s: %w", id, err)
	case !ok:
		return inventory.PalletState{}, fmt.Errorf("pallet %s: %w", id, ErrNotFound)
	}
	return c.State(), nil
}

// Inventory returns the pallets on the floor of sku (every SKU if empty),
// in FEFO order: every pallet with weight, expired ones too. Pallets that
// emptied and retired are RetiredPallets.
func (e *Engine) Inventory(sku string) []inventory.PalletState { return e.pallets.snapshot(sku) }

// RetiredPallets returns up to limit retired pallets of sku (every SKU if
// empty) after a position (nil: from the start), by SKU and then FEFO.
func (e *Engine) RetiredPallets(sku string, after *inventory.PalletSpec, limit int) ([]inventory.PalletState, error) {
	cs, err := e.journal.Retired(sku, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list retired pallets: %w", err)
	}
	out := make([]inventory.PalletState, len(cs))
	for i, c := range cs {
		out[i] = c.State()
	}
	return out, nil
}

// RetiredCount is how many pallets of sku (every SKU if empty) are retired.
func (e *Engine) RetiredCount(sku string) int64 { return e.pallets.retiredCount(sku) }

// LedgerPosition is where a page of a ledger ends.
type LedgerPosition = journal.LedgerPosition

// Ledger returns up to limit of a pallet's ledger lines, oldest first,
// after a position (nil: from the start), and where the next page starts
// (nil after the last). Only journaled lines are served.
func (e *Engine) Ledger(id string, after *LedgerPosition, limit int) ([]inventory.LedgerEntry, *LedgerPosition, error) {
	if _, err := e.Pallet(id); err != nil {
		return nil, nil, fmt.Errorf("ledger of pallet %s: %w", id, err)
	}
	entries, next, err := e.journal.Ledger(id, after, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger of pallet %s: %w", id, err)
	}
	return entries, next, nil
}
