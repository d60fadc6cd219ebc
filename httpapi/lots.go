package httpapi

import (
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/inventory"
)

// Limits on an operator's words, in characters.
const (
	reasonCharsMax = 256
	noteCharsMax   = 1024
)

// writeOffReasons are the reasons a write-off may give.
var writeOffReasons = []string{"expired", "damaged", "recalled", "other"}

// statusJSON is the body of a hold, release, recall or write-off.
type statusJSON struct {
	Status *string `json:"status"`
	Reason *string `json:"reason"`
	Note   *string `json:"note"`
}

// decodeStatus reads an optional body (a release may send none).
func decodeStatus(c echo.Context, optional bool) (statusJSON, error) {
	var in statusJSON
	if optional && c.Request().ContentLength == 0 {
		return in, nil
	}
	return in, decodeJSON(c, &in)
}

// words checks a reason or a note: its length in characters and that it
// is printable.
func (f *fields) words(field string, v *string, required bool, maxChars int) string {
	if v != nil && utf8.RuneCountInString(*v) > maxChars {
		f.add(field, "longer than %d characters", maxChars)
		return ""
	}
	return f.text(field, v, required, 4*maxChars) // bytes: up to 4 a character
}

// holdPallet: POST /api/inventory/{id}/hold.
func (s *Server) holdPallet(c echo.Context) error {
	to, reason, note, err := holdBody(c)
	if err != nil {
		return err
	}
	p, err := s.eng.SetPalletStatus(c.Param("id"), to, reason, note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newPalletView(p, s.now()))
}

// holdBody reads a hold: on_hold or quarantined, and a reason.
func holdBody(c echo.Context) (inventory.PalletStatus, string, string, error) {
	in, err := decodeStatus(c, false)
	if err != nil {
		return "", "", "", err
	}
	var f fields
	to := inventory.PalletStatus(deref(in.Status))
	switch {
	case to == "":
		f.add("status", "required")
	case to != inventory.StatusOnHold && to != inventory.StatusQuarantined:
		f.add("status", "must be on_hold or quarantined")
	}
	reason := f.words("reason", in.Reason, true, reasonCharsMax)
	note := f.words("note", in.Note, false, noteCharsMax)
	return to, reason, note, f.err()
}

// reasonBody reads a release or recall: an optional reason and note
// (required names whether the reason is).
func reasonBody(c echo.Context, required bool) (string, string, error) {
	in, err := decodeStatus(c, !required)
	if err != nil {
		return "", "", err
	}
	var f fields
	if in.Status != nil {
		f.add("status", "not allowed here")
	}
	reason := f.words("reason", in.Reason, required, reasonCharsMax)
	note := f.words("note", in.Note, false, noteCharsMax)
	return reason, note, f.err()
}

// releasePallet: POST /api/inventory/{id}/release.
func (s *Server) releasePallet(c echo.Context) error {
	reason, note, err := reasonBody(c, false)
	if err != nil {
		return err
	}
	p, err := s.eng.SetPalletStatus(c.Param("id"), inventory.StatusAvailable, reason, note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newPalletView(p, s.now()))
}

// writeOffPallet: POST /api/inventory/{id}/write-off.
func (s *Server) writeOffPallet(c echo.Context) error {
	in, err := decodeStatus(c, false)
	if err != nil {
		return err
	}
	var f fields
	if in.Status != nil {
		f.add("status", "not allowed here")
	}
	reason := deref(in.Reason)
	switch {
	case reason == "":
		f.add("reason", "required")
	case !slices.Contains(writeOffReasons, reason):
		f.add("reason", "must be one of expired, damaged, recalled, other")
	}
	note := f.words("note", in.Note, false, noteCharsMax)
	if err := f.err(); err != nil {
		return err
	}
	p, err := s.eng.WriteOffPallet(c.Param("id"), reason, note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newPalletView(p, s.now()))
}

// lotView is a lot and its pallets.
type lotView struct {
	Lot          string       `json:"lot"`
	SKU          string       `json:"sku"`
	Status       string       `json:"status"`
	Pallets      []palletView `json:"pallets"`
	WeightLbs    lbsJSON      `json:"weightLbs"`
	AvailableLbs lbsJSON      `json:"availableLbs"`
	OnHoldLbs    lbsJSON      `json:"onHoldLbs"`
}

func (s *Server) newLotView(l actors.Lot) lotView {
	now := s.now()
	v := lotView{Lot: l.Lot, SKU: l.SKU, Status: l.Status(), Pallets: make([]palletView, len(l.Pallets))}
	for i, p := range l.Pallets {
		pv := newPalletView(p, now)
		v.Pallets[i] = pv
		v.WeightLbs += pv.WeightLbs
		v.AvailableLbs += pv.AvailableLbs
		if p.StatusOr().Held() {
			v.OnHoldLbs += pv.WeightLbs
		}
	}
	return v
}

// getLot: GET /api/lots/{lot}.
func (s *Server) getLot(c echo.Context) error {
	l, err := s.eng.Lot(c.Param("lot"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.newLotView(l))
}

// holdLot: POST /api/lots/{lot}/hold.
func (s *Server) holdLot(c echo.Context) error {
	to, reason, note, err := holdBody(c)
	if err != nil {
		return err
	}
	l, err := s.eng.SetLotStatus(c.Param("lot"), to, reason, note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.newLotView(l))
}

// releaseLot: POST /api/lots/{lot}/release.
func (s *Server) releaseLot(c echo.Context) error {
	reason, note, err := reasonBody(c, false)
	if err != nil {
		return err
	}
	l, err := s.eng.SetLotStatus(c.Param("lot"), inventory.StatusAvailable, reason, note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.newLotView(l))
}

// recallLot: POST /api/lots/{lot}/recall, answered with the lot's forward
// trace as it stands once every pallet is recalled.
func (s *Server) recallLot(c echo.Context) error {
	reason, note, err := reasonBody(c, true)
	if err != nil {
		return err
	}
	if _, err := s.eng.SetLotStatus(c.Param("lot"), inventory.StatusRecalled, reason, note); err != nil {
		return err
	}
	return s.lotTrace(c)
}
