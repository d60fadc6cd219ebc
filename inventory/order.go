package inventory

import (
	"fmt"
	"strings"
	"time"
)

// Status is where an order is in its life.
type Status string

// Order statuses: queued → allocating → allocated | rejected | cancelled.
const (
	StatusQueued     Status = "queued"
	StatusAllocating Status = "allocating"
	StatusAllocated  Status = "allocated"
	StatusRejected   Status = "rejected"
	StatusCancelled  Status = "cancelled"
)

// Terminal reports whether s is an end state. An allocated order may still
// be cancelled, which returns its weight.
func (s Status) Terminal() bool {
	return s == StatusAllocated || s == StatusRejected || s == StatusCancelled
}

// Reason says why an order was rejected.
type Reason string

// Rejection reasons.
const (
	ReasonNone              Reason = ""
	ReasonInsufficientStock Reason = "insufficient_stock"
	ReasonNoEligibleStock   Reason = "no_eligible_stock"
	ReasonContention        Reason = "contention"
)

// OrderRequest is what a client asks for. ID is the client's order id and
// the idempotency key.
type OrderRequest struct {
	ID               string
	Customer         string
	SKU              string
	Amount           CentiLbs
	MinShelfLifeDays int
	CreatedAt        time.Time
}

// Validate checks the request's fields; the error names the field.
func (r OrderRequest) Validate() error {
	switch {
	case r.ID == "":
		return fmt.Errorf("id: %w: required", ErrInvalid)
	case len(r.ID) > IDLenMax:
		return fmt.Errorf("id: %w: longer than %d characters", ErrInvalid, IDLenMax)
	case r.Customer == "":
		return fmt.Errorf("customer: %w: required", ErrInvalid)
	case len(r.Customer) > TextLenMax:
		return fmt.Errorf("customer: %w: longer than %d characters", ErrInvalid, TextLenMax)
	case r.SKU == "":
		return fmt.Errorf("sku: %w: required", ErrInvalid)
	case len(r.SKU) > SKULenMax:
		return fmt.Errorf("sku: %w: longer than %d characters", ErrInvalid, SKULenMax)
	case r.Amount <= 0:
		return fmt.Errorf("amountRequested: %w: must be positive", ErrInvalid)
	case r.Amount > WeightMaxCentiLbs:
		return fmt.Errorf("amountRequested: %w: larger than %s lbs", ErrInvalid, WeightMaxCentiLbs)
	case r.MinShelfLifeDays < 0 || r.MinShelfLifeDays > ShelfLifeDaysMax:
		return fmt.Errorf("minShelfLifeDays: %w: must be between 0 and %d", ErrInvalid, ShelfLifeDaysMax)
	}
	return nil
}

// SameAs reports whether two requests with one id ask for the same thing,
// which makes a repeat idempotent rather than a conflict.
func (r OrderRequest) SameAs(o OrderRequest) bool {
	return r.ID == o.ID && r.Customer == o.Customer && r.SKU == o.SKU &&
		r.Amount == o.Amount && r.MinShelfLifeDays == o.MinShelfLifeDays &&
		r.CreatedAt.Equal(o.CreatedAt)
}

// Allocation is weight taken from one pallet for an order, with what a
// trace back to the pallet needs.
type Allocation struct {
	PalletID string
	Lot      string
	Supplier string
	Lbs      CentiLbs
	Expires  time.Time
	Received time.Time
}

// CompareAllocations orders allocations First-Expired-First-Out, as
// FEFOCompare orders their pallets.
func CompareAllocations(a, b Allocation) int {
	if c := a.Expires.Compare(b.Expires); c != 0 {
		return c
	}
	if c := a.Received.Compare(b.Received); c != 0 {
		return c
	}
	return strings.Compare(a.PalletID, b.PalletID)
}

// Order is a snapshot of an order's state. Snapshots are values: the engine
// publishes a new one on every change and never mutates a published one.
type Order struct {
	Request     OrderRequest
	Status      Status
	Reason      Reason
	Allocations []Allocation // FEFO order
	Attempts    int
	Conflicts   int
	AcceptedAt  time.Time
	CompletedAt time.Time
}
