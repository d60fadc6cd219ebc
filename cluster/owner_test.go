package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
	"github.com/baconator/baconator/journal/journaltest"
)

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

func order(id string) inventory.Order { return journaltest.QueuedOrder(id, t0) }

// ownJournal opens a fresh journal on node nd as partition p's owner and
// takes the partition over from its log.
func ownJournal(ctx context.Context, t *testing.T, nd *Node, p int) (*journal.Journal, *Owner) {
	t.Helper()
	o := NewOwner(openLog(ctx, t, nd, p))
	j, err := journal.Open("data", journal.Options{FS: vfs.NewMem(), Volatile: true, Replica: o}) // as Own opens it
	require.NoError(t, err)
	t.Cleanup(func() { _ = j.Close() })
	require.NoError(t, o.TakeOver(ctx, j))
	return j, o
}

// A partition's journal lives in its replicated log: a new owner on
// another node rebuilds exactly what the old one acknowledged, and from
// its first commit on the old owner can write nothing more.
func TestAnOwnersJournalIsRebuiltByTheNext(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const p = 5

	old, _ := ownJournal(ctx, t, nodes[0], p)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acked []inventory.Order
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				o := order(fmt.Sprintf("o-%d-%d", w, i))
				var b journal.Batch
				b.PutOrder(o, "")
				if i%2 == 1 { // and some end, as orders do
					o.Status, o.CompletedAt = inventory.StatusAllocated, t0.Add(time.Second)
					b.PutOrder(o, inventory.StatusQueued)
				}
				require.NoError(t, old.Commit(&b))
				mu.Lock()
				acked = append(acked, o)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	oldHead, _ := old.EventsHead()

	next, _ := ownJournal(ctx, t, nodes[1], p)
	for _, want := range acked {
		got, ok, err := next.Order(want.Request.ID)
		require.NoError(t, err)
		require.True(t, ok, "order %s", want.Request.ID)
		assert.Equal(t, want, got)
	}
	head, _ := next.EventsHead()
	assert.Equal(t, oldHead, head, "the live events carry on from the same id")
	evs, gap, err := next.Events(0, 1000)
	require.NoError(t, err)
	assert.Zero(t, gap)
	assert.Len(t, evs, int(head))

	// The deposed owner's late write is refused even before the next
	// owner has committed anything of its own: the takeover marked the log.
	var b journal.Batch
	b.PutOrder(order("by-the-deposed-owner"), "")
	err = old.Commit(&b)
	require.ErrorIs(t, err, journal.ErrFailed)
	require.ErrorContains(t, err, "fenced")
	require.ErrorIs(t, old.Err(), journal.ErrFailed, "the deposed owner stops")

	b = journal.Batch{}
	b.PutOrder(order("by-the-next-owner"), "")
	require.NoError(t, next.Commit(&b))

	// What the deposed owner tried is in no one's state.
	third, _ := ownJournal(ctx, t, nodes[2], p)
	_, ok, err := third.Order("by-the-deposed-owner")
	require.NoError(t, err)
	assert.False(t, ok)
	_, ok, err = third.Order("by-the-next-owner")
	require.NoError(t, err)
	assert.True(t, ok)
}
