package actors

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
	"github.com/baconator/baconator/journal/journaltest"
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

var (
	recoveryOrders  = flag.String("recovery.orders", "10000,100000,1000000", "BenchmarkRecovery: history lengths, comma-separated")
	recoveryPallets = flag.Int("recovery.pallets", 2000, "BenchmarkRecovery: pallets on the floor")
)

// BenchmarkRecovery times a restart — the journal opened, the engine
// recovered, ready for orders — after histories of growing length: every
// order accepted, allocated (a ledger line and a checkpoint) and ended.
// Recovery reads the live pallets' checkpoints and the unfinished orders,
// never the history, so its time must not grow with it. The journal is
// closed cleanly between restarts (its write buffer flushed); after a crash
// a start replays at most one write buffer of log (64 MiB) first.
//
//	go test -run '^$' -bench '^BenchmarkRecovery$' -benchtime 20x ./actors/
//	go test -run '^$' -bench '^BenchmarkRecovery$' -benchtime 20x -timeout 1h ./actors/ -recovery.orders 10000000
//	go test -run '^$' -bench '^BenchmarkRecovery$' -benchtime 20x ./actors/ -recovery.orders 1000000 -recovery.pallets 200000
func BenchmarkRecovery(b *testing.B) {
	for _, field := range strings.Split(*recoveryOrders, ",") {
		orders, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			b.Fatalf("-recovery.orders: %v", err)
		}
		b.Run(fmt.Sprintf("pallets=%d/orders=%d", *recoveryPallets, orders), func(b *testing.B) {
			dir := b.TempDir()
			j, err := journal.Open(dir, journal.Options{})
			if err != nil {
				b.Fatal(err)
			}
			specs, err := journaltest.History{Pallets: *recoveryPallets, Orders: orders}.Write(j)
			if err != nil {
				b.Fatal(err)
			}
			if err := j.Close(); err != nil {
				b.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.Chaos.Interval = 0
			var opening time.Duration
			b.ResetTimer()
			for b.Loop() {
				began := time.Now()
				j, err := journal.Open(dir, journal.Options{})
				if err != nil {
					b.Fatal(err)
				}
				opening += time.Since(began)
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
				b.StopTimer()
				_ = e.Close(context.Background())
				_ = j.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(opening.Microseconds())/1000/float64(b.N), "open-ms/op")
		})
	}
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
