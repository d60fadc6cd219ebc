package actors

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// openJournal opens a journal on fs and closes it when the test ends
// (after the engines using it, which close first: cleanups run last-in,
// first-out).
func openJournal(t testing.TB, fs vfs.FS) *journal.Journal {
	t.Helper()
	j, err := journal.Open("data", journal.Options{FS: fs, Logger: debugLogger})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, j.Close()) })
	return j
}

// recoverEngine starts an engine on j and recovers it.
func recoverEngine(t testing.TB, cfg Config, j *journal.Journal) (*Engine, Recovery) {
	t.Helper()
	cfg.Journal = j
	e := startEngine(t, cfg)
	r, err := e.Recover()
	require.NoError(t, err)
	return e, r
}

// checkRecovers starts a second engine on a quiet engine's journal and
// requires it to recover exactly what the first one shows: every order,
// every pallet, every ledger line.
func checkRecovers(t *testing.T, e *Engine, j *journal.Journal) {
	t.Helper()
	e2, r := recoverEngine(t, testConfig(1), j)
	require.Zero(t, r.Redriven, "a quiet engine has no unfinished orders")
	require.ElementsMatch(t, allOrders(t, e), allOrders(t, e2))
	require.Equal(t, e.Inventory(""), e2.Inventory(""))
	require.Equal(t, allPallets(t, e), allPallets(t, e2))
	require.NoError(t, Verify(j), "the checkpoints and indexes agree with the record")
	for _, s := range allPallets(t, e) {
		want, err := fullLedger(e, s.Spec.ID)
		require.NoError(t, err)
		got, err := fullLedger(e2, s.Spec.ID)
		require.NoError(t, err)
		require.Equal(t, want, got, "ledger of %s", s.Spec.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e2.Close(ctx))
}

func TestAFreshJournalRecoversNothingAndTakesWrites(t *testing.T) {
	j := openJournal(t, vfs.NewMem())
	cfg := testConfig(1)
	cfg.Journal = j
	e := startEngine(t, cfg)
	_, _, err := e.PlaceOrder(order("early", 1))
	require.ErrorIs(t, err, ErrUnavailable, "no writes before recovery")
	r, err := e.Recover()
	require.NoError(t, err)
	require.Equal(t, Recovery{Took: r.Took}, r, "an empty journal holds nothing")
	receive(t, e, pallet("P1", 100, 5))
	require.Equal(t, inventory.StatusAllocated, place(t, e, order("o1", 40)).Status)
}

func TestRecoveryRebuildsWhatWasShown(t *testing.T) {
	fs := vfs.NewMem()
	j := openJournal(t, fs)
	e, _ := recoverEngine(t, testConfig(1), j)
	receive(t, e, pallet("P1", 100, 5), pallet("P2", 100, 6), pallet("P3", 100, 7))
	place(t, e, order("split", 150))   // P1 and half of P2
	place(t, e, order("kept", 30))     // rest of P2 eaten into
	place(t, e, order("too-big", 500)) // rejected
	_, err := e.CancelOrder("kept")    // returns its 30 lb
	require.NoError(t, err)
	_, err = e.AdjustPallet("P3", -inventory.CentiLbs(1250), "dropped box")
	require.NoError(t, err)
	require.NoError(t, e.quiesce())
	checkRecovers(t, e, j)
}

// A history with a journal is the same history: the journaled engine
// passes the sequential model, and what it journaled recovers exactly.
func runJournaledHistory(t *testing.T, seed uint64) {
	j := openJournal(t, vfs.NewMem())
	e := runHistoryOn(t, seed, j)
	checkRecovers(t, e, j)
}

// crashedMidOrder writes the journal a crash leaves behind while req was
// being allocated: the pallets received, req accepted, and heldLbs of it
// committed on the first pallet — its end never journaled.
func crashedMidOrder(t *testing.T, req inventory.OrderRequest, heldLbs int64, pallets ...inventory.PalletSpec) *journal.Journal {
	t.Helper()
	j := openJournal(t, vfs.NewMem())
	req.SKU, req.CreatedAt = inventory.DefaultSKU, testNow
	var b journal.Batch
	for _, p := range pallets {
		b.PutPallet(p)
	}
	o := inventory.Order{Request: req, Status: inventory.StatusQueued, AcceptedAt: testNow}
	b.PutOrder(o, "")
	require.NoError(t, j.Commit(&b))
	// Its first part commits: a ledger line, the pallet's checkpoint and the
	// order's snapshot, in one batch — as the engine writes them.
	b.Reset()
	p := pallets[0]
	b.AppendLedger(p.ID, 0, inventory.LedgerEntry{At: testNow, Kind: inventory.LedgerAllocated, Lbs: -inventory.Lbs(heldLbs), OrderID: req.ID, Version: 2})
	b.Checkpoint(journal.Checkpoint{Spec: p, OnHand: p.Weight - inventory.Lbs(heldLbs), Version: 2})
	o.Status = inventory.StatusAllocating
	o.Allocations = []inventory.Allocation{{PalletID: p.ID, Lot: p.Lot, Supplier: p.Supplier, Lbs: inventory.Lbs(heldLbs), Expires: p.Expires, Received: p.Received}}
	b.PutOrder(o, inventory.StatusQueued)
	require.NoError(t, j.Commit(&b))
	return j
}

// TestRecoveryRedrivesUnfinishedOrdersOnce builds the journal a crash
// leaves behind — an order accepted, part of it committed, the rest not —
// and recovers it: the order keeps its part and plans only the rest.
func TestRecoveryRedrivesUnfinishedOrdersOnce(t *testing.T) {
	req := order("half-done", 150)
	j := crashedMidOrder(t, req, 100, pallet("P1", 100, 5), pallet("P2", 100, 6))

	e, r := recoverEngine(t, testConfig(1), j)
	require.Equal(t, 1, r.Redriven)
	o := wait(t, e, req.ID)
	require.Equal(t, inventory.StatusAllocated, o.Status)
	require.Equal(t, []string{"P1", "P2"}, allocIDs(o))
	require.Equal(t, inventory.Lbs(100), o.Allocations[0].Lbs, "the committed part is kept, not taken again")
	require.Equal(t, inventory.Lbs(50), o.Allocations[1].Lbs)
	p, err := e.Pallet("P1")
	require.NoError(t, err)
	require.Zero(t, p.OnHand)
	require.NoError(t, e.quiesce())
	checkRecovers(t, e, j)
}

// A cancel of a recovered order that holds weight gives the weight back.
// Such an order must not wait in the draining stage (held there for 300 ms
// here), where a cancel would take it for one that never allocated.
func TestCancellingARecoveredOrderThatHoldsWeightReturnsIt(t *testing.T) {
	req := order("half-done", 150)
	j := crashedMidOrder(t, req, 100, pallet("P1", 100, 5), pallet("P2", 100, 6))

	cfg := testConfig(1)
	cfg.ProcessDelay = 300 * time.Millisecond
	e, _ := recoverEngine(t, cfg, j)
	o, err := e.CancelOrder(req.ID)
	require.NoError(t, err)
	require.Equal(t, inventory.StatusCancelled, o.Status)
	p, err := e.Pallet("P1")
	require.NoError(t, err)
	require.Equal(t, inventory.Lbs(100), p.OnHand, "the weight it held is back")
	require.NoError(t, e.quiesce())
	checkConserved(t, e)
	checkRecovers(t, e, j)
}

func TestAnInconsistentJournalStopsRecovery(t *testing.T) {
	p1 := pallet("P1", 100, 5)
	req := order("o", 10)
	req.SKU, req.CreatedAt = inventory.DefaultSKU, testNow
	for name, write := range map[string]func(b *journal.Batch){
		"a pallet checkpointed below zero": func(b *journal.Batch) {
			b.PutPallet(p1)
			b.Checkpoint(journal.Checkpoint{Spec: p1, OnHand: -1, Version: 2})
		},
		"an order holding more than it asked for": func(b *journal.Batch) {
			b.PutPallet(p1)
			b.PutOrder(inventory.Order{Request: req, Status: inventory.StatusQueued, AcceptedAt: testNow,
				Allocations: []inventory.Allocation{{PalletID: "P1", Lbs: inventory.Lbs(11)}}}, "")
		},
	} {
		t.Run(name, func(t *testing.T) {
			j := openJournal(t, vfs.NewMem())
			var b journal.Batch
			write(&b)
			require.NoError(t, j.Commit(&b))
			cfg := testConfig(1)
			cfg.Journal = j
			e := startEngine(t, cfg)
			_, err := e.Recover()
			require.ErrorIs(t, err, journal.ErrCorrupt)
			require.ErrorContains(t, err, "data")
			_, _, err = e.PlaceOrder(order("after", 1))
			require.ErrorIs(t, err, ErrUnavailable, "an engine that did not recover takes no writes")
		})
	}
}

// Recovery trusts the checkpoints; Verify holds them against the record.
func TestVerifyFindsCheckpointsTheRecordDoesNotBackUp(t *testing.T) {
	p1 := pallet("P1", 100, 5)
	req := order("o", 10)
	req.SKU, req.CreatedAt = inventory.DefaultSKU, testNow
	for name, write := range map[string]func(b *journal.Batch){
		"a ledger that does not add up": func(b *journal.Batch) {
			b.PutPallet(p1)
			b.AppendLedger("P1", 0, inventory.LedgerEntry{Kind: inventory.LedgerAdjusted, Lbs: -inventory.Lbs(500), Version: 2})
		},
		"a checkpoint its ledger does not give": func(b *journal.Batch) {
			b.PutPallet(p1)
			b.Checkpoint(journal.Checkpoint{Spec: p1, OnHand: inventory.Lbs(90), Version: 2})
		},
		"an order allocated by the ledger it does not list": func(b *journal.Batch) {
			b.PutPallet(p1)
			b.AppendLedger("P1", 0, inventory.LedgerEntry{Kind: inventory.LedgerAllocated, Lbs: -inventory.Lbs(10), OrderID: "o", Version: 2})
			b.PutOrder(inventory.Order{Request: req, Status: inventory.StatusRejected, AcceptedAt: testNow}, "")
		},
		"weight allocated to an order never accepted": func(b *journal.Batch) {
			b.PutPallet(p1)
			b.AppendLedger("P1", 0, inventory.LedgerEntry{Kind: inventory.LedgerAllocated, Lbs: -inventory.Lbs(10), OrderID: "ghost", Version: 2})
		},
	} {
		t.Run(name, func(t *testing.T) {
			j := openJournal(t, vfs.NewMem())
			var b journal.Batch
			write(&b)
			require.NoError(t, j.Commit(&b))
			require.ErrorIs(t, Verify(j), journal.ErrCorrupt)
		})
	}
}

// A full disk fails the write that meets it with ErrUnavailable, and the
// engine shows nothing it did not persist: no order, no pallet change.
func TestAFailedJournalRefusesWritesAndShowsNothingNew(t *testing.T) {
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return syscall.ENOSPC
		}
		return nil
	}))
	j := openJournal(t, fs)
	e, _ := recoverEngine(t, testConfig(1), j)
	receive(t, e, pallet("P1", 100, 5))
	before := place(t, e, order("before", 10))
	shown := e.Inventory("")

	full.Store(true)
	_, _, err := e.PlaceOrder(order("during", 10))
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, journal.ErrFailed)
	require.ErrorContains(t, err, "no space left")
	_, err = e.Order("during")
	require.ErrorIs(t, err, ErrNotFound, "an order that was not journaled does not exist")
	full.Store(false)

	require.ErrorIs(t, e.Err(), ErrUnavailable)
	_, err = e.AdjustPallet("P1", inventory.Lbs(1), "recount")
	require.ErrorIs(t, err, ErrUnavailable)
	_, err = e.ReceivePallets([]inventory.PalletSpec{pallet("P2", 100, 5)})
	require.ErrorIs(t, err, ErrUnavailable)
	_, err = e.CancelOrder("before")
	require.ErrorIs(t, err, ErrUnavailable)

	require.Equal(t, shown, e.Inventory(""), "reads still show what was persisted")
	got, err := e.Order("before")
	require.NoError(t, err)
	require.Equal(t, before, got)
}

