package actors

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/actors/alloc/oracle"
	"github.com/baconator/baconator/inventory"
)

// replayed checks a test's whole event history against the sequential
// model, so every scenario below is also held to serial-equivalent FEFO.
func replayed(t *testing.T, e *Engine, rec *recorder, reqs ...inventory.OrderRequest) *oracle.Model {
	t.Helper()
	require.NoError(t, e.quiesce())
	byID := map[string]inventory.OrderRequest{}
	for _, r := range reqs {
		if r.SKU == "" {
			r.SKU = inventory.DefaultSKU
		}
		byID[r.ID] = r
	}
	m := oracle.New(byID)
	for i, ev := range rec.all() {
		require.NoError(t, m.Apply(ev), "event %d: %+v", i, ev)
	}
	checkAgainstModel(t, e, m)
	return m
}

func engineWithRecorder(t *testing.T) (*Engine, *recorder) {
	rec := &recorder{}
	cfg := testConfig(1)
	cfg.Recorder = rec
	return startEngine(t, cfg), rec
}

// The phase windows — a strike between planning and reserve, or between
// reserve and confirm — are staged exactly, message by message, on the
// state machine itself: actors/alloc/testdata/*.txt. The tests here check
// the same protocol through real actors, under real concurrency.

func TestLastFiftyPoundsExactlyOneWins(t *testing.T) {
	rng := seeded(t, 50)
	e, rec := engineWithRecorder(t)
	const rounds = 200
	var reqs []inventory.OrderRequest
	for round := range rounds {
		sku := fmt.Sprintf("round-%d", round)
		spec := pallet(fmt.Sprintf("P-%d", round), 50, 5)
		spec.SKU = sku
		receive(t, e, spec)
		a := inventory.OrderRequest{ID: fmt.Sprintf("a-%d", round), Customer: "A", SKU: sku, Amount: inventory.Lbs(50)}
		b := inventory.OrderRequest{ID: fmt.Sprintf("b-%d", round), Customer: "B", SKU: sku, Amount: inventory.Lbs(50)}
		if rng.IntN(2) == 0 {
			a, b = b, a
		}
		reqs = append(reqs, a, b)
		var wg sync.WaitGroup
		results := make([]inventory.Order, 2)
		for i, req := range []inventory.OrderRequest{a, b} {
			wg.Go(func() {
				var err error
				results[i], err = placeAndWait(e, req)
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		won := 0
		for _, o := range results {
			if o.Status == inventory.StatusAllocated {
				won++
			} else {
				assert.Equal(t, inventory.ReasonInsufficientStock, o.Reason)
			}
		}
		require.Equal(t, 1, won, "round %d: exactly one order gets the last 50 lb", round)
	}
	replayed(t, e, rec, reqs...)
}

func TestFEFOThroughTheEngine(t *testing.T) {
	e, rec := engineWithRecorder(t)
	tie := pallet("T-B", 100, 5)
	tieEarlierReceipt := pallet("T-Z", 100, 5)
	tieEarlierReceipt.Received = tie.Received.Add(-day)
	tieLowerID := pallet("T-A", 100, 5)
	receive(t, e, pallet("late", 100, 25), tie, tieLowerID, tieEarlierReceipt, pallet("mid", 100, 8))

	first := order("first", 250)
	o := place(t, e, first)
	assert.Equal(t, []string{"T-Z", "T-A", "T-B"}, allocIDs(o), "expiration, then received time, then id")
	assert.Equal(t, inventory.Lbs(50), o.Allocations[2].Lbs)

	fresh := order("fresh", 100)
	fresh.MinShelfLifeDays = 10
	o = place(t, e, fresh)
	assert.Equal(t, []string{"late"}, allocIDs(o), "minimum shelf life skips pallets expiring too soon")

	tooFresh := order("too-fresh", 1)
	tooFresh.MinShelfLifeDays = 30
	o = place(t, e, tooFresh)
	assert.Equal(t, inventory.StatusRejected, o.Status)
	assert.Equal(t, inventory.ReasonNoEligibleStock, o.Reason)

	tooBig := order("too-big", 1000)
	o = place(t, e, tooBig)
	assert.Equal(t, inventory.ReasonInsufficientStock, o.Reason)

	otherSKU := inventory.OrderRequest{ID: "beef", Customer: "c", SKU: "beef", Amount: 1}
	o = place(t, e, otherSKU)
	assert.Equal(t, inventory.ReasonNoEligibleStock, o.Reason, "a SKU nobody stocks")
	replayed(t, e, rec, first, fresh, tooFresh, tooBig, otherSKU)
}

func TestCancel(t *testing.T) {
	t.Run("an allocated order returns its weight", func(t *testing.T) {
		e, rec := engineWithRecorder(t)
		receive(t, e, pallet("P1", 1000, 5), pallet("P2", 1000, 6))
		req := order("o1", 1500)
		place(t, e, req)
		o, err := e.CancelOrder("o1")
		require.NoError(t, err)
		assert.Equal(t, inventory.StatusCancelled, o.Status)
		assert.Empty(t, o.Allocations)
		for _, id := range []string{"P1", "P2"} {
			p, err := e.Pallet(id)
			require.NoError(t, err)
			assert.Equal(t, inventory.Lbs(1000), p.OnHand)
			assert.EqualValues(t, 3, p.Version, "received, allocated, returned")
			entries, err := fullLedger(e, id)
			require.NoError(t, err)
			assert.Equal(t, inventory.LedgerReturned, entries[len(entries)-1].Kind)
			assert.Equal(t, "o1", entries[len(entries)-1].OrderID)
		}
		_, err = e.CancelOrder("o1")
		assert.ErrorIs(t, err, ErrNotCancellable, "a cancelled order cannot be cancelled again")
		replayed(t, e, rec, req)
	})

	t.Run("a rejected order cannot be cancelled", func(t *testing.T) {
		e, _ := engineWithRecorder(t)
		place(t, e, order("o1", 10))
		_, err := e.CancelOrder("o1")
		assert.ErrorIs(t, err, ErrNotCancellable)
		_, err = e.CancelOrder("nope")
		assert.ErrorIs(t, err, ErrNotFound)
	})
}

func TestIdempotentPlacement(t *testing.T) {
	e, rec := engineWithRecorder(t)
	receive(t, e, pallet("P1", 1000, 5))
	req := order("dup", 100)

	var wg sync.WaitGroup
	created := make(chan bool, 20)
	for range 20 {
		wg.Go(func() {
			_, isNew, err := e.PlaceOrder(req)
			assert.NoError(t, err)
			created <- isNew
		})
	}
	wg.Wait()
	close(created)
	n := 0
	for c := range created {
		if c {
			n++
		}
	}
	assert.Equal(t, 1, n, "20 copies at once make one order")
	o := wait(t, e, "dup")
	assert.Equal(t, inventory.StatusAllocated, o.Status)

	_, isNew, err := e.PlaceOrder(req)
	require.NoError(t, err)
	assert.False(t, isNew)
	different := req
	different.Amount++
	_, _, err = e.PlaceOrder(different)
	assert.ErrorIs(t, err, ErrOrderConflict)

	p, err := e.Pallet("P1")
	require.NoError(t, err)
	assert.Equal(t, inventory.Lbs(900), p.OnHand, "allocated once")
	replayed(t, e, rec, req)
}

func TestBadInputChangesNothing(t *testing.T) {
	e, _ := engineWithRecorder(t)
	receive(t, e, pallet("P1", 1000, 5))
	for name, req := range map[string]inventory.OrderRequest{
		"zero amount":     {ID: "z", Customer: "c", Amount: 0},
		"negative amount": {ID: "n", Customer: "c", Amount: -1},
		"absurd amount":   {ID: "a", Customer: "c", Amount: inventory.WeightMaxCentiLbs + 1},
		"no customer":     {ID: "c", Amount: 1},
		"negative shelf":  {ID: "s", Customer: "c", Amount: 1, MinShelfLifeDays: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := e.PlaceOrder(req)
			assert.ErrorIs(t, err, inventory.ErrInvalid)
			_, err = e.Order(req.ID)
			assert.ErrorIs(t, err, ErrNotFound, "a refused order is not recorded")
		})
	}
	_, err := e.ReceivePallets([]inventory.PalletSpec{pallet("P1", 10, 5)})
	assert.ErrorIs(t, err, ErrDuplicatePallet)
	_, err = e.ReceivePallets([]inventory.PalletSpec{pallet("new", 10, 5), pallet("old", 10, -1)})
	assert.ErrorIs(t, err, inventory.ErrExpired)
	_, err = e.Pallet("new")
	assert.ErrorIs(t, err, ErrNotFound, "a refused receipt receives nothing")
	_, err = e.AdjustPallet("P1", -inventory.Lbs(1001), "damage")
	assert.ErrorIs(t, err, inventory.ErrBelowZero)
	p, _ := e.Pallet("P1")
	assert.EqualValues(t, 1, p.Version)
}
