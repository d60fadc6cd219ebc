package actors

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/actors/alloc/oracle"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// TestRandomHistoriesAreSerialFEFO drives seeded random concurrent
// histories — receipts, orders, cancels, adjustments, chaos every
// millisecond, small batches, mostly the default retry budget — and checks each
// against the sequential FEFO model: serial equivalence step by step,
// exact conservation, no negative weight, all-or-nothing, every order
// terminal, no hold left behind. Run more with -histories N, or one with
// -seed S.
func TestRandomHistoriesAreSerialFEFO(t *testing.T) {
	n := *historiesFlag
	if testing.Short() {
		n = 20
	}
	seeds := make([]uint64, 0, n)
	if *seedFlag != 0 {
		seeds = append(seeds, *seedFlag)
	}
	for i := 1; len(seeds) < n; i++ {
		seeds = append(seeds, uint64(i))
	}
	for _, seed := range seeds {
		if seed%5 == 0 { // one in five with a journal, checked to recover exactly
			t.Run(fmt.Sprintf("seed=%d/journaled", seed), func(t *testing.T) { runJournaledHistory(t, seed) })
			continue
		}
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runHistoryOn(t, seed, nil) })
	}
}

var skus = []string{"pork", "beef"}

func randomPallet(rng *rand.Rand, id string, now time.Time) inventory.PalletSpec {
	return inventory.PalletSpec{
		ID: id, SKU: skus[rng.IntN(len(skus))], Lot: "L-" + id, Supplier: fmt.Sprintf("Farm_%d", 1+rng.IntN(99)),
		Weight: inventory.CentiLbs(100 + rng.Int64N(100_000)),
		// Whole days and hours only, so expirations and receipts tie often
		// and the tie-breaks are exercised.
		Expires:  now.Add(time.Duration(1+rng.IntN(20))*day + time.Duration(rng.IntN(3))*time.Hour),
		Received: now.Add(-time.Duration(rng.IntN(3)) * time.Hour),
	}
}

// runHistoryOn runs one seeded history, with a journal if j is not nil,
// checks it against the sequential model and returns the quiet engine.
func runHistoryOn(t *testing.T, seed uint64, j *journal.Journal) *Engine {
	rng := seeded(t, seed)
	rec := &recorder{}
	cfg := testConfig(seed)
	cfg.Recorder = rec
	cfg.BatchOrdersMax = 1 + rng.IntN(32)
	// Most histories keep the default conflict budget; one in four runs on
	// a budget of 0 or 1 to exercise contention rejections too.
	if rng.IntN(4) == 0 {
		cfg.RetryAttemptsMax = rng.IntN(2)
	}
	cfg.Chaos = ChaosConfig{Interval: time.Millisecond, DeltaMax: inventory.Lbs(30), Targets: 3, SKU: "pork"}
	var e *Engine
	if j != nil {
		e, _ = recoverEngine(t, cfg, j)
	} else {
		e = startEngine(t, cfg)
	}

	now := time.Now().UTC().Truncate(time.Hour)
	var initial []inventory.PalletSpec
	for i := range 10 + rng.IntN(30) {
		initial = append(initial, randomPallet(rng, fmt.Sprintf("P-%03d", i), now))
	}
	receive(t, e, initial...)

	var (
		mu       sync.Mutex
		requests = map[string]inventory.OrderRequest{}
		placed   []string
		palletN  = len(initial)
	)
	const workers, opsPerWorker = 4, 30
	var wg sync.WaitGroup
	for w := range workers {
		wrng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			for i := range opsPerWorker {
				switch r := wrng.IntN(100); {
				case r < 60:
					req := inventory.OrderRequest{
						ID: fmt.Sprintf("o-%d-%d", w, i), Customer: "c", SKU: skus[wrng.IntN(len(skus))],
						Amount: inventory.CentiLbs(1 + wrng.Int64N(150_000)),
					}
					if wrng.IntN(4) == 0 {
						req.MinShelfLifeDays = wrng.IntN(20)
					}
					mu.Lock()
					requests[req.ID] = req
					mu.Unlock()
					_, _, err := e.PlaceOrder(req)
					assert.NoError(t, err)
					mu.Lock()
					placed = append(placed, req.ID)
					mu.Unlock()
				case r < 75:
					mu.Lock()
					if len(placed) == 0 {
						mu.Unlock()
						continue
					}
					id := placed[wrng.IntN(len(placed))]
					mu.Unlock()
					if _, err := e.CancelOrder(id); err != nil {
						assert.ErrorIs(t, err, ErrNotCancellable)
					}
				case r < 84:
					id := fmt.Sprintf("P-%03d", wrng.IntN(len(initial)))
					delta := inventory.CentiLbs(wrng.Int64N(40_000) - 20_000)
					if _, err := e.AdjustPallet(id, delta, "count_correction"); err != nil && !errors.Is(err, inventory.ErrBelowZero) {
						assert.NoError(t, err)
					}
				case r < 92:
					id := fmt.Sprintf("P-%03d", wrng.IntN(len(initial)))
					var err error
					switch to := []inventory.PalletStatus{inventory.StatusOnHold, inventory.StatusQuarantined, inventory.StatusAvailable,
						inventory.StatusAvailable, inventory.StatusRecalled, inventory.StatusWrittenOff}[wrng.IntN(6)]; to {
					case inventory.StatusWrittenOff:
						_, err = e.WriteOffPallet(id, "damaged", "")
					default:
						_, err = e.SetPalletStatus(id, to, "lab", "")
					}
					if err != nil && !errors.Is(err, inventory.ErrFinal) {
						assert.NoError(t, err)
					}
				default:
					mu.Lock()
					id := fmt.Sprintf("P-%03d", palletN)
					palletN++
					mu.Unlock()
					_, err := e.ReceivePallets([]inventory.PalletSpec{randomPallet(wrng, id, now)})
					assert.NoError(t, err)
				}
			}
		})
	}
	wg.Wait()
	for _, id := range placed {
		wait(t, e, id)
	}
	require.NoError(t, e.quiesce())

	m := oracle.New(requests)
	for i, ev := range rec.all() {
		if err := m.Apply(ev); err != nil {
			for j, e := range rec.all()[:i+1] {
				t.Logf("event %d: %T %+v", j, e, e)
			}
			require.NoError(t, err, "event %d: %+v", i, ev)
		}
	}
	checkAgainstModel(t, e, m)
	// Whatever the budget, an order is rejected for contention only once
	// its own reservations were refused more times than the budget allows:
	// never for other orders' conflicts (cut batches re-plan uncharged).
	// How often chaos every millisecond wins that race depends on the
	// machine's speed, so the count is not asserted, only the charge.
	for id := range requests {
		o, _ := e.Order(id)
		if o.Reason == inventory.ReasonContention {
			assert.Greater(t, o.Conflicts, cfg.RetryAttemptsMax,
				"order %s rejected for contention after %d conflicts of its own (budget %d)", id, o.Conflicts, cfg.RetryAttemptsMax)
		}
	}
	return e
}

