package alloc

import (
	"fmt"

	"github.com/baconator/baconator/inventory"
)

// books are the durable side of each pallet: the weight and version its
// journaled ledger adds up to. Pallets run ahead of the journal; books
// move only by the ledger lines a Ready journals, and it is their states
// that are published — so nobody ever sees a pallet's live state.
type books struct {
	m     map[string]*book
	dirty []*book         // changed by the current Step
	empty map[string]bool // pallets whose durable weight is 0: retirement candidates
}

type book struct {
	state     inventory.PalletState // Held is always 0: holds are never durable
	atVersion int                   // ledger lines already written at state.Version
	dirty     bool
	revived   bool // back from the retired, and the journal does not know yet
	retiring  bool // asked to retire; its answer is on the way
}

func newBooks() books { return books{m: map[string]*book{}, empty: map[string]bool{}} }

// open starts the book of a durable pallet; revived, it comes back from
// the retired.
func (b *books) open(s inventory.PalletState, revived bool) {
	if _, ok := b.m[s.Spec.ID]; ok {
		panic(fmt.Sprintf("pallet %s received twice", s.Spec.ID))
	}
	s.Held = 0
	b.m[s.Spec.ID] = &book{state: s, atVersion: 1, revived: revived}
	if s.OnHand == 0 {
		b.empty[s.Spec.ID] = true
	}
}

// retire closes a pallet's book: it left the floor. With Revived too, the
// journal never learnt it was back: it need not learn it left.
func (b *books) retire(rd *Ready, id string) {
	bk := b.m[id]
	delete(b.m, id)
	delete(b.empty, id)
	if bk.dirty {
		panic(fmt.Sprintf("pallet %s retired in the step that changed it", id))
	}
	rd.Pallets = append(rd.Pallets, PalletUpdate{State: bk.state, Retired: true, Revived: bk.revived})
}

// version is the pallet's durable version.
func (b *books) version(id string) int64 { return b.m[id].state.Version }

// write adds one ledger line of a pallet to rd and returns the pallet's
// next durable weight. Lines must follow the pallet's version order: every
// change bumps the version by one, and one confirm writes one line per
// order at the same version. Anything else is a broken invariant.
func (b *books) write(rd *Ready, id string, e inventory.LedgerEntry) inventory.CentiLbs {
	bk := b.m[id]
	if bk == nil {
		panic(fmt.Sprintf("ledger line for unknown pallet %s", id))
	}
	switch {
	case e.Version == bk.state.Version && e.Kind == inventory.LedgerAllocated:
		bk.atVersion++
	case e.Version == bk.state.Version+1:
		bk.state.Version, bk.atVersion = e.Version, 1
	default: // the history would break the pallet's version order
		panic(fmt.Sprintf("pallet %s: ledger entry %s at v%d after durable v%d", id, e.Kind, e.Version, bk.state.Version))
	}
	bk.state.OnHand += e.Lbs
	if e.Status != "" {
		bk.state.Status = e.Status
	}
	if bk.state.OnHand < 0 {
		panic(fmt.Sprintf("pallet %s: durable weight %s lbs at v%d", id, bk.state.OnHand, e.Version))
	}
	rd.Ledger = append(rd.Ledger, LedgerLine{PalletID: id, Index: bk.atVersion - 1, Entry: e, Status: bk.state.StatusOr()})
	if bk.state.OnHand == 0 {
		b.empty[id] = true
	} else {
		delete(b.empty, id)
	}
	if !bk.dirty {
		bk.dirty = true
		b.dirty = append(b.dirty, bk)
	}
	return bk.state.OnHand
}

// flush lists the states changed since the last flush in rd.Pallets.
func (b *books) flush(rd *Ready) {
	for _, bk := range b.dirty {
		rd.Pallets = append(rd.Pallets, PalletUpdate{State: bk.state, Revived: bk.revived})
		bk.dirty, bk.revived = false, false
	}
	clear(b.dirty)
	b.dirty = b.dirty[:0]
}
