package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/seed"
)

// waitEnded waits (bounded) until every order has ended on eng and
// returns them by id.
func waitEnded(t *testing.T, eng *actors.Engine, ids []string) map[string]inventory.Order {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	got := make(map[string]inventory.Order, len(ids))
	for _, id := range ids {
		for {
			o, err := eng.Order(id)
			if err == nil && o.Status.Terminal() {
				got[id] = o
				break
			}
			require.True(t, time.Now().Before(deadline), "order %s never ended (%v, %v)", id, o.Status, err)
			time.Sleep(5 * time.Millisecond)
		}
	}
	return got
}

// Orders accepted on any node end exactly once, on the partition's owner;
// when the owner's node dies, the next owner rebuilds what was committed
// (the same outcomes), and orders accepted meanwhile, or taken and not
// journaled by the dead one, end there. Chaos strikes throughout.
func TestOrdersEndOnceAcrossAnOwnersDeath(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := PartitionOf(inventory.DefaultSKU)
	cfg := actors.DefaultConfig()
	cfg.Chaos.Interval = 5 * time.Millisecond

	first, err := Own(ctx, nodes[0].JetStream(), p, cfg)
	require.NoError(t, err)
	specs, err := seed.Synthetic{Count: 40, Seed: 7, Now: time.Now()}.Pallets(ctx)
	require.NoError(t, err)
	_, err = first.Engine.ReceivePallets(specs)
	require.NoError(t, err)

	logs := []*Log{openLog(ctx, t, nodes[0], p), openLog(ctx, t, nodes[1], p), openLog(ctx, t, nodes[2], p)}
	var ids []string
	accept := func(n int, from ...int) {
		for i := range n {
			id := fmt.Sprintf("o-%d", len(ids))
			body, err := EncodeOrder(inventory.OrderRequest{ID: id, Customer: "c", SKU: inventory.DefaultSKU, Amount: inventory.Lbs(150), CreatedAt: time.Now()})
			require.NoError(t, err)
			_, dup, err := logs[from[i%len(from)]].Accept(ctx, id, body)
			require.NoError(t, err)
			require.False(t, dup)
			ids = append(ids, id)
		}
	}
	accept(120, 0, 1, 2)
	before := waitEnded(t, first.Engine, ids)

	// The owner's node dies with orders still arriving.
	nodes[0].Close()
	nodes[0] = nil
	accept(60, 1, 2)
	<-first.Done() // its connection closed: it stopped taking orders
	_ = first.Close(ctx)

	// Some of them were taken by an owner that died before journaling
	// them: fetched from the partition's intake, never acknowledged.
	// Asked with a short patience, again and again: a request sent while
	// the consumer elects a new leader (its last one may have died with
	// the node) goes unanswered.
	var cons jetstream.Consumer
	require.Eventually(t, func() bool {
		try, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		cons, err = nodes[2].JetStream().Consumer(try, logs[2].stream, ownerConsumer(p))
		return err == nil
	}, time.Minute, 10*time.Millisecond, "the intake's consumer answers")
	taken, err := cons.FetchNoWait(10)
	require.NoError(t, err)
	var held int
	for range taken.Messages() {
		held++
	}
	require.Positive(t, held, "the dead owner had orders in hand")

	next, err := Own(ctx, nodes[1].JetStream(), p, cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, next.Close(context.Background())) }()
	after := waitEnded(t, next.Engine, ids)

	for id, o := range before {
		assert.Equal(t, o.Status, after[id].Status, "order %s", id)
		assert.Equal(t, o.Allocations, after[id].Allocations, "order %s ended once: the new owner keeps its outcome", id)
	}
	took := map[string]inventory.CentiLbs{}
	var allocated int
	for _, o := range after {
		if o.Status != inventory.StatusAllocated {
			continue
		}
		allocated++
		var sum inventory.CentiLbs
		for _, a := range o.Allocations {
			sum += a.Lbs
			took[a.PalletID] += a.Lbs
		}
		assert.Equal(t, o.Request.Amount, sum, "order %s: all or nothing", o.Request.ID)
	}
	assert.Positive(t, allocated)
	// No pound allocated twice: each pallet's ledger sums to its weight,
	// and its allocation lines to what the orders say they took from it.
	for _, spec := range specs {
		st, err := next.Engine.Pallet(spec.ID)
		require.NoError(t, err)
		entries, _, err := next.Engine.Ledger(spec.ID, nil, 100_000)
		require.NoError(t, err)
		var sum, out inventory.CentiLbs
		for _, e := range entries {
			sum += e.Lbs
			if e.Kind == inventory.LedgerAllocated || e.Kind == inventory.LedgerReturned {
				out -= e.Lbs
			}
		}
		assert.Equal(t, st.OnHand, sum, "pallet %s: ledger sums to weight", spec.ID)
		assert.Equal(t, took[spec.ID], out, "pallet %s: allocated once", spec.ID)
		assert.GreaterOrEqual(t, st.OnHand, inventory.CentiLbs(0), "pallet %s", spec.ID)
	}
	t.Logf("%d orders, %d allocated; the partition moved from n0 to n1", len(after), allocated)
}

