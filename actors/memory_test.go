package actors

import (
	"fmt"
	"testing"
	"time"

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

// palletActors counts the pallets on the floor that have an actor.
func (e *Engine) palletActors() int {
	e.pallets.mu.RLock()
	defer e.pallets.mu.RUnlock()
	n := 0
	for _, en := range e.pallets.byID {
		if en.pid.Load() != nil {
			n++
		}
	}
	return n
}

// hasActor reports whether a pallet on the floor has an actor.
func (e *Engine) hasActor(id string) bool {
	en, ok := e.pallets.entry(id)
	return ok && en.pid.Load() != nil
}

// An idle pallet is its books, its place in the FEFO view and its registry
// entry; it gets an actor only when something is sent to it — a
// reservation, an operator's adjustment, a chaos strike — and keeps it
// until it retires. Nothing it shows depends on which.
func TestAnIdlePalletHasNoActorUntilItIsNeeded(t *testing.T) {
	j := openJournal(t, vfs.NewMem())
	cfg := testConfig(1)
	cfg.Chaos = ChaosConfig{Interval: time.Millisecond, DeltaMax: inventory.Lbs(1), Targets: 1, SKU: inventory.DefaultSKU}
	e, _ := recoverEngine(t, cfg, j)
	var specs []inventory.PalletSpec
	for i := range 100 {
		specs = append(specs, pallet(fmt.Sprintf("P%03d", i), 100, float64(5+i)))
	}
	receive(t, e, specs...)

	// Chaos strikes the head pallet: the first strike finds it without an
	// actor and goes through its coordinator, which starts one.
	require.Eventually(t, func() bool {
		p, err := e.Pallet("P000")
		return err == nil && p.Version > 1
	}, 30*time.Second, time.Millisecond, "chaos strikes a pallet that had no actor")
	require.NoError(t, e.quiesce()) // chaos stops
	require.Equal(t, 1, e.palletActors(), "only the pallet chaos struck has an actor")

	// An order of 150 lb takes P000 and part of P001: a second actor.
	o := place(t, e, order("o1", 150))
	require.Equal(t, inventory.StatusAllocated, o.Status)
	assert.Equal(t, []string{"P000", "P001"}, allocIDs(o))
	assert.True(t, e.hasActor("P001"))
	assert.False(t, e.hasActor("P002"))

	// An operator's adjustment to a pallet deep in the list starts its actor.
	require.False(t, e.hasActor("P077"))
	_, err := e.AdjustPallet("P077", inventory.Lbs(-7), "count_correction")
	require.NoError(t, err)
	assert.True(t, e.hasActor("P077"))
	assert.LessOrEqual(t, e.palletActors(), 3, "P000 (until it retires), P001 and P077")
	p77, err := e.Pallet("P077")
	require.NoError(t, err)
	assert.Equal(t, inventory.Lbs(93), p77.OnHand)
	assert.EqualValues(t, 2, p77.Version)

	require.NoError(t, e.quiesce())
	checkConserved(t, e)
	checkRecovers(t, e, j)
}
