package journal

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/baconator/baconator/inventory"
)

// migrateChunkKeys bounds one migration batch, so that a large journal is
// migrated in bounded memory.
const migrateChunkKeys = 10_000

// migrateV1 turns a v1 journal (orders, receipts and ledger lines only)
// into v2: it writes every order's indexes and every pallet's checkpoint,
// live or retired, from the record — the same writes v2 makes as it goes —
// and marks the format last. Each write only adds what the record implies,
// so a migration cut short by a crash simply runs again at the next start.
func migrateV1(db *pebble.DB, dir string) error {
	h, err := loadHistory(db, dir)
	if err != nil {
		return fmt.Errorf("migrate from %s: %w", formatV1, err)
	}
	var b Batch
	flush := func(sync bool) error {
		pb := db.NewBatch()
		defer pb.Close()
		if err := b.addTo(pb); err != nil {
			return err
		}
		b.Reset()
		opt := pebble.NoSync
		if sync {
			opt = pebble.Sync
		}
		return pb.Commit(opt)
	}
	for _, o := range h.Orders {
		b.PutOrder(o, "")
		b.kvs = b.kvs[1:] // the snapshot itself is there already
		if b.Len() >= migrateChunkKeys {
			if err := flush(false); err != nil {
				return fmt.Errorf("migrate from %s: %w", formatV1, err)
			}
		}
	}
	retired := map[string]int64{}
	for _, sp := range h.Pallets {
		p, err := inventory.RestorePallet(sp.Spec, sp.Ledger)
		if err != nil {
			return fmt.Errorf("migrate from %s: %w: %v", formatV1, ErrCorrupt, err)
		}
		s := p.State()
		c := Checkpoint{Spec: s.Spec, OnHand: s.OnHand, Version: s.Version}
		if s.OnHand == 0 {
			retired[s.Spec.SKU]++
			b.Retire(c, retired[s.Spec.SKU])
		} else {
			b.Checkpoint(c)
		}
		if b.Len() >= migrateChunkKeys {
			if err := flush(false); err != nil {
				return fmt.Errorf("migrate from %s: %w", formatV1, err)
			}
		}
	}
	b.put(formatKey, []byte(formatV2))
	if err := flush(true); err != nil {
		return fmt.Errorf("migrate from %s: %w", formatV1, err)
	}
	return nil
}
