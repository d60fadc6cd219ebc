package journal

import "github.com/baconator/baconator/inventory"

// Test-only access to the codec and key layout, to write a journal of an
// earlier format by hand.

func EncodeSpecForTest(s inventory.PalletSpec) []byte       { return encodeSpec(s) }
func EncodeEntryForTest(e inventory.LedgerEntry) []byte     { return encodeEntry(e) }
func EncodeOrderForTest(o inventory.Order) []byte           { return encodeOrder(o) }
func LedgerKeyForTest(id string, v int64, index int) []byte { return ledgerKey(id, v, index) }

// ForgetLotsForTest makes a journal look as one written before the lot
// index: no index entries, no mark.
func ForgetLotsForTest(j *Journal) error {
	b := j.db.NewBatch()
	if err := b.DeleteRange([]byte{kindByLot}, []byte{kindByLot + 1}, nil); err != nil {
		return err
	}
	if err := b.Delete(lotsIndexedKey, nil); err != nil {
		return err
	}
	return b.Commit(nil)
}

// BlockCacheForTest is the block cache's hits and misses so far.
func BlockCacheForTest(j *Journal) (hits, misses int64) {
	m := j.db.Metrics()
	return m.BlockCache.Hits, m.BlockCache.Misses
}

// FlushForTest writes the memtable out to a table.
func FlushForTest(j *Journal) error { return j.db.Flush() }