// TestPowerLossKeepsWhatWasAcknowledged runs seeded load with chaos on a
// filesystem that can lose everything not synced, "pulls the plug" at a
// seeded moment, and recovers from what a disk could hold after it: every
// order, adjustment and receipt acknowledged before the plug was pulled is
// there, every terminal state a client saw is the same, the ledgers add
// up, and every order ends — none allocated twice.
func TestPowerLossKeepsWhatWasAcknowledged(t *testing.T) {
	rounds := 12
	if testing.Short() {
		rounds = 3
	}
	for round := range rounds {
		seed := uint64(round + 1)
		if *seedFlag != 0 {
			seed = *seedFlag
		}
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { powerLoss(t, seed) })
		if *seedFlag != 0 {
			break
		}
	}
}

// acked is what clients were told, guarded by one lock so that a crash
// clone taken under it holds everything acknowledged before it.
type acked struct {
	mu       sync.Mutex
	orders   map[string]inventory.OrderRequest
	seen     map[string]inventory.Order // terminal states clients saw
	adjusted map[string][]int64         // pallet → versions of acknowledged adjustments
	pallets  []string
}

func powerLoss(t *testing.T, seed uint64) {
	rng := seeded(t, seed)
	fs := vfs.NewCrashableMem()
	j, err := journal.Open("data", journal.Options{FS: slowSyncs(fs), Logger: debugLogger})
	require.NoError(t, err)
	cfg := testConfig(seed)
	cfg.Chaos = ChaosConfig{Interval: time.Millisecond, DeltaMax: inventory.Lbs(30), Targets: 3, SKU: "pork"}
	cfg.Journal = j
	e, err := New(cfg)
	require.NoError(t, err)
	_, err = e.Recover()
	require.NoError(t, err)

	now := time.Now().UTC().Truncate(time.Hour)
	a := &acked{orders: map[string]inventory.OrderRequest{}, seen: map[string]inventory.Order{}, adjusted: map[string][]int64{}}
	var initial []inventory.PalletSpec
	for i := range 20 {
		initial = append(initial, randomPallet(rand.New(rand.NewPCG(seed, uint64(100+i))), fmt.Sprintf("P-%03d", i), now))
		a.pallets = append(a.pallets, initial[i].ID)
	}
	_, err = e.ReceivePallets(initial)
	require.NoError(t, err)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wrng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				switch r := wrng.IntN(100); {
				case r < 70:
					req := inventory.OrderRequest{ID: fmt.Sprintf("o-%d-%d", w, i), Customer: "c", SKU: skus[wrng.IntN(len(skus))],
						Amount: inventory.CentiLbs(1 + wrng.Int64N(60_000))}
					if _, _, err := e.PlaceOrder(req); err != nil {
						assert.ErrorIs(t, err, ErrClosed)
						return
					}
					a.mu.Lock()
					a.orders[req.ID] = req
					a.mu.Unlock()
					if wrng.IntN(3) == 0 { // a client that waits, and remembers what it saw
						if o, err := e.Wait(context.Background(), req.ID); err == nil {
							a.mu.Lock()
							a.seen[req.ID] = o
							a.mu.Unlock()
						}
					}
				case r < 85:
					id := fmt.Sprintf("P-%03d", wrng.IntN(len(initial)))
					s, err := e.AdjustPallet(id, inventory.CentiLbs(wrng.Int64N(4_000)-2_000), "count_correction")
					if err == nil {
						a.mu.Lock()
						a.adjusted[id] = append(a.adjusted[id], s.Version)
						a.mu.Unlock()
					}
				default:
					a.mu.Lock()
					var id string
					for id = range a.orders {
						break
					}
					a.mu.Unlock()
					if o, err := e.CancelOrder(id); err == nil && o.Status == inventory.StatusCancelled {
						a.mu.Lock()
						a.seen[id] = o
						a.mu.Unlock()
					}
				}
			}
		})
	}
	// Pull the plug at a seeded moment: whatever was acknowledged before it
	// must survive; unsynced writes survive at a seeded rate.
	waitFor := time.Duration(5+rng.IntN(60)) * time.Millisecond
	time.Sleep(waitFor) // the workload's running time, not synchronization: any moment must do
	a.mu.Lock()
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rand.New(rand.NewPCG(seed, 0xc1a5))})
	want := &acked{orders: maps(a.orders), seen: maps(a.seen), adjusted: maps(a.adjusted), pallets: a.pallets}
	a.mu.Unlock()
	close(stop)
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	require.NoError(t, e.Close(ctx))
	cancel()
	require.Zero(t, e.Failures())
	require.NoError(t, j.Close())
	t.Logf("crashed after %s with %d orders acknowledged", waitFor, len(want.orders))

	j2 := openJournal(t, crashed)
	e2, _ := recoverEngine(t, testConfig(seed), j2)
	e2.waitIdle()
	for id, req := range want.orders {
		o, err := e2.Order(id)
		require.NoError(t, err, "order %s was acknowledged and is lost", id)
		require.True(t, o.Request.SameAs(req))
		require.True(t, o.Status.Terminal(), "order %s is %s", id, o.Status)
	}
	for id, saw := range want.seen {
		o, err := e2.Order(id)
		require.NoError(t, err)
		if saw.Status == inventory.StatusAllocated && o.Status == inventory.StatusCancelled {
			continue // a cancel after what the client saw may have been journaled too
		}
		require.Equal(t, saw.Status, o.Status, "order %s: a client saw it end %s", id, saw.Status)
		require.Equal(t, saw.Allocations, o.Allocations, "order %s", id)
	}
	for id, versions := range want.adjusted {
		entries, err := fullLedger(e2, id)
		require.NoError(t, err)
		for _, v := range versions {
			require.True(t, hasAdjustment(entries, v), "pallet %s: acknowledged adjustment at v%d lost", id, v)
		}
	}
	require.NoError(t, e2.quiesce())
	checkConserved(t, e2)
	require.NoError(t, Verify(j2), "the checkpoints and indexes a crash left agree with the record")
}

