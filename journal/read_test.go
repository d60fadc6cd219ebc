package journal_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// accepted returns an order of customer and sku accepted at t0 + i seconds.
func accepted(id, customer, sku string, i int, status inventory.Status) inventory.Order {
	o := order(id)
	o.Request.Customer, o.Request.SKU = customer, sku
	o.AcceptedAt = t0.Add(time.Duration(i) * time.Second)
	o.Status = status
	return o
}

func ids(os []inventory.Order) []string {
	var out []string
	for _, o := range os {
		out = append(out, o.Request.ID)
	}
	return out
}

// pageAll follows a query's pages to the end.
func pageAll(t *testing.T, j *journal.Journal, q journal.OrderQuery) []string {
	t.Helper()
	var out []string
	for range 1000 {
		page, next, err := j.Orders(q)
		require.NoError(t, err)
		out = append(out, ids(page)...)
		if next == nil {
			return out
		}
		require.Len(t, page, q.Limit, "a page holds limit items unless it is the last")
		q.After = next
	}
	t.Fatal("pages never ended")
	return nil
}

func TestOrdersArePagedByIndex(t *testing.T) {
	j := open(t, vfs.NewMem(), "data")
	defer j.Close()
	var b journal.Batch
	var all []inventory.Order
	for i := range 30 {
		customer, sku := fmt.Sprintf("cust-%d", i%3), []string{"pork", "beef"}[i%2]
		o := accepted(fmt.Sprintf("o%02d", i), customer, sku, i, inventory.StatusQueued)
		b.PutOrder(o, "")
		all = append(all, o)
	}
	require.NoError(t, j.Commit(&b))
	// Every third order ends allocated, one more rejected: the status
	// index moves, the others stay.
	b.Reset()
	for i := 0; i < 30; i += 3 {
		o := all[i]
		o.Status = inventory.StatusAllocated
		b.PutOrder(o, inventory.StatusQueued)
		all[i] = o
	}
	all[1].Status = inventory.StatusRejected
	b.PutOrder(all[1], inventory.StatusQueued)
	require.NoError(t, j.Commit(&b))

	want := func(keep func(inventory.Order) bool, desc bool) []string {
		var out []string
		for _, o := range all {
			if keep(o) {
				out = append(out, o.Request.ID)
			}
		}
		if desc {
			slices.Reverse(out)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    journal.OrderQuery
		keep func(inventory.Order) bool
	}{
		{"all", journal.OrderQuery{}, func(inventory.Order) bool { return true }},
		{"by status", journal.OrderQuery{Status: inventory.StatusAllocated}, func(o inventory.Order) bool { return o.Status == inventory.StatusAllocated }},
		{"unfinished", journal.OrderQuery{Status: inventory.StatusQueued}, func(o inventory.Order) bool { return !o.Status.Terminal() }},
		{"by customer", journal.OrderQuery{Customer: "cust-1"}, func(o inventory.Order) bool { return o.Request.Customer == "cust-1" }},
		{"by sku", journal.OrderQuery{SKU: "beef"}, func(o inventory.Order) bool { return o.Request.SKU == "beef" }},
		{"customer and status", journal.OrderQuery{Customer: "cust-0", Status: inventory.StatusAllocated}, func(o inventory.Order) bool {
			return o.Request.Customer == "cust-0" && o.Status == inventory.StatusAllocated
		}},
		{"sku and status", journal.OrderQuery{SKU: "beef", Status: inventory.StatusAllocated}, func(o inventory.Order) bool {
			return o.Request.SKU == "beef" && o.Status == inventory.StatusAllocated
		}},
		{"customer and sku", journal.OrderQuery{Customer: "cust-1", SKU: "pork"}, func(o inventory.Order) bool {
			return o.Request.Customer == "cust-1" && o.Request.SKU == "pork"
		}},
		{"customer, sku and a status that moved", journal.OrderQuery{Customer: "cust-1", SKU: "beef", Status: inventory.StatusRejected}, func(o inventory.Order) bool {
			return o.Request.Customer == "cust-1" && o.Request.SKU == "beef" && o.Status == inventory.StatusRejected
		}},
		{"customer and unfinished", journal.OrderQuery{Customer: "cust-2", Status: inventory.StatusQueued}, func(o inventory.Order) bool {
			return o.Request.Customer == "cust-2" && !o.Status.Terminal()
		}},
		{"since after until", journal.OrderQuery{Since: t0.Add(12 * time.Second), Until: t0.Add(5 * time.Second)}, func(inventory.Order) bool { return false }},
		{"since and until", journal.OrderQuery{Since: t0.Add(5 * time.Second), Until: t0.Add(12 * time.Second)}, func(o inventory.Order) bool {
			return !o.AcceptedAt.Before(t0.Add(5*time.Second)) && o.AcceptedAt.Before(t0.Add(12*time.Second))
		}},
	} {
		for _, desc := range []bool{false, true} {
			for _, limit := range []int{1, 4, 100} {
				t.Run(fmt.Sprintf("%s desc=%v limit=%d", tc.name, desc, limit), func(t *testing.T) {
					q := tc.q
					q.Desc, q.Limit = desc, limit
					require.Equal(t, want(tc.keep, desc), pageAll(t, j, q))
				})
			}
		}
	}
}

// New orders accepted while a client pages through newest first never
// show up twice or push an older one off its page.
func TestAListingUnderIntakeIsStable(t *testing.T) {
	j := open(t, vfs.NewMem(), "data")
	defer j.Close()
	commit := func(from, to int) {
		var b journal.Batch
		for i := from; i < to; i++ {
			b.PutOrder(accepted(fmt.Sprintf("o%03d", i), "c", "pork", i, inventory.StatusQueued), "")
		}
		require.NoError(t, j.Commit(&b))
	}
	commit(0, 50)
	q := journal.OrderQuery{Desc: true, Limit: 7}
	var seen []string
	for n := 50; ; n += 5 {
		page, next, err := j.Orders(q)
		require.NoError(t, err)
		seen = append(seen, ids(page)...)
		if next == nil {
			break
		}
		q.After = next
		commit(n, n+5) // newer orders land while the client pages
	}
	var want []string
	for i := 49; i >= 0; i-- {
		want = append(want, fmt.Sprintf("o%03d", i))
	}
	require.Equal(t, want, seen, "every order there when paging began, once, in order")
}

func TestLedgersArePaged(t *testing.T) {
	j := open(t, vfs.NewMem(), "data")
	defer j.Close()
	var b journal.Batch
	spec := pallet("P1")
	b.PutPallet(spec)
	for v := int64(2); v <= 6; v++ {
		for i := range 3 {
			b.AppendLedger("P1", i, inventory.LedgerEntry{At: t0, Kind: inventory.LedgerAllocated, Lbs: -1, OrderID: fmt.Sprintf("o%d-%d", v, i), Version: v})
		}
	}
	b.AppendLedger("P10", 0, inventory.LedgerEntry{Kind: inventory.LedgerReceived, Lbs: 1, Version: 1}) // a neighbour's id
	require.NoError(t, j.Commit(&b))
	var got []string
	var after *journal.LedgerPosition
	for {
		page, next, err := j.Ledger("P1", after, 4)
		require.NoError(t, err)
		for _, e := range page {
			got = append(got, fmt.Sprintf("v%d:%s", e.Version, e.OrderID))
		}
		if next == nil {
			break
		}
		require.Len(t, page, 4)
		after = next
	}
	require.Len(t, got, 16, "the receipt and 15 allocations, nothing of P10")
	require.Equal(t, "v1:", got[0])
	require.Equal(t, "v6:o6-2", got[15])
}

func TestPalletsRetireAndRevive(t *testing.T) {
	j := open(t, vfs.NewMem(), "data")
	defer j.Close()
	var b journal.Batch
	p1, p2 := pallet("P1"), pallet("P2")
	p2.SKU = "beef"
	b.PutPallet(p1)
	b.PutPallet(p2)
	require.NoError(t, j.Commit(&b))

	c, retired, ok, err := j.Pallet("P1")
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, retired)
	require.Equal(t, journal.Checkpoint{Spec: p1, OnHand: p1.Weight, Version: 1}, c)

	b.Reset()
	b.Retire(journal.Checkpoint{Spec: p1, Version: 2}, 1)
	require.NoError(t, j.Commit(&b))
	c, retired, ok, err = j.Pallet("P1")
	require.NoError(t, err)
	require.True(t, ok && retired)
	require.EqualValues(t, 2, c.Version)
	live, err := j.Load()
	require.NoError(t, err)
	require.Len(t, live.Pallets, 1, "recovery reads only what is on the floor")
	require.Equal(t, "P2", live.Pallets[0].Spec.ID)
	require.Equal(t, map[string]int64{"pork": 1}, live.Retired)
	list, err := j.Retired("", nil, 10)
	require.NoError(t, err)
	require.Len(t, list, 1)

	b.Reset()
	b.Revive(journal.Checkpoint{Spec: p1, OnHand: 5, Version: 3}, 0)
	require.NoError(t, j.Commit(&b))
	c, retired, ok, err = j.Pallet("P1")
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, retired)
	require.EqualValues(t, 5, c.OnHand)
	list, err = j.Retired("pork", nil, 10)
	require.NoError(t, err)
	require.Empty(t, list)
	_, _, ok, err = j.Pallet("nope")
	require.NoError(t, err)
	require.False(t, ok)
}

