package httpapi

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/inventory"
)

type tracePalletView struct {
	PalletID       string   `json:"palletId"`
	Supplier       string   `json:"supplier"`
	ReceivedDate   timeJSON `json:"receivedDate"`
	ExpirationDate timeJSON `json:"expirationDate"`
	ReceivedLbs    lbsJSON  `json:"receivedLbs"`
	WeightLbs      lbsJSON  `json:"weightLbs"`
	Status         string   `json:"status"`
}

type shipmentView struct {
	OrderID     string   `json:"orderId"`
	Customer    string   `json:"customer"`
	PalletID    string   `json:"palletId"`
	Lbs         lbsJSON  `json:"lbs"`
	AllocatedAt timeJSON `json:"allocatedAt"`
	ReturnedLbs lbsJSON  `json:"returnedLbs"`
	OrderStatus string   `json:"orderStatus"`
}

type lotTotalsView struct {
	ReceivedLbs   lbsJSON `json:"receivedLbs"`
	AllocatedLbs  lbsJSON `json:"allocatedLbs"`
	ReturnedLbs   lbsJSON `json:"returnedLbs"`
	AdjustedLbs   lbsJSON `json:"adjustedLbs"`
	WrittenOffLbs lbsJSON `json:"writtenOffLbs"`
	OnHandLbs     lbsJSON `json:"onHandLbs"`
}

type lotTraceView struct {
	Lot       string            `json:"lot"`
	SKU       string            `json:"sku"`
	Pallets   []tracePalletView `json:"pallets"`
	Shipments []shipmentView    `json:"shipments"`
	Totals    lotTotalsView     `json:"totals"`
}

// csvHeader names the key data elements of a shipment line, one column
// each, for the spreadsheet a recall asks for.
var csvHeader = []string{"lot", "sku", "palletId", "supplier", "receivedDate", "expirationDate",
	"orderId", "customer", "lbs", "allocatedAt", "returnedLbs", "orderStatus"}

// lotTrace: GET /api/lots/{lot}/trace, JSON or, with Accept: text/csv or
// ?format=csv, one CSV row per shipment line under a header row.
func (s *Server) lotTrace(c echo.Context) error {
	wantCSV := c.QueryParam("format") == "csv" || strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/csv")
	if f := c.QueryParam("format"); f != "" && f != "csv" && f != "json" {
		return invalid(FieldError{Field: "format", Message: "must be json or csv"})
	}
	tr, err := s.eng.TraceLot(c.Param("lot"))
	if err != nil {
		return err
	}
	if wantCSV {
		return writeTraceCSV(c, tr)
	}
	v := lotTraceView{Lot: tr.Lot.Lot, SKU: tr.Lot.SKU, Pallets: make([]tracePalletView, len(tr.Lot.Pallets)), Shipments: make([]shipmentView, len(tr.Shipments))}
	for i, p := range tr.Lot.Pallets {
		v.Pallets[i] = tracePalletView{PalletID: p.Spec.ID, Supplier: p.Spec.Supplier, ReceivedDate: timeJSON(p.Spec.Received),
			ExpirationDate: timeJSON(p.Spec.Expires), ReceivedLbs: lbsJSON(p.Spec.Weight), WeightLbs: lbsJSON(p.OnHand), Status: string(p.StatusOr())}
	}
	for i, sh := range tr.Shipments {
		v.Shipments[i] = shipmentView{OrderID: sh.OrderID, Customer: sh.Customer, PalletID: sh.PalletID, Lbs: lbsJSON(sh.Lbs),
			AllocatedAt: timeJSON(sh.AllocatedAt), ReturnedLbs: lbsJSON(sh.ReturnedLbs), OrderStatus: string(sh.OrderStatus)}
	}
	t := tr.Totals
	v.Totals = lotTotalsView{ReceivedLbs: lbsJSON(t.Received), AllocatedLbs: lbsJSON(t.Allocated), ReturnedLbs: lbsJSON(t.Returned),
		AdjustedLbs: lbsJSON(t.Adjusted), WrittenOffLbs: lbsJSON(t.WrittenOff), OnHandLbs: lbsJSON(t.OnHand)}
	return c.JSON(http.StatusOK, v)
}

