package inventory

import (
	"fmt"
	"time"
)

// HoldKey names a hold: the order and the attempt that took it. Messages
// between coordinator and pallets are idempotent per key.
type HoldKey struct {
	Order   string
	Attempt int32
}

// HoldRequest asks a pallet to hold Lbs for Key.
type HoldRequest struct {
	Key HoldKey
	Lbs CentiLbs
}

// LedgerKind says what a ledger entry did.
type LedgerKind string

// Ledger entry kinds.
const (
	LedgerReceived  LedgerKind = "received"
	LedgerAdjusted  LedgerKind = "adjusted"
	LedgerAllocated LedgerKind = "allocated"
	LedgerReturned  LedgerKind = "returned"
	// Status changes: lbs 0, the status after the entry in Status.
	LedgerHeld     LedgerKind = "held"
	LedgerReleased LedgerKind = "released"
	LedgerRecalled LedgerKind = "recalled"
	// LedgerWrittenOff takes the whole on-hand weight off the books.
	LedgerWrittenOff LedgerKind = "written_off"
)

// PalletStatus is whether a pallet may be allocated from: only an
// available one may. Recalled and written off are final.
type PalletStatus string

// Pallet statuses.
const (
	StatusAvailable   PalletStatus = "available"
	StatusOnHold      PalletStatus = "on_hold"
	StatusQuarantined PalletStatus = "quarantined"
	StatusRecalled    PalletStatus = "recalled"
	StatusWrittenOff  PalletStatus = "written_off"
)

// Valid reports whether s is a known status.
func (s PalletStatus) Valid() bool {
	switch s {
	case StatusAvailable, StatusOnHold, StatusQuarantined, StatusRecalled, StatusWrittenOff:
		return true
	}
	return false
}

// Held reports whether s is a hold a release undoes.
func (s PalletStatus) Held() bool { return s == StatusOnHold || s == StatusQuarantined }

// Final reports whether s can never become available again.
func (s PalletStatus) Final() bool { return s == StatusRecalled || s == StatusWrittenOff }

// statusKind is the ledger kind of a change to status to.
func statusKind(to PalletStatus) LedgerKind {
	switch to {
	case StatusAvailable:
		return LedgerReleased
	case StatusRecalled:
		return LedgerRecalled
	case StatusWrittenOff:
		return LedgerWrittenOff
	}
	return LedgerHeld
}

// ReasonChaos is the adjustment reason of a chaos strike.
const ReasonChaos = "chaos"

// LedgerEntry is one line of a pallet's audit trail. Lbs is signed: what
// the entry did to on-hand weight. The entries of a pallet sum to its
// on-hand weight, always.
type LedgerEntry struct {
	At      time.Time
	Kind    LedgerKind
	Lbs     CentiLbs
	OrderID string
	Reason  string
	Version int64
	// Status is the pallet's status after a status change or write-off
	// (empty on every other kind); Note is the operator's free text.
	Status PalletStatus
	Note   string
}

// PalletState is a snapshot of a pallet.
type PalletState struct {
	Spec    PalletSpec
	OnHand  CentiLbs
	Held    CentiLbs
	Version int64
	Status  PalletStatus // empty means available (states from before statuses)
}

// Available is on-hand weight not promised to a hold, on a pallet that may
// be allocated from (0 on any other).
func (s PalletState) Available() CentiLbs {
	if !s.Allocatable() {
		return 0
	}
	return s.OnHand - s.Held
}

// Allocatable reports whether the pallet's status lets it be allocated.
func (s PalletState) Allocatable() bool { return s.Status == "" || s.Status == StatusAvailable }

// StatusOr is the pallet's status, available if unset.
func (s PalletState) StatusOr() PalletStatus {
	if s.Status == "" {
		return StatusAvailable
	}
	return s.Status
}

type hold struct {
	lbs      CentiLbs
	deadline time.Time
}

