package journal_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/internal/testkit"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
	"github.com/baconator/baconator/journal/journaltest"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }

var t0 = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func order(id string) inventory.Order { return journaltest.QueuedOrder(id, t0) }

func pallet(id string) inventory.PalletSpec {
	return inventory.PalletSpec{ID: id, SKU: "pork", Lot: "L", Supplier: "S", Weight: inventory.Lbs(100), Received: t0, Expires: t0.Add(240 * time.Hour)}
}

func open(t *testing.T, fs vfs.FS, dir string) *journal.Journal {
	t.Helper()
	j, err := journal.Open(dir, journal.Options{FS: fs})
	require.NoError(t, err)
	return j
}

func TestWhatWasCommittedIsLoadedBack(t *testing.T) {
	fs := vfs.NewMem()
	j := open(t, fs, "data")
	var b journal.Batch
	b.PutPallet(pallet("P/1")) // ids may hold any byte; the receipt is its first ledger line
	b.PutOrder(order("A"), "")
	require.NoError(t, j.Commit(&b))

	var b2 journal.Batch
	done := order("A")
	done.Status = inventory.StatusAllocated
	b2.AppendLedger("P/1", 0, inventory.LedgerEntry{At: t0, Kind: inventory.LedgerAllocated, Lbs: -inventory.Lbs(10), OrderID: "A", Version: 2})
	b2.AppendLedger("P/1", 1, inventory.LedgerEntry{At: t0, Kind: inventory.LedgerAllocated, Lbs: -inventory.Lbs(5), OrderID: "B", Version: 2})
	b2.PutOrder(done, inventory.StatusQueued) // replaces the queued snapshot
	require.NoError(t, j.Commit(&b2))
	require.NoError(t, j.Close())

	j = open(t, fs, "data")
	defer j.Close()
	st, err := j.LoadHistory()
	require.NoError(t, err)
	require.Equal(t, []inventory.Order{done}, st.Orders)
	require.Len(t, st.Pallets, 1)
	require.Equal(t, pallet("P/1"), st.Pallets[0].Spec)
	require.Len(t, st.Pallets[0].Ledger, 3)
	require.Equal(t, "B", st.Pallets[0].Ledger[2].OrderID, "entries of one version keep their order")
}

func TestConcurrentCommitsShareSyncs(t *testing.T) {
	j := open(t, vfs.NewMem(), "data")
	defer j.Close()
	const writers, each = 32, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				var b journal.Batch
				b.PutOrder(order(fmt.Sprintf("o-%d-%d", w, i)), "")
				require.NoError(t, j.Commit(&b))
			}
		})
	}
	wg.Wait()
	commits, groups := j.Stats()
	require.EqualValues(t, writers*each, commits)
	require.Less(t, groups, commits, "concurrent commits must share groups")
	st, err := j.LoadHistory()
	require.NoError(t, err)
	require.Len(t, st.Orders, writers*each)
}

func TestAnUnreadableDirectoryIsRefused(t *testing.T) {
	t.Run("a directory of other files", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o600))
		_, err := journal.Open(dir, journal.Options{})
		require.ErrorIs(t, err, journal.ErrCorrupt)
		require.ErrorContains(t, err, dir)
	})
	t.Run("a Pebble database that is not a journal", func(t *testing.T) {
		dir := t.TempDir()
		db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
		require.NoError(t, err)
		require.NoError(t, db.Set([]byte("x"), []byte("y"), pebble.Sync))
		require.NoError(t, db.Close())
		_, err = journal.Open(dir, journal.Options{})
		require.ErrorIs(t, err, journal.ErrCorrupt)
		require.ErrorContains(t, err, "not a Baconator journal")
	})
	t.Run("a damaged manifest", func(t *testing.T) {
		dir := t.TempDir()
		j := open(t, nil, dir)
		require.NoError(t, j.Close())
		names, err := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
		require.NoError(t, err)
		require.NotEmpty(t, names)
		for _, n := range names {
			require.NoError(t, os.WriteFile(n, []byte("garbage garbage garbage"), 0o600))
		}
		_, err = journal.Open(dir, journal.Options{})
		require.ErrorIs(t, err, journal.ErrCorrupt)
	})
	t.Run("a value that does not decode", func(t *testing.T) {
		dir := t.TempDir()
		j := open(t, nil, dir)
		require.NoError(t, j.Close())
		db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
		require.NoError(t, err)
		require.NoError(t, db.Set([]byte("oX"), []byte("{not json"), pebble.Sync))
		require.NoError(t, db.Close())
		j = open(t, nil, dir)
		defer j.Close()
		_, err = j.LoadHistory()
		require.ErrorIs(t, err, journal.ErrCorrupt)
		require.ErrorContains(t, err, `key "oX"`)
	})
}

