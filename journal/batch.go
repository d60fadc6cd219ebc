package journal

import (
	"encoding/binary"

	"github.com/cockroachdb/pebble/v2"

	"github.com/baconator/baconator/inventory"
)

// Batch is what one commit writes, all or none: order snapshots with their
// indexes, pallet receipts, ledger lines and pallet checkpoints. The zero
// Batch is empty and ready to use.
type Batch struct {
	kvs []kv

	// The batch's events (events.go): each order snapshot and ledger line,
	// the checkpoints they take the pallet's state from, and the records
	// sealEvents encodes from them when the batch is committed.
	events      []pendingEvent
	checkpoints map[string]Checkpoint
	later       map[string]inventory.CentiLbs // palletWeights' scratch
	records     []byte
	eventCount  int
}

// kv is one write; a nil value deletes the key.
type kv struct{ key, value []byte }

// PutOrder stores an order's snapshot, replacing the one before, and keeps
// its indexes. was is the status the journal last held for it: empty for a
// new order (every index is written), else only a move between statuses
// touches the status index.
func (b *Batch) PutOrder(o inventory.Order, was inventory.Status) {
	v := encodeOrder(o)
	b.put(orderKey(o.Request.ID), v)
	b.events = append(b.events, pendingEvent{kind: recordOrder, value: v})
	code := statusCode(o.Status)
	if was == "" {
		b.put(byAcceptedKey(o), []byte{})
		b.put(byCustomerKey(o), byCustomerValue(code, o))
		b.put(bySKUKey(o), bySKUValue(code))
		b.put(byStatusKey(code, o), []byte{})
		return
	}
	if old := statusCode(was); old != code {
		b.del(byStatusKey(old, o))
		b.put(byStatusKey(code, o), []byte{})
		b.put(byCustomerKey(o), byCustomerValue(code, o))
		b.put(bySKUKey(o), bySKUValue(code))
	}
}

// PutPallet stores a new pallet: its receipt, its first ledger line and
// its first checkpoint.
func (b *Batch) PutPallet(spec inventory.PalletSpec) {
	b.put(palletKey(spec.ID), encodeSpec(spec))
	if spec.Lot != "" {
		b.put(byLotKey(spec), []byte{})
	}
	b.AppendLedger(spec.ID, 0, inventory.ReceiptEntry(spec))
	b.Checkpoint(Checkpoint{Spec: spec, OnHand: spec.Weight, Version: 1})
}

// AppendLedger stores one ledger entry of a pallet; index orders entries
// that share a version (one confirm allocating to several orders).
func (b *Batch) AppendLedger(palletID string, index int, e inventory.LedgerEntry) {
	b.AppendLedgerLeaving(palletID, index, e, e.Status)
}

// AppendLedgerLeaving is AppendLedger with the pallet's status after the
// line, for its event; empty means the status the batch's checkpoint of
// the pallet holds.
func (b *Batch) AppendLedgerLeaving(palletID string, index int, e inventory.LedgerEntry, status inventory.PalletStatus) {
	v := encodeEntry(e)
	b.put(ledgerKey(palletID, e.Version, index), v)
	b.events = append(b.events, pendingEvent{kind: recordPallet, value: v, palletID: palletID, lbs: e.Lbs, status: status})
}

// Checkpoint stores a live pallet's state.
func (b *Batch) Checkpoint(c Checkpoint) {
	b.put(liveKey(c.Spec.ID), encodeCheckpoint(c))
	b.noteState(c)
}

// noteState keeps a pallet's state for the events of its ledger lines.
func (b *Batch) noteState(c Checkpoint) {
	if b.checkpoints == nil {
		b.checkpoints = make(map[string]Checkpoint)
	}
	b.checkpoints[c.Spec.ID] = c
}

// Retire moves a pallet off the floor: its checkpoint leaves the live
// pallets (which recovery reads) for the retired ones, in FEFO order per
// SKU; retired is the SKU's count of retired pallets after it.
func (b *Batch) Retire(c Checkpoint, retired int64) {
	b.del(liveKey(c.Spec.ID))
	b.put(retiredKey(c.Spec), encodeCheckpoint(c))
	b.putCount(c.Spec.SKU, retired)
	b.noteState(c)
}

// Revive brings a retired pallet back to the floor (weight came back to
// it); retired is the SKU's count after it.
func (b *Batch) Revive(c Checkpoint, retired int64) {
	b.del(retiredKey(c.Spec))
	b.Checkpoint(c)
	b.putCount(c.Spec.SKU, retired)
}

func (b *Batch) putCount(sku string, n int64) {
	b.put(append(append([]byte{}, retiredCountPrefix...), sku...), binary.AppendVarint(nil, n))
}

// addTo adds the batch's writes to a Pebble batch.
func (b *Batch) addTo(pb *pebble.Batch) error {
	for _, kv := range b.kvs {
		var err error
		if kv.value == nil {
			err = pb.Delete(kv.key, nil)
		} else {
			err = pb.Set(kv.key, kv.value, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Len is the number of keys the batch writes.
func (b *Batch) Len() int { return len(b.kvs) }

// Reset empties the batch for reuse. A batch must not be reset while a
// Commit of it is under way.
func (b *Batch) Reset() {
	clear(b.kvs)
	b.kvs = b.kvs[:0]
	clear(b.events)
	b.events = b.events[:0]
	clear(b.checkpoints)
	b.records = b.records[:0]
	b.eventCount = 0
}

func (b *Batch) put(key, value []byte) { b.kvs = append(b.kvs, kv{key, value}) }
func (b *Batch) del(key []byte)        { b.kvs = append(b.kvs, kv{key, nil}) }
