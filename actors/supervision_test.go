package actors

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/inventory"
)

func TestAPalletThatPanicsResumesWithItsState(t *testing.T) {
	e, err := New(testConfig(1))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close(context.Background())) })
	receive(t, e, pallet("P1", 1000, 5))
	place(t, e, order("before", 100))

	// A hold of zero pounds is a programmer error: the pallet asserts.
	bad := newProbe(t, e)
	bad.request(e, e.palletPID("P1"), &Reserve{ExpectedVersion: 2, Deadline: time.Now().Add(time.Second),
		Holds: []inventory.HoldRequest{{Key: inventory.HoldKey{Order: "bug", Attempt: 1}, Lbs: 0}}})
	require.Eventually(t, func() bool { return e.Failures() == 1 }, 10*time.Second, time.Millisecond, "the panic is seen by the supervisor")

	o := place(t, e, order("after", 100))
	assert.Equal(t, inventory.StatusAllocated, o.Status, "the resumed pallet still serves")
	p, _ := e.Pallet("P1")
	assert.Equal(t, inventory.Lbs(800), p.OnHand, "and kept its weight")
	assert.Equal(t, p.OnHand, ledgerSum(t, e, "P1"), "and its ledger")
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
	synctest.Test(t, func(t *testing.T) {
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

func TestACoordinatorThatPanicsKeepsItsPallets(t *testing.T) {
	e, err := New(testConfig(1))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close(context.Background())) })
	receive(t, e, pallet("P1", 1000, 5), pallet("P2", 1000, 6))
	e.onceBeforeConfirm(func([]string) { panic("a bug inside the coordinator") })

	o, _, err := e.PlaceOrder(order("hit", 100))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return e.Failures() == 1 }, 10*time.Second, time.Millisecond)
	// The message that panicked is dropped; the batch's own reply timeout
	// gets the order moving again, so it still ends.
	assert.True(t, wait(t, e, o.Request.ID).Status.Terminal())

	// The pallets survived the coordinator's failure and still answer.
	p, err := e.AdjustPallet("P1", inventory.Lbs(1), "count_correction")
	require.NoError(t, err)
	assert.Equal(t, inventory.Lbs(901), p.OnHand, "1,000 lb, less the 100 lb order, plus the adjustment")
}