func writeTraceCSV(c echo.Context, tr actors.LotTrace) error {
	specs := map[string]inventory.PalletSpec{}
	for _, p := range tr.Lot.Pallets {
		specs[p.Spec.ID] = p.Spec
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true // RFC 4180
	_ = w.Write(csvHeader)
	for _, sh := range tr.Shipments {
		p := specs[sh.PalletID]
		_ = w.Write([]string{tr.Lot.Lot, tr.Lot.SKU, sh.PalletID, p.Supplier, p.Received.UTC().Format(time.RFC3339), p.Expires.UTC().Format(time.RFC3339),
			sh.OrderID, sh.Customer, sh.Lbs.String(), sh.AllocatedAt.UTC().Format(time.RFC3339Nano), sh.ReturnedLbs.String(), string(sh.OrderStatus)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="lot-`+safeFileName(tr.Lot.Lot)+`-trace.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// safeFileName keeps a lot's letters, digits and . _ - for a file name.
func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
}

type backwardAllocationView struct {
	PalletID       string   `json:"palletId"`
	Lot            string   `json:"lot"`
	Supplier       string   `json:"supplier"`
	ReceivedDate   timeJSON `json:"receivedDate"`
	ExpirationDate timeJSON `json:"expirationDate"`
	Lbs            lbsJSON  `json:"lbs"`
}

type orderTraceView struct {
	OrderID     string                   `json:"orderId"`
	Customer    string                   `json:"customer"`
	Status      string                   `json:"status"`
	Allocations []backwardAllocationView `json:"allocations"`
}

// orderTrace: GET /api/orders/{id}/trace, an order traced back to its
// pallets, lots, suppliers and receipt dates (its allocations carry them).
func (s *Server) orderTrace(c echo.Context) error {
	o, err := s.eng.Order(c.Param("id"))
	if err != nil {
		return err
	}
	v := orderTraceView{OrderID: o.Request.ID, Customer: o.Request.Customer, Status: string(o.Status), Allocations: make([]backwardAllocationView, len(o.Allocations))}
	for i, a := range o.Allocations {
		v.Allocations[i] = backwardAllocationView{PalletID: a.PalletID, Lot: a.Lot, Supplier: a.Supplier,
			ReceivedDate: timeJSON(a.Received), ExpirationDate: timeJSON(a.Expires), Lbs: lbsJSON(a.Lbs)}
	}
	return c.JSON(http.StatusOK, v)
}

// defaultExpiryBuckets are the buckets' lower ends, in days.
var defaultExpiryBuckets = []int{0, 3, 7, 14, 30}

type expiryBucketView struct {
	SKU          string  `json:"sku"`
	FromDays     int     `json:"fromDays"`
	ToDays       *int    `json:"toDays"`
	WeightLbs    lbsJSON `json:"weightLbs"`
	AvailableLbs lbsJSON `json:"availableLbs"`
	Pallets      int     `json:"pallets"`
}

type expiryView struct {
	AsOf       timeJSON           `json:"asOf"`
	Buckets    []expiryBucketView `json:"buckets"`
	ExpiredLbs lbsJSON            `json:"expiredLbs"`
}

// expiry: GET /api/inventory/expiry?sku=&buckets=0,3,7,14,30.
func (s *Server) expiry(c echo.Context) error {
	bounds := defaultExpiryBuckets
	if q := c.QueryParam("buckets"); q != "" {
		var err error
		if bounds, err = parseBuckets(q); err != nil {
			return err
		}
	}
	now := s.now()
	buckets, expired := s.eng.Expiry(c.QueryParam("sku"), bounds, now)
	v := expiryView{AsOf: timeJSON(now), Buckets: make([]expiryBucketView, len(buckets)), ExpiredLbs: lbsJSON(expired)}
	for i, b := range buckets {
		v.Buckets[i] = expiryBucketView{SKU: b.SKU, FromDays: b.From, WeightLbs: lbsJSON(b.Weight), AvailableLbs: lbsJSON(b.Available), Pallets: b.Pallets}
		if b.To != 0 {
			to := b.To
			v.Buckets[i].ToDays = &to
		}
	}
	return c.JSON(http.StatusOK, v)
}

// expiryBucketsMax bounds how many buckets a request may ask for.
const expiryBucketsMax = 50

// parseBuckets reads ascending whole days from 0 to 3650.
func parseBuckets(q string) ([]int, error) {
	parts := strings.Split(q, ",")
	if len(parts) > expiryBucketsMax {
		return nil, invalid(FieldError{Field: "buckets", Message: "at most 50 buckets"})
	}
	out := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		switch {
		case err != nil || n < 0 || n > 3650:
			return nil, invalid(FieldError{Field: "buckets", Message: "must be whole days from 0 to 3650, comma-separated"})
		case i > 0 && n <= out[i-1]:
			return nil, invalid(FieldError{Field: "buckets", Message: "must be ascending"})
		}
		out[i] = n
	}
	return out, nil
}
