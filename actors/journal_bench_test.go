package actors

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
	"github.com/baconator/baconator/seed"
)

// BenchmarkIntake measures sustained order throughput from many concurrent
// clients, each placing an order (what an HTTP 202 answers) and waiting
// for its end, in memory and with the journal on the machine's disk: every
// acceptance and every allocation synced, concurrent ones sharing syncs.
// Orders are tiny, so allocation never runs dry; clients never outnumber
// the intake, so none is throttled.
//
//	go test -run '^$' -bench '^BenchmarkIntake$' -benchtime 200000x ./actors/
func BenchmarkIntake(b *testing.B) {
	specs, err := seed.Synthetic{Count: 2000, Seed: 1, Now: time.Now()}.Pallets(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("memory", func(b *testing.B) { benchIntake(b, specs, nil) })
	b.Run("journal", func(b *testing.B) {
		j, err := journal.Open(b.TempDir(), journal.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer j.Close()
		benchIntake(b, specs, j)
		commits, groups := j.Stats()
		b.ReportMetric(float64(commits)/float64(groups), "commits/sync")
	})
}

func benchIntake(b *testing.B, specs []inventory.PalletSpec, j *journal.Journal) {
	cfg := DefaultConfig()
	cfg.IntakeCapacity = 1 << 16
	cfg.Journal = j
	e, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if j != nil {
		if _, err := e.Recover(); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := e.ReceivePallets(specs); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(128) // clients per core, as under a sales surge
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := inventory.OrderRequest{ID: fmt.Sprintf("o-%d", n.Add(1)), Customer: "bench", Amount: 1}
			if _, _, err := e.PlaceOrder(req); err != nil {
				panic(err)
			}
			if o, err := e.Wait(context.Background(), req.ID); err != nil || o.Status != inventory.StatusAllocated {
				panic(fmt.Sprintf("order %s: %s %v", req.ID, o.Status, err))
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "orders/s")
	b.StopTimer()
	if err := e.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRecovery times recovery of a journal written by a million
// events: 2,000 receipts, then 332,666 orders each accepted, allocated
// (a ledger line) and ended. The journal holds state, not the log, so an
// order's three events leave one order key and one ledger key, and Pebble's
// compactions drop what was overwritten: recovery reads what is live.
//
//	go test -run '^$' -bench '^BenchmarkRecovery$' -benchtime 3x ./actors/
func BenchmarkRecovery(b *testing.B) {
	const (
		pallets  = 2000
		events   = 1_000_000
		orders   = (events - pallets) / 3
		perBatch = 1000
	)
	dir := b.TempDir()
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	specs, err := seed.Synthetic{Count: pallets, Seed: 1, Now: time.Now()}.Pallets(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var batch journal.Batch
	for _, s := range specs {
		batch.PutPallet(s)
		batch.AppendLedger(s.ID, 0, inventory.NewPallet(s).Ledger()[0])
	}
	commit := func() {
		if err := j.Commit(&batch); err != nil {
			b.Fatal(err)
		}
		batch.Reset()
	}
	commit()
	versions := make([]int64, pallets)
	for i := range versions {
		versions[i] = 1
	}
	now := time.Now().UTC()
	for first := 0; first < orders; first += perBatch {
		last := min(first+perBatch, orders)
		accepted := make([]inventory.Order, 0, last-first)
		for i := first; i < last; i++ {
			o := inventory.Order{Request: inventory.OrderRequest{ID: fmt.Sprintf("o-%07d", i), Customer: "c", SKU: inventory.DefaultSKU, Amount: 1, CreatedAt: now},
				Status: inventory.StatusQueued, AcceptedAt: now}
			batch.PutOrder(o)
			accepted = append(accepted, o)
		}
		commit()
		for i, o := range accepted {
			p := (first + i) % pallets
			versions[p]++
			batch.AppendLedger(specs[p].ID, 0, inventory.LedgerEntry{At: now, Kind: inventory.LedgerAllocated, Lbs: -1, OrderID: o.Request.ID, Version: versions[p]})
			o.Status, o.CompletedAt = inventory.StatusAllocated, now
			o.Allocations = []inventory.Allocation{{PalletID: specs[p].ID, Lot: specs[p].Lot, Supplier: specs[p].Supplier, Lbs: 1, Expires: specs[p].Expires}}
			batch.PutOrder(o)
		}
		commit()
	}
	if err := j.Close(); err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Chaos.Interval = 0
	b.ResetTimer()
	for b.Loop() {
		j, err := journal.Open(dir, journal.Options{})
		if err != nil {
			b.Fatal(err)
		}
		cfg.Journal = j
		e, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		r, err := e.Recover()
		if err != nil {
			b.Fatal(err)
		}
		if r.Orders != orders || r.Redriven != 0 {
			b.Fatalf("recovered %+v", r)
		}
		_ = e.Close(context.Background())
		_ = j.Close()
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
