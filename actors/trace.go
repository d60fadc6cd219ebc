package actors

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/baconator/baconator/inventory"
)

// Shipment is one allocation of a lot's weight: one allocated ledger line
// of one of its pallets, with what a cancel gave back of it since.
type Shipment struct {
	OrderID, Customer, PalletID string
	Lbs, ReturnedLbs            inventory.CentiLbs // positive pounds
	AllocatedAt                 time.Time
	OrderStatus                 inventory.Status
}

// LotTotals reconcile a lot with its ledgers exactly: Received + Adjusted −
// Allocated + Returned + WrittenOff = OnHand (Adjusted and WrittenOff
// signed, as ledger entries are).
type LotTotals struct {
	Received, Allocated, Returned, Adjusted, WrittenOff, OnHand inventory.CentiLbs
}

// LotTrace is a lot traced forward: its pallets, and every allocation and
// return of its weight, in the order the ledgers have them (pallet by
// pallet, each in version order).
type LotTrace struct {
	Lot       Lot
	Shipments []Shipment
	Totals    LotTotals
}

// TraceLot traces a lot forward from its pallets' ledgers, which are
// written with every allocation and return: the cost is the lot's own
// history, never the warehouse's. Each shipment's customer and the order's
// status now come from the order.
func (e *Engine) TraceLot(lot string) (LotTrace, error) {
	l, err := e.Lot(lot)
	if err != nil {
		return LotTrace{}, err
	}
	tr := LotTrace{Lot: l}
	orders := map[string]inventory.Order{}
	for _, p := range l.Pallets {
		last := map[string]int{} // order → its latest shipment on this pallet
		err := eachLedgerEntry(e, p.Spec.ID, func(en inventory.LedgerEntry) error {
			switch en.Kind {
			case inventory.LedgerReceived:
				tr.Totals.Received += en.Lbs
			case inventory.LedgerAdjusted:
				tr.Totals.Adjusted += en.Lbs
			case inventory.LedgerWrittenOff:
				tr.Totals.WrittenOff += en.Lbs
			case inventory.LedgerAllocated:
				tr.Totals.Allocated -= en.Lbs
				last[en.OrderID] = len(tr.Shipments)
				tr.Shipments = append(tr.Shipments, Shipment{OrderID: en.OrderID, PalletID: p.Spec.ID, Lbs: -en.Lbs, AllocatedAt: en.At})
				orders[en.OrderID] = inventory.Order{}
			case inventory.LedgerReturned:
				tr.Totals.Returned += en.Lbs
				i, ok := last[en.OrderID]
				if !ok {
					return fmt.Errorf("pallet %s returned %s to order %s, which it never shipped: %w", p.Spec.ID, en.Lbs, en.OrderID, inventory.ErrCorrupt)
				}
				tr.Shipments[i].ReturnedLbs += en.Lbs
			}
			tr.Totals.OnHand += en.Lbs
			return nil
		})
		if err != nil {
			return LotTrace{}, fmt.Errorf("trace lot %s: %w", lot, err)
		}
	}
	ids := make([]string, 0, len(orders))
	for id := range orders {
		if rec, ok := e.orders.get(id); ok { // not ended: its record is the truth
			orders[id] = rec.load()
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	stored, err := e.journal.OrdersByID(ids)
	if err != nil {
		return LotTrace{}, fmt.Errorf("trace lot %s: %w: %w", lot, ErrUnavailable, err)
	}
	for _, id := range ids {
		o, ok := stored[id]
		if !ok { // an order leaves memory only once its end is journaled
			return LotTrace{}, fmt.Errorf("trace lot %s: order %s is in a ledger but not in the journal: %w", lot, id, inventory.ErrCorrupt)
		}
		orders[id] = o
	}
	for i := range tr.Shipments {
		s := &tr.Shipments[i]
		o := orders[s.OrderID]
		s.Customer, s.OrderStatus = o.Request.Customer, o.Status
	}
	return tr, nil
}

// ExpiryBucket is the weight of one SKU's pallets expiring in [From, To)
// days from an instant (To 0: open-ended).
type ExpiryBucket struct {
	SKU               string
	From, To          int
	Weight, Available inventory.CentiLbs
	Pallets           int
}

// Expiry sorts the weight on the floor by days to expiry from now, per
// SKU (sku "" for every SKU): a day is 24 hours from now; bounds are the
// buckets' lower ends, ascending, the last bucket open-ended; every bucket
// of a SKU with stock (or of sku) is listed, empty ones too. Only pallets
// with weight and not written off count; weight already expired is
// returned apart; held weight is in Weight, not in Available.
func (e *Engine) Expiry(sku string, bounds []int, now time.Time) (buckets []ExpiryBucket, expired inventory.CentiLbs) {
	index := map[string]int{}
	of := func(sku string) int { // the SKU's first bucket, every bucket listed
		base, ok := index[sku]
		if !ok {
			base = len(buckets)
			index[sku] = base
			for i, from := range bounds {
				b := ExpiryBucket{SKU: sku, From: from}
				if i+1 < len(bounds) {
					b.To = bounds[i+1]
				}
				buckets = append(buckets, b)
			}
		}
		return base
	}
	if sku != "" {
		of(sku)
	}
	e.pallets.each(sku, func(p inventory.PalletState) {
		if p.OnHand <= 0 || p.StatusOr() == inventory.StatusWrittenOff {
			return
		}
		left := p.Spec.Expires.Sub(now)
		if left <= 0 {
			expired += p.OnHand
			return
		}
		base := of(p.Spec.SKU)
		days := int(left / (24 * time.Hour))
		i := sort.Search(len(bounds), func(i int) bool { return bounds[i] > days }) - 1
		if i < 0 {
			return // sooner than the first bound
		}
		b := &buckets[base+i]
		b.Weight += p.OnHand
		b.Available += p.Available()
		b.Pallets++
	})
	slices.SortStableFunc(buckets, func(a, b ExpiryBucket) int { return strings.Compare(a.SKU, b.SKU) }) // SKUs by name, each's buckets in order
	return buckets, expired
}

// ledgerPage is how many entries a walk through a ledger reads at once.
const ledgerPage = 10_000

// eachLedgerEntry calls fn with every entry of a pallet's ledger, oldest
// first, a page at a time: a head pallet's ledger holds thousands of chaos
// strikes a minute, so it is never read into memory whole.
func eachLedgerEntry(e *Engine, id string, fn func(inventory.LedgerEntry) error) error {
	var after *LedgerPosition
	for {
		page, next, err := e.Ledger(id, after, ledgerPage)
		if err != nil {
			return err
		}
		for _, en := range page {
			if err := fn(en); err != nil {
				return err
			}
		}
		if next == nil {
			return nil
		}
		after = next
	}
}
