package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/baconator/baconator/inventory"
)

// Reads serve what the journal holds — every order ever accepted, every
// ledger line, every retired pallet — so memory need hold only what is
// live. Each read costs what it returns: a point lookup, or a range scan
// over an index that starts where the page does.

// Order returns the stored order with id; ok is false if there is none.
func (j *Journal) Order(id string) (o inventory.Order, ok bool, err error) {
	v, closer, err := j.reader().Get(orderKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return o, false, nil
	}
	if err != nil {
		return o, false, fmt.Errorf("read order %s: %w", id, err)
	}
	defer closer.Close()
	if o, err = decodeOrder(v); err != nil {
		return o, false, fmt.Errorf("read order %s: %w: %v", id, ErrCorrupt, err)
	}
	return o, true, nil
}

// OrderQuery selects a page of orders by acceptance time.
type OrderQuery struct {
	// Status keeps orders the journal holds in this status; queued and
	// allocating are both "not ended" here (the difference is never
	// journaled: Keep tells them apart).
	Status        inventory.Status
	Customer, SKU string
	Since, Until  time.Time // acceptance in [Since, Until); zero: open
	Desc          bool      // newest first
	After         *OrderPosition
	Limit         int
	// Keep, if set, is a last filter on each order (the engine's live
	// state of orders that have not ended).
	Keep func(inventory.Order) bool
}

// OrderPosition is where a page of orders ends: the next starts after it.
type OrderPosition struct {
	AcceptedAt time.Time
	ID         string
}

// ordersScannedMax bounds the index entries one page may pass over: a
// filter no stored order matches ends a page early rather than read the
// whole history. The page then comes back short, with a position to go on
// from.
const ordersScannedMax = 100_000

// Orders returns a page of orders matching q in acceptance order, and the
// position to continue from, or nil after the last. It walks the most
// selective index for q — the status index for orders that have not ended
// (few, whatever the history), else customer, SKU, status, all — and reads
// each candidate's snapshot; the cost is the page, not the history.
func (j *Journal) Orders(q OrderQuery) ([]inventory.Order, *OrderPosition, error) {
	prefix := j.orderIndex(q)
	lower, upper := bytes.Clone(prefix), prefixEnd(prefix)
	if !q.Since.IsZero() {
		lower = appendTime(bytes.Clone(prefix), q.Since)
	}
	if !q.Until.IsZero() {
		upper = appendTime(bytes.Clone(prefix), q.Until)
	}
	if a := q.After; a != nil {
		at := append(appendTime(bytes.Clone(prefix), a.AcceptedAt), a.ID...)
		if q.Desc {
			if bytes.Compare(at, upper) < 0 {
				upper = at
			}
		} else if at = append(at, 0); bytes.Compare(at, lower) > 0 { // just after it
			lower = at
		}
	}
	it, err := j.reader().NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, nil, fmt.Errorf("list orders: %w", err)
	}
	defer it.Close()
	var page []inventory.Order
	var last, scanned *OrderPosition
	valid := it.First()
	if q.Desc {
		valid = it.Last()
	}
	for n := 0; valid; n++ {
		if n == ordersScannedMax {
			return page, scanned, nil
		}
		k := it.Key()
		pos := OrderPosition{AcceptedAt: readTime(k[len(prefix):]), ID: string(k[len(prefix)+8:])}
		scanned = &pos
		if q.indexed(prefix[0], it.Value()) {
			o, ok, err := j.Order(pos.ID)
			if err != nil {
				return nil, nil, err
			}
			if ok && q.matches(o) {
				if len(page) == q.Limit {
					return page, last, nil // one more exists: the page is not the last
				}
				page = append(page, o)
				last = &pos
			}
		}
		if q.Desc {
			valid = it.Prev()
		} else {
			valid = it.Next()
		}
	}
	if err := it.Error(); err != nil {
		return nil, nil, fmt.Errorf("list orders: %w", err)
	}
	return page, nil, nil
}

