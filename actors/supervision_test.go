package actors

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/inventory"
)

func TestAPalletThatPanicsIsRestartedWithItsState(t *testing.T) {
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
	assert.Equal(t, inventory.StatusAllocated, o.Status, "the restarted pallet still serves")
	p, _ := e.Pallet("P1")
	assert.Equal(t, inventory.Lbs(800), p.OnHand, "and kept its weight")
	assert.Equal(t, p.OnHand, ledgerSum(t, e, "P1"), "and its ledger")
}

func TestConcurrentCancelsOfAnAllocatedOrderBothSucceed(t *testing.T) {
	e, rec := engineWithRecorder(t)
	receive(t, e, pallet("P1", 1000, 5))
	req := order("o1", 500)
	place(t, e, req)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { _, errs[i] = e.CancelOrder("o1") })
	}
	wg.Wait()
	assert.NoError(t, errs[0])
	assert.NoError(t, errs[1], "a cancel that arrives while the return is under way waits for it")
	p, _ := e.Pallet("P1")
	assert.Equal(t, inventory.Lbs(1000), p.OnHand, "returned once")
	replayed(t, e, rec, req)
}

func TestMadeUpSKUsSpawnNothing(t *testing.T) {
	e, _ := engineWithRecorder(t)
	receive(t, e, pallet("P1", 1000, 5))
	for i := range 100 {
		o, created, err := e.PlaceOrder(inventory.OrderRequest{ID: fmt.Sprintf("x%d", i), Customer: "c", SKU: fmt.Sprintf("sku-%d", i), Amount: 1})
		require.NoError(t, err)
		assert.True(t, created)
		assert.Equal(t, inventory.StatusRejected, o.Status)
		assert.Equal(t, inventory.ReasonNoEligibleStock, o.Reason)
	}
	e.coordMu.Lock()
	defer e.coordMu.Unlock()
	assert.Len(t, e.coordinators, 1, "only a receipt starts a coordinator")
}