// A full disk fails the commit that meets it, and every one after it: the
// journal never acknowledges what it did not persist.
func TestAWriteErrorStopsTheJournal(t *testing.T) {
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return syscall.ENOSPC
		}
		return nil
	}))
	j := open(t, fs, "data")
	defer j.Close()
	var b journal.Batch
	b.PutOrder(order("before"), "")
	require.NoError(t, j.Commit(&b))

	full.Store(true)
	b = journal.Batch{}
	b.PutOrder(order("during"), "")
	err := j.Commit(&b)
	require.ErrorIs(t, err, journal.ErrFailed)
	require.ErrorContains(t, err, "no space left")

	full.Store(false)
	b = journal.Batch{}
	b.PutOrder(order("after"), "")
	require.ErrorIs(t, j.Commit(&b), journal.ErrFailed, "the journal stays stopped")
	require.True(t, errors.Is(j.Err(), journal.ErrFailed))
}

// quiet keeps Pebble's own log lines out of the test output.
type quiet struct{}

func (quiet) Infof(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

func TestAnEmptyDatabaseLeftByACrashAtFirstStartIsClaimed(t *testing.T) {
	dir := t.TempDir()
	db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}}) // Pebble's files, no mark yet
	require.NoError(t, err)
	require.NoError(t, db.Close())
	j := open(t, nil, dir)
	require.NoError(t, j.Close())
	j = open(t, nil, dir)
	require.NoError(t, j.Close())
}

// Groups are written while earlier ones sync. When a write fails with
// groups in flight, every commit acknowledged before it is still read
// back and nothing that failed is: reads from then on come from the last
// state that was wholly acknowledged, however the groups overlapped.
func TestAWriteErrorWithGroupsInFlightShowsExactlyWhatWasAcknowledged(t *testing.T) {
	for seed := range int64(8) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			var writes, failAfter atomic.Int64
			failAfter.Store(math.MaxInt64)
			fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
				if op.Kind.ReadOrWrite() == errorfs.OpIsWrite && writes.Add(1) > failAfter.Load() {
					return syscall.ENOSPC
				}
				return nil
			}))
			j := open(t, fs, "data")
			defer j.Close()
			failAfter.Store(writes.Load() + 20 + seed*7)
			const writers, each = 16, 40
			acked := make([][]string, writers)
			refused := make([][]string, writers)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						id := fmt.Sprintf("o-%d-%d", w, i)
						var b journal.Batch
						b.PutOrder(order(id), "")
						if err := j.Commit(&b); err != nil {
							require.ErrorIs(t, err, journal.ErrFailed)
							refused[w] = append(refused[w], id)
						} else {
							acked[w] = append(acked[w], id)
						}
					}
				})
			}
			wg.Wait()
			require.ErrorIs(t, j.Err(), journal.ErrFailed, "the disk filled during the run")
			var nAcked, nRefused int
			for w := range writers {
				for _, id := range acked[w] {
					_, ok, err := j.Order(id)
					require.NoError(t, err)
					require.True(t, ok, "acknowledged %s is read back", id)
					nAcked++
				}
				for _, id := range refused[w] {
					_, ok, err := j.Order(id)
					require.NoError(t, err)
					require.False(t, ok, "refused %s is not read back", id)
					nRefused++
				}
			}
			require.Positive(t, nAcked)
			require.Positive(t, nRefused)
		})
	}
}

