// Package journaltest writes long histories straight to a journal, as the
// engine would have written them, for benchmarks that need millions of
// orders behind them without placing each one through the engine.
package journaltest

import (
	"context"
	"fmt"
	"time"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
	"github.com/baconator/baconator/seed"
)

// History is a warehouse of synthetic pallets and a run of orders of
// 0.01 lb, every one accepted, allocated from one pallet and ended, one
// millisecond apart and ending just before Now, from Customers customers in
// turn.
type History struct {
	Pallets   int
	Orders    int
	Customers int       // 0: 100
	Now       time.Time // zero: time.Now()
	Progress  func(written int)
}

// ordersPerCommit batches the writes; the engine's own batches are smaller,
// which only changes how fast the history is written, not what.
const ordersPerCommit = 2000

// OrderID is the id of the history's i-th order (from 0).
func OrderID(i int) string { return fmt.Sprintf("o-%09d", i) }

// Customer is the customer of the history's i-th order.
func (h History) Customer(i int) string { return fmt.Sprintf("customer-%d", i%h.customers()) }

func (h History) customers() int { return max(h.Customers, 1) }

// Start is when the history's first order was accepted; the i-th was
// accepted i milliseconds later.
func (h History) Start() time.Time {
	now := h.Now
	if now.IsZero() {
		now = time.Now()
	}
	return now.UTC().Add(-time.Duration(h.Orders+1) * time.Millisecond).Truncate(time.Millisecond)
}

// Write writes the history to j and returns its pallets. Each order is
// what the engine journals: its acceptance, then in one batch the pallet's
// ledger line and checkpoint and the order's end.
func (h History) Write(j *journal.Journal) ([]inventory.PalletSpec, error) {
	if h.Customers == 0 {
		h.Customers = 100
	}
	specs, err := seed.Synthetic{Count: h.Pallets, Seed: 1, Now: h.Start()}.Pallets(context.Background())
	if err != nil {
		return nil, err
	}
	var batch journal.Batch
	commit := func() error {
		err := j.Commit(&batch)
		batch.Reset()
		return err
	}
	for _, s := range specs {
		batch.PutPallet(s)
		if batch.Len() >= 3*ordersPerCommit {
			if err := commit(); err != nil {
				return nil, err
			}
		}
	}
	if err := commit(); err != nil {
		return nil, err
	}
	var total inventory.CentiLbs
	for _, s := range specs {
		total += s.Weight
	}
	if int64(h.Orders) > int64(total) {
		return nil, fmt.Errorf("history: %d orders of 0.01 lb need more than %s lb", h.Orders, total)
	}
	versions := make([]int64, len(specs))
	onHand := make([]inventory.CentiLbs, len(specs))
	for i, s := range specs {
		versions[i], onHand[i] = 1, s.Weight
	}
	start := h.Start()
	for first := 0; first < h.Orders; first += ordersPerCommit {
		for i := first; i < min(first+ordersPerCommit, h.Orders); i++ {
			at := start.Add(time.Duration(i) * time.Millisecond)
			o := inventory.Order{
				Request: inventory.OrderRequest{ID: OrderID(i), Customer: h.Customer(i), SKU: inventory.DefaultSKU, Amount: 1, CreatedAt: at},
				Status:  inventory.StatusQueued, AcceptedAt: at,
			}
			batch.PutOrder(o, "")
			p := i % len(specs)
			for onHand[p] == 0 {
				p = (p + 1) % len(specs)
			}
			versions[p]++
			onHand[p]--
			batch.AppendLedger(specs[p].ID, 0, inventory.LedgerEntry{At: at, Kind: inventory.LedgerAllocated, Lbs: -1, OrderID: o.Request.ID, Version: versions[p]})
			batch.Checkpoint(journal.Checkpoint{Spec: specs[p], OnHand: onHand[p], Version: versions[p]})
			o.Status, o.CompletedAt = inventory.StatusAllocated, at
			o.Allocations = []inventory.Allocation{{PalletID: specs[p].ID, Lot: specs[p].Lot, Supplier: specs[p].Supplier, Lbs: 1, Expires: specs[p].Expires, Received: specs[p].Received}}
			batch.PutOrder(o, inventory.StatusQueued)
		}
		if err := commit(); err != nil {
			return nil, err
		}
		if h.Progress != nil {
			h.Progress(min(first+ordersPerCommit, h.Orders))
		}
	}
	return specs, nil
}