// slowSyncs gives fs a disk's sync latency, so that the moment a commit
// is written but not yet durable is wide enough for a crash to land in.
func slowSyncs(fs vfs.FS) vfs.FS {
	return errorfs.Wrap(fs, errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			time.Sleep(300 * time.Microsecond) // the disk's latency, not synchronization
		}
		return nil
	}))
}

func hasAdjustment(entries []inventory.LedgerEntry, version int64) bool {
	for _, e := range entries {
		if e.Version == version && e.Kind == inventory.LedgerAdjusted && e.Reason == "count_correction" {
			return true
		}
	}
	return false
}

// checkConserved checks an idle engine's books: every ledger sums to its
// pallet's weight, nothing is negative, and what orders hold is exactly
// what the ledgers gave them — so no order is allocated twice.
func checkConserved(t *testing.T, e *Engine) {
	t.Helper()
	holding := map[string]map[string]inventory.CentiLbs{}
	for _, s := range allPallets(t, e) {
		require.GreaterOrEqual(t, s.OnHand, inventory.CentiLbs(0))
		require.Zero(t, s.Held, "pallet %s: a hold outlived its order", s.Spec.ID)
		entries, err := fullLedger(e, s.Spec.ID)
		require.NoError(t, err)
		var sum inventory.CentiLbs
		for _, le := range entries {
			sum += le.Lbs
			if le.OrderID != "" {
				if holding[le.OrderID] == nil {
					holding[le.OrderID] = map[string]inventory.CentiLbs{}
				}
				holding[le.OrderID][s.Spec.ID] -= le.Lbs
			}
		}
		require.Equal(t, s.OnHand, sum, "pallet %s: ledger must sum to on hand", s.Spec.ID)
	}
	for _, o := range allOrders(t, e) {
		require.True(t, o.Status.Terminal(), "order %s is %s", o.Request.ID, o.Status)
		var sum inventory.CentiLbs
		for _, al := range o.Allocations {
			require.Equal(t, holding[o.Request.ID][al.PalletID], al.Lbs, "order %s on %s", o.Request.ID, al.PalletID)
			sum += al.Lbs
		}
		for p, lbs := range holding[o.Request.ID] {
			if o.Status != inventory.StatusAllocated {
				require.Zero(t, lbs, "order %s ended %s holding weight on %s", o.Request.ID, o.Status, p)
			}
		}
		if o.Status == inventory.StatusAllocated {
			require.Equal(t, o.Request.Amount, sum, "order %s", o.Request.ID)
		}
	}
}

func maps[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// An order allocated in full whose cancel was returning its weight when
// the crash came: the cancel was never acknowledged, so it ends allocated.
func TestRecoveryEndsAnOrderThatHoldsAllItAskedFor(t *testing.T) {
	req := order("returning", 60)
	j := crashedMidOrder(t, req, 60, pallet("P1", 100, 5))

	e, r := recoverEngine(t, testConfig(1), j)
	require.Equal(t, 1, r.Redriven)
	o := wait(t, e, req.ID)
	require.Equal(t, inventory.StatusAllocated, o.Status)
	require.Equal(t, []string{"P1"}, allocIDs(o))
	p, err := e.Pallet("P1")
	require.NoError(t, err)
	require.Equal(t, inventory.Lbs(40), p.OnHand, "nothing taken twice")
	require.NoError(t, e.quiesce())
	checkRecovers(t, e, j)
}
