package actors

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/internal/testkit"
	"github.com/baconator/baconator/inventory"
)

// Tests where time matters run in a synctest bubble: the clock is fake
// and advances only when every goroutine in the bubble is blocked, so
// hours pass instantly and nothing depends on the machine's speed.

func bubblePallet(id string, lbs int64, expiresIn time.Duration) inventory.PalletSpec {
	now := time.Now().UTC()
	return inventory.PalletSpec{ID: id, SKU: inventory.DefaultSKU, Supplier: "Farm_1", Weight: inventory.Lbs(lbs), Received: now, Expires: now.Add(expiresIn)}
}

func TestHoldOfVanishedCoordinatorExpires(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		e := startEngine(t, testConfig(1))
		receive(t, e, bubblePallet("P1", 100, 5*day))

		ghost := newProbe(t, e) // a coordinator that reserves and then vanishes
		ghost.request(e, e.palletPID("P1"), &alloc.Reserve{
			Batch: 1, ExpectedVersion: 1, Deadline: time.Now().Add(time.Second),
			Holds: []inventory.HoldRequest{{Key: inventory.HoldKey{Order: "ghost", Attempt: 1}, Lbs: inventory.Lbs(60)}},
		})
		require.Equal(t, alloc.RefusalNone, ghost.next(t).(*alloc.ReserveReply).Refusal)
		p, _ := e.Pallet("P1")
		require.Equal(t, inventory.Lbs(60), p.Held)

		time.Sleep(time.Second + 3*testConfig(1).HoldTimeout/2)
		synctest.Wait()
		p, _ = e.Pallet("P1")
		assert.Zero(t, p.Held, "the hold lapsed, by 1.5 hold timeouts after its deadline, with no further message to the pallet")

		o := place(t, e, order("real", 100))
		assert.Equal(t, inventory.StatusAllocated, o.Status, "its weight came back")
	})
}

func TestExpiredStockIsSkippedButCounted(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		e := startEngine(t, testConfig(1))
		receive(t, e, bubblePallet("soon", 100, time.Hour), bubblePallet("later", 100, 5*day))
		time.Sleep(2 * time.Hour)

		o := place(t, e, order("o1", 50))
		assert.Equal(t, []string{"later"}, allocIDs(o), "the expired pallet is never allocated")
		o = place(t, e, order("o2", 60))
		assert.Equal(t, inventory.ReasonInsufficientStock, o.Reason, "expired weight does not count as sellable")

		soon, _ := e.Pallet("soon")
		assert.Equal(t, inventory.Lbs(100), soon.OnHand, "an expired pallet keeps its weight on the books")
		assert.True(t, inventory.Expired(soon.Spec.Expires, time.Now()))
	})
}

func TestFullIntakeRefusesAndQueuesNothing(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		cfg := testConfig(1)
		cfg.IntakeCapacity, cfg.OrdersInFlightMax, cfg.ProcessDelay = 2, 1, time.Second
		e := startEngine(t, cfg)
		receive(t, e, bubblePallet("P1", 1000, 5*day))

		_, _, err := e.PlaceOrder(order("a", 1))
		require.NoError(t, err)
		synctest.Wait() // the draining stage holds "a" for a second
		for _, id := range []string{"b", "c"} {
			_, _, err := e.PlaceOrder(order(id, 1))
			require.NoError(t, err)
		}
		_, _, err = e.PlaceOrder(order("d", 1))
		require.ErrorIs(t, err, ErrIntakeFull)
		_, err = e.Order("d")
		assert.ErrorIs(t, err, ErrNotFound, "a refused order is not queued")
		assert.EqualValues(t, 1, e.Stats().Throttled)

		for _, id := range []string{"a", "b", "c"} {
			assert.Equal(t, inventory.StatusAllocated, wait(t, e, id).Status, "every accepted order completes")
		}
	})
}

func TestCancelQueuedOrderNeverAllocates(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		rec := &recorder{}
		cfg := testConfig(1)
		cfg.ProcessDelay, cfg.Recorder = time.Second, rec
		e := startEngine(t, cfg)
		receive(t, e, bubblePallet("P1", 1000, 5*day))

		_, _, err := e.PlaceOrder(order("first", 10))
		require.NoError(t, err)
		_, _, err = e.PlaceOrder(order("queued", 10))
		require.NoError(t, err)
		synctest.Wait()

		o, err := e.CancelOrder("queued")
		require.NoError(t, err)
		assert.Equal(t, inventory.StatusCancelled, o.Status, "cancelled at once, while still in the intake")

		assert.Equal(t, inventory.StatusAllocated, wait(t, e, "first").Status)
		time.Sleep(2 * time.Second) // let "queued" reach its coordinator and be dropped
		require.NoError(t, e.quiesce())
		o, _ = e.Order("queued")
		assert.Equal(t, inventory.StatusCancelled, o.Status)
		assert.Zero(t, o.Attempts, "it was never planned")
		entries, err := fullLedger(e, "P1")
		require.NoError(t, err)
		for _, en := range entries {
			assert.NotEqual(t, "queued", en.OrderID)
		}
	})
}

