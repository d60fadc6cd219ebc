package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/inventory"
)

// orderRequestJSON is POST /api/orders' body, with the seed's field names.
type orderRequestJSON struct {
	ID               *string         `json:"id"`
	Customer         *string         `json:"customer"`
	SKU              *string         `json:"sku"`
	AmountRequested  json.RawMessage `json:"amountRequested"`
	MinShelfLifeDays json.RawMessage `json:"minShelfLifeDays"`
	CreatedAt        *string         `json:"createdAt"`
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (in orderRequestJSON) request(idempotencyKey string) (inventory.OrderRequest, error) {
	var f fields
	id := f.id("id", deref(in.ID))
	if idempotencyKey != "" {
		key := f.id("Idempotency-Key", idempotencyKey)
		switch {
		case id == "":
			id = key
		case key != "" && key != id:
			f.add("id", "differs from the Idempotency-Key header")
		}
	}
	req := inventory.OrderRequest{
		ID:        id,
		Customer:  f.text("customer", in.Customer, true, inventory.TextLenMax),
		SKU:       f.text("sku", in.SKU, false, inventory.SKULenMax),
		CreatedAt: f.timestamp("createdAt", in.CreatedAt, false),
	}
	if w, ok := f.lbs("amountRequested", in.AmountRequested, true); ok {
		if w <= 0 {
			f.add("amountRequested", "must be positive")
		}
		req.Amount = w
	}
	req.MinShelfLifeDays = f.integer("minShelfLifeDays", in.MinShelfLifeDays, 0, inventory.ShelfLifeDaysMax)
	return req, f.err()
}

// decodeOrder reads and validates POST /api/orders' body and
// Idempotency-Key.
func decodeOrder(c echo.Context) (inventory.OrderRequest, error) {
	var in orderRequestJSON
	if err := decodeJSON(c, &in); err != nil {
		return inventory.OrderRequest{}, err
	}
	return in.request(c.Request().Header.Get("Idempotency-Key"))
}

func (s *Server) placeOrder(c echo.Context) error {
	req, err := decodeOrder(c)
	if err != nil {
		return err
	}
	o, created, err := s.eng.PlaceOrder(req)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/orders/"+o.Request.ID)
	if created {
		// The hot path: ids hold only [A-Za-z0-9._:~-] (checked above, or
		// generated hex), so the body needs no encoder.
		return c.Blob(http.StatusAccepted, echo.MIMEApplicationJSON, []byte(`{"orderId":"`+o.Request.ID+`","status":"`+string(o.Status)+`"}`))
	}
	v := newOrderView(o)
	return c.JSON(http.StatusOK, acceptedView{OrderID: o.Request.ID, Status: string(o.Status), orderView: &v})
}

// orderWaitMax bounds a long-poll on an order.
const orderWaitMax = 30 * time.Second

// getOrder returns an order. With ?wait=5s it answers as soon as the order
// is terminal, or after the wait with its current state: clients follow
// an order without polling it (an extension of the contract).
func (s *Server) getOrder(c echo.Context) error {
	id := c.Param("id")
	if w := c.QueryParam("wait"); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d < 0 || d > orderWaitMax {
			return invalid(FieldError{Field: "wait", Message: "must be a duration from 0s to 30s"})
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), d)
		defer cancel()
		stop := context.AfterFunc(s.drained, cancel) // shutdown answers long-polls at once
		defer stop()
		if _, err := s.eng.Wait(ctx, id); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	o, err := s.eng.Order(id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newOrderView(o))
}

func (s *Server) cancelOrder(c echo.Context) error {
	o, err := s.eng.CancelOrder(c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newOrderView(o))
}

// Order listing bounds.
const (
	ordersPageDefault = 100
	ordersPageMax     = 1000
)

var statuses = []inventory.Status{inventory.StatusQueued, inventory.StatusAllocating, inventory.StatusAllocated, inventory.StatusRejected, inventory.StatusCancelled}

// listOrdersParams are the query parameters GET /api/orders knows; any
// other is a 400, so that a misspelt filter never silently lists all.
var listOrdersParams = []string{"status", "customer", "sku", "since", "until", "order", "limit", "cursor"}

// listOrders pages through orders by acceptance time, newest first unless
// asked otherwise. A page walks an index in the journal from the cursor:
// it costs the page, whatever the history.
func (s *Server) listOrders(c echo.Context) error {
	var f fields
	params := c.QueryParams()
	for name := range params {
		if !slices.Contains(listOrdersParams, name) {
			f.add(name, "unknown query parameter; known: %s", strings.Join(listOrdersParams, ", "))
		}
	}
	q := actors.OrderQuery{
		Status:   inventory.Status(c.QueryParam("status")),
		Customer: c.QueryParam("customer"),
		SKU:      c.QueryParam("sku"),
		Since:    f.queryTime("since", c.QueryParam("since")),
		Until:    f.queryTime("until", c.QueryParam("until")),
		Limit:    f.limit(c.QueryParam("limit"), ordersPageDefault, ordersPageMax),
	}
	if q.Status != "" && !slices.Contains(statuses, q.Status) {
		f.add("status", "must be one of queued, allocating, allocated, rejected, cancelled")
	}
	switch c.QueryParam("order") {
	case "", "desc":
		q.Desc = true
	case "asc":
	default:
		f.add("order", "must be asc or desc")
	}
	if cur := c.QueryParam("cursor"); cur != "" {
		var err error
		if q.After, err = s.cursors.openOrders(cur); err != nil {
			f.add("cursor", "%v", err)
		}
	}
	if err := f.err(); err != nil {
		return err
	}
	page, next, err := s.eng.ListOrders(q)
	if err != nil {
		return err
	}
	out := ordersView{Orders: make([]orderView, len(page))}
	for i, o := range page {
		out.Orders[i] = newOrderView(o)
	}
	if next != nil {
		out.NextCursor = s.cursors.orders(next)
	}
	return c.JSON(http.StatusOK, out)
}

// queryTime parses an optional RFC 3339 query parameter.
func (f *fields) queryTime(field, v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	return f.timestamp(field, &v, false)
}

// limit parses a page size: a whole number from 1 to max, def if absent.
func (f *fields) limit(s string, def, max int) int {
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		f.add("limit", "must be a whole number from 1 to %d", max)
		return def
	}
	return n
}
