package inventory

import "errors"

// Errors callers branch on. The HTTP edge maps them to statuses in one place.
var (
	// ErrStaleVersion: a reserve named a version the pallet no longer has.
	ErrStaleVersion = errors.New("stale pallet version")
	// ErrInsufficientStock: not enough available weight for a request.
	ErrInsufficientStock = errors.New("insufficient stock")
	// ErrHoldMissing: a confirm named a hold the pallet no longer has
	// (revoked by a physical change, expired, or released).
	ErrHoldMissing = errors.New("hold missing")
	// ErrBelowZero: an adjustment would take on-hand weight below zero.
	ErrBelowZero = errors.New("weight would go below zero")
	// ErrNotAvailable: a reserve on a pallet that is on hold,
	// quarantined, recalled or written off.
	ErrNotAvailable = errors.New("pallet not available")
	// ErrFinal: a status change asked of a recalled or written-off pallet.
	ErrFinal = errors.New("pallet status is final")
	// ErrInvalid: a pallet spec or order request breaks a rule; the wrapped
	// message names the field.
	ErrInvalid = errors.New("invalid")
	// ErrExpired: a pallet received already past its expiration.
	ErrExpired = errors.New("already expired")
	// ErrCorrupt: stored state breaks what the bookkeeping guarantees.
	ErrCorrupt = errors.New("stored state is inconsistent")
)
