package actors

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/inventory"
)

// TestALotHoldTakesEffectAtOnce holds a lot in the middle of a stream of
// orders racing for it, with chaos every millisecond on the same pallets,
// and checks each pallet's ledger: after the hold's entry there is no
// allocation on it, until the release; a recall then is final, and a
// write-off takes what is on hand off the books, the ledger summing to the
// weight throughout. Seeded; run more with -count.
func TestALotHoldTakesEffectAtOnce(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runLotHold(t, seed) })
	}
}

func runLotHold(t *testing.T, seed uint64) {
	rng := seeded(t, seed)
	cfg := testConfig(seed)
	cfg.Chaos = ChaosConfig{Interval: time.Millisecond, DeltaMax: inventory.Lbs(5), Targets: 3, SKU: inventory.DefaultSKU}
	e := startEngine(t, cfg)
	var specs []inventory.PalletSpec
	for i := range 12 {
		s := pallet(fmt.Sprintf("P-%02d", i), 4000, float64(3+i)) // enough that orders and strikes never empty one
		if i%3 != 2 {                                             // the earliest-expiring pallets, mostly: where orders go
			s.Lot = "HOT"
		}
		specs = append(specs, s)
	}
	receive(t, e, specs...)

	// Four clients place small orders until told to stop; the hold comes
	// after a seeded number of them, and the stop after as many more.
	var (
		wg      sync.WaitGroup
		placed  atomic.Int64
		stop    = make(chan struct{})
		reached = make(chan struct{}, 1)
		target  atomic.Int64
	)
	target.Store(int64(20 + rng.IntN(60)))
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := placeAndWait(e, order(fmt.Sprintf("o-%d-%d", w, i), 1+int64(i%2))); err != nil {
					t.Errorf("order: %v", err)
					return
				}
				if placed.Add(1) == target.Load() {
					reached <- struct{}{}
				}
			}
		})
	}
	<-reached
	held, err := e.SetLotStatus("HOT", inventory.StatusOnHold, "lab test", "swab 17")
	require.NoError(t, err)
	assert.Equal(t, "on_hold", held.Status())
	target.Store(placed.Load() + int64(20+rng.IntN(60)))
	<-reached
	close(stop)
	wg.Wait()

	lot, err := e.Lot("HOT")
	require.NoError(t, err)
	require.Len(t, lot.Pallets, 8)
	for _, p := range lot.Pallets {
		assert.Zero(t, p.Available(), "pallet %s on hold shows nothing available", p.Spec.ID)
		ledger := ledgerOf(t, e, p.Spec.ID)
		heldAt := int64(0)
		for _, l := range ledger {
			switch {
			case l.Kind == inventory.LedgerHeld:
				heldAt = l.Version
				assert.Equal(t, inventory.StatusOnHold, l.Status)
				assert.Equal(t, "swab 17", l.Note)
			case l.Kind == inventory.LedgerAllocated && heldAt > 0:
				t.Errorf("pallet %s: order %s allocated at v%d after the hold at v%d", p.Spec.ID, l.OrderID, l.Version, heldAt)
			}
		}
		assert.NotZero(t, heldAt, "pallet %s has a held entry", p.Spec.ID)
	}

	released, err := e.SetLotStatus("HOT", inventory.StatusAvailable, "cleared", "")
	require.NoError(t, err)
	assert.Equal(t, "available", released.Status())
	o := place(t, e, order("after-release", 1))
	require.Equal(t, inventory.StatusAllocated, o.Status)
	if !assert.Equal(t, "HOT", mustPallet(t, e, o.Allocations[0].PalletID).Spec.Lot, "the lot expires first and is allocated again") {
		t.Logf("order %+v", o)
		for _, id := range []string{"P-00", "P-01", "P-02"} {
			l := ledgerOf(t, e, id)
			t.Logf("%s %+v last %+v", id, mustPallet(t, e, id), l[max(0, len(l)-3):])
		}
	}

	_, err = e.SetLotStatus("HOT", inventory.StatusRecalled, "supplier recall", "")
	require.NoError(t, err)
	_, err = e.SetLotStatus("HOT", inventory.StatusAvailable, "", "")
	require.NoError(t, err, "a lot's recalled pallets stay recalled")
	lot, err = e.Lot("HOT")
	require.NoError(t, err)
	assert.Equal(t, "recalled", lot.Status())
	_, err = e.SetPalletStatus(lot.Pallets[0].Spec.ID, inventory.StatusAvailable, "", "")
	assert.ErrorIs(t, err, inventory.ErrFinal)

	for _, p := range lot.Pallets {
		w, err := e.WriteOffPallet(p.Spec.ID, "recalled", "")
		require.NoError(t, err)
		assert.Zero(t, w.OnHand)
		assert.Equal(t, inventory.StatusWrittenOff, w.Status)
		var sum inventory.CentiLbs
		for _, l := range ledgerOf(t, e, p.Spec.ID) {
			sum += l.Lbs
		}
		assert.Zero(t, sum, "pallet %s: the ledger sums to the written-off weight", p.Spec.ID)
	}
	o = place(t, e, order("after-recall", 1))
	require.Equal(t, inventory.StatusAllocated, o.Status)
	assert.NotEqual(t, "HOT", mustPallet(t, e, o.Allocations[0].PalletID).Spec.Lot)
}