func (j *Journal) orderIndex(q OrderQuery) []byte {
	code := statusCode(q.Status)
	switch {
	case q.Status != "" && code == codeUnfinished:
		return []byte{kindByStatus, code}
	case q.Customer != "":
		return appendString([]byte{kindByCustomer}, q.Customer)
	case q.SKU != "":
		return appendString([]byte{kindBySKU}, q.SKU)
	case q.Status != "":
		return []byte{kindByStatus, code}
	}
	return []byte{kindByAccepted}
}

// indexed reports whether an entry of the index of kind may match q by
// what the entry carries (see byCustomerValue); only those are read. An
// entry that carries nothing may match.
func (q *OrderQuery) indexed(kind byte, v []byte) bool {
	if len(v) == 0 || (kind != kindByCustomer && kind != kindBySKU) {
		return true
	}
	if q.Status != "" && v[0] != statusCode(q.Status) {
		return false
	}
	return kind != kindByCustomer || q.SKU == "" || string(v[1:]) == q.SKU
}

func (q *OrderQuery) matches(o inventory.Order) bool {
	switch {
	case q.Status != "" && statusCode(o.Status) != statusCode(q.Status):
		return false
	case q.Customer != "" && o.Request.Customer != q.Customer:
		return false
	case q.SKU != "" && o.Request.SKU != q.SKU:
		return false
	}
	return q.Keep == nil || q.Keep(o)
}

// LedgerPosition is where a page of a ledger ends.
type LedgerPosition struct {
	Version int64
	Index   int
}

// Ledger returns up to limit of a pallet's ledger lines, oldest first,
// after a position (nil: from the start), and the position to continue
// from, or nil after the last. Only journaled lines are there: a read
// never sees a change a crash could undo.
func (j *Journal) Ledger(palletID string, after *LedgerPosition, limit int) ([]inventory.LedgerEntry, *LedgerPosition, error) {
	prefix := ledgerPrefix(palletID)
	lower := prefix
	if after != nil {
		lower = append(ledgerKey(palletID, after.Version, after.Index), 0)
	}
	it, err := j.reader().NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, nil, fmt.Errorf("read ledger of %s: %w", palletID, err)
	}
	defer it.Close()
	var out []inventory.LedgerEntry
	var last *LedgerPosition
	for valid := it.First(); valid; valid = it.Next() {
		_, version, index, err := parseLedgerKey(it.Key())
		if err != nil {
			return nil, nil, fmt.Errorf("read ledger of %s: %w: %v", palletID, ErrCorrupt, err)
		}
		if len(out) == limit {
			return out, last, nil
		}
		e, err := decodeEntry(it.Value())
		if err != nil {
			return nil, nil, fmt.Errorf("read ledger of %s: %w: %v", palletID, ErrCorrupt, err)
		}
		out = append(out, e)
		last = &LedgerPosition{Version: version, Index: index}
	}
	if err := it.Error(); err != nil {
		return nil, nil, fmt.Errorf("read ledger of %s: %w", palletID, err)
	}
	return out, nil, nil
}

// Pallet returns a pallet's checkpoint, live or retired; ok is false for a
// pallet never received.
func (j *Journal) Pallet(id string) (c Checkpoint, retired, ok bool, err error) {
	if c, ok, err = j.checkpoint(j.reader(), liveKey(id)); ok || err != nil {
		return c, false, ok, err
	}
	// Not on the floor: look again on one snapshot, since a pallet may move
	// between the floor and the retired between two reads.
	r := j.reader()
	if db, isDB := r.(*pebble.DB); isDB {
		snap := db.NewSnapshot()
		defer snap.Close()
		r = snap
	}
	if c, ok, err = j.checkpoint(r, liveKey(id)); ok || err != nil {
		return c, false, ok, err
	}
	v, closer, err := r.Get(palletKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return c, false, false, nil
	}
	if err != nil {
		return c, false, false, fmt.Errorf("read pallet %s: %w", id, err)
	}
	spec, err := decodeSpec(v)
	closer.Close()
	if err != nil {
		return c, false, false, fmt.Errorf("read pallet %s: %w: %v", id, ErrCorrupt, err)
	}
	c, ok, err = j.checkpoint(r, retiredKey(spec))
	if err == nil && !ok {
		err = fmt.Errorf("read pallet %s: %w: received, but neither live nor retired", id, ErrCorrupt)
	}
	return c, true, ok, err
}