// Pallet is one pallet's bookkeeping: on-hand weight, holds and version —
// what allocation needs, and nothing that grows with its history: the
// ledger lines each change makes are written by its coordinator, from the
// messages that report them. Its version is bumped by every change to
// on-hand weight
// (receipt, adjustment, allocation, return), never by holds.
//
// A hold is a promise about one version of the pallet: any physical change
// (an adjustment or a chaos strike) revokes every hold, because the plan
// that took it was made on weight that is no longer there. That is how the
// hard case — a strike between reserve and confirm — never allocates ghost
// inventory: the confirm finds its hold gone and is refused.
type Pallet struct {
	spec    PalletSpec
	onHand  CentiLbs
	held    CentiLbs
	version int64
	status  PalletStatus
	holds   map[HoldKey]hold
	// lastConfirmed holds the keys of the latest confirm and the version
	// they committed at: only a resend of that confirm can repeat a key,
	// so older keys need not be kept.
	lastConfirmed map[HoldKey]int64
}

// ReceiptEntry is a pallet's first ledger line: received, at version 1.
func ReceiptEntry(spec PalletSpec) LedgerEntry {
	return LedgerEntry{At: spec.Received, Kind: LedgerReceived, Lbs: spec.Weight, Version: 1}
}

// NewPallet receives a pallet: version 1, its whole weight on hand (its
// ledger's first line is ReceiptEntry).
func NewPallet(spec PalletSpec) *Pallet {
	return Restore(PalletState{Spec: spec, OnHand: spec.Weight, Version: 1})
}

// Restore rebuilds a pallet from a checkpoint of its state. It holds
// nothing: holds are promises about one version and never outlive a
// restart.
func Restore(s PalletState) *Pallet {
	return &Pallet{spec: s.Spec, onHand: s.OnHand, version: s.Version, status: s.StatusOr(), holds: map[HoldKey]hold{}}
}

// State returns a snapshot.
func (p *Pallet) State() PalletState {
	return PalletState{Spec: p.spec, OnHand: p.onHand, Held: p.held, Version: p.version, Status: p.status}
}

// Reserve grants every hold in reqs, or none. It refuses with
// ErrStaleVersion if the pallet's version is not expectedVersion, and with
// ErrInsufficientStock if available weight does not cover the new holds.
// Holds it already has (a retried message) are granted again unchanged.
func (p *Pallet) Reserve(expectedVersion int64, reqs []HoldRequest, deadline time.Time) error {
	if p.version != expectedVersion {
		return fmt.Errorf("reserve on %s at version %d (have %d): %w", p.spec.ID, expectedVersion, p.version, ErrStaleVersion)
	}
	if p.status != StatusAvailable {
		// Unreachable by a coordinator that saw the change (it bumped the
		// version), kept as the pallet's own guard.
		return fmt.Errorf("reserve on %s (%s): %w", p.spec.ID, p.status, ErrNotAvailable)
	}
	var need CentiLbs
	for _, r := range reqs {
		if r.Lbs <= 0 {
			panic(fmt.Sprintf("pallet %s: hold %v for %d centi-lbs", p.spec.ID, r.Key, r.Lbs))
		}
		if _, ok := p.holds[r.Key]; !ok {
			need += r.Lbs
		}
	}
	if need > p.onHand-p.held {
		return fmt.Errorf("reserve %s on %s (available %s): %w", need, p.spec.ID, p.onHand-p.held, ErrInsufficientStock)
	}
	for _, r := range reqs {
		if _, ok := p.holds[r.Key]; !ok {
			p.holds[r.Key] = hold{lbs: r.Lbs, deadline: deadline}
			p.held += r.Lbs
		}
	}
	return nil
}

