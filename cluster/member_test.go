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

// owners is who holds each partition, across members; -1 for none.
func owners(members []*Member) []int {
	out := make([]int, Partitions)
	for p := range out {
		out[p] = -1
	}
	for i, m := range members {
		if m == nil {
			continue
		}
		for p := range m.Owned() {
			out[p] = i
		}
	}
	return out
}

// waitCovered waits (bounded) until every partition has an owner among
// members, and returns how long that took.
func waitCovered(t *testing.T, members []*Member, within time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	for {
		covered := true
		for _, o := range owners(members) {
			covered = covered && o >= 0
		}
		if covered {
			return time.Since(began)
		}
		require.Less(t, time.Since(began), within, "partitions without an owner: %v", owners(members))
		time.Sleep(20 * time.Millisecond)
	}
}

// Three nodes share the twelve partitions, four each; when one dies, the
// two left take its partitions over within the bound, and an order
// accepted for a partition of the dead node ends on its new owner.
func TestPartitionsMoveWhenANodeDies(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := MemberConfig{Nodes: 3, LeaseTTL: time.Second, Engine: actors.DefaultConfig()}
	cfg.Engine.Chaos.Interval = 0
	members := make([]*Member, 3)
	for i, nd := range nodes {
		m, err := Join(ctx, nd, cfg)
		require.NoError(t, err)
		members[i] = m
	}
	defer func() {
		for _, m := range members {
			if m != nil {
				require.NoError(t, m.Leave(context.Background()))
			}
		}
	}()
	waitCovered(t, members, 20*time.Second)
	require.Eventually(t, func() bool { // placement hands on what a node took beyond its share
		for _, m := range members {
			if len(m.Owned()) != Partitions/3 {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond, "each node holds its share")

	// Stock and an order in a partition of the node about to die.
	p := PartitionOf(inventory.DefaultSKU)
	dying := owners(members)[p]
	part := members[dying].Owned()[p]
	specs, err := seed.Synthetic{Count: 10, Seed: 3, Now: time.Now()}.Pallets(ctx)
	require.NoError(t, err)
	_, err = part.Engine.ReceivePallets(specs)
	require.NoError(t, err)
	survivor := nodes[(dying+1)%3]
	intake := openLog(ctx, t, survivor, p)
	accept := func(id string) {
		body, err := EncodeOrder(inventory.OrderRequest{ID: id, Customer: "c", SKU: inventory.DefaultSKU, Amount: inventory.Lbs(100), CreatedAt: time.Now()})
		require.NoError(t, err)
		_, _, err = intake.Accept(ctx, id, body)
		require.NoError(t, err)
	}
	accept("before")
	waitEnded(t, part.Engine, []string{"before"})

	// It dies: its server first (nothing more can commit), then what ran on it.
	nodes[dying].Close()
	nodes[dying] = nil
	members[dying].Halt(ctx)
	members[dying] = nil
	died := time.Now()
	accept("during")
	took := waitCovered(t, members, 10*time.Second)
	t.Logf("all %d partitions owned again %v after the node died (lease TTL %v)", Partitions, time.Since(died).Round(time.Millisecond), cfg.LeaseTTL)
	assert.Less(t, took, 5*time.Second, "takeover within the bound")
	var takeovers int64
	for _, m := range members {
		if m != nil {
			takeovers += m.Takeovers()
		}
	}
	assert.GreaterOrEqual(t, takeovers, int64(Partitions), "the survivors' own and the dead node's (a lease that lapsed during a slow start counts again)")
	t.Logf("takeovers by the survivors: %d", takeovers)

	newOwner := members[owners(members)[p]].Owned()[p]
	got := waitEnded(t, newOwner.Engine, []string{"before", "during"})
	for id, o := range got {
		assert.Equal(t, inventory.StatusAllocated, o.Status, fmt.Sprintf("order %s", id))
	}
}
