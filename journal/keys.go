package journal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/baconator/baconator/inventory"
)

// Key layout. Every key starts with a one-byte kind. Ids are at most a few
// dozen bytes of any content: a key that continues after an id
// length-prefixes it, so that one pallet's ledger stays contiguous and in
// (version, index) order. Times in keys are order-preserving 8-byte
// big-endian nanoseconds, so a range of keys is a range of time.
//
// The system of record is the order snapshots (o), the receipts (p), the
// ledger lines (l) and each pallet's state: live (P) or retired (R). The
// rest are indexes written in the same batch as what they index, so they
// can never disagree with it: every order by acceptance (a), by customer
// (c), by SKU (k) and by status (s). A pallet's state is its checkpoint:
// written with every change, so recovery reads the live pallets' states
// and the unfinished orders, never the history.
const (
	kindMeta       = 'm' // m + name
	kindOrder      = 'o' // o + order id → inventory.Order
	kindPallet     = 'p' // p + pallet id → inventory.PalletSpec (its receipt)
	kindLedger     = 'l' // l + uvarint(len id) + id + version (8) + index (4) → inventory.LedgerEntry
	kindLive       = 'P' // P + pallet id → checkpoint of a pallet on the floor
	kindRetired    = 'R' // R + sku + 0 + expires (8) + received (8) + pallet id → checkpoint of a retired pallet, FEFO order per SKU
	kindByAccepted = 'a' // a + accepted (8) + order id → ""
	kindByCustomer = 'c' // c + uvarint(len customer) + customer + accepted (8) + order id → status code + sku
	kindBySKU      = 'k' // k + uvarint(len sku) + sku + accepted (8) + order id → status code
	kindByStatus   = 's' // s + status code + accepted (8) + order id → ""
	kindByLot      = 'L' // L + uvarint(len lot) + lot + pallet id → ""
)

// lotsIndexedKey marks a journal whose lot index covers every receipt
// (journals written before the index get it built when opened).
var lotsIndexedKey = []byte{kindMeta, 'l', 'o', 't', 's'}

// formatKey names the journal's format; a database without it is not ours.
var formatKey = []byte{kindMeta, 'f', 'o', 'r', 'm', 'a', 't'}

// Formats. v1 held orders, receipts and ledger lines only: recovery read
// them all. v2 adds the indexes and the pallet checkpoints; a v1 journal is
// migrated when opened (migrate.go).
const (
	formatV1 = "baconator-journal/1"
	formatV2 = "baconator-journal/2"
)

// retiredCountPrefix + sku → how many of the SKU's pallets are retired.
var retiredCountPrefix = []byte{kindMeta, 'r', 'e', 't', 'i', 'r', 'e', 'd', '/'}

// Status codes in the status index. An order that has not ended is
// "unfinished" there, whether queued or being allocated: the difference
// lives only in memory and is never journaled.
const (
	codeUnfinished = 'q'
	codeAllocated  = 'a'
	codeRejected   = 'r'
	codeCancelled  = 'c'
)

func statusCode(s inventory.Status) byte {
	switch s {
	case inventory.StatusAllocated:
		return codeAllocated
	case inventory.StatusRejected:
		return codeRejected
	case inventory.StatusCancelled:
		return codeCancelled
	}
	return codeUnfinished
}

func orderKey(id string) []byte  { return append([]byte{kindOrder}, id...) }
func palletKey(id string) []byte { return append([]byte{kindPallet}, id...) }
func liveKey(id string) []byte   { return append([]byte{kindLive}, id...) }

// appendTime appends t as 8 bytes that sort as t does (the sign bit
// flipped, so times before 1970 sort first). The zero time sorts first.
func appendTime(k []byte, t time.Time) []byte {
	var n int64
	if !t.IsZero() {
		n = t.UnixNano()
	} else {
		n = -1 << 63
	}
	return binary.BigEndian.AppendUint64(k, uint64(n)^(1<<63))
}

func readTime(b []byte) time.Time {
	n := int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	if n == -1<<63 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func appendString(k []byte, s string) []byte {
	k = binary.AppendUvarint(k, uint64(len(s)))
	return append(k, s...)
}

func ledgerPrefix(palletID string) []byte {
	return appendString(append(make([]byte, 0, 2+len(palletID)+12), kindLedger), palletID)
}

func ledgerKey(palletID string, version int64, index int) []byte {
	k := ledgerPrefix(palletID)
	k = binary.BigEndian.AppendUint64(k, uint64(version))
	return binary.BigEndian.AppendUint32(k, uint32(index))
}

// parseLedgerKey returns a ledger key's pallet id, version and index.
func parseLedgerKey(k []byte) (string, int64, int, error) {
	n, w := binary.Uvarint(k[1:])
	if w <= 0 || uint64(len(k)-1-w) != n+12 {
		return "", 0, 0, fmt.Errorf("malformed ledger key %q", k)
	}
	rest := k[1+w+int(n):]
	return string(k[1+w : 1+w+int(n)]), int64(binary.BigEndian.Uint64(rest)), int(binary.BigEndian.Uint32(rest[8:])), nil
}

// retiredPrefix is where a SKU's retired pallets start; SKUs hold no
// control characters (inventory.PalletSpec.Validate), so the 0 ends it.
func retiredPrefix(sku string) []byte {
	k := append(make([]byte, 0, 2+len(sku)+16), kindRetired)
	return append(append(k, sku...), 0)
}

func retiredKey(s inventory.PalletSpec) []byte {
	k := appendTime(retiredPrefix(s.SKU), s.Expires)
	k = appendTime(k, s.Received)
	return append(k, s.ID...)
}

// Order index keys: each ends with the order's acceptance and id, so that
// a range of one is a range of acceptance times.
func byAcceptedKey(o inventory.Order) []byte {
	return append(appendTime([]byte{kindByAccepted}, o.AcceptedAt), o.Request.ID...)
}

func byCustomerKey(o inventory.Order) []byte {
	return append(appendTime(appendString([]byte{kindByCustomer}, o.Request.Customer), o.AcceptedAt), o.Request.ID...)
}

func bySKUKey(o inventory.Order) []byte {
	return append(appendTime(appendString([]byte{kindBySKU}, o.Request.SKU), o.AcceptedAt), o.Request.ID...)
}

// The customer and SKU indexes carry what a listing filters on besides
// them (the status, and the customer index the SKU), so a page with two
// filters walks one index without reading the orders it passes over.
func byCustomerValue(code byte, o inventory.Order) []byte {
	return append([]byte{code}, o.Request.SKU...)
}

func bySKUValue(code byte) []byte { return []byte{code} }

func byStatusKey(code byte, o inventory.Order) []byte {
	return append(appendTime([]byte{kindByStatus, code}, o.AcceptedAt), o.Request.ID...)
}

func lotPrefix(lot string) []byte { return appendString([]byte{kindByLot}, lot) }

func byLotKey(s inventory.PalletSpec) []byte { return append(lotPrefix(s.Lot), s.ID...) }

// prefixEnd is the first key after every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no end
}
