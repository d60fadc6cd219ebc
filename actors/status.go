package actors

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
)

// SetPalletStatus puts a pallet on hold or in quarantine, releases it
// (inventory.StatusAvailable) or recalls it. The change is an event like a
// chaos strike: the pallet bumps its version and revokes every hold, so
// any attempt that planned on it aborts and plans again, and once this
// returns no allocation on the pallet commits. A pallet already in that
// status is answered as it is. A recalled or written-off pallet fails with
// inventory.ErrFinal; a retired one is brought back to the floor for it.
// Orders already allocated are not changed: they are what a trace reports.
func (e *Engine) SetPalletStatus(id string, to inventory.PalletStatus, reason, note string) (inventory.PalletState, error) {
	if !to.Valid() || to == inventory.StatusWrittenOff {
		return inventory.PalletState{}, fmt.Errorf("status %q: %w", to, inventory.ErrInvalid)
	}
	return e.operate(id, "change", func(s inventory.PalletState) (alloc.Message, error) {
		if st := s.StatusOr(); st.Final() && st != to {
			return nil, fmt.Errorf("pallet %s is %s: %w", id, st, inventory.ErrFinal)
		}
		return &alloc.SetStatus{Status: to, Reason: reason, Note: note}, nil
	})
}

// WriteOffPallet takes a pallet's whole on-hand weight off the books
// (expired, damaged, recalled) through a ledger entry of kind written_off;
// the pallet is written off for good.
func (e *Engine) WriteOffPallet(id, reason, note string) (inventory.PalletState, error) {
	return e.operate(id, "write off", func(inventory.PalletState) (alloc.Message, error) {
		return &alloc.SetStatus{WriteOff: true, Reason: reason, Note: note}, nil
	})
}

// Lot is every pallet ever received in one lot, on the floor or retired,
// in id order.
type Lot struct {
	Lot, SKU string
	Pallets  []inventory.PalletState
}

// Status is the status the lot's pallets share, or "mixed".
func (l Lot) Status() string {
	var st inventory.PalletStatus
	for i, p := range l.Pallets {
		if i > 0 && p.StatusOr() != st {
			return "mixed"
		}
		st = p.StatusOr()
	}
	return string(st)
}

// Lot returns a lot's pallets as they stand; ErrNotFound if no pallet was
// ever received in it.
func (e *Engine) Lot(lot string) (Lot, error) {
	ids, err := e.journal.LotPallets(lot)
	if err != nil {
		return Lot{}, fmt.Errorf("lot %s: %w: %w", lot, ErrUnavailable, err)
	}
	if len(ids) == 0 {
		return Lot{}, fmt.Errorf("lot %s: %w", lot, ErrNotFound)
	}
	l := Lot{Lot: lot, Pallets: make([]inventory.PalletState, 0, len(ids))}
	for _, id := range ids {
		s, err := e.Pallet(id)
		if err != nil {
			return Lot{}, fmt.Errorf("lot %s: %w", lot, err)
		}
		l.SKU = s.Spec.SKU
		l.Pallets = append(l.Pallets, s)
	}
	return l, nil
}

// lotOpsMax bounds how many of a lot's pallets change at once.
const lotOpsMax = 16

// SetLotStatus holds, quarantines, releases or recalls every pallet of a
// lot. Each pallet's change is an event in its SKU's serial order (a lot
// has one SKU, so one coordinator orders them all), made as
// SetPalletStatus makes it; it returns once every one is journaled, and
// from then no allocation on any of them commits. Pallets whose status is
// final stay as they are (a written-off pallet holds nothing; a recalled
// one is never released). If the server stops half-way, some pallets have
// changed and the rest have not: the same request again finishes it.
func (e *Engine) SetLotStatus(lot string, to inventory.PalletStatus, reason, note string) (Lot, error) {
	if !to.Valid() || to == inventory.StatusWrittenOff {
		return Lot{}, fmt.Errorf("status %q: %w", to, inventory.ErrInvalid)
	}
	l, err := e.Lot(lot)
	if err != nil {
		return Lot{}, err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, lotOpsMax)
	)
	for i, p := range l.Pallets {
		if p.StatusOr().Final() {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s, err := e.SetPalletStatus(p.Spec.ID, to, reason, note)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			l.Pallets[i] = s
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return Lot{}, fmt.Errorf("lot %s: %d of %d pallets not changed, first: %w", lot, len(errs), len(l.Pallets), errs[0])
	}
	return l, nil
}
