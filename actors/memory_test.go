package actors

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/inventory"
)

// inMemory counts the order records the engine holds.
func (e *Engine) inMemory() int {
	n := 0
	for i := range e.orders.shards {
		s := &e.orders.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// Memory holds what is in flight: an order that ended leaves it, and is
// read back from the journal exactly as it ended — also after a restart —
// while its id stays taken for good.
func TestAnOrderThatEndedLeavesMemory(t *testing.T) {
	j := openJournal(t, vfs.NewMem())
	e, _ := recoverEngine(t, testConfig(1), j)
	receive(t, e, pallet("P1", 1000, 5), pallet("P2", 1000, 6))
	var ended []inventory.Order
	for i := range 50 {
		ended = append(ended, place(t, e, order(fmt.Sprintf("o%d", i), 30)))
	}
	ended = append(ended, place(t, e, order("too-big", 5000)))
	e.waitIdle()
	require.Zero(t, e.inMemory(), "no order that ended stays in memory")
	for _, want := range ended {
		got, err := e.Order(want.Request.ID)
		require.NoError(t, err)
		require.Equal(t, want, got, "read back from the journal exactly as it ended")
	}

	t.Run("its id stays taken", func(t *testing.T) {
		again, created, err := e.PlaceOrder(order("o7", 30))
		require.NoError(t, err)
		assert.False(t, created, "the same request again answers with the order, never a second allocation")
		assert.Equal(t, ended[7], again)
		different := order("o7", 31)
		_, _, err = e.PlaceOrder(different)
		assert.ErrorIs(t, err, ErrOrderConflict)
		var onHand inventory.CentiLbs
		for _, p := range allPallets(t, e) {
			onHand += p.OnHand
		}
		assert.Equal(t, inventory.Lbs(2000-50*30), onHand, "allocated once")
	})

	t.Run("a cancel gives its weight back exactly, to a pallet that had retired", func(t *testing.T) {
		e.waitIdle()
		before, err := e.Pallet("P1")
		require.NoError(t, err)
		require.Zero(t, before.OnHand, "P1 was emptied")
		o, err := e.CancelOrder("o3")
		require.NoError(t, err)
		assert.Equal(t, inventory.StatusCancelled, o.Status)
		after, err := e.Pallet("P1")
		require.NoError(t, err)
		assert.Equal(t, inventory.Lbs(30), after.OnHand, "back on the floor with o3's 30 lb")
		_, err = e.CancelOrder("o3")
		assert.ErrorIs(t, err, ErrNotCancellable, "and only once")
		got, err := e.Order("o3")
		require.NoError(t, err)
		assert.Equal(t, inventory.StatusCancelled, got.Status)
	})

	require.NoError(t, e.quiesce())
	checkConserved(t, e)
	checkRecovers(t, e, j)
}
