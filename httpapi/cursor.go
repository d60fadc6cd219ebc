package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/inventory"
)

// Cursors are opaque to clients: a position in a listing (a time and an
// id, a ledger version and index, a pallet's FEFO place) behind a kind
// byte, signed with the engine's secret, so that a cursor the server did
// not issue — made up, damaged, or for another listing — is a 400 and
// never a position someone chose. They survive a restart: the secret is
// kept with the journal.

// cursorMACBytes is the signature's length: 96 bits are plenty against
// guessing, and keep cursors short.
const cursorMACBytes = 12

// Cursor kinds.
const (
	cursorOrders    = 'o'
	cursorLedger    = 'l'
	cursorInventory = 'i'
)

var errNotOurCursor = errors.New("not a cursor this server issued")

type cursors struct{ key []byte }

func (c cursors) seal(kind byte, payload []byte) string {
	b := append([]byte{kind}, payload...)
	m := hmac.New(sha256.New, c.key)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b)[:len(b)+cursorMACBytes])
}

// open returns a cursor's payload if the server issued it, for kind.
func (c cursors) open(kind byte, s string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < 1+cursorMACBytes || raw[0] != kind {
		return nil, errNotOurCursor
	}
	b, mac := raw[:len(raw)-cursorMACBytes], raw[len(raw)-cursorMACBytes:]
	m := hmac.New(sha256.New, c.key)
	m.Write(b)
	if !hmac.Equal(m.Sum(nil)[:cursorMACBytes], mac) {
		return nil, errNotOurCursor
	}
	return b[1:], nil
}

func (c cursors) orders(p *actors.OrderPosition) string {
	b := binary.AppendVarint(nil, p.AcceptedAt.UnixNano())
	return c.seal(cursorOrders, append(b, p.ID...))
}

func (c cursors) openOrders(s string) (*actors.OrderPosition, error) {
	b, err := c.open(cursorOrders, s)
	if err != nil {
		return nil, err
	}
	n, w := binary.Varint(b)
	if w <= 0 {
		return nil, errNotOurCursor
	}
	return &actors.OrderPosition{AcceptedAt: time.Unix(0, n).UTC(), ID: string(b[w:])}, nil
}

func (c cursors) ledger(p *actors.LedgerPosition) string {
	b := binary.AppendVarint(nil, p.Version)
	return c.seal(cursorLedger, binary.AppendUvarint(b, uint64(p.Index)))
}

func (c cursors) openLedger(s string) (*actors.LedgerPosition, error) {
	b, err := c.open(cursorLedger, s)
	if err != nil {
		return nil, err
	}
	v, w := binary.Varint(b)
	i, w2 := binary.Uvarint(b[max(w, 0):])
	if w <= 0 || w2 <= 0 || w+w2 != len(b) || i > 1<<31 {
		return nil, errNotOurCursor
	}
	return &actors.LedgerPosition{Version: v, Index: int(i)}, nil
}

// inventory positions a pallet by SKU, then FEFO (expiry, receipt, id):
// the order of inventory listings, on the floor or retired.
func (c cursors) inventory(s inventory.PalletSpec) string {
	b := binary.AppendUvarint(nil, uint64(len(s.SKU)))
	b = append(b, s.SKU...)
	b = binary.AppendVarint(b, s.Expires.UnixNano())
	b = binary.AppendVarint(b, s.Received.UnixNano())
	return c.seal(cursorInventory, append(b, s.ID...))
}

func (c cursors) openInventory(s string) (*inventory.PalletSpec, error) {
	b, err := c.open(cursorInventory, s)
	if err != nil {
		return nil, err
	}
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil, errNotOurCursor
	}
	spec := inventory.PalletSpec{SKU: string(b[w : w+int(n)])}
	b = b[w+int(n):]
	exp, w1 := binary.Varint(b)
	if w1 <= 0 {
		return nil, errNotOurCursor
	}
	rec, w2 := binary.Varint(b[w1:])
	if w2 <= 0 {
		return nil, errNotOurCursor
	}
	spec.Expires, spec.Received = time.Unix(0, exp).UTC(), time.Unix(0, rec).UTC()
	spec.ID = string(b[w1+w2:])
	return &spec, nil
}
