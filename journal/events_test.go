package journal_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// allEvents reads every event after after, a page at a time.
func allEvents(t *testing.T, j *journal.Journal, after uint64) (evs []journal.Event, gap uint64) {
	t.Helper()
	for {
		page, g, err := j.Events(after, 7)
		require.NoError(t, err)
		if gap == 0 {
			gap = g
		}
		if len(page) == 0 {
			return evs, gap
		}
		evs = append(evs, page...)
		after = page[len(page)-1].ID
	}
}

func TestEventsAreWhatEachCommitChangedInOrder(t *testing.T) {
	j := open(t, vfs.NewMem(), "data")
	defer j.Close()
	head, changed := j.EventsHead()
	require.Zero(t, head)

	var b journal.Batch
	spec := pallet("P1")
	b.PutPallet(spec)
	b.PutOrder(order("A"), "")
	require.NoError(t, j.Commit(&b))
	select {
	case <-changed:
	default:
		t.Fatal("a commit did not wake the waiters")
	}

	// Two lines of one pallet in one batch: each event shows the weight
	// that line left, the checkpoint the weight after both.
	var b2 journal.Batch
	done := order("A")
	done.Status = inventory.StatusAllocated
	done.Allocations = []inventory.Allocation{{PalletID: "P1", Lot: "L", Lbs: inventory.Lbs(15)}}
	b2.AppendLedger("P1", 0, inventory.LedgerEntry{At: t0, Kind: inventory.LedgerAllocated, Lbs: -inventory.Lbs(10), OrderID: "A", Version: 2})
	b2.AppendLedger("P1", 1, inventory.LedgerEntry{At: t0, Kind: inventory.LedgerAllocated, Lbs: -inventory.Lbs(5), OrderID: "B", Version: 2})
	b2.PutOrder(done, inventory.StatusQueued)
	b2.Checkpoint(journal.Checkpoint{Spec: spec, OnHand: inventory.Lbs(85), Version: 2})
	require.NoError(t, j.Commit(&b2))

	evs, gap := allEvents(t, j, 0)
	require.Zero(t, gap)
	require.Len(t, evs, 5)
	for i, ev := range evs {
		assert.Equal(t, uint64(i+1), ev.ID)
	}
	receipt := evs[0].Pallet
	require.NotNil(t, receipt)
	assert.Equal(t, journal.PalletEvent{PalletID: "P1", SKU: "pork", Lot: "L", Entry: inventory.ReceiptEntry(spec), OnHand: inventory.Lbs(100)}, *receipt)
	require.NotNil(t, evs[1].Order)
	assert.Equal(t, inventory.StatusQueued, evs[1].Order.Status)
	assert.Equal(t, inventory.Lbs(90), evs[2].Pallet.OnHand)
	assert.Equal(t, inventory.Lbs(85), evs[3].Pallet.OnHand)
	assert.Equal(t, "B", evs[3].Pallet.Entry.OrderID)
	assert.Equal(t, done, *evs[4].Order)

	head, _ = j.EventsHead()
	assert.Equal(t, uint64(5), head)
	rest, gap := allEvents(t, j, 3) // a client that saw 3 resumes at 4
	require.Zero(t, gap)
	require.Len(t, rest, 2)
	assert.Equal(t, uint64(4), rest[0].ID)
	none, gap := allEvents(t, j, 5)
	assert.Empty(t, none)
	assert.Zero(t, gap)
}

func TestEventsOutliveARestartAndIdsGoOn(t *testing.T) {
	fs := vfs.NewMem()
	j := open(t, fs, "data")
	var b journal.Batch
	b.PutOrder(order("A"), "")
	require.NoError(t, j.Commit(&b))
	require.NoError(t, j.Close())

	j = open(t, fs, "data")
	defer j.Close()
	head, _ := j.EventsHead()
	require.Equal(t, uint64(1), head)
	var b2 journal.Batch
	b2.PutOrder(order("B"), "")
	require.NoError(t, j.Commit(&b2))
	evs, gap := allEvents(t, j, 0)
	require.Zero(t, gap)
	require.Len(t, evs, 2)
	assert.Equal(t, "A", evs[0].Order.Request.ID)
	assert.Equal(t, uint64(2), evs[1].ID)
	assert.Equal(t, "B", evs[1].Order.Request.ID)
}