func (j *Journal) checkpoint(r pebble.Reader, key []byte) (Checkpoint, bool, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("read checkpoint %q: %w", key, err)
	}
	defer closer.Close()
	c, err := decodeCheckpoint(v)
	if err != nil {
		return c, false, fmt.Errorf("read checkpoint %q: %w: %v", key, ErrCorrupt, err)
	}
	return c, true, nil
}

// Retired returns up to limit retired pallets (of sku, or of every SKU if
// empty) after a position (nil: from the start), by SKU and then FEFO —
// the order inventory listings use.
func (j *Journal) Retired(sku string, after *inventory.PalletSpec, limit int) ([]Checkpoint, error) {
	lower, upper := []byte{kindRetired}, []byte{kindRetired + 1}
	if sku != "" {
		lower = retiredPrefix(sku)
		upper = prefixEnd(lower)
	}
	if after != nil {
		if k := append(retiredKey(*after), 0); bytes.Compare(k, lower) > 0 {
			lower = k
		}
	}
	it, err := j.reader().NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("list retired pallets: %w", err)
	}
	defer it.Close()
	var out []Checkpoint
	for valid := it.First(); valid && len(out) < limit; valid = it.Next() {
		c, err := decodeCheckpoint(it.Value())
		if err != nil {
			return nil, fmt.Errorf("list retired pallets: %w: %v", ErrCorrupt, err)
		}
		out = append(out, c)
	}
	return out, it.Error()
}

// RetiredCounts returns how many pallets of each SKU are retired.
func (j *Journal) RetiredCounts() (map[string]int64, error) {
	it, err := j.reader().NewIter(&pebble.IterOptions{LowerBound: retiredCountPrefix, UpperBound: prefixEnd(retiredCountPrefix)})
	if err != nil {
		return nil, fmt.Errorf("read retired counts: %w", err)
	}
	defer it.Close()
	out := map[string]int64{}
	for valid := it.First(); valid; valid = it.Next() {
		n, w := binary.Varint(it.Value())
		if w <= 0 {
			return nil, fmt.Errorf("read retired counts: %w: bad count", ErrCorrupt)
		}
		out[string(it.Key()[len(retiredCountPrefix):])] = n
	}
	return out, it.Error()
}

// LotPallets lists the ids of every pallet ever received in lot, on the
// floor or retired, in id order.
func (j *Journal) LotPallets(lot string) ([]string, error) {
	prefix := lotPrefix(lot)
	it, err := j.reader().NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("read lot %s: %w", lot, err)
	}
	defer it.Close()
	var ids []string
	for ok := it.First(); ok; ok = it.Next() {
		ids = append(ids, string(it.Key()[len(prefix):]))
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("read lot %s: %w", lot, err)
	}
	return ids, nil
}

// OrdersByID reads the orders with the given ids, ascending, with one
// iterator walking forward through them: for a trace's thousands of ids
// that is far cheaper than a lookup each. Ids it does not hold are left
// out of the result.
func (j *Journal) OrdersByID(ids []string) (map[string]inventory.Order, error) {
	out := make(map[string]inventory.Order, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	it, err := j.reader().NewIter(&pebble.IterOptions{LowerBound: []byte{kindOrder}, UpperBound: []byte{kindOrder + 1}})
	if err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	defer it.Close()
	for _, id := range ids {
		k := orderKey(id)
		if !it.SeekGE(k) || !bytes.Equal(it.Key(), k) {
			continue
		}
		o, err := decodeOrder(it.Value())
		if err != nil {
			return nil, fmt.Errorf("read order %s: %w: %v", id, ErrCorrupt, err)
		}
		out[id] = o
	}
	return out, it.Error()
}
