package inventory

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func spec(id string, lbs int64, expiresDays int) PalletSpec {
	return PalletSpec{ID: id, SKU: DefaultSKU, Supplier: "Farm_1", Weight: Lbs(lbs), Received: t0, Expires: t0.Add(time.Duration(expiresDays) * 24 * time.Hour)}
}

func key(order string) HoldKey { return HoldKey{Order: order, Attempt: 1} }

func TestPalletReserveConfirm(t *testing.T) {
	p := NewPallet(spec("P1", 100, 10))
	deadline := t0.Add(time.Minute)

	t.Run("stale version refuses", func(t *testing.T) {
		assert.ErrorIs(t, p.Reserve(2, []HoldRequest{{key("a"), Lbs(10)}}, deadline), ErrStaleVersion)
	})
	t.Run("holds cap at available weight", func(t *testing.T) {
		require.NoError(t, p.Reserve(1, []HoldRequest{{key("a"), Lbs(60)}}, deadline))
		assert.ErrorIs(t, p.Reserve(1, []HoldRequest{{key("b"), Lbs(50)}}, deadline), ErrInsufficientStock)
		assert.Equal(t, Lbs(40), p.State().Available())
	})
	t.Run("a retried reserve is granted again unchanged", func(t *testing.T) {
		require.NoError(t, p.Reserve(1, []HoldRequest{{key("a"), Lbs(60)}}, deadline))
		assert.Equal(t, Lbs(60), p.State().Held)
	})
	t.Run("confirm deducts and bumps the version once", func(t *testing.T) {
		v, err := p.Confirm([]HoldKey{key("a")}, t0)
		require.NoError(t, err)
		assert.EqualValues(t, 2, v)
		s := p.State()
		assert.Equal(t, Lbs(40), s.OnHand)
		assert.Zero(t, s.Held)
		assert.EqualValues(t, 2, s.Version)
	})
	t.Run("a retried confirm changes nothing and reports the original version", func(t *testing.T) {
		_, _, err := p.Adjust(Lbs(1), ReasonChaos, t0, true) // a later change: version 3
		require.NoError(t, err)
		v, err := p.Confirm([]HoldKey{key("a")}, t0)
		require.NoError(t, err)
		assert.EqualValues(t, 2, v, "the version it was confirmed at, not the current one")
		assert.EqualValues(t, 3, p.State().Version)
	})
	t.Run("confirming an unknown hold is refused", func(t *testing.T) {
		_, err := p.Confirm([]HoldKey{key("zzz")}, t0)
		assert.ErrorIs(t, err, ErrHoldMissing)
	})
}

func TestPalletShrinkBetweenPhasesRevokesHolds(t *testing.T) {
	p := NewPallet(spec("P1", 1000, 10))
	require.NoError(t, p.Reserve(1, []HoldRequest{{key("a"), Lbs(1000)}}, t0.Add(time.Minute)))

	applied, revoked, err := p.Adjust(-Lbs(30), ReasonChaos, t0, true)
	require.NoError(t, err)
	assert.Equal(t, -Lbs(30), applied)
	assert.Equal(t, 1, revoked)

	_, err = p.Confirm([]HoldKey{key("a")}, t0)
	assert.ErrorIs(t, err, ErrHoldMissing, "a hold on weight that is gone must not confirm")
	s := p.State()
	assert.Equal(t, Lbs(970), s.OnHand)
	assert.Zero(t, s.Held)
}

func TestPalletAdjust(t *testing.T) {
	p := NewPallet(spec("P1", 20, 10))
	_, _, err := p.Adjust(-Lbs(21), "damage", t0, false)
	assert.ErrorIs(t, err, ErrBelowZero)
	assert.EqualValues(t, 1, p.State().Version, "a refused adjustment changes nothing")

	applied, _, err := p.Adjust(-Lbs(30), ReasonChaos, t0, true)
	require.NoError(t, err)
	assert.Equal(t, -Lbs(20), applied, "a chaos strike stops at zero")
	assert.Zero(t, p.State().OnHand)

	applied, _, err = p.Adjust(-Lbs(5), ReasonChaos, t0, true)
	require.NoError(t, err)
	assert.Zero(t, applied)
	assert.EqualValues(t, 2, p.State().Version, "a strike that changes nothing does not bump the version")
}

