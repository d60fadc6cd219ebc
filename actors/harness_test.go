package actors

import (
	"context"
	"flag"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/internal/testkit"

	"github.com/baconator/baconator/inventory"
)

var (
	historiesFlag = flag.Int("histories", 300, "randomized concurrent histories to check against the sequential model")
	seedFlag      = flag.Uint64("seed", 0, "run randomized tests from this seed only (0: derive from the test)")
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }

// testConfig is the engine for tests: chaos off unless a test asks, quick
// retries, randomness from seed.
func testConfig(seed uint64) Config {
	cfg := DefaultConfig()
	cfg.Chaos.Interval = 0
	cfg.RetryBackoffBase = 100 * time.Microsecond
	cfg.RetryBackoffMax = 2 * time.Millisecond
	cfg.Seed = seed
	cfg.Logger = debugLogger
	return cfg
}

// debugLogger is nil (discard) unless BACONATOR_TEST_LOG is set.
var debugLogger *slog.Logger

// startEngine starts an engine and, when the test ends, closes it and fails
// the test if any actor panicked along the way.
func startEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, e.Close(ctx))
		require.Zero(t, e.Failures(), "an actor panicked: an invariant broke")
	})
	return e
}

// seeded returns a random source and logs the seed if the test fails, so
// that a failure can be replayed with -seed.
func seeded(t testing.TB, seed uint64) *rand.Rand {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with: go test ./actors -run '%s' -seed %d", t.Name(), seed)
		}
	})
	return rand.New(rand.NewPCG(seed, 0xbac0))
}

var day = 24 * time.Hour

// testNow anchors test pallets' dates, so that pallets made in one test
// tie exactly where the test means them to.
var testNow = time.Now().UTC().Truncate(time.Second)

// pallet is a spec received two days before testNow and expiring
// expiresDays after it.
func pallet(id string, lbs int64, expiresDays float64) inventory.PalletSpec {
	return inventory.PalletSpec{
		ID: id, SKU: inventory.DefaultSKU, Lot: "L-" + id, Supplier: "Farm_1", Weight: inventory.Lbs(lbs),
		Received: testNow.Add(-2 * day), Expires: testNow.Add(time.Duration(expiresDays * float64(day))),
	}
}

func receive(t testing.TB, e *Engine, specs ...inventory.PalletSpec) {
	t.Helper()
	_, err := e.ReceivePallets(specs)
	require.NoError(t, err)
}

func order(id string, lbs int64) inventory.OrderRequest {
	return inventory.OrderRequest{ID: id, Customer: "Funky Customer #1", Amount: inventory.Lbs(lbs)}
}

// place places an order and waits for its first terminal state.
func place(t testing.TB, e *Engine, req inventory.OrderRequest) inventory.Order {
	t.Helper()
	o, _, err := e.PlaceOrder(req)
	require.NoError(t, err)
	return wait(t, e, o.Request.ID)
}

// placeAndWait is place for goroutines other than the test's own, where
// require must not be called: it returns the error instead.
func placeAndWait(e *Engine, req inventory.OrderRequest) (inventory.Order, error) {
	o, _, err := e.PlaceOrder(req)
	if err != nil {
		return o, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e.Wait(ctx, o.Request.ID)
}

func wait(t testing.TB, e *Engine, id string) inventory.Order {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := e.Wait(ctx, id)
	require.NoError(t, err, "order %s never reached a terminal state", id)
	return o
}

func allocIDs(o inventory.Order) []string {
	var out []string
	for _, a := range o.Allocations {
		out = append(out, a.PalletID)
	}
	return out
}

// probe is a test actor that pushes every message it receives into a
// channel: protoactor-go has no testkit in this version.
type probe struct {
	pid *actor.PID
	ch  chan any
}

func newProbe(t testing.TB, e *Engine) *probe {
	t.Helper()
	p := &probe{ch: make(chan any, 64)}
	p.pid = e.system.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch ctx.Message().(type) {
		case actor.SystemMessage, actor.AutoReceiveMessage:
			return
		}
		p.ch <- ctx.Message()
	}))
	t.Cleanup(func() { _ = e.system.Root.StopFuture(p.pid).Wait() })
	return p
}

// request sends msg to pid with the probe as sender.
func (p *probe) request(e *Engine, pid *actor.PID, msg any) {
	e.system.Root.RequestWithCustomSender(pid, msg, p.pid)
}

func (p *probe) next(t testing.TB) any {
	t.Helper()
	select {
	case m := <-p.ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("probe: no message within 10s")
		return nil
	}
}

// recorder keeps every event, in the order coordinators emitted them.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Record(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

func ledgerSum(t testing.TB, e *Engine, id string) inventory.CentiLbs {
	t.Helper()
	entries, err := fullLedger(e, id)
	require.NoError(t, err)
	var sum inventory.CentiLbs
	for _, en := range entries {
		sum += en.Lbs
	}
	return sum
}

// allOrders pages through every order the engine has, oldest first.
func allOrders(t testing.TB, e *Engine) []inventory.Order {
	t.Helper()
	var out []inventory.Order
	q := OrderQuery{Limit: 1000}
	for {
		page, next, err := e.ListOrders(q)
		require.NoError(t, err)
		out = append(out, page...)
		if next == nil {
			return out
		}
		q.After = next
	}
}

// allPallets lists every pallet the engine ever received: on the floor,
// then retired. A pallet caught retiring (journaled, not yet out of
// memory) is listed once, as on the floor.
func allPallets(t testing.TB, e *Engine) []inventory.PalletState {
	t.Helper()
	out := e.Inventory("")
	live := map[string]bool{}
	for _, s := range out {
		live[s.Spec.ID] = true
	}
	var after *inventory.PalletSpec
	for {
		page, err := e.RetiredPallets("", after, 1000)
		require.NoError(t, err)
		for _, s := range page {
			if !live[s.Spec.ID] {
				out = append(out, s)
			}
		}
		if len(page) < 1000 {
			return out
		}
		after = &page[len(page)-1].Spec
	}
}

// fullLedger reads a pallet's whole ledger.
func fullLedger(e *Engine, id string) ([]inventory.LedgerEntry, error) {
	var out []inventory.LedgerEntry
	err := eachLedgerEntry(e, id, func(en inventory.LedgerEntry) error {
		out = append(out, en)
		return nil
	})
	return out, err
}
