package journal

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/baconator/baconator/inventory"
)

// Live is what recovery needs: the pallets on the floor, the orders that
// have not ended, and how many pallets each SKU has retired. It is read
// from the checkpoints and the status index, so its cost is what is live,
// never the history.
type Live struct {
	Pallets    []Checkpoint      // by id
	Unfinished []inventory.Order // by acceptance
	Retired    map[string]int64  // by SKU
}

// Load reads what is live.
func (j *Journal) Load() (*Live, error) {
	live := &Live{}
	if err := j.scan([]byte{kindLive}, func(k, v []byte) error {
		c, err := decodeCheckpoint(v)
		if err == nil && c.Spec.ID != string(k[1:]) {
			err = fmt.Errorf("pallet %q stored under another id", c.Spec.ID)
		}
		live.Pallets = append(live.Pallets, c)
		return err
	}); err != nil {
		return nil, fmt.Errorf("load journal in %s: %w", j.dir, err)
	}
	prefix := []byte{kindByStatus, codeUnfinished}
	if err := j.scan(prefix, func(k, _ []byte) error {
		id := string(k[len(prefix)+8:])
		o, ok, err := j.Order(id)
		switch {
		case err != nil:
			return err
		case !ok:
			return fmt.Errorf("%w: order %s is indexed but not stored", ErrCorrupt, id)
		case o.Status.Terminal():
			return fmt.Errorf("%w: order %s ended %s but is indexed as unfinished", ErrCorrupt, id, o.Status)
		}
		live.Unfinished = append(live.Unfinished, o)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("load journal in %s: %w", j.dir, err)
	}
	var err error
	if live.Retired, err = j.RetiredCounts(); err != nil {
		return nil, fmt.Errorf("load journal in %s: %w", j.dir, err)
	}
	return live, nil
}

// scan calls f with every key and value under prefix; an error from f
// (without ErrCorrupt) is reported as corruption of that key.
func (j *Journal) scan(prefix []byte, f func(k, v []byte) error) error {
	it, err := j.reader().NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	for valid := it.First(); valid; valid = it.Next() {
		if err := f(it.Key(), it.Value()); err != nil {
			key := string(it.Key())
			_ = it.Close()
			if errors.Is(err, ErrCorrupt) {
				return err
			}
			return fmt.Errorf("%w: key %q: %v", ErrCorrupt, key, err)
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return nil
}

// History is everything the journal holds of pallets and orders: every
// receipt with its whole ledger and every order's snapshot. Recovery never
// needs it; it is what a full check (and the migration of a v1 journal)
// reads, to hold the checkpoints and indexes against the record.
type History struct {
	Pallets []Pallet          // by id
	Orders  []inventory.Order // by id
}

// Pallet is a stored pallet: its receipt and its whole ledger, oldest first.
type Pallet struct {
	Spec   inventory.PalletSpec
	Ledger []inventory.LedgerEntry
}

// LoadHistory reads the whole record. It checks the structure (every
// record decodable, every ledger belonging to a received pallet); what
// the entries mean is checked by whoever rebuilds pallets from them.
func (j *Journal) LoadHistory() (*History, error) { return loadHistory(j.db, j.dir) }

func loadHistory(db *pebble.DB, dir string) (*History, error) {
	h := &History{}
	ledgers := map[string][]inventory.LedgerEntry{}
	for _, part := range []struct {
		kind byte
		read func(k, v []byte) error
	}{
		{kindOrder, func(k, v []byte) error {
			o, err := decodeOrder(v)
			if err == nil && o.Request.ID != string(k[1:]) {
				err = fmt.Errorf("order %q stored under another id", o.Request.ID)
			}
			h.Orders = append(h.Orders, o)
			return err
		}},
		{kindPallet, func(k, v []byte) error {
			s, err := decodeSpec(v)
			if err == nil && s.ID != string(k[1:]) {
				err = fmt.Errorf("pallet %q stored under another id", s.ID)
			}
			h.Pallets = append(h.Pallets, Pallet{Spec: s})
			return err
		}},
		{kindLedger, func(k, v []byte) error {
			id, _, _, err := parseLedgerKey(k)
			if err != nil {
				return err
			}
			e, err := decodeEntry(v)
			ledgers[id] = append(ledgers[id], e)
			return err
		}},
	} {
		j := &Journal{db: db, dir: dir}
		if err := j.scan([]byte{part.kind}, part.read); err != nil {
			return nil, fmt.Errorf("load journal in %s: %w", dir, err)
		}
	}
	for i := range h.Pallets {
		p := &h.Pallets[i]
		p.Ledger = ledgers[p.Spec.ID]
		delete(ledgers, p.Spec.ID)
	}
	for id := range ledgers {
		return nil, fmt.Errorf("load journal in %s: %w: ledger of pallet %q, which was never received", dir, ErrCorrupt, id)
	}
	return h, nil
}