func TestPalletReturn(t *testing.T) {
	p := NewPallet(spec("P1", 100, 10))
	require.NoError(t, p.Reserve(1, []HoldRequest{{key("a"), Lbs(30)}, {key("b"), Lbs(20)}}, t0.Add(time.Minute)))
	_, err := p.Confirm([]HoldKey{key("a"), key("b")}, t0)
	require.NoError(t, err)
	first := p.Return(Lbs(30), t0)
	assert.Equal(t, Returned{Lbs: Lbs(30), Version: p.State().Version, At: t0}, first)
	s := p.State()
	assert.Equal(t, Lbs(80), s.OnHand)
	assert.EqualValues(t, 3, s.Version)
	assert.Panics(t, func() { p.Return(0, t0) }, "a return of nothing is a bug")
}

func TestPalletHoldsExpire(t *testing.T) {
	p := NewPallet(spec("P1", 100, 10))
	require.NoError(t, p.Reserve(1, []HoldRequest{{key("a"), Lbs(30)}}, t0.Add(time.Second)))
	require.NoError(t, p.Reserve(1, []HoldRequest{{key("b"), Lbs(30)}}, t0.Add(time.Minute)))
	next, ok := p.NextHoldDeadline()
	require.True(t, ok)
	assert.Equal(t, t0.Add(time.Second), next)
	assert.Equal(t, 1, p.ExpireHolds(t0.Add(time.Second)))
	assert.Equal(t, Lbs(30), p.State().Held)
	assert.Equal(t, 1, p.ExpireHolds(t0.Add(time.Hour)))
	assert.Zero(t, p.State().Held)
}

func TestRestorePalletRebuildsWhatTheLedgerSays(t *testing.T) {
	spec := PalletSpec{ID: "P1", SKU: "pork", Weight: Lbs(100), Received: time.Unix(0, 0).UTC(), Expires: time.Unix(0, 0).Add(240 * time.Hour).UTC()}
	l := []LedgerEntry{
		ReceiptEntry(spec),
		{Kind: LedgerAllocated, Lbs: -Lbs(10), OrderID: "a", Version: 2},
		{Kind: LedgerAllocated, Lbs: -Lbs(20), OrderID: "b", Version: 2}, // one confirm, two orders
		{Kind: LedgerAdjusted, Lbs: -Lbs(5), Reason: "dropped box", Version: 3},
		{Kind: LedgerReturned, Lbs: Lbs(10), OrderID: "a", Version: 4},
	}
	got, err := RestorePallet(spec, l)
	require.NoError(t, err)
	require.Equal(t, PalletState{Spec: spec, OnHand: Lbs(75), Version: 4, Status: StatusAvailable}, got.State())
	require.Equal(t, got.State(), Restore(PalletState{Spec: spec, OnHand: Lbs(75), Version: 4}).State(), "a checkpoint restores the same pallet")

	t.Run("broken ledgers are refused", func(t *testing.T) {
		for name, broken := range map[string][]LedgerEntry{
			"empty":            nil,
			"no receipt first": l[1:],
			"version gap":      append(append([]LedgerEntry{}, l[:3]...), l[4]),
			"below zero":       append(append([]LedgerEntry{}, l...), LedgerEntry{Kind: LedgerAdjusted, Lbs: Lbs(-1000), Version: 5}),
			"second receipt":   append(append([]LedgerEntry{}, l...), LedgerEntry{Kind: LedgerReceived, Lbs: Lbs(1), Version: 5}),
		} {
			_, err := RestorePallet(spec, broken)
			require.ErrorIs(t, err, ErrCorrupt, name)
		}
	})
}

