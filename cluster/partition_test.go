package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

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
	<-first.Done() // its journal can no longer commit: it stopped taking orders
	_ = first.Close(ctx)

	next, err := Own(ctx, nodes[1].JetStream(), p, cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, next.Close(context.Background())) }()
	after := waitEnded(t, next.Engine, ids)

	for id, o := range before {
		assert.Equal(t, o.Status, after[id].Status, "order %s", id)
		assert.Equal(t, o.Allocations, after[id].Allocations, "order %s ended once: the new owner keeps its outcome", id)
	}
	taken := map[string]inventory.CentiLbs{}
	var allocated int
	for _, o := range after {
		if o.Status != inventory.StatusAllocated {
			continue
		}
		allocated++
		var sum inventory.CentiLbs
		for _, a := range o.Allocations {
			sum += a.Lbs
			taken[a.PalletID] += a.Lbs
		}
		assert.Equal(t, o.Request.Amount, sum, "order %s: all or nothing", o.Request.ID)
	}
	assert.Positive(t, allocated)
	for _, st := range next.Engine.Inventory(inventory.DefaultSKU) {
		assert.GreaterOrEqual(t, st.OnHand, inventory.CentiLbs(0), "pallet %s", st.Spec.ID)
	}
	t.Logf("%d orders, %d allocated; the partition moved from n0 to n1", len(after), allocated)
}