func ledgerOf(t *testing.T, e *Engine, id string) []inventory.LedgerEntry {
	t.Helper()
	l, err := fullLedger(e, id)
	require.NoError(t, err)
	return l
}

func mustPallet(t *testing.T, e *Engine, id string) inventory.PalletState {
	t.Helper()
	s, err := e.Pallet(id)
	require.NoError(t, err)
	return s
}

// TestALotHasOneSKU: a receipt that would mix SKUs in a lot is refused,
// whole, whether the lot's first pallets came earlier or in the same
// receipt.
func TestALotHasOneSKU(t *testing.T) {
	e := startEngine(t, testConfig(1))
	a := pallet("A", 10, 5)
	a.Lot = "L"
	receive(t, e, a)
	b := pallet("B", 10, 5)
	b.Lot, b.SKU = "L", "beef"
	_, err := e.ReceivePallets([]inventory.PalletSpec{b})
	require.ErrorIs(t, err, inventory.ErrInvalid)
	c, d := pallet("C", 10, 5), pallet("D", 10, 5)
	c.Lot, d.Lot, d.SKU = "M", "M", "beef"
	_, err = e.ReceivePallets([]inventory.PalletSpec{c, d})
	require.ErrorIs(t, err, inventory.ErrInvalid)
	_, err = e.Pallet("C")
	require.ErrorIs(t, err, ErrNotFound, "nothing of a refused receipt is received")
	b.SKU = inventory.DefaultSKU
	receive(t, e, b)
}

// TestExpiryBuckets: a day is 24 hours from the instant asked about,
// buckets are [from, to), the last open-ended, every bucket listed; held
// weight is in the weight but not available; expired weight is apart;
// written-off and empty pallets do not count.
func TestExpiryBuckets(t *testing.T) {
	e := startEngine(t, testConfig(1))
	receive(t, e,
		pallet("A", 10, 1), // 1 day from testNow
		pallet("B", 20, 3), // exactly 3 days: the [3, 7) bucket
		pallet("C", 40, 2.99),
		pallet("D", 80, 40),
		pallet("E", 160, 5), // written off below
		pallet("F", 320, 8),
	)
	_, err := e.SetPalletStatus("F", inventory.StatusOnHold, "lab", "")
	require.NoError(t, err)
	_, err = e.WriteOffPallet("E", "damaged", "")
	require.NoError(t, err)
	b, expired := e.Expiry("", []int{0, 3, 7, 30}, testNow)
	require.Len(t, b, 4)
	type got struct {
		from, to      int
		weight, avail inventory.CentiLbs
		pallets       int
	}
	var all []got
	for _, x := range b {
		all = append(all, got{x.From, x.To, x.Weight, x.Available, x.Pallets})
	}
	assert.Equal(t, []got{
		{0, 3, inventory.Lbs(50), inventory.Lbs(50), 2},
		{3, 7, inventory.Lbs(20), inventory.Lbs(20), 1},
		{7, 30, inventory.Lbs(320), 0, 1},
		{30, 0, inventory.Lbs(80), inventory.Lbs(80), 1},
	}, all)
	assert.Zero(t, expired)
	_, expired = e.Expiry("", []int{0}, testNow.Add(3*day+time.Minute))
	assert.Equal(t, inventory.Lbs(70), expired, "A, B and C have expired by then")
	b, _ = e.Expiry("beef", []int{0, 7}, testNow)
	require.Len(t, b, 2, "a SKU asked for is listed, empty")
	assert.Zero(t, b[0].Weight)
}
