package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/baconator/baconator/inventory"
)

// palletRequestJSON is POST /api/inventory's body.
type palletRequestJSON struct {
	ID             *string         `json:"id"`
	SKU            *string         `json:"sku"`
	Lot            *string         `json:"lot"`
	Supplier       *string         `json:"supplier"`
	WeightLbs      json.RawMessage `json:"weightLbs"`
	ExpirationDate *string         `json:"expirationDate"`
	ReceivedDate   *string         `json:"receivedDate"`
	Version        json.RawMessage `json:"version"` // accepted and ignored, as the seed's clients send it
}

func (in palletRequestJSON) spec() (inventory.PalletSpec, error) {
	var f fields
	spec := inventory.PalletSpec{
		ID:       f.id("id", deref(in.ID)),
		SKU:      f.text("sku", in.SKU, false, inventory.SKULenMax),
		Lot:      f.text("lot", in.Lot, false, inventory.TextLenMax),
		Supplier: f.text("supplier", in.Supplier, true, inventory.TextLenMax),
		Expires:  f.timestamp("expirationDate", in.ExpirationDate, true),
		Received: f.timestamp("receivedDate", in.ReceivedDate, false),
	}
	if w, ok := f.lbs("weightLbs", in.WeightLbs, true); ok {
		if w <= 0 {
			f.add("weightLbs", "must be positive")
		}
		spec.Weight = w
	}
	if !spec.Expires.IsZero() && !spec.Received.IsZero() && !spec.Expires.After(spec.Received) {
		f.add("expirationDate", "must be after receivedDate")
	}
	return spec, f.err()
}

func (s *Server) receivePallet(c echo.Context) error {
	var in palletRequestJSON
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	spec, err := in.spec()
	if err != nil {
		return err
	}
	states, err := s.eng.ReceivePallets([]inventory.PalletSpec{spec})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/inventory/"+states[0].Spec.ID)
	return c.JSON(http.StatusCreated, newPalletView(states[0], s.now()))
}

func (s *Server) getPallet(c echo.Context) error {
	p, err := s.eng.Pallet(c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newPalletView(p, s.now()))
}

// adjustmentReasons are the reasons an operator may give.
var adjustmentReasons = []string{"scale_recalibration", "damage", "shrink", "count_correction", "other"}

type adjustmentJSON struct {
	DeltaLbs json.RawMessage `json:"deltaLbs"`
	Reason   *string         `json:"reason"`
}

func (s *Server) adjustPallet(c echo.Context) error {
	var in adjustmentJSON
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	var f fields
	delta, ok := f.lbs("deltaLbs", in.DeltaLbs, true)
	if ok && delta == 0 {
		f.add("deltaLbs", "must not be zero")
	}
	reason := deref(in.Reason)
	switch {
	case reason == "":
		f.add("reason", "required") // null and "" are absent, as for every field
	case !slices.Contains(adjustmentReasons, reason):
		f.add("reason", "must be one of scale_recalibration, damage, shrink, count_correction, other")
	}
	if err := f.err(); err != nil {
		return err
	}
	p, err := s.eng.AdjustPallet(c.Param("id"), delta, reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newPalletView(p, s.now()))
}

func (s *Server) getLedger(c echo.Context) error {
	id := c.Param("id")
	entries, err := s.eng.Ledger(id)
	if err != nil {
		return err
	}
	v := ledgerView{PalletID: id, Entries: make([]ledgerEntryView, len(entries))}
	for i, e := range entries {
		v.Entries[i] = ledgerEntryView{At: timeJSON(e.At), Kind: string(e.Kind), Lbs: lbsJSON(e.Lbs), OrderID: e.OrderID, Reason: e.Reason, Version: e.Version}
	}
	return c.JSON(http.StatusOK, v)
}

// Inventory listing bounds: the contract's default and maximum page.
const inventoryPageMax = 10000

// listInventory lists pallets in FEFO order; the totals cover the whole
// filtered inventory, not the page.
func (s *Server) listInventory(c echo.Context) error {
	var f fields
	limit := f.limit(c.QueryParam("limit"), inventoryPageMax, inventoryPageMax)
	sku := c.QueryParam("sku")
	var afterID string
	if cur := c.QueryParam("cursor"); cur != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cur)
		if err != nil || len(raw) == 0 {
			f.add("cursor", "not a cursor this server issued")
		}
		afterID = string(raw)
	}
	if err := f.err(); err != nil {
		return err
	}
	now := s.now()
	states := s.eng.Inventory(sku)
	out := inventoryView{BatchCount: len(states), Batches: []palletView{}}
	start := 0
	if afterID != "" {
		i := slices.IndexFunc(states, func(p inventory.PalletState) bool { return p.Spec.ID == afterID })
		if i < 0 {
			return invalid(FieldError{Field: "cursor", Message: "the pallet it points at is unknown"})
		}
		start = i + 1
	}
	var total, pork, avail, reserved, expired inventory.CentiLbs
	for i, p := range states {
		total += p.OnHand
		reserved += p.Held
		if p.Spec.SKU == inventory.DefaultSKU {
			pork += p.OnHand
		}
		if inventory.Expired(p.Spec.Expires, now) {
			expired += p.OnHand
		} else {
			avail += p.Available()
		}
		if i >= start && len(out.Batches) < limit {
			out.Batches = append(out.Batches, newPalletView(p, now))
		}
	}
	if start+len(out.Batches) < len(states) && len(out.Batches) > 0 {
		out.NextCursor = encodeCursor(out.Batches[len(out.Batches)-1].ID)
	}
	out.TotalLbs, out.TotalPorkLbs, out.AvailableLbs = lbsJSON(total), lbsJSON(pork), lbsJSON(avail)
	out.ReservedLbs, out.ExpiredLbs = lbsJSON(reserved), lbsJSON(expired)
	return c.JSON(http.StatusOK, out)
}