// checkAgainstModel compares the engine's final state with the model's.
func checkAgainstModel(t *testing.T, e *Engine, m *oracle.Model) {
	t.Helper()
	for id := range m.Requests {
		o, err := e.Order(id)
		require.NoError(t, err)
		require.True(t, o.Status.Terminal(), "order %s is %s: not terminal", id, o.Status)
		assert.Equal(t, m.Status[id], o.Status, "order %s", id)
		var sum inventory.CentiLbs
		for _, a := range o.Allocations {
			assert.Equal(t, m.Holding[id][a.PalletID], a.Lbs, "order %s on %s", id, a.PalletID)
			sum += a.Lbs
		}
		if o.Status == inventory.StatusAllocated {
			assert.Equal(t, o.Request.Amount, sum, "order %s allocations must sum to its request", id)
		} else {
			assert.Zero(t, sum, "order %s ended %s holding weight", id, o.Status)
		}
	}
	states := allPallets(t, e)
	require.Len(t, states, len(m.Pallets))
	for _, s := range states {
		mp := m.Pallets[s.Spec.ID]
		require.NotNil(t, mp, s.Spec.ID)
		assert.Equal(t, mp.OnHand, s.OnHand, "pallet %s on hand", s.Spec.ID)
		if !assert.Equal(t, mp.Version, s.Version, "pallet %s version", s.Spec.ID) {
			l, _ := fullLedger(e, s.Spec.ID)
			t.Logf("ledger of %s: %+v", s.Spec.ID, l)
		}
		assert.Zero(t, s.Held, "pallet %s: a hold outlived its order", s.Spec.ID)
		assert.GreaterOrEqual(t, s.OnHand, inventory.CentiLbs(0))
		assert.Equal(t, s.OnHand, ledgerSum(t, e, s.Spec.ID), "pallet %s: ledger must sum to on hand", s.Spec.ID)
		assert.Equal(t, mp.Status, s.StatusOr(), "pallet %s status", s.Spec.ID)
	}
	checkLotTraces(t, e, states)
}

// checkLotTraces holds every lot's forward trace to the orders: what the
// trace says each order still has from the lot's pallets (shipped less
// returned) is what the order's own allocations say, and the lot's totals
// reconcile with its pallets' weights.
func checkLotTraces(t *testing.T, e *Engine, states []inventory.PalletState) {
	t.Helper()
	lots := map[string]bool{}
	for _, s := range states {
		lots[s.Spec.Lot] = true
	}
	for lot := range lots {
		tr, err := e.TraceLot(lot)
		require.NoError(t, err)
		var onHand inventory.CentiLbs
		pallets := map[string]bool{}
		for _, p := range tr.Lot.Pallets {
			onHand += p.OnHand
			pallets[p.Spec.ID] = true
		}
		tt := tr.Totals
		assert.Equal(t, onHand, tt.OnHand, "lot %s: totals' on hand is its pallets'", lot)
		assert.Equal(t, tt.OnHand, tt.Received+tt.Adjusted-tt.Allocated+tt.Returned+tt.WrittenOff, "lot %s: totals reconcile", lot)
		kept := map[string]inventory.CentiLbs{} // order/pallet -> shipped less returned
		for _, sh := range tr.Shipments {
			kept[sh.OrderID+"/"+sh.PalletID] += sh.Lbs - sh.ReturnedLbs
			o, err := e.Order(sh.OrderID)
			require.NoError(t, err)
			assert.Equal(t, o.Status, sh.OrderStatus, "lot %s: order %s's status", lot, sh.OrderID)
		}
		for key, lbs := range kept {
			id, pallet, _ := strings.Cut(key, "/")
			o, err := e.Order(id)
			require.NoError(t, err)
			var has inventory.CentiLbs
			for _, a := range o.Allocations {
				if a.PalletID == pallet {
					has += a.Lbs
				}
			}
			assert.Equal(t, has, lbs, "lot %s: order %s on %s: the trace and the order disagree", lot, id, pallet)
		}
		for _, o := range allOrders(t, e) {
			for _, a := range o.Allocations {
				if pallets[a.PalletID] {
					assert.Positive(t, kept[o.Request.ID+"/"+a.PalletID], "lot %s: order %s's allocation on %s is not in the trace", lot, o.Request.ID, a.PalletID)
				}
			}
		}
	}
}