// An intake message that is not an order of this partition is dropped,
// never turned into an order: without an id, each redelivery would mint a
// new one; with a SKU of another partition, it would be sold where its
// owner is not.
func TestTheIntakeTakesOnlyOrdersOfItsPartition(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := PartitionOf(inventory.DefaultSKU)
	cfg := actors.DefaultConfig()
	cfg.Chaos.Interval = 0
	pt, err := Own(ctx, nodes[0].JetStream(), p, cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, pt.Close(context.Background())) }()
	specs, err := seed.Synthetic{Count: 5, Seed: 1, Now: time.Now()}.Pallets(ctx)
	require.NoError(t, err)
	_, err = pt.Engine.ReceivePallets(specs)
	require.NoError(t, err)
	other := "beef"
	for PartitionOf(other) == p {
		other += "+"
	}
	l := openLog(ctx, t, nodes[1], p)
	bad := []struct {
		msgID string
		req   inventory.OrderRequest
	}{
		{"no-id", inventory.OrderRequest{Customer: "c", SKU: inventory.DefaultSKU, Amount: inventory.Lbs(1)}},
		{"other-id", inventory.OrderRequest{ID: "not-other-id", Customer: "c", SKU: inventory.DefaultSKU, Amount: inventory.Lbs(1)}},
		{"wrong-sku", inventory.OrderRequest{ID: "wrong-sku", Customer: "c", SKU: other, Amount: inventory.Lbs(1)}},
	}
	for _, b := range bad {
		body, err := EncodeOrder(b.req)
		require.NoError(t, err)
		_, _, err = l.Accept(ctx, b.msgID, body)
		require.NoError(t, err)
	}
	_, _, err = l.Accept(ctx, "good", []byte("{not json"))
	require.NoError(t, err)
	body, err := EncodeOrder(inventory.OrderRequest{ID: "good", Customer: "c", SKU: inventory.DefaultSKU, Amount: inventory.Lbs(1), CreatedAt: time.Now()})
	require.NoError(t, err)
	_, _, err = l.Accept(ctx, "good-2", body) // the id in the body is not the message's
	require.NoError(t, err)
	body, err = EncodeOrder(inventory.OrderRequest{ID: "fine", Customer: "c", SKU: inventory.DefaultSKU, Amount: inventory.Lbs(1), CreatedAt: time.Now()})
	require.NoError(t, err)
	_, _, err = l.Accept(ctx, "fine", body)
	require.NoError(t, err)

	waitEnded(t, pt.Engine, []string{"fine"}) // the intake is read in order: everything before it was handled
	for _, id := range []string{"no-id", "other-id", "not-other-id", "wrong-sku", "good", "good-2"} {
		_, err := pt.Engine.Order(id)
		assert.ErrorIs(t, err, actors.ErrNotFound, "%s is no order", id)
	}
	orders, _, err := pt.Engine.ListOrders(actors.OrderQuery{Limit: 100})
	require.NoError(t, err)
	assert.Len(t, orders, 1, "only the one good order")
}

// TestAPartitionsKeyOutlivesItsOwner: every owner of a partition, on any
// node, signs with the same key (a page cursor one owner gave, the next
// takes), and no two partitions share one.
func TestAPartitionsKeyOutlivesItsOwner(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := actors.DefaultConfig()
	cfg.Chaos.Interval = 0
	const p = 3
	first, err := Own(ctx, nodes[0].JetStream(), p, cfg)
	require.NoError(t, err)
	key := first.Engine.Secret()
	first.Depose()
	next, err := Own(ctx, nodes[1].JetStream(), p, cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, next.Close(context.Background())) }()
	assert.Equal(t, key, next.Engine.Secret(), "the next owner, on another node, signs as the first")
	other, err := Own(ctx, nodes[2].JetStream(), p+1, cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, other.Close(context.Background())) }()
	assert.NotEqual(t, key, other.Engine.Secret(), "another partition signs with a key of its own")
	assert.Len(t, key, 32)
}

// TestATakeoverStartsFromTheLatestCheckpoint: a new owner restores the
// partition's checkpoint and replays only the commits after it, and has
// every order, from before the checkpoint and after.
func TestATakeoverStartsFromTheLatestCheckpoint(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := actors.DefaultConfig()
	cfg.Chaos.Interval = 0
	p := PartitionOf(inventory.DefaultSKU)
	first, err := Own(ctx, nodes[0].JetStream(), p, cfg)
	require.NoError(t, err)
	specs, err := seed.Synthetic{Count: 20, Seed: 5, Now: time.Now()}.Pallets(ctx)
	require.NoError(t, err)
	_, err = first.Engine.ReceivePallets(specs)
	require.NoError(t, err)
	place := func(from, to int) []string {
		var ids []string
		for i := from; i < to; i++ {
			id := fmt.Sprintf("o-%d", i)
			_, _, err := first.Engine.PlaceOrder(inventory.OrderRequest{ID: id, Customer: "c", Amount: inventory.Lbs(10), CreatedAt: time.Now()})
			require.NoError(t, err)
			ids = append(ids, id)
		}
		return ids
	}
	before := waitEnded(t, first.Engine, place(0, 40))
	require.NoError(t, first.Checkpoint(ctx))
	after := waitEnded(t, first.Engine, place(40, 50))
	first.Depose()

	next, err := Own(ctx, nodes[1].JetStream(), p, cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, next.Close(context.Background())) }()
	assert.Positive(t, next.owner.FromCheckpoint, "restored from the checkpoint")
	assert.Positive(t, next.owner.Replayed, "and the commits after it")
	assert.Less(t, next.owner.Replayed, uint64(50), "only those: 40 orders and a receipt came before it")
	for id, want := range merge(before, after) {
		got, err := next.Engine.Order(id)
		require.NoError(t, err)
		assert.Equal(t, want.Status, got.Status, "order %s", id)
		assert.Equal(t, want.Allocations, got.Allocations, "order %s", id)
	}
	_, _, err = next.Engine.PlaceOrder(inventory.OrderRequest{ID: "by-the-next", Customer: "c", Amount: inventory.Lbs(10), CreatedAt: time.Now()})
	require.NoError(t, err, "the next owner commits on from there")
}

func merge[K comparable, V any](a, b map[K]V) map[K]V {
	out := make(map[K]V, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
