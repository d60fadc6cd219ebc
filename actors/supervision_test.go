package actors

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
)

// haltedEngine starts an engine that a test will halt: its cleanup
// expects the halt instead of failing on it.
func haltedEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = e.Close(context.Background()) // a halted engine does not wait for its orders
		require.ErrorIs(t, e.Err(), ErrHalted, "the engine was expected to halt")
	})
	return e
}

func TestAPalletThatPanicsHaltsTheEngine(t *testing.T) {
	e := haltedEngine(t, testConfig(1))
	receive(t, e, pallet("P1", 1000, 5))
	place(t, e, order("before", 100))

	// A hold of zero pounds is a programmer error: the pallet asserts.
	bad := newProbe(t, e)
	bad.request(e, e.palletPID("P1"), &alloc.Reserve{ExpectedVersion: 2, Deadline: time.Now().Add(time.Second),
		Holds: []inventory.HoldRequest{{Key: inventory.HoldKey{Order: "bug", Attempt: 1}, Lbs: 0}}})
	select {
	case <-e.Halted():
	case <-time.After(10 * time.Second):
		t.Fatal("the engine did not halt")
	}
	require.EqualValues(t, 1, e.Failures())
	require.ErrorIs(t, e.Err(), ErrUnavailable)
	require.ErrorIs(t, e.Err(), ErrHalted)
	require.ErrorContains(t, e.Err(), "hold")

	_, _, err := e.PlaceOrder(order("after", 100))
	require.ErrorIs(t, err, ErrUnavailable, "a halted engine takes no writes")
	_, err = e.AdjustPallet("P1", inventory.Lbs(1), "count_correction")
	require.ErrorIs(t, err, ErrUnavailable)
	p, err := e.Pallet("P1")
	require.NoError(t, err, "reads still serve the last durable state")
	assert.Equal(t, inventory.Lbs(900), p.OnHand)
}

func TestACoordinatorThatPanicsHaltsAndReleasesWaiters(t *testing.T) {
	e := haltedEngine(t, testConfig(1))
	receive(t, e, pallet("P1", 1000, 5), pallet("P2", 1000, 6))
	// P2's actor is gone, so an order that needs it waits out reply
	// timeouts: it is in flight when the coordinator breaks.
	require.NoError(t, e.system.Root.StopFuture(e.palletPID("P2")).Wait())
	o, _, err := e.PlaceOrder(order("hit", 1500))
	require.NoError(t, err)

	e.plantBrokenInvariant(inventory.DefaultSKU, "P1")
	_, err = e.Wait(context.Background(), o.Request.ID)
	require.ErrorIs(t, err, ErrHalted, "a waiter is told the engine halted, not left hanging")
	require.ErrorContains(t, e.Err(), "journaled")
	got, err := e.Order(o.Request.ID)
	require.NoError(t, err)
	assert.False(t, got.Status.Terminal(), "nothing the halted coordinator did is shown")
	p, _ := e.Pallet("P1")
	assert.Equal(t, inventory.Lbs(1000), p.OnHand, "nor the planted change")
}

