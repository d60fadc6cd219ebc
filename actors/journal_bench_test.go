package actors

import (
	"context"
	"fmt"
	"runtime"
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

// BenchmarkRecovery times recovery of a warehouse of 2,000 pallets after
// histories of growing length: every order accepted, allocated (a ledger
// line and a checkpoint) and ended. Recovery reads the live pallets'
// checkpoints and the unfinished orders, never the history, so its time
// must not grow with it.
//
//	go test -run '^$' -bench '^BenchmarkRecovery$' -benchtime 5x ./actors/
func BenchmarkRecovery(b *testing.B) {
	for _, orders := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("orders=%d", orders), func(b *testing.B) {
			dir := b.TempDir()
			j, err := journal.Open(dir, journal.Options{})
			if err != nil {
				b.Fatal(err)
			}
			specs := writeHistory(b, j, 2000, orders)
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
				if r.Pallets != len(specs) || r.Redriven != 0 {
					b.Fatalf("recovered %+v", r)
				}
				_ = e.Close(context.Background())
				_ = j.Close()
			}
		})
	}
}

// writeHistory writes, straight to a journal, a warehouse of pallets
// synthetic pallets and orders 1-lb orders, each accepted, then allocated
// from one pallet and ended, as the engine would have written them, in
// batches of historyBatchOrders. It returns the pallets.
func writeHistory(b *testing.B, j *journal.Journal, pallets, orders int) []inventory.PalletSpec {
	b.Helper()
	const historyBatchOrders = 2000
	specs, err := seed.Synthetic{Count: pallets, Seed: 1, Now: time.Now()}.Pallets(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var batch journal.Batch
	commit := func() {
		if err := j.Commit(&batch); err != nil {
			b.Fatal(err)
		}
		batch.Reset()
	}
	for _, s := range specs {
		batch.PutPallet(s)
	}
	commit()
	versions := make([]int64, pallets)
	onHand := make([]inventory.CentiLbs, pallets)
	for i, s := range specs {
		versions[i], onHand[i] = 1, s.Weight
	}
	start := time.Now().UTC().Add(-time.Duration(orders) * time.Millisecond)
	for first := 0; first < orders; first += historyBatchOrders {
		last := min(first+historyBatchOrders, orders)
		for i := first; i < last; i++ {
			at := start.Add(time.Duration(i) * time.Millisecond)
			o := inventory.Order{Request: inventory.OrderRequest{ID: fmt.Sprintf("o-%08d", i), Customer: fmt.Sprintf("customer-%d", i%100), SKU: inventory.DefaultSKU, Amount: 1, CreatedAt: at},
				Status: inventory.StatusQueued, AcceptedAt: at}
			batch.PutOrder(o, "")
			p := i % pallets
			if onHand[p] == 0 {
				p = (p + 1) % pallets
			}
			versions[p]++
			onHand[p]--
			batch.AppendLedger(specs[p].ID, 0, inventory.LedgerEntry{At: at, Kind: inventory.LedgerAllocated, Lbs: -1, OrderID: o.Request.ID, Version: versions[p]})
			batch.Checkpoint(journal.Checkpoint{Spec: specs[p], OnHand: onHand[p], Version: versions[p]})
			o.Status, o.CompletedAt = inventory.StatusAllocated, at
			o.Allocations = []inventory.Allocation{{PalletID: specs[p].ID, Lot: specs[p].Lot, Supplier: specs[p].Supplier, Lbs: 1, Expires: specs[p].Expires, Received: specs[p].Received}}
			batch.PutOrder(o, inventory.StatusQueued)
		}
		commit()
	}
	return specs
}

// BenchmarkIdlePallets measures what pallets on the floor cost while
// nothing touches them — their books, their places in the FEFO view, their
// registry entries, no actors: the live heap of a journaled engine holding
// 200,000 of them (the journal's write buffers and the pallets' strings
// included, the benchmark's own copies not), in all and per pallet.
//
//	go test -run '^$' -bench '^BenchmarkIdlePallets$' -benchtime 1x ./actors/
func BenchmarkIdlePallets(b *testing.B) {
	const pallets = 200_000
	for b.Loop() {
		before := liveHeap()
		j, err := journal.Open(b.TempDir(), journal.Options{})
		if err != nil {
			b.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.Chaos.Interval = 0
		cfg.Journal = j
		e, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Recover(); err != nil {
			b.Fatal(err)
		}
		specs, err := seed.Synthetic{Count: pallets, Seed: 1, Now: time.Now()}.Pallets(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.ReceivePallets(specs); err != nil {
			b.Fatal(err)
		}
		// A step more, so the coordinator lets go of the receipt's output.
		if _, err := e.system.Root.RequestFuture(e.route(inventory.DefaultSKU), &Flush{}, apiTimeout).Result(); err != nil {
			b.Fatal(err)
		}
		held := liveHeap() - before
		b.ReportMetric(float64(held)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(held)/pallets, "heap-B/pallet")
		_ = e.Close(context.Background())
		_ = j.Close()
	}
}

// liveHeap is the heap's live bytes, after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