// The log keeps what it is told to and no more; a client that asks for
// what is gone is told where the log now starts, and gets everything from
// there, none twice.
func TestTheEventLogIsBoundedAndSaysWhereItStarts(t *testing.T) {
	const kept = 40
	j, err := journal.Open("data", journal.Options{FS: vfs.NewMem(), EventsKept: kept})
	require.NoError(t, err)
	defer j.Close()
	for i := range 500 {
		var b journal.Batch
		b.PutOrder(order(fmt.Sprint("o", i)), "")
		require.NoError(t, j.Commit(&b))
	}
	evs, gap := allEvents(t, j, 0)
	require.NotZero(t, gap)
	require.NotEmpty(t, evs)
	assert.Equal(t, gap, evs[0].ID)
	assert.Equal(t, uint64(500), evs[len(evs)-1].ID)
	assert.GreaterOrEqual(t, len(evs), kept)
	assert.LessOrEqual(t, len(evs), kept+kept/8+1)
	for i, ev := range evs {
		assert.Equal(t, gap+uint64(i), ev.ID)
		assert.Equal(t, fmt.Sprint("o", ev.ID-1), ev.Order.Request.ID)
	}

	// An id the log never issued (a data directory replaced under a
	// client) is a gap too.
	_, gap2 := allEvents(t, j, 10_000)
	assert.Equal(t, gap, gap2)
}

// Many committers at once: every event once, ids contiguous and in commit
// order (each committer's own events in the order it committed them).
func TestConcurrentCommitsNumberEveryEventOnce(t *testing.T) {
	j := open(t, vfs.NewMem(), "data")
	defer j.Close()
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				var b journal.Batch
				b.PutOrder(order(fmt.Sprintf("w%d-%03d", w, i)), "")
				if err := j.Commit(&b); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	evs, gap := allEvents(t, j, 0)
	require.Zero(t, gap)
	require.Len(t, evs, writers*each)
	last := map[string]string{}
	for i, ev := range evs {
		require.Equal(t, uint64(i+1), ev.ID)
		id := ev.Order.Request.ID
		w := id[:2]
		require.Less(t, last[w], id, "writer %s's events out of order", w)
		last[w] = id
	}
}

// One group may hold more events than the log keeps: the prune never
// takes the group being written.
func TestAGroupLargerThanTheLogIsKept(t *testing.T) {
	j, err := journal.Open("data", journal.Options{FS: vfs.NewMem(), EventsKept: 2})
	require.NoError(t, err)
	defer j.Close()
	var b journal.Batch
	for _, id := range []string{"A", "B", "C"} {
		b.PutOrder(order(id), "")
	}
	require.NoError(t, j.Commit(&b))
	evs, gap := allEvents(t, j, 0)
	assert.Zero(t, gap)
	require.Len(t, evs, 3)
	assert.Equal(t, uint64(3), evs[2].ID)
}

// A step may strike a pallet and then hold it, in one batch: each line's
// event says the status that line left, not the batch's last.
func TestEachPalletEventCarriesTheStatusItsLineLeft(t *testing.T) {
	j := open(t, vfs.NewMem(), "data")
	defer j.Close()
	spec := pallet("P1")
	var b journal.Batch
	b.PutPallet(spec)
	require.NoError(t, j.Commit(&b))
	var b2 journal.Batch
	b2.AppendLedgerLeaving("P1", 0, inventory.LedgerEntry{Kind: inventory.LedgerAdjusted, Lbs: -inventory.Lbs(3), Reason: "chaos", Version: 2}, inventory.StatusAvailable)
	b2.AppendLedgerLeaving("P1", 0, inventory.LedgerEntry{Kind: inventory.LedgerHeld, Version: 3, Status: inventory.StatusOnHold}, inventory.StatusOnHold)
	b2.Checkpoint(journal.Checkpoint{Spec: spec, OnHand: inventory.Lbs(97), Version: 3, Status: string(inventory.StatusOnHold)})
	require.NoError(t, j.Commit(&b2))
	evs, _ := allEvents(t, j, 1)
	require.Len(t, evs, 2)
	assert.Equal(t, inventory.StatusAvailable, evs[0].Pallet.Status)
	assert.Equal(t, inventory.Lbs(97), evs[0].Pallet.OnHand)
	assert.Equal(t, inventory.StatusOnHold, evs[1].Pallet.Status)
}