// TestAPanicMidHistoryRecoversFromTheJournal plants a broken invariant in
// a coordinator at a seeded moment of a journaled history with chaos on
// (it panics mid-message, its view already changed):
// the engine halts, and a new engine recovers from the journal with every
// acknowledged order there and terminal, every acknowledged adjustment in
// its ledger and the books balanced.
func TestAPanicMidHistoryRecoversFromTheJournal(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := seeded(t, seed)
			j := openJournal(t, vfs.NewMem())
			cfg := testConfig(seed)
			cfg.Chaos = ChaosConfig{Interval: time.Millisecond, DeltaMax: inventory.Lbs(30), Targets: 3, SKU: "pork"}
			cfg.Journal = j
			e := haltedEngine(t, cfg)
			_, err := e.Recover()
			require.NoError(t, err)
			now := time.Now().UTC().Truncate(time.Hour)
			var specs []inventory.PalletSpec
			for i := range 20 {
				specs = append(specs, randomPallet(rng, fmt.Sprintf("P-%03d", i), now))
			}
			receive(t, e, specs...)
			plantAfter := 1 + rng.IntN(400) // operations into the history

			var mu sync.Mutex
			acked := map[string]inventory.OrderRequest{}
			adjusted := map[string][]int64{}
			var wg sync.WaitGroup
			for w := range 4 {
				wrng := rand.New(rand.NewPCG(seed, uint64(w)))
				wg.Go(func() {
					for i := range 5_000 { // the planted break halts the engine long before
						if w == 0 && i == plantAfter {
							e.plantBrokenInvariant("pork", specs[wrng.IntN(len(specs))].ID)
						}
						if wrng.IntN(5) == 0 {
							id := specs[wrng.IntN(len(specs))].ID
							s, err := e.AdjustPallet(id, inventory.CentiLbs(1+wrng.Int64N(2_000)), "count_correction")
							if errors.Is(err, ErrUnavailable) {
								return
							}
							if assert.NoError(t, err) {
								mu.Lock()
								adjusted[id] = append(adjusted[id], s.Version)
								mu.Unlock()
							}
							continue
						}
						req := inventory.OrderRequest{ID: fmt.Sprintf("o-%d-%d", w, i), Customer: "c", SKU: skus[wrng.IntN(len(skus))], Amount: inventory.CentiLbs(1 + wrng.Int64N(60_000))}
						if _, _, err := e.PlaceOrder(req); err != nil {
							assert.ErrorIs(t, err, ErrUnavailable)
							return
						}
						mu.Lock()
						acked[req.ID] = req
						mu.Unlock()
					}
				})
			}
			wg.Wait() // every worker stops at the halt
			require.ErrorIs(t, e.Close(context.Background()), ErrHalted)
			t.Logf("halted with %d orders and %d adjustments acknowledged", len(acked), len(adjusted))

			e2, _ := recoverEngine(t, testConfig(seed), j)
			e2.waitIdle()
			require.Len(t, allOrders(t, e2), len(acked), "the journal holds exactly the acknowledged orders")
			for id, req := range acked {
				o, err := e2.Order(id)
				require.NoError(t, err, "order %s was acknowledged and is lost", id)
				require.True(t, o.Request.SameAs(req))
				require.True(t, o.Status.Terminal(), "order %s is %s", id, o.Status)
			}
			for id, versions := range adjusted {
				entries, err := fullLedger(e2, id)
				require.NoError(t, err)
				for _, v := range versions {
					require.True(t, hasAdjustment(entries, v), "pallet %s: acknowledged adjustment at v%d lost", id, v)
				}
			}
			require.NoError(t, e2.quiesce())
			checkConserved(t, e2)
		})
	}
}
func TestConcurrentCancelsOfAnAllocatedOrder(t *testing.T) {
	e, rec := engineWithRecorder(t)
	receive(t, e, pallet("P1", 1000, 5))
	var reqs []inventory.OrderRequest
	for round := range 100 {
		req := order(fmt.Sprintf("o%d", round), 500)
		reqs = append(reqs, req)
		place(t, e, req)
		var wg sync.WaitGroup
		type result struct {
			o   inventory.Order
			err error
		}
		results := make([]result, 2)
		for i := range results {
			wg.Go(func() { o, err := e.CancelOrder(req.ID); results[i] = result{o, err} })
		}
		wg.Wait()
		ok := 0
		for _, r := range results {
			if r.err == nil {
				ok++
				continue
			}
			// A cancel may only be refused once the order has ended: never
			// while its return is still under way.
			require.ErrorIs(t, r.err, ErrNotCancellable)
			require.Equal(t, inventory.StatusCancelled, r.o.Status, "round %d: refused while the order was still %s", round, r.o.Status)
		}
		require.GreaterOrEqual(t, ok, 1)
		p, _ := e.Pallet("P1")
		require.Equal(t, inventory.Lbs(1000), p.OnHand, "round %d: returned exactly once", round)
	}
	replayed(t, e, rec, reqs...)
}

func TestMadeUpSKUsSpawnNothing(t *testing.T) {
	e, _ := engineWithRecorder(t)
	receive(t, e, pallet("P1", 1000, 5))
	for i := range 100 {
		o, created, err := e.PlaceOrder(inventory.OrderRequest{ID: fmt.Sprintf("x%d", i), Customer: "c", SKU: fmt.Sprintf("sku-%d", i), Amount: 1})
		require.NoError(t, err)
		assert.True(t, created)
		assert.Equal(t, inventory.StatusQueued, o.Status, "accepted like any order")
	}
	for i := range 100 {
		o := wait(t, e, fmt.Sprintf("x%d", i))
		assert.Equal(t, inventory.StatusRejected, o.Status)
		assert.Equal(t, inventory.ReasonNoEligibleStock, o.Reason)
	}
	e.coordMu.Lock()
	defer e.coordMu.Unlock()
	assert.Len(t, e.coordinators, 1, "only a receipt starts a coordinator")
}

func TestAFloodOfMadeUpSKUsMeetsTheIntakeLimit(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		cfg := testConfig(1)
		cfg.IntakeCapacity, cfg.OrdersInFlightMax, cfg.ProcessDelay = 3, 1, time.Second
		e := startEngine(t, cfg)
		accepted := 0
		var err error
		for i := 0; err == nil; i++ {
			require.Less(t, i, 10, "the intake never filled")
			if _, _, err = e.PlaceOrder(inventory.OrderRequest{ID: fmt.Sprintf("x%d", i), Customer: "c", SKU: fmt.Sprintf("sku-%d", i), Amount: 1}); err == nil {
				accepted++
			}
			synctest.Wait() // the draining stage holds one order at a time for a second
		}
		require.ErrorIs(t, err, ErrIntakeFull, "made-up SKUs count against the intake like any order")
		assert.Equal(t, 4, accepted, "one in the draining stage, three in the intake")
		for i := range accepted {
			assert.Equal(t, inventory.ReasonNoEligibleStock, wait(t, e, fmt.Sprintf("x%d", i)).Reason)
		}
	})
}
