package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/internal/testkit"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }

func TestPartitionsSpreadSKUs(t *testing.T) {
	counts := make([]int, Partitions)
	for i := range 1200 {
		p := PartitionOf(fmt.Sprintf("sku-%d", i))
		require.GreaterOrEqual(t, p, 0)
		require.Less(t, p, Partitions)
		counts[p]++
	}
	for p, n := range counts {
		assert.InDelta(t, 100, n, 40, "partition %d", p)
	}
	assert.Equal(t, PartitionOf("pork"), PartitionOf("pork"), "every node computes the same")
	for p, sku := range SeedSKUs {
		assert.Equal(t, p, PartitionOf(sku), "the seed's SKU for partition %d is %s", p, sku)
	}
}

// startCluster starts n nodes on 127.0.0.1 and waits for JetStream's
// cluster to form.
func startCluster(t *testing.T, n int) []*Node { return startClusterB(t, n) }

func startClusterB(t testing.TB, n int) []*Node {
	t.Helper()
	ports, err := FreePorts("127.0.0.1", n)
	require.NoError(t, err)
	routes := RouteAddrs("127.0.0.1", ports)
	nodes := make([]*Node, n)
	for i := range n {
		nodes[i], err = StartNode(NodeConfig{Name: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: -1, Cluster: ports[i], Routes: routes, DataDir: t.TempDir()})
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		for _, nd := range nodes {
			if nd != nil {
				nd.Close()
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, nd := range nodes {
		require.NoError(t, nd.WaitClustered(ctx))
	}
	return nodes
}

// openLog opens partition p's log from a node, retrying while the
// cluster settles its stream placement (bounded by ctx).
func openLog(ctx context.Context, t *testing.T, nd *Node, p int) *Log {
	t.Helper()
	for {
		l, err := OpenLog(ctx, nd.JetStream(), p, Replicas)
		if err == nil {
			return l
		}
		require.NoError(t, ctx.Err(), "partition %d's log: %v", p, err)
		time.Sleep(50 * time.Millisecond)
	}
}

func TestThreeNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("any node accepts an order, once", func(t *testing.T) {
		a, c := openLog(ctx, t, nodes[0], 1), openLog(ctx, t, nodes[2], 1)
		seq, dup, err := a.Accept(ctx, "order-1", []byte(`{"id":"order-1"}`))
		require.NoError(t, err)
		require.False(t, dup)
		again, dup, err := c.Accept(ctx, "order-1", []byte(`{"id":"order-1"}`))
		require.NoError(t, err)
		assert.True(t, dup, "the same id from another node is a duplicate")
		assert.Equal(t, seq, again)
		other, dup, err := c.Accept(ctx, "order-2", []byte(`{"id":"order-2"}`))
		require.NoError(t, err)
		assert.False(t, dup)
		assert.Greater(t, other, seq)
	})

	t.Run("a deposed owner's commit is refused, never applied", func(t *testing.T) {
		owner, usurper := openLog(ctx, t, nodes[0], 2), openLog(ctx, t, nodes[1], 2)
		first, err := owner.Commit(ctx, 0, []byte("c1"), "")
		require.NoError(t, err)
		_, err = usurper.Commit(ctx, 0, []byte("stale"), "")
		require.ErrorIs(t, err, ErrFenced, "a commit naming an old last commit")

		// Intake in between does not move the commit fence.
		_, _, err = usurper.Accept(ctx, "order-3", []byte(`{}`))
		require.NoError(t, err)
		second, err := owner.Commit(ctx, first, []byte("c2"), "")
		require.NoError(t, err)

		// A new owner takes over from the last commit; the old one is
		// then fenced out.
		last, err := usurper.LastCommit(ctx)
		require.NoError(t, err)
		require.Equal(t, second, last)
		third, err := usurper.Commit(ctx, last, []byte("c3 by the new owner"), "")
		require.NoError(t, err)
		_, err = owner.Commit(ctx, second, []byte("late"), "")
		require.ErrorIs(t, err, ErrFenced)
		last, err = owner.LastCommit(ctx)
		require.NoError(t, err)
		assert.Equal(t, third, last, "the refused commits left nothing")

		// A commit tried again after its answer was lost counts once.
		fourth, err := usurper.Commit(ctx, third, []byte("c4"), "owner-b-3")
		require.NoError(t, err)
		again, err := usurper.Commit(ctx, third, []byte("c4"), "owner-b-3")
		require.NoError(t, err, "the same id: the first try's answer, not a fence")
		assert.Equal(t, fourth, again)
		_, err = owner.Commit(ctx, third, []byte("c4 by someone else"), "owner-a-3")
		require.ErrorIs(t, err, ErrFenced, "another id after the same commit is fenced")
	})

	t.Run("a lease is one node's, and moves when it is not renewed", func(t *testing.T) {
		const ttl = time.Second
		l0, err := OpenLeases(ctx, nodes[0].JetStream(), "n0", ttl, Replicas)
		require.NoError(t, err)
		l1, err := OpenLeases(ctx, nodes[1].JetStream(), "n1", ttl, Replicas)
		require.NoError(t, err)
		held, ok, err := l0.Acquire(ctx, 3)
		require.NoError(t, err)
		require.True(t, ok)
		_, ok, err = l1.Acquire(ctx, 3)
		require.NoError(t, err)
		assert.False(t, ok, "held by n0")
		require.NoError(t, held.Renew(ctx))
		owner, err := l1.Owner(ctx, 3)
		require.NoError(t, err)
		assert.Equal(t, "n0", owner)

		// n0 stops renewing: n1 gets the partition once the TTL lapses.
		stopped := time.Now()
		var taken *Lease
		for taken == nil {
			require.Less(t, time.Since(stopped), 10*time.Second, "the lease never lapsed")
			taken, _, err = l1.Acquire(ctx, 3)
			require.NoError(t, err)
			if taken == nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
		t.Logf("lease moved %v after its last renewal (TTL %v)", time.Since(stopped).Round(time.Millisecond), ttl)
		require.ErrorIs(t, held.Renew(ctx), ErrLeaseLost, "the old holder learns it lost the lease")
		require.NoError(t, taken.Renew(ctx))
	})

	t.Run("losing the stream's leader loses no acknowledged order", func(t *testing.T) {
		l := openLog(ctx, t, nodes[1], 4)
		s, err := nodes[1].JetStream().Stream(ctx, l.stream)
		require.NoError(t, err)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		leader := -1
		for i, nd := range nodes {
			if nd != nil && nd.Name() == info.Cluster.Leader {
				leader = i
			}
		}
		require.NotEqual(t, -1, leader, "leader %q", info.Cluster.Leader)
		client := nodes[(leader+1)%len(nodes)]
		if client == nil {
			client = nodes[(leader+2)%len(nodes)]
		}
		l = openLog(ctx, t, client, 4)
		var seqs []uint64
		for i := range 20 {
			seq, _, err := l.Accept(ctx, fmt.Sprintf("before-%d", i), []byte("x"))
			require.NoError(t, err)
			seqs = append(seqs, seq)
		}
		nodes[leader].Close()
		nodes[leader] = nil
		// The two left are a majority: intake goes on once they have
		// elected a leader, and everything acknowledged is there.
		began := time.Now()
		for {
			try, cancel := context.WithTimeout(ctx, time.Second)
			_, _, err := l.Accept(try, "after", []byte("x"))
			cancel()
			if err == nil {
				break
			}
			require.Less(t, time.Since(began), 15*time.Second, "intake never resumed: %v", err)
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("intake resumed %v after the stream's leader %s stopped", time.Since(began).Round(time.Millisecond), info.Cluster.Leader)
		s, err = client.JetStream().Stream(ctx, l.stream)
		require.NoError(t, err)
		for _, seq := range seqs {
			_, err := s.GetMsg(ctx, seq)
			require.NoError(t, err, "acknowledged message %d", seq)
		}
	})
}