// Looking up an order id that was never accepted (every new client id is)
// reads each table's Bloom filter and index. Those stay in the block cache
// once the memtable has grown large: Pebble charges memtables to the
// cache, and with its default size a large memtable left it no room, so
// every lookup read them back from disk.
func TestLookupsOfNewIdsAreServedFromTheBlockCache(t *testing.T) {
	j := open(t, nil, t.TempDir())
	defer j.Close()
	const orders = 100_000 // ~40 MB written: the memtable grows past 16 MiB
	for g := range orders / 100 {
		var b journal.Batch
		for i := range 100 {
			o := order(fmt.Sprintf("lg-%07d", g*100+i))
			o.Request.Customer = strings.Repeat("c", 200)
			b.PutOrder(o, "")
		}
		require.NoError(t, j.Commit(&b))
	}
	require.NoError(t, journal.FlushForTest(j))
	hits0, misses0 := journal.BlockCacheForTest(j)
	const lookups = 2_000
	for i := range lookups {
		_, ok, err := j.Order(fmt.Sprintf("lg-%07d", orders+i)) // next to the ids written: inside the tables' ranges
		require.NoError(t, err)
		require.False(t, ok)
	}
	hits, misses := journal.BlockCacheForTest(j)
	require.Greater(t, hits-hits0, 10*(misses-misses0), "lookups read filters and indexes from the cache (hits %d, misses %d)", hits-hits0, misses-misses0)
}

func TestAJournalKeepsItsKeyOrTakesTheOneGiven(t *testing.T) {
	fs := vfs.NewMem()
	j := open(t, fs, "j")
	made := j.Secret()
	require.Len(t, made, 32)
	require.NoError(t, j.Close())
	j = open(t, fs, "j")
	require.Equal(t, made, j.Secret(), "made once, kept")
	require.NoError(t, j.Close())

	given := bytes.Repeat([]byte{7}, 32)
	j, err := journal.Open("j", journal.Options{FS: fs, Secret: given})
	require.NoError(t, err)
	require.Equal(t, given, j.Secret(), "the one given wins")
	require.NoError(t, j.Close())
	_, err = journal.Open("j", journal.Options{FS: fs, Secret: []byte("short")})
	require.ErrorContains(t, err, "Secret: 5 bytes")
}

// positioned is a Replica that counts the groups it was given.
type positioned struct{ n uint64 }

func (p *positioned) Append([]byte) error { p.n++; return nil }
func (p *positioned) Position() uint64    { return p.n }

func TestASnapshotRestoresTheStateBetweenTwoGroups(t *testing.T) {
	rep := &positioned{}
	j, err := journal.Open("j", journal.Options{FS: vfs.NewMem(), Volatile: true, Replica: rep})
	require.NoError(t, err)
	defer j.Close()
	for _, id := range []string{"a", "b", "c"} {
		var b journal.Batch
		b.PutOrder(order(id), "")
		require.NoError(t, j.Commit(&b))
	}
	snap, err := j.Snapshot()
	require.NoError(t, err)
	require.Equal(t, uint64(3), snap.Position, "taken after the third group, before any other")
	var b journal.Batch
	b.PutOrder(order("d"), "")
	require.NoError(t, j.Commit(&b))
	state, err := snap.Export()
	require.NoError(t, err)
	require.NoError(t, snap.Close())

	next, err := journal.Open("next", journal.Options{FS: vfs.NewMem(), Volatile: true})
	require.NoError(t, err)
	defer next.Close()
	require.NoError(t, next.Restore(func(yield func([]byte, error) bool) { yield(state, nil) }))
	for id, want := range map[string]bool{"a": true, "b": true, "c": true, "d": false} {
		_, ok, err := next.Order(id)
		require.NoError(t, err)
		require.Equal(t, want, ok, "order %s", id)
	}
	head, _ := next.EventsHead()
	was, _ := j.EventsHead()
	require.Equal(t, was-1, head, "the events up to the snapshot, and their ids")
}
