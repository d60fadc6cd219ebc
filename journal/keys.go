package journal

import (
	"encoding/binary"
	"fmt"
)

// Key layout. Every key starts with a one-byte kind; ids are at most a few
// dozen bytes of any content, so a ledger key length-prefixes its pallet
// id to keep one pallet's entries contiguous and in (version, index) order.
const (
	kindMeta   = 'm' // m + name
	kindOrder  = 'o' // o + order id → inventory.Order
	kindPallet = 'p' // p + pallet id → inventory.PalletSpec
	kindLedger = 'l' // l + uvarint(len id) + id + version (8, BE) + index (4, BE) → inventory.LedgerEntry
)

// formatKey names the journal's format; a database without it is not ours.
var formatKey = []byte{kindMeta, 'f', 'o', 'r', 'm', 'a', 't'}

const formatV1 = "baconator-journal/1"

func orderKey(id string) []byte  { return append([]byte{kindOrder}, id...) }
func palletKey(id string) []byte { return append([]byte{kindPallet}, id...) }

func ledgerKey(palletID string, version int64, index int) []byte {
	k := make([]byte, 0, 1+binary.MaxVarintLen64+len(palletID)+12)
	k = append(k, kindLedger)
	k = binary.AppendUvarint(k, uint64(len(palletID)))
	k = append(k, palletID...)
	k = binary.BigEndian.AppendUint64(k, uint64(version))
	return binary.BigEndian.AppendUint32(k, uint32(index))
}

// parseLedgerKey returns a ledger key's pallet id.
func parseLedgerKey(k []byte) (string, error) {
	n, w := binary.Uvarint(k[1:])
	if w <= 0 || uint64(len(k)-1-w) != n+12 {
		return "", fmt.Errorf("malformed ledger key %q", k)
	}
	return string(k[1+w : 1+w+int(n)]), nil
}
