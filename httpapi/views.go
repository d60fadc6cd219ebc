package httpapi

import (
	"strconv"
	"time"

	"github.com/baconator/baconator/inventory"
)

// lbsJSON writes a weight as an exact JSON number of pounds with at most
// two decimals ("1500", "12.5", "0.01"), never through a float.
type lbsJSON inventory.CentiLbs

func (w lbsJSON) MarshalJSON() ([]byte, error) {
	v := int64(w)
	b := make([]byte, 0, 16)
	if v < 0 {
		b, v = append(b, '-'), -v
	}
	b = strconv.AppendInt(b, v/inventory.CentiLbsPerLb, 10)
	if cents := v % inventory.CentiLbsPerLb; cents != 0 {
		b = append(b, '.', byte('0'+cents/10))
		if cents%10 != 0 {
			b = append(b, byte('0'+cents%10))
		}
	}
	return b, nil
}

// timeJSON writes a UTC RFC 3339 time, or null when zero.
type timeJSON time.Time

func (t timeJSON) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	return append(tt.UTC().AppendFormat([]byte{'"'}, time.RFC3339Nano), '"'), nil
}

type palletView struct {
	ID             string   `json:"id"`
	SKU            string   `json:"sku"`
	Lot            string   `json:"lot"`
	Supplier       string   `json:"supplier"`
	WeightLbs      lbsJSON  `json:"weightLbs"`
	ReservedLbs    lbsJSON  `json:"reservedLbs"`
	AvailableLbs   lbsJSON  `json:"availableLbs"`
	ExpirationDate timeJSON `json:"expirationDate"`
	ReceivedDate   timeJSON `json:"receivedDate"`
	Version        int64    `json:"version"`
	Expired        bool     `json:"expired"`
	Status         string   `json:"status"`
}

func newPalletView(s inventory.PalletState, now time.Time) palletView {
	expired := inventory.Expired(s.Spec.Expires, now)
	avail := s.Available()
	if expired {
		avail = 0 // expired weight stays on the books but is not for sale
	}
	return palletView{
		ID: s.Spec.ID, SKU: s.Spec.SKU, Lot: s.Spec.Lot, Supplier: s.Spec.Supplier,
		WeightLbs: lbsJSON(s.OnHand), ReservedLbs: lbsJSON(s.Held), AvailableLbs: lbsJSON(avail),
		ExpirationDate: timeJSON(s.Spec.Expires), ReceivedDate: timeJSON(s.Spec.Received),
		Version: s.Version, Expired: expired, Status: string(s.StatusOr()),
	}
}

type inventoryView struct {
	TotalPorkLbs lbsJSON      `json:"totalPorkLbs"`
	TotalLbs     lbsJSON      `json:"totalLbs"`
	AvailableLbs lbsJSON      `json:"availableLbs"`
	ReservedLbs  lbsJSON      `json:"reservedLbs"`
	ExpiredLbs   lbsJSON      `json:"expiredLbs"`
	BatchCount   int          `json:"batchCount"`
	Batches      []palletView `json:"batches"`
	NextCursor   string       `json:"nextCursor,omitempty"`
}

type ledgerEntryView struct {
	At      timeJSON `json:"at"`
	Kind    string   `json:"kind"`
	Lbs     lbsJSON  `json:"lbs"`
	OrderID string   `json:"orderId,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	Version int64    `json:"version"`
	Status  string   `json:"status,omitempty"` // after a status change or write-off
	Note    string   `json:"note,omitempty"`
}

func newLedgerEntryView(e inventory.LedgerEntry) ledgerEntryView {
	return ledgerEntryView{At: timeJSON(e.At), Kind: string(e.Kind), Lbs: lbsJSON(e.Lbs), OrderID: e.OrderID,
		Reason: e.Reason, Version: e.Version, Status: string(e.Status), Note: e.Note}
}

type ledgerView struct {
	PalletID   string            `json:"palletId"`
	Entries    []ledgerEntryView `json:"entries"`
	NextCursor string            `json:"nextCursor,omitempty"`
}

type allocationView struct {
	PalletID       string   `json:"palletId"`
	Lot            string   `json:"lot"`
	Supplier       string   `json:"supplier"`
	Lbs            lbsJSON  `json:"lbs"`
	ExpirationDate timeJSON `json:"expirationDate"`
}

type orderView struct {
	ID               string           `json:"id"`
	Customer         string           `json:"customer"`
	SKU              string           `json:"sku"`
	AmountRequested  lbsJSON          `json:"amountRequested"`
	MinShelfLifeDays int              `json:"minShelfLifeDays"`
	CreatedAt        timeJSON         `json:"createdAt"`
	Status           inventory.Status `json:"status"`
	Reason           inventory.Reason `json:"reason"`
	Allocations      []allocationView `json:"allocations"`
	Attempts         int              `json:"attempts"`
	Conflicts        int              `json:"conflicts"`
	AcceptedAt       timeJSON         `json:"acceptedAt"`
	CompletedAt      timeJSON         `json:"completedAt"`
}

func newOrderView(o inventory.Order) orderView {
	v := orderView{
		ID: o.Request.ID, Customer: o.Request.Customer, SKU: o.Request.SKU,
		AmountRequested: lbsJSON(o.Request.Amount), MinShelfLifeDays: o.Request.MinShelfLifeDays,
		CreatedAt: timeJSON(o.Request.CreatedAt), Status: o.Status, Reason: o.Reason,
		Allocations: make([]allocationView, len(o.Allocations)),
		Attempts:    o.Attempts, Conflicts: o.Conflicts,
		AcceptedAt: timeJSON(o.AcceptedAt), CompletedAt: timeJSON(o.CompletedAt),
	}
	for i, a := range o.Allocations {
		v.Allocations[i] = allocationView{PalletID: a.PalletID, Lot: a.Lot, Supplier: a.Supplier, Lbs: lbsJSON(a.Lbs), ExpirationDate: timeJSON(a.Expires)}
	}
	return v
}

// acceptedView answers POST /api/orders. A repeat of an existing order
// carries the whole order too.
type acceptedView struct {
	OrderID string `json:"orderId"`
	Status  string `json:"status"`
	*orderView
}

type ordersView struct {
	Orders     []orderView `json:"orders"`
	NextCursor string      `json:"nextCursor,omitempty"`
}
