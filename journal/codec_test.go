package journal

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/inventory"
)

var at = time.Date(2026, 11, 26, 8, 30, 15, 123456789, time.UTC)

func sampleOrder() inventory.Order {
	return inventory.Order{
		Request: inventory.OrderRequest{ID: "o-1", Customer: "Funky Customer #1", SKU: "pork", Amount: inventory.Lbs(1500), MinShelfLifeDays: 3, CreatedAt: at},
		Status:  inventory.StatusAllocated,
		Allocations: []inventory.Allocation{
			{PalletID: "P-1", Lot: "L-1", Supplier: "Farm_7", Lbs: inventory.Lbs(1000), Expires: at.Add(96 * time.Hour)},
			{PalletID: "P-2", Lot: "L-2", Supplier: "Farm_9", Lbs: inventory.Lbs(500), Expires: at.Add(120 * time.Hour)},
		},
		Attempts: 2, Conflicts: 1, AcceptedAt: at, CompletedAt: at.Add(time.Millisecond),
	}
}

func TestValuesRoundTrip(t *testing.T) {
	for _, o := range []inventory.Order{sampleOrder(), {Request: inventory.OrderRequest{ID: "zero times"}}, {Request: inventory.OrderRequest{ID: "far future", CreatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}}} {
		got, err := decodeOrder(encodeOrder(o))
		require.NoError(t, err)
		require.Equal(t, o, got)
	}
	spec := inventory.PalletSpec{ID: "P-1", SKU: "beef", Lot: "L", Supplier: "S", Weight: 12345, Received: at, Expires: at.Add(time.Hour)}
	gotSpec, err := decodeSpec(encodeSpec(spec))
	require.NoError(t, err)
	require.Equal(t, spec, gotSpec)
	cp := Checkpoint{Spec: spec, OnHand: 99, Version: 4, Status: "quarantined"}
	gotCP, err := decodeCheckpoint(encodeCheckpoint(cp))
	require.NoError(t, err)
	require.Equal(t, cp, gotCP)
	for _, entry := range []inventory.LedgerEntry{
		{At: at, Kind: inventory.LedgerAdjusted, Lbs: -250, Reason: "chaos", Version: 7},
		{At: at, Kind: inventory.LedgerHeld, Reason: "lab", Note: "swab 17", Version: 8, Status: inventory.StatusQuarantined},
		{At: at, Kind: inventory.LedgerWrittenOff, Lbs: -99, Reason: "damaged", Version: 9, Status: inventory.StatusWrittenOff},
	} {
		gotEntry, err := decodeEntry(encodeEntry(entry))
		require.NoError(t, err)
		require.Equal(t, entry, gotEntry)
	}
	require.Equal(t, byte(codecV1), encodeEntry(inventory.LedgerEntry{Kind: inventory.LedgerAllocated, Lbs: -1, OrderID: "o"})[0],
		"an entry with no status or note keeps the first, smaller format")
}

func TestDamagedValuesAreRefused(t *testing.T) {
	b := encodeOrder(sampleOrder())
	for name, damaged := range map[string][]byte{
		"empty":           nil,
		"unknown version": append([]byte{9}, b[1:]...),
		"truncated":       b[:len(b)-3],
		"left over":       append(append([]byte{}, b...), 0),
	} {
		_, err := decodeOrder(damaged)
		require.Error(t, err, name)
	}
}

// FuzzDecode feeds the decoders arbitrary bytes, as a damaged disk would:
// they must refuse or decode, never panic, and what they decode must
// encode to something that decodes to the same value.
func FuzzDecode(f *testing.F) {
	f.Add(encodeOrder(sampleOrder()))
	f.Add(encodeSpec(inventory.PalletSpec{ID: "P", Weight: 1, Received: at}))
	f.Add(encodeEntry(inventory.LedgerEntry{At: at, Kind: inventory.LedgerAllocated, Lbs: -1, OrderID: "o", Version: 2}))
	f.Add(encodeEntry(inventory.LedgerEntry{At: at, Kind: inventory.LedgerHeld, Reason: "r", Note: "n", Version: 3, Status: inventory.StatusOnHold}))
	f.Add(encodeCheckpoint(Checkpoint{Spec: inventory.PalletSpec{ID: "P", SKU: "pork", Weight: 100, Received: at}, OnHand: 50, Version: 3, Status: "on_hold"}))
	f.Add([]byte{codecV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		if o, err := decodeOrder(b); err == nil {
			again, err := decodeOrder(encodeOrder(o))
			require.NoError(t, err)
			require.Equal(t, o, again)
		}
		if s, err := decodeSpec(b); err == nil {
			again, err := decodeSpec(encodeSpec(s))
			require.NoError(t, err)
			require.Equal(t, s, again)
		}
		if c, err := decodeCheckpoint(b); err == nil {
			again, err := decodeCheckpoint(encodeCheckpoint(c))
			require.NoError(t, err)
			require.Equal(t, c, again)
		}
		if e, err := decodeEntry(b); err == nil {
			again, err := decodeEntry(encodeEntry(e))
			require.NoError(t, err)
			require.Equal(t, e, again)
		}
	})
}
