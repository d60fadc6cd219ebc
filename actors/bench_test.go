package actors

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/seed"
)

// BenchmarkOrders compares three allocators on one workload: the original
// stress test's 1,500 lb orders from many concurrent clients against a
// fresh warehouse of 2,000 pallets of 1,000 lb. A round places 1,300
// orders (just under the 1,333 the stock covers), so every order does real
// allocation work; b.N orders run as consecutive rounds and only the order
// traffic is timed.
//
//	go test -run '^$' -bench '^BenchmarkOrders$' ./actors/
func BenchmarkOrders(b *testing.B) {
	specs, err := seed.Synthetic{Count: 2000, Seed: 1, Now: time.Now()}.Pallets(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("engine", func(b *testing.B) { benchRounds(b, specs, newEngineAllocator) })
	b.Run("mutex-baseline", func(b *testing.B) { benchRounds(b, specs, newMutexAllocator) })
	b.Run("seed-lock", func(b *testing.B) { benchRounds(b, specs, newSeedLockAllocator) })
}

const (
	benchOrdersPerRound = 1300
	benchClients        = 64
	benchOrderLbs       = 1500
)

// allocator is what a benchmark client sees: place an order and learn how
// it ended.
type allocator interface {
	allocate(req inventory.OrderRequest) inventory.Status
	close()
}

func benchRounds(b *testing.B, specs []inventory.PalletSpec, newAlloc func(testing.TB, []inventory.PalletSpec) allocator) {
	b.ReportAllocs()
	var elapsed time.Duration
	allocated := 0
	round := 0
	for left := b.N; left > 0; left -= benchOrdersPerRound {
		n := min(left, benchOrdersPerRound)
		b.StopTimer()
		a := newAlloc(b, specs)
		var next atomic.Int64
		var ok atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		b.StartTimer()
		for range benchClients {
			wg.Go(func() {
				for {
					i := next.Add(1)
					if i > int64(n) {
						return
					}
					req := inventory.OrderRequest{ID: fmt.Sprintf("r%d-o%d", round, i), Customer: "Funky Customer", SKU: inventory.DefaultSKU, Amount: inventory.Lbs(benchOrderLbs)}
					if a.allocate(req) == inventory.StatusAllocated {
						ok.Add(1)
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		elapsed += time.Since(start)
		allocated += int(ok.Load())
		a.close()
		round++
	}
	if allocated != b.N {
		b.Fatalf("%d of %d orders allocated: the workload must fit the stock", allocated, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "orders/s")
}

// engineAllocator is the actor engine with chaos on at the demo's 150 ms.
type engineAllocator struct{ e *Engine }

func newEngineAllocator(tb testing.TB, specs []inventory.PalletSpec) allocator {
	cfg := DefaultConfig()
	cfg.IntakeCapacity = benchClients * 2
	e, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := e.ReceivePallets(specs); err != nil {
		tb.Fatal(err)
	}
	return &engineAllocator{e: e}
}

func (a *engineAllocator) allocate(req inventory.OrderRequest) inventory.Status {
	if _, _, err := a.e.PlaceOrder(req); err != nil {
		panic(err)
	}
	o, err := a.e.Wait(context.Background(), req.ID)
	if err != nil {
		panic(err)
	}
	return o.Status
}

func (a *engineAllocator) close() { _ = a.e.Close(context.Background()) }

// mutexAllocator is the best single-lock allocator for the same work: an
// order book for idempotency, a FEFO-sorted slice with a cursor past the
// emptied head, versions, a ledger entry per take and the order's record,
// all under one sync.Mutex. Clients call it directly, with no queue.
type mutexAllocator struct {
	mu      sync.Mutex
	pallets []mutexPallet // FEFO order
	head    int
	orders  map[string]*inventory.Order
}

type mutexPallet struct {
	spec    inventory.PalletSpec
	onHand  inventory.CentiLbs
	version int64
	ledger  []inventory.LedgerEntry
}

func newMutexAllocator(_ testing.TB, specs []inventory.PalletSpec) allocator {
	a := &mutexAllocator{orders: map[string]*inventory.Order{}}
	for _, s := range specs {
		a.pallets = append(a.pallets, mutexPallet{spec: s, onHand: s.Weight, version: 1,
			ledger: []inventory.LedgerEntry{{At: s.Received, Kind: inventory.LedgerReceived, Lbs: s.Weight, Version: 1}}})
	}
	slices.SortFunc(a.pallets, func(x, y mutexPallet) int { return inventory.FEFOCompare(&x.spec, &y.spec) })
	return a
}

func (a *mutexAllocator) allocate(req inventory.OrderRequest) inventory.Status {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if o, ok := a.orders[req.ID]; ok {
		return o.Status
	}
	o := &inventory.Order{Request: req, AcceptedAt: now, Attempts: 1}
	a.orders[req.ID] = o
	for a.head < len(a.pallets) && a.pallets[a.head].onHand == 0 {
		a.head++
	}
	cutoff := inventory.ShelfLifeCutoff(now, req.MinShelfLifeDays)
	start := max(a.head, sort.Search(len(a.pallets), func(i int) bool { return a.pallets[i].spec.Expires.After(cutoff) }))
	need := req.Amount
	end := start
	for ; end < len(a.pallets) && need > 0; end++ {
		need -= min(need, a.pallets[end].onHand)
	}
	if need > 0 {
		o.Status, o.Reason = inventory.StatusRejected, inventory.ReasonInsufficientStock
		return o.Status
	}
	need = req.Amount
	for i := start; need > 0; i++ {
		p := &a.pallets[i]
		take := min(need, p.onHand)
		if take == 0 {
			continue
		}
		need -= take
		p.onHand -= take
		p.version++
		p.ledger = append(p.ledger, inventory.LedgerEntry{At: now, Kind: inventory.LedgerAllocated, Lbs: -take, OrderID: req.ID, Version: p.version})
		o.Allocations = append(o.Allocations, inventory.Allocation{PalletID: p.spec.ID, Lot: p.spec.Lot, Supplier: p.spec.Supplier, Lbs: take, Expires: p.spec.Expires})
	}
	o.Status, o.CompletedAt = inventory.StatusAllocated, now
	return o.Status
}

func (a *mutexAllocator) close() {}

// seedLockAllocator is the original's algorithm: one bounded channel, one
// worker, and per order a snapshot of every batch sorted by expiration,
// a plan, and a version-checked commit under the global lock (retried on a
// version conflict). Its 100 ms demo delay is left out.
type seedLockAllocator struct {
	mu      sync.Mutex
	batches []*seedBatch
	queue   chan seedJob
	done    chan struct{}
}

type seedBatch struct {
	id      string
	expires time.Time
	weight  inventory.CentiLbs
	version int64
}

type seedJob struct {
	req   inventory.OrderRequest
	reply chan inventory.Status
}

func newSeedLockAllocator(_ testing.TB, specs []inventory.PalletSpec) allocator {
	a := &seedLockAllocator{queue: make(chan seedJob, 100), done: make(chan struct{})}
	for _, s := range specs {
		a.batches = append(a.batches, &seedBatch{id: s.ID, expires: s.Expires, weight: s.Weight})
	}
	go a.work()
	return a
}

func (a *seedLockAllocator) allocate(req inventory.OrderRequest) inventory.Status {
	reply := make(chan inventory.Status, 1)
	a.queue <- seedJob{req: req, reply: reply}
	return <-reply
}

func (a *seedLockAllocator) work() {
	defer close(a.done)
	for job := range a.queue {
		job.reply <- a.process(job.req)
	}
}

func (a *seedLockAllocator) process(req inventory.OrderRequest) inventory.Status {
	type plan struct {
		b       *seedBatch
		take    inventory.CentiLbs
		version int64
	}
	for {
		a.mu.Lock()
		snapshot := make([]seedBatch, 0, len(a.batches))
		ptrs := make(map[string]*seedBatch, len(a.batches))
		for _, b := range a.batches {
			if b.weight > 0 {
				snapshot = append(snapshot, *b)
				ptrs[b.id] = b
			}
		}
		a.mu.Unlock()
		slices.SortFunc(snapshot, func(x, y seedBatch) int { return x.expires.Compare(y.expires) })
		var plans []plan
		need := req.Amount
		for _, b := range snapshot {
			if need == 0 {
				break
			}
			take := min(need, b.weight)
			plans = append(plans, plan{b: ptrs[b.id], take: take, version: b.version})
			need -= take
		}
		if need > 0 {
			return inventory.StatusRejected
		}
		a.mu.Lock()
		stale := false
		for _, p := range plans {
			if p.b.version != p.version {
				stale = true
				break
			}
		}
		if !stale {
			for _, p := range plans {
				p.b.weight -= p.take
				p.b.version++
			}
		}
		a.mu.Unlock()
		if !stale {
			return inventory.StatusAllocated
		}
	}
}

func (a *seedLockAllocator) close() {
	close(a.queue)
	<-a.done
}