func TestLoadReadsOnlyWhatIsLive(t *testing.T) {
	j := open(t, vfs.NewMem(), "data")
	defer j.Close()
	var b journal.Batch
	for i := range 10 {
		b.PutOrder(accepted(fmt.Sprintf("o%d", i), "c", "pork", i, inventory.StatusQueued), "")
	}
	require.NoError(t, j.Commit(&b))
	b.Reset()
	for i := range 8 {
		o := accepted(fmt.Sprintf("o%d", i), "c", "pork", i, inventory.StatusRejected)
		b.PutOrder(o, inventory.StatusQueued)
	}
	require.NoError(t, j.Commit(&b))
	live, err := j.Load()
	require.NoError(t, err)
	require.Equal(t, []string{"o8", "o9"}, ids(live.Unfinished))
}

// A v1 journal (orders, receipts and ledger lines, nothing else) is
// migrated when opened: its orders get their indexes, its pallets their
// checkpoints, live or retired.
func TestAVersion1JournalIsMigrated(t *testing.T) {
	fs := vfs.NewMem()
	require.NoError(t, fs.MkdirAll("data", 0o755))
	db, err := pebble.Open("data", &pebble.Options{FS: fs, Logger: quiet{}})
	require.NoError(t, err)
	set := func(k string, v []byte) { require.NoError(t, db.Set([]byte(k), v, pebble.NoSync)) }
	set("mformat", []byte("baconator-journal/1"))
	full, empty := pallet("FULL"), pallet("EMPTY")
	for _, p := range []inventory.PalletSpec{full, empty} {
		set("p"+p.ID, journal.EncodeSpecForTest(p))
		set(string(journal.LedgerKeyForTest(p.ID, 1, 0)), journal.EncodeEntryForTest(inventory.ReceiptEntry(p)))
	}
	set(string(journal.LedgerKeyForTest("EMPTY", 2, 0)), journal.EncodeEntryForTest(inventory.LedgerEntry{At: t0, Kind: inventory.LedgerAllocated, Lbs: -empty.Weight, OrderID: "done", Version: 2}))
	done := accepted("done", "c", "pork", 1, inventory.StatusAllocated)
	done.Allocations = []inventory.Allocation{{PalletID: "EMPTY", Lbs: empty.Weight}}
	set("odone", journal.EncodeOrderForTest(done))
	set("owaiting", journal.EncodeOrderForTest(accepted("waiting", "c", "pork", 2, inventory.StatusQueued)))
	require.NoError(t, db.Flush())
	require.NoError(t, db.Close())

	j := open(t, fs, "data")
	defer j.Close()
	live, err := j.Load()
	require.NoError(t, err)
	require.Len(t, live.Pallets, 1)
	require.Equal(t, "FULL", live.Pallets[0].Spec.ID)
	require.Equal(t, []string{"waiting"}, ids(live.Unfinished))
	require.Equal(t, map[string]int64{"pork": 1}, live.Retired)
	c, retired, ok, err := j.Pallet("EMPTY")
	require.NoError(t, err)
	require.True(t, ok && retired)
	require.EqualValues(t, 2, c.Version)
	page, _, err := j.Orders(journal.OrderQuery{Status: inventory.StatusAllocated, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{"done"}, ids(page))
}

// TestLotsAreIndexed: every pallet received in a lot is found by it, on
// the floor or retired, and a journal written before the index gets it
// built when opened.
func TestLotsAreIndexed(t *testing.T) {
	fs := vfs.NewMem()
	j := open(t, fs, "data")
	var b journal.Batch
	for i, lot := range []string{"A", "B", "A", "", "A"} {
		s := pallet(fmt.Sprintf("P-%d", i))
		s.Lot = lot
		b.PutPallet(s)
	}
	require.NoError(t, j.Commit(&b))
	want := map[string][]string{"A": {"P-0", "P-2", "P-4"}, "B": {"P-1"}, "C": nil}
	for lot, ids := range want {
		got, err := j.LotPallets(lot)
		require.NoError(t, err)
		require.Equal(t, ids, got, "lot %s", lot)
	}

	require.NoError(t, journal.ForgetLotsForTest(j))
	got, err := j.LotPallets("A")
	require.NoError(t, err)
	require.Empty(t, got)
	require.NoError(t, j.Close())
	j = open(t, fs, "data")
	defer j.Close()
	for lot, ids := range want {
		got, err := j.LotPallets(lot)
		require.NoError(t, err)
		require.Equal(t, ids, got, "lot %s after the index was built at open", lot)
	}
}
