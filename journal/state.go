package journal

import (
	"errors"
	"fmt"

	"github.com/baconator/baconator/inventory"
)

// State is everything the journal holds, as read at start-up.
type State struct {
	Pallets []Pallet          // by id
	Orders  []inventory.Order // by id
}

// Pallet is a stored pallet: its receipt and its whole ledger, oldest first.
type Pallet struct {
	Spec   inventory.PalletSpec
	Ledger []inventory.LedgerEntry
}

// Load reads the whole journal. It checks the structure (every key known
// and decodable, every ledger belonging to a received pallet); what the
// entries mean is checked by whoever rebuilds pallets from them.
func (j *Journal) Load() (*State, error) {
	it, err := j.db.NewIter(nil)
	if err != nil {
		return nil, fmt.Errorf("load journal in %s: %w", j.dir, err)
	}
	st := &State{}
	ledgers := map[string][]inventory.LedgerEntry{}
	for it.First(); it.Valid(); it.Next() {
		if err := st.read(it.Key(), it.Value(), ledgers); err != nil {
			key := string(it.Key())
			_ = it.Close()
			return nil, fmt.Errorf("load journal in %s: %w: key %q: %v", j.dir, ErrCorrupt, key, err)
		}
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("load journal in %s: %w: %v", j.dir, ErrCorrupt, err)
	}
	for i := range st.Pallets {
		p := &st.Pallets[i]
		p.Ledger = ledgers[p.Spec.ID]
		delete(ledgers, p.Spec.ID)
	}
	for id := range ledgers {
		return nil, fmt.Errorf("load journal in %s: %w: ledger of pallet %q, which was never received", j.dir, ErrCorrupt, id)
	}
	return st, nil
}

func (st *State) read(k, v []byte, ledgers map[string][]inventory.LedgerEntry) error {
	if len(k) == 0 {
		return errors.New("empty key")
	}
	switch k[0] {
	case kindMeta:
		return nil
	case kindOrder:
		o, err := decodeOrder(v)
		if err != nil {
			return fmt.Errorf("decode order: %w", err)
		}
		if o.Request.ID != string(k[1:]) {
			return fmt.Errorf("order %q stored under another id", o.Request.ID)
		}
		st.Orders = append(st.Orders, o)
	case kindPallet:
		s, err := decodeSpec(v)
		if err != nil {
			return fmt.Errorf("decode pallet: %w", err)
		}
		if s.ID != string(k[1:]) {
			return fmt.Errorf("pallet %q stored under another id", s.ID)
		}
		st.Pallets = append(st.Pallets, Pallet{Spec: s})
	case kindLedger:
		id, err := parseLedgerKey(k)
		if err != nil {
			return err
		}
		e, err := decodeEntry(v)
		if err != nil {
			return fmt.Errorf("decode ledger entry: %w", err)
		}
		ledgers[id] = append(ledgers[id], e)
	default:
		return errors.New("unknown kind of key")
	}
	return nil
}
