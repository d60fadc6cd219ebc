package journal

import "github.com/baconator/baconator/inventory"

// Batch is what one commit writes: order snapshots, pallet receipts and
// ledger entries, all or none. The zero Batch is empty and ready to use.
type Batch struct {
	kvs []kv
}

type kv struct{ key, value []byte }

// PutOrder stores an order's snapshot, replacing the one before.
func (b *Batch) PutOrder(o inventory.Order) { b.put(orderKey(o.Request.ID), encodeOrder(o)) }

// PutPallet stores a pallet's receipt.
func (b *Batch) PutPallet(spec inventory.PalletSpec) { b.put(palletKey(spec.ID), encodeSpec(spec)) }

// AppendLedger stores one ledger entry of a pallet; index orders entries
// that share a version (one confirm allocating to several orders).
func (b *Batch) AppendLedger(palletID string, index int, e inventory.LedgerEntry) {
	b.put(ledgerKey(palletID, e.Version, index), encodeEntry(e))
}

// Len is the number of keys the batch writes.
func (b *Batch) Len() int { return len(b.kvs) }

// Reset empties the batch for reuse. A batch must not be reset while a
// Commit of it is under way.
func (b *Batch) Reset() { b.kvs = b.kvs[:0] }

func (b *Batch) put(key, value []byte) { b.kvs = append(b.kvs, kv{key, value}) }
