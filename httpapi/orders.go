package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

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

func (s *Server) placeOrder(c echo.Context) error {
	var in orderRequestJSON
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	req, err := in.request(c.Request().Header.Get("Idempotency-Key"))
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

// listOrders pages through orders by acceptance time (then id).
func (s *Server) listOrders(c echo.Context) error {
	var f fields
	status := inventory.Status(c.QueryParam("status"))
	if status != "" && !slices.Contains(statuses, status) {
		f.add("status", "must be one of queued, allocating, allocated, rejected, cancelled")
	}
	limit := f.limit(c.QueryParam("limit"), ordersPageDefault, ordersPageMax)
	after, afterID, hasCursor := decodeOrderCursor(c.QueryParam("cursor"), &f)
	if err := f.err(); err != nil {
		return err
	}
	all := s.eng.Orders()
	all = slices.DeleteFunc(all, func(o inventory.Order) bool {
		if status != "" && o.Status != status {
			return true
		}
		return hasCursor && orderKeyCompare(o, after, afterID) <= 0
	})
	slices.SortFunc(all, func(a, b inventory.Order) int { return orderKeyCompare(a, b.AcceptedAt, b.Request.ID) })
	out := ordersView{Orders: []orderView{}}
	for i, o := range all {
		if i == limit {
			last := out.Orders[len(out.Orders)-1]
			out.NextCursor = encodeCursor(fmt.Sprintf("%d|%s", time.Time(last.AcceptedAt).UnixNano(), last.ID))
			break
		}
		out.Orders = append(out.Orders, newOrderView(o))
	}
	return c.JSON(http.StatusOK, out)
}

func orderKeyCompare(o inventory.Order, at time.Time, id string) int {
	if c := o.AcceptedAt.Compare(at); c != 0 {
		return c
	}
	return strings.Compare(o.Request.ID, id)
}

func decodeOrderCursor(s string, f *fields) (time.Time, string, bool) {
	if s == "" {
		return time.Time{}, "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	nanos, id, ok := strings.Cut(string(raw), "|")
	n, perr := strconv.ParseInt(nanos, 10, 64)
	if err != nil || !ok || perr != nil {
		f.add("cursor", "not a cursor this server issued")
		return time.Time{}, "", false
	}
	return time.Unix(0, n).UTC(), id, true
}

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

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