// TestStatusChangesBlockAndRevoke: a hold takes effect at once — it bumps
// the version and revokes every hold, so a confirm planned before it is
// refused and a reserve after it too; a release makes the pallet
// available again; recalled and written off are final; a write-off takes
// the whole on-hand weight off through a ledger entry; and the ledger
// restores the same pallet.
func TestStatusChangesBlockAndRevoke(t *testing.T) {
	s := spec("P", 100, 10)
	p := NewPallet(s)
	ledger := []LedgerEntry{ReceiptEntry(s)}
	require.NoError(t, p.Reserve(1, []HoldRequest{{Key: key("a"), Lbs: Lbs(10)}}, t0.Add(time.Minute)))

	ch, err := p.SetStatus(StatusOnHold, "lab test", "swab 17", t0)
	require.NoError(t, err)
	assert.Equal(t, 1, ch.Revoked)
	assert.Equal(t, LedgerEntry{At: t0, Kind: LedgerHeld, Reason: "lab test", Note: "swab 17", Version: 2, Status: StatusOnHold}, ch.Entry)
	ledger = append(ledger, ch.Entry)
	_, err = p.Confirm([]HoldKey{key("a")}, t0)
	assert.ErrorIs(t, err, ErrHoldMissing, "no confirm after the hold")
	assert.ErrorIs(t, p.Reserve(2, []HoldRequest{{Key: key("b"), Lbs: Lbs(1)}}, t0), ErrNotAvailable)
	assert.Zero(t, p.State().Available())

	ch, err = p.SetStatus(StatusOnHold, "again", "", t0)
	require.NoError(t, err)
	assert.Zero(t, ch.Entry.Kind, "the same status again changes nothing")
	ch, err = p.SetStatus(StatusQuarantined, "lab", "", t0)
	require.NoError(t, err)
	ledger = append(ledger, ch.Entry)
	ch, err = p.SetStatus(StatusAvailable, "cleared", "", t0)
	require.NoError(t, err)
	assert.Equal(t, LedgerReleased, ch.Entry.Kind)
	ledger = append(ledger, ch.Entry)
	require.NoError(t, p.Reserve(4, []HoldRequest{{Key: key("b"), Lbs: Lbs(1)}}, t0.Add(time.Minute)), "available again")

	ch, err = p.SetStatus(StatusRecalled, "supplier recall", "", t0)
	require.NoError(t, err)
	assert.Equal(t, LedgerRecalled, ch.Entry.Kind)
	ledger = append(ledger, ch.Entry)
	_, err = p.SetStatus(StatusAvailable, "", "", t0)
	assert.ErrorIs(t, err, ErrFinal)
	_, err = p.SetStatus(StatusOnHold, "", "", t0)
	assert.ErrorIs(t, err, ErrFinal)

	ch = p.WriteOff("recalled", "", t0)
	assert.Equal(t, LedgerEntry{At: t0, Kind: LedgerWrittenOff, Lbs: -Lbs(100), Reason: "recalled", Version: 6, Status: StatusWrittenOff}, ch.Entry)
	ledger = append(ledger, ch.Entry)
	assert.Zero(t, p.WriteOff("again", "", t0).Entry.Kind, "nothing left to write off")
	_, err = p.SetStatus(StatusOnHold, "", "", t0)
	assert.ErrorIs(t, err, ErrFinal)
	assert.Equal(t, PalletState{Spec: s, Version: 6, Status: StatusWrittenOff}, p.State())

	got, err := RestorePallet(s, ledger)
	require.NoError(t, err)
	assert.Equal(t, p.State(), got.State(), "the ledger restores the same pallet, status included")
	assert.Equal(t, p.State(), Restore(p.State()).State(), "and so does a checkpoint")
}