func TestChaosNeverDrivesAPalletBelowZero(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		var logs testkit.SyncBuffer
		cfg := testConfig(7)
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg.Chaos = ChaosConfig{Interval: time.Millisecond, DeltaMax: inventory.Lbs(30), Targets: 5, SKU: inventory.DefaultSKU, SummaryEvery: 100 * time.Millisecond}
		e := startEngine(t, cfg)
		receive(t, e, bubblePallet("tiny", 10, 5*day), bubblePallet("spare", 1000, 9*day))

		time.Sleep(time.Second)
		require.NoError(t, e.quiesce())

		for _, id := range []string{"tiny", "spare"} {
			entries, err := fullLedger(e, id)
			require.NoError(t, err)
			var running inventory.CentiLbs
			for _, en := range entries {
				running += en.Lbs
				require.GreaterOrEqual(t, running, inventory.CentiLbs(0), "pallet %s went below zero at version %d", id, en.Version)
				if en.Kind == inventory.LedgerAdjusted {
					assert.Equal(t, inventory.ReasonChaos, en.Reason)
					assert.LessOrEqual(t, max(en.Lbs, -en.Lbs), inventory.Lbs(30))
				}
			}
			p, _ := e.Pallet(id)
			assert.Equal(t, p.OnHand, running)
		}
		assert.Greater(t, e.Stats().Strikes, int64(100), "a second of 1 ms chaos strikes hundreds of times")
		assert.True(t, strings.Contains(logs.String(), "level=DEBUG msg=\"[CHAOS] Pallet "), "chaos logs each strike like the original, at debug")
		assert.True(t, strings.Contains(logs.String(), "level=INFO msg=\"[CHAOS] Last 100ms: "), "and sums up at info")
		t.Cleanup(func() {
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "dead letter") {
					t.Log(l)
				}
			}
		})
	})
}

func TestAPalletThatNeverAnswersCannotStallAnOrder(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		// Messages to the dead pallet are dead letters by design here, and
		// protoactor's dead-letter log throttle keeps a goroutine for one
		// window (50 ms). Registered first, this cleanup runs last and lets
		// the bubble's fake clock run past that window.
		t.Cleanup(func() { time.Sleep(time.Second); synctest.Wait() })
		cfg := testConfig(1)
		cfg.RetryAttemptsMax = 2
		e := startEngine(t, cfg)
		receive(t, e, bubblePallet("P1", 1000, 5*day))
		// The pallet's actor is gone: its reserves are never answered.
		require.NoError(t, e.system.Root.StopFuture(e.palletPID("P1")).Wait())
		o := place(t, e, order("o1", 10))
		assert.Equal(t, inventory.StatusRejected, o.Status, "the reply timeout counts as a refusal; bounded retries end the order")
		assert.Equal(t, inventory.ReasonContention, o.Reason)
		assert.Equal(t, 3, o.Conflicts)
	})
}

func TestAReturnNobodyAnswersHaltsTheEngine(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		// Messages to the dead pallet are dead letters; see the silent-pallet test.
		t.Cleanup(func() { time.Sleep(time.Second); synctest.Wait() })
		e, err := New(testConfig(1))
		require.NoError(t, err)
		receive(t, e, bubblePallet("P1", 1000, 5*day))
		place(t, e, order("o1", 10))
		// The pallet dies; a cancel must give its weight back there. The
		// return is asked for again a bounded number of times, then the
		// engine halts (a restart would recover from the journal).
		require.NoError(t, e.system.Root.StopFuture(e.palletPID("P1")).Wait())
		_, err = e.CancelOrder("o1")
		require.ErrorIs(t, err, ErrHalted, "the cancel's caller is told, not left waiting")
		assert.ErrorContains(t, e.Err(), "the return of order o1 went unanswered 4 times")

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = e.Close(ctx)
		assert.ErrorIs(t, err, ErrHalted, "Close reports the halt")
		// Leaving the bubble with a goroutine still running would fail the test.
	})
}

// inBubble runs f in a synctest bubble and, after f's cleanups (the
// engine's close among them), waits out protoactor's dead-letter throttle:
// a goroutine that waits one throttle interval after a dead letter, which
// a bubble whose main goroutine has returned cannot wait for ("blocked
// goroutines remain"). The wait is the bubble's fake time: instant.
func inBubble(t *testing.T, f func(t *testing.T)) {
	synctest.Test(t, func(t *testing.T) {
		t.Cleanup(func() { time.Sleep(2 * deadLetterThrottle) }) // first registered: runs last
		f(t)
	})
}
