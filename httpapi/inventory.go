package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/baconator/baconator/actors"
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

// Ledger page bounds.
const (
	ledgerPageDefault = 1000
	ledgerPageMax     = 10000
)

// getLedger pages through a pallet's ledger, oldest first, from the
// journal: a page costs the page, however long the pallet's history.
func (s *Server) getLedger(c echo.Context) error {
	id := c.Param("id")
	var f fields
	limit := f.limit(c.QueryParam("limit"), ledgerPageDefault, ledgerPageMax)
	var after *actors.LedgerPosition
	if cur := c.QueryParam("cursor"); cur != "" {
		var err error
		if after, err = s.cursors.openLedger(cur); err != nil {
			f.add("cursor", "%v", err)
		}
	}
	if err := f.err(); err != nil {
		return err
	}
	entries, next, err := s.eng.Ledger(id, after, limit)
	if err != nil {
		return err
	}
	v := ledgerView{PalletID: id, Entries: make([]ledgerEntryView, len(entries))}
	for i, e := range entries {
		v.Entries[i] = newLedgerEntryView(e)
	}
	if next != nil {
		v.NextCursor = s.cursors.ledger(next)
	}
	return c.JSON(http.StatusOK, v)
}

// Inventory listing bounds: the contract's default and maximum page.
const inventoryPageMax = 10000

// Pallet states a listing selects (they partition the pallets): active
// has weight and is not expired; expired has weight and is; empty has
// none — emptied, and retired off the floor.
const (
	stateActive  = "active"
	stateExpired = "expired"
	stateEmpty   = "empty"
)

var palletStates = []string{stateActive, stateExpired, stateEmpty}

// listInventory lists pallets in FEFO order (by SKU, then expiry, receipt
// and id), those on the floor from memory and retired ones from the
// journal, merged. The totals cover the whole filtered inventory, not the
// page: the floor's by summing what is in memory, the retired ones by their
// count (they weigh nothing).
func (s *Server) listInventory(c echo.Context) error {
	var f fields
	limit := f.limit(c.QueryParam("limit"), inventoryPageMax, inventoryPageMax)
	sku := c.QueryParam("sku")
	want := f.states(c.QueryParam("state"))
	var after *inventory.PalletSpec
	if cur := c.QueryParam("cursor"); cur != "" {
		var err error
		if after, err = s.cursors.openInventory(cur); err != nil {
			f.add("cursor", "%v", err)
		}
	}
	if err := f.err(); err != nil {
		return err
	}
	now := s.now()
	stateOf := func(p inventory.PalletState) string {
		switch {
		case p.OnHand == 0:
			return stateEmpty
		case inventory.Expired(p.Spec.Expires, now):
			return stateExpired
		}
		return stateActive
	}
	out := inventoryView{Batches: []palletView{}}
	var total, pork, avail, reserved, expired inventory.CentiLbs
	var live []inventory.PalletState // the page's candidates from the floor
	for _, p := range s.eng.Inventory(sku) {
		if !want[stateOf(p)] {
			continue
		}
		out.BatchCount++
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
		if (after == nil || palletAfter(p.Spec, *after)) && len(live) <= limit {
			live = append(live, p)
		}
	}
	var retired []inventory.PalletState
	if want[stateEmpty] {
		out.BatchCount += int(s.eng.RetiredCount(sku))
		var err error
		if retired, err = s.eng.RetiredPallets(sku, after, limit+1); err != nil {
			return err
		}
	}
	page := mergePallets(live, retired, limit+1)
	if len(page) > limit {
		page = page[:limit]
		out.NextCursor = s.cursors.inventory(page[limit-1].Spec)
	}
	for _, p := range page {
		out.Batches = append(out.Batches, newPalletView(p, now))
	}
	out.TotalLbs, out.TotalPorkLbs, out.AvailableLbs = lbsJSON(total), lbsJSON(pork), lbsJSON(avail)
	out.ReservedLbs, out.ExpiredLbs = lbsJSON(reserved), lbsJSON(expired)
	return c.JSON(http.StatusOK, out)
}

// states parses ?state=: a comma-separated subset of the pallet states, or
// all; by default what is on the floor (active and expired).
func (f *fields) states(v string) map[string]bool {
	out := map[string]bool{}
	switch v {
	case "":
		out[stateActive], out[stateExpired] = true, true
	case "all":
		for _, s := range palletStates {
			out[s] = true
		}
	default:
		for _, s := range strings.Split(v, ",") {
			if !slices.Contains(palletStates, s) {
				f.add("state", "must be all, or one or more of active, expired, empty, comma-separated")
				return out
			}
			out[s] = true
		}
	}
	return out
}

// comparePallets orders pallets as listings do: SKU, then FEFO.
func comparePallets(a, b inventory.PalletSpec) int {
	if c := strings.Compare(a.SKU, b.SKU); c != 0 {
		return c
	}
	return inventory.FEFOCompare(&a, &b)
}

func palletAfter(s, after inventory.PalletSpec) bool { return comparePallets(s, after) > 0 }

// mergePallets merges two sorted lists into one of at most n; a pallet in
// both (caught retiring: journaled, not yet out of memory) is listed once.
func mergePallets(a, b []inventory.PalletState, n int) []inventory.PalletState {
	out := make([]inventory.PalletState, 0, min(n, len(a)+len(b)))
	for len(out) < n && (len(a) > 0 || len(b) > 0) {
		switch {
		case len(b) == 0:
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0:
			out, b = append(out, b[0]), b[1:]
		default:
			switch c := comparePallets(a[0].Spec, b[0].Spec); {
			case c < 0:
				out, a = append(out, a[0]), a[1:]
			case c > 0:
				out, b = append(out, b[0]), b[1:]
			default:
				out, a, b = append(out, a[0]), a[1:], b[1:]
			}
		}
	}
	return out
}