// Confirm turns the holds named by keys into deductions, all or none, and
// bumps the version once. It returns the version the deductions are at.
// Keys confirmed before (a retried message) are skipped, and a confirm
// that only repeats earlier ones returns the version they were confirmed
// at — not the pallet's current one, which may include a later change.
// It refuses with ErrHoldMissing if any key is neither held nor already
// confirmed.
func (p *Pallet) Confirm(keys []HoldKey, now time.Time) (int64, error) {
	fresh, repeated := 0, int64(0)
	for _, k := range keys {
		if _, ok := p.holds[k]; ok {
			fresh++
			continue
		}
		v, ok := p.lastConfirmed[k]
		if !ok {
			return 0, fmt.Errorf("confirm %v on %s: %w", k, p.spec.ID, ErrHoldMissing)
		}
		repeated = v
	}
	if fresh == 0 {
		return repeated, nil
	}
	p.version++
	p.lastConfirmed = make(map[HoldKey]int64, len(keys))
	for _, k := range keys {
		h, ok := p.holds[k]
		if !ok {
			continue
		}
		delete(p.holds, k)
		p.held -= h.lbs
		p.onHand -= h.lbs
		p.lastConfirmed[k] = p.version
	}
	p.assert()
	return p.version, nil
}

// Release drops the holds named by keys; unknown keys are ignored.
func (p *Pallet) Release(keys []HoldKey) {
	for _, k := range keys {
		if h, ok := p.holds[k]; ok {
			delete(p.holds, k)
			p.held -= h.lbs
		}
	}
}

// Adjust applies a physical weight change and revokes every hold. With
// clamp (a chaos strike) a shrink stops at zero; without it a change that
// would go below zero is refused with ErrBelowZero. It returns the delta
// applied and the number of holds revoked; a zero delta changes nothing.
func (p *Pallet) Adjust(delta CentiLbs, reason string, now time.Time, clamp bool) (applied CentiLbs, revoked int, err error) {
	if p.onHand+delta < 0 {
		if !clamp {
			return 0, 0, fmt.Errorf("adjust %s by %s (on hand %s): %w", p.spec.ID, delta, p.onHand, ErrBelowZero)
		}
		delta = -p.onHand
	}
	if delta == 0 {
		return 0, 0, nil
	}
	revoked = p.revokeAll()
	p.onHand += delta
	p.version++
	p.assert()
	return delta, revoked, nil
}

// StatusChange is what SetStatus or WriteOff did: the ledger entry it
// makes (zero Kind: nothing changed) and the holds it revoked.
type StatusChange struct {
	Entry   LedgerEntry
	Revoked int
}

// SetStatus puts the pallet on hold or in quarantine, releases it
// (StatusAvailable) or recalls it. Like a physical change it bumps the
// version and revokes every hold, so that no confirm planned before it
// commits after it. A pallet already in that status is left alone (a zero
// change). A recalled or written-off pallet cannot change (ErrFinal), but
// a recalled one can still be written off (WriteOff).
func (p *Pallet) SetStatus(to PalletStatus, reason, note string, now time.Time) (StatusChange, error) {
	if !to.Valid() || to == StatusWrittenOff {
		panic(fmt.Sprintf("pallet %s: set status %q", p.spec.ID, to))
	}
	if to == p.status {
		return StatusChange{}, nil
	}
	if p.status.Final() {
		return StatusChange{}, fmt.Errorf("pallet %s is %s: %w", p.spec.ID, p.status, ErrFinal)
	}
	revoked := p.revokeAll()
	p.status = to
	p.version++
	return StatusChange{Entry: LedgerEntry{At: now, Kind: statusKind(to), Reason: reason, Note: note, Version: p.version, Status: to}, Revoked: revoked}, nil
}

// WriteOff takes the whole on-hand weight off the books (expired, damaged
// or recalled stock) through a ledger entry of its own, and the pallet is
// written off for good. A written-off pallet with nothing on hand is left
// alone; weight that came back to one later (a cancelled order's) can be
// written off again.
func (p *Pallet) WriteOff(reason, note string, now time.Time) StatusChange {
	if p.status == StatusWrittenOff && p.onHand == 0 {
		return StatusChange{}
	}
	revoked := p.revokeAll()
	lbs := -p.onHand
	p.onHand = 0
	p.status = StatusWrittenOff
	p.version++
	p.assert()
	return StatusChange{Entry: LedgerEntry{At: now, Kind: LedgerWrittenOff, Lbs: lbs, Reason: reason, Note: note, Version: p.version, Status: StatusWrittenOff}, Revoked: revoked}
}

