package actors

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// Recovery is what Recover found.
type Recovery struct {
	Pallets  int // on the floor
	Retired  int64
	Redriven int // accepted but unfinished: allocated again from where they stood
	Took     time.Duration
}

// Recover rebuilds the warehouse from the engine's journal — the pallets on
// the floor from their checkpoints, the orders that had not ended from
// their snapshots, which hold what they had committed — and re-drives
// those orders: each keeps its part (so nothing is allocated twice) and
// plans only what is missing. It reads what is live, never the history, so
// it takes as long as the warehouse is large, not as old. Until it returns
// the engine takes no writes. Anything inconsistent fails it with
// journal.ErrCorrupt: a start over a damaged journal, never a silent one.
func (e *Engine) Recover() (Recovery, error) {
	started := time.Now()
	if e.ownJournal || e.recovered.Load() {
		return Recovery{}, errors.New("recover: nothing to recover from")
	}
	live, err := e.journal.Load()
	if err != nil {
		return Recovery{}, fmt.Errorf("recover: %w", err)
	}
	corrupt := func(err error) error {
		return fmt.Errorf("recover from %s: %w: %w", e.journal.Dir(), journal.ErrCorrupt, err)
	}
	r := Recovery{Pallets: len(live.Pallets)}
	for sku, n := range live.Retired {
		e.pallets.setRetired(sku, n)
		e.coordinator(sku) // a SKU whose every pallet retired keeps its coordinator
		r.Retired += n
	}
	pallets := make([]*inventory.Pallet, len(live.Pallets))
	for i, c := range live.Pallets {
		if err := c.Spec.Validate(); err != nil || c.OnHand < 0 || c.Version < 1 {
			return r, corrupt(fmt.Errorf("pallet %s at v%d holding %s: %v", c.Spec.ID, c.Version, c.OnHand, err))
		}
		pallets[i] = inventory.Restore(c.State())
	}
	if len(pallets) > 0 {
		if _, err := e.place(pallets, true); err != nil {
			return r, fmt.Errorf("recover: %w", err)
		}
	}
	redrive := make([]*orderRecord, 0, len(live.Unfinished))
	for _, o := range live.Unfinished {
		if err := o.Request.Validate(); err != nil {
			return r, corrupt(fmt.Errorf("order %s: %w", o.Request.ID, err))
		}
		var held inventory.CentiLbs
		for _, a := range o.Allocations {
			held += a.Lbs
		}
		if held > o.Request.Amount {
			return r, corrupt(fmt.Errorf("order %s holds %s lbs, more than the %s it asked for", o.Request.ID, held, o.Request.Amount))
		}
		o.Status = inventory.StatusQueued
		rec, _ := e.orders.insert(o, false, e.route(o.Request.SKU))
		redrive = append(redrive, rec)
	}
	r.Redriven = len(redrive)
	e.start(redrive)
	r.Took = time.Since(started)
	e.log.Info(fmt.Sprintf("[SYSTEM] Recovered %d pallets on the floor (%d retired) and re-drove %d unfinished orders from %s in %s",
		r.Pallets, r.Retired, r.Redriven, e.journal.Dir(), r.Took.Round(time.Millisecond)))
	return r, nil
}

// Verify holds the journal's checkpoints and indexes against its record:
// it rebuilds every pallet from its whole ledger and every order's
// holdings from the ledgers (alloc.Rebuild, which checks they agree), and
// requires the live pallets' checkpoints and the unfinished orders to be
// exactly what that gives. It reads the whole history: a check to run on
// demand, never at start.
func Verify(j *journal.Journal) error {
	h, err := j.LoadHistory()
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	stored := make([]alloc.StoredPallet, len(h.Pallets))
	for i, p := range h.Pallets {
		stored[i] = alloc.StoredPallet{Spec: p.Spec, Ledger: p.Ledger}
	}
	rb, err := alloc.Rebuild(stored, h.Orders)
	if err != nil {
		return fmt.Errorf("verify: %w: %w", journal.ErrCorrupt, err)
	}
	live, err := j.Load()
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	byLedger := map[string]inventory.PalletState{}
	want := map[string]inventory.PalletState{} // every pallet with weight must be on the floor
	for _, p := range rb.Pallets {
		s := p.State()
		byLedger[s.Spec.ID] = s
		if s.OnHand > 0 {
			want[s.Spec.ID] = s
		}
	}
	for _, c := range live.Pallets {
		if s := c.State(); byLedger[c.Spec.ID] != s {
			return fmt.Errorf("verify: %w: pallet %s checkpointed at %s lbs v%d, its ledger says %+v", journal.ErrCorrupt, c.Spec.ID, s.OnHand, s.Version, byLedger[c.Spec.ID])
		}
		delete(want, c.Spec.ID)
	}
	for id, s := range want { // weight on a pallet that is not on the floor
		return fmt.Errorf("verify: %w: pallet %s holds %s lbs by its ledger but has no live checkpoint", journal.ErrCorrupt, id, s.OnHand)
	}
	unfinished := map[string]inventory.Order{}
	for _, o := range rb.Unfinished {
		unfinished[o.Request.ID] = o
	}
	for _, o := range live.Unfinished {
		w, ok := unfinished[o.Request.ID]
		if !ok || !slices.EqualFunc(w.Allocations, o.Allocations, func(x, y inventory.Allocation) bool { return x.PalletID == y.PalletID && x.Lbs == y.Lbs }) {
			return fmt.Errorf("verify: %w: unfinished order %s holds %v, its ledgers say %v", journal.ErrCorrupt, o.Request.ID, o.Allocations, w.Allocations)
		}
		delete(unfinished, o.Request.ID)
	}
	for id := range unfinished {
		return fmt.Errorf("verify: %w: order %s has not ended by its snapshot, but is not indexed as unfinished", journal.ErrCorrupt, id)
	}
	return nil
}
