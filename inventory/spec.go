package inventory

import (
	"fmt"
	"time"
)

// DefaultSKU is the SKU of pallets and orders that name none: the seed
// sold only pork.
const DefaultSKU = "pork"

// Field length limits shared by every edge.
const (
	IDLenMax         = 64
	SKULenMax        = 64
	TextLenMax       = 200 // supplier, lot, customer, reason
	ShelfLifeDaysMax = 3650
)

// PalletSpec is what a receipt says about a pallet. It never changes after
// the pallet is received.
type PalletSpec struct {
	ID       string
	SKU      string
	Lot      string
	Supplier string
	Weight   CentiLbs
	Received time.Time
	Expires  time.Time
}

// Validate checks the spec's own fields. Expiry against the clock is the
// receiver's business (ErrExpired).
func (s PalletSpec) Validate() error {
	switch {
	case s.ID == "":
		return fmt.Errorf("id: %w: required", ErrInvalid)
	case len(s.ID) > IDLenMax:
		return fmt.Errorf("id: %w: longer than %d characters", ErrInvalid, IDLenMax)
	case s.SKU == "":
		return fmt.Errorf("sku: %w: required", ErrInvalid)
	case len(s.SKU) > SKULenMax:
		return fmt.Errorf("sku: %w: longer than %d characters", ErrInvalid, SKULenMax)
	case s.Supplier == "":
		return fmt.Errorf("supplier: %w: required", ErrInvalid)
	case len(s.Supplier) > TextLenMax || len(s.Lot) > TextLenMax:
		return fmt.Errorf("supplier/lot: %w: longer than %d characters", ErrInvalid, TextLenMax)
	case s.Weight <= 0:
		return fmt.Errorf("weightLbs: %w: must be positive", ErrInvalid)
	case s.Weight > WeightMaxCentiLbs:
		return fmt.Errorf("weightLbs: %w: larger than %s lbs", ErrInvalid, WeightMaxCentiLbs)
	case s.Expires.IsZero():
		return fmt.Errorf("expirationDate: %w: required", ErrInvalid)
	case s.Received.IsZero():
		return fmt.Errorf("receivedDate: %w: required", ErrInvalid)
	case !s.Expires.After(s.Received):
		return fmt.Errorf("expirationDate: %w: must be after receivedDate", ErrInvalid)
	}
	return nil
}

// FEFOCompare orders pallets First-Expired-First-Out: expiration, then
// received time, then id. It returns -1, 0 or +1.
func FEFOCompare(a, b *PalletSpec) int {
	if c := a.Expires.Compare(b.Expires); c != 0 {
		return c
	}
	if c := a.Received.Compare(b.Received); c != 0 {
		return c
	}
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}

// Expired reports whether a pallet expiring at expires is expired at now.
// An expired pallet keeps its weight on the books and is never allocated.
func Expired(expires, now time.Time) bool { return !expires.After(now) }

// ShelfLifeCutoff is the instant a pallet must expire after to serve an
// order needing minShelfLifeDays of shelf life at now.
func ShelfLifeCutoff(now time.Time, minShelfLifeDays int) time.Time {
	return now.Add(time.Duration(minShelfLifeDays) * 24 * time.Hour)
}