func (p *Pallet) revokeAll() int {
	n := len(p.holds)
	clear(p.holds)
	p.held = 0
	return n
}

// Returned is what a Return did: the weight given back, at which version
// and time. Repeated: the weight had been given back already (a resent
// return); the fields describe that earlier return.
type Returned struct {
	Lbs      CentiLbs
	Version  int64
	At       time.Time
	Repeated bool
}

// Return gives back lbs an order was allocated from this pallet (its
// coordinator knows how much, from the order's allocations) and bumps the
// version. Returning once per order is the coordinator's business (see
// alloc.PalletNode).
func (p *Pallet) Return(lbs CentiLbs, now time.Time) Returned {
	if lbs <= 0 {
		panic(fmt.Sprintf("pallet %s: return of %d centi-lbs", p.spec.ID, lbs))
	}
	p.onHand += lbs
	p.version++
	p.assert()
	return Returned{Lbs: lbs, Version: p.version, At: now}
}

// ExpireHolds drops holds whose deadline has passed (their coordinator
// vanished) and returns how many it dropped.
func (p *Pallet) ExpireHolds(now time.Time) int {
	n := 0
	for k, h := range p.holds {
		if !h.deadline.After(now) {
			delete(p.holds, k)
			p.held -= h.lbs
			n++
		}
	}
	return n
}

// NextHoldDeadline returns the earliest hold deadline, if any hold exists.
func (p *Pallet) NextHoldDeadline() (time.Time, bool) {
	var next time.Time
	for _, h := range p.holds {
		if next.IsZero() || h.deadline.Before(next) {
			next = h.deadline
		}
	}
	return next, !next.IsZero()
}

// assert panics on a broken invariant: a programmer error, never input.
func (p *Pallet) assert() {
	if p.onHand < 0 || p.held < 0 || p.held > p.onHand {
		panic(fmt.Sprintf("pallet %s: on hand %d, held %d centi-lbs", p.spec.ID, p.onHand, p.held))
	}
}

// RestorePallet rebuilds a pallet from its receipt and its ledger, as
// stored: on-hand weight is the ledger's sum and the version its last
// entry's. It checks what every ledger written by Pallet satisfies — a
// receipt first, versions rising by one per change (entries of one confirm
// share theirs), never a negative weight — and fails with ErrCorrupt
// naming the first entry that breaks it.
func RestorePallet(spec PalletSpec, ledger []LedgerEntry) (*Pallet, error) {
	if len(ledger) == 0 || ledger[0].Kind != LedgerReceived || ledger[0].Version != 1 || ledger[0].Lbs != spec.Weight {
		return nil, fmt.Errorf("pallet %s: %w: ledger does not start with its receipt of %s lbs", spec.ID, ErrCorrupt, spec.Weight)
	}
	p := NewPallet(spec)
	for i, e := range ledger[1:] {
		sameConfirm := e.Kind == LedgerAllocated && ledger[i].Kind == LedgerAllocated && e.Version == p.version
		switch {
		case e.Version != p.version+1 && !sameConfirm:
			return nil, fmt.Errorf("pallet %s: %w: ledger entry %d at version %d after version %d", spec.ID, ErrCorrupt, i+1, e.Version, p.version)
		case e.Kind == LedgerReceived || p.onHand+e.Lbs < 0:
			return nil, fmt.Errorf("pallet %s: %w: ledger entry %d (%s %s lbs) on %s lbs", spec.ID, ErrCorrupt, i+1, e.Kind, e.Lbs, p.onHand)
		}
		p.onHand += e.Lbs
		p.version = e.Version
		if e.Status != "" {
			p.status = e.Status
		}
	}
	return p, nil
}
