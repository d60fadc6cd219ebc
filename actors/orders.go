package actors

import (
	"context"
	"fmt"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// Orders that have not ended live in memory; an order leaves memory once
// its end is journaled, and from then on it is read from the journal. So
// memory holds what is in flight, whatever the history.

// Order returns an order's latest state.
func (e *Engine) Order(id string) (inventory.Order, error) {
	if rec, ok := e.orders.get(id); ok {
		return rec.load(), nil
	}
	o, ok, err := e.journal.Order(id)
	switch {
	case err != nil:
		return inventory.Order{}, fmt.Errorf("order %s: %w", id, err)
	case !ok:
		return inventory.Order{}, fmt.Errorf("order %s: %w", id, ErrNotFound)
	}
	return o, nil
}

// OrderQuery selects a page of orders; see journal.OrderQuery. Status may
// be any order status: queued and allocating are told apart by what the
// engine knows of orders in flight.
type OrderQuery = journal.OrderQuery

// OrderPosition is where a page of orders ends.
type OrderPosition = journal.OrderPosition

// ListOrders returns a page of orders by acceptance time, and the position
// the next page starts after (nil after the last). Orders in flight show
// their live state.
func (e *Engine) ListOrders(q OrderQuery) ([]inventory.Order, *OrderPosition, error) {
	want := q.Status
	q.Keep = func(o inventory.Order) bool {
		if o.Status.Terminal() {
			return true
		}
		live := o.Status
		if rec, ok := e.orders.get(o.Request.ID); ok {
			live = rec.load().Status
		}
		return want == "" || live == want
	}
	page, next, err := e.journal.Orders(q)
	if err != nil {
		return nil, nil, fmt.Errorf("list orders: %w", err)
	}
	for i, o := range page { // in flight: the live state
		if !o.Status.Terminal() {
			if rec, ok := e.orders.get(o.Request.ID); ok {
				page[i] = rec.load()
			}
		}
	}
	return page, next, nil
}

// Wait blocks until the order first reaches a terminal state.
func (e *Engine) Wait(ctx context.Context, id string) (inventory.Order, error) {
	rec, ok := e.orders.get(id)
	if !ok { // not in flight: ended, or never accepted
		return e.Order(id)
	}
	select {
	case <-rec.finished():
		return rec.load(), nil
	case <-e.halted:
		return rec.load(), fmt.Errorf("wait for order %s: %w", id, e.Err())
	case <-ctx.Done():
		return rec.load(), fmt.Errorf("wait for order %s: %w", id, ctx.Err())
	}
}

// CancelOrder cancels an order: a queued one never allocates, an allocated
// one gives its weight back, even long after it left memory. It answers
// once the cancel has taken effect; an order that ended rejected or
// cancelled fails with ErrNotCancellable.
func (e *Engine) CancelOrder(id string) (inventory.Order, error) {
	if err := e.Err(); err != nil {
		return inventory.Order{}, fmt.Errorf("cancel order %s: %w", id, err)
	}
	m := &cancelOrder{id: id}
	if rec, ok := e.orders.get(id); ok {
		m.rec, m.route = rec, rec.route
	} else {
		o, err := e.Order(id)
		if err != nil {
			return inventory.Order{}, fmt.Errorf("cancel order %s: %w", id, err)
		}
		if o.Status != inventory.StatusAllocated {
			return o, fmt.Errorf("cancel order %s: it is %s: %w", id, o.Status, ErrNotCancellable)
		}
		m.route = e.route(o.Request.SKU)
	}
	res, err := e.system.Root.RequestFuture(m.route, m, apiTimeout).Result()
	if err != nil {
		return inventory.Order{}, fmt.Errorf("cancel order %s: %w", id, err)
	}
	r := res.(*cancelReply)
	return r.order, r.err
}

// Secret is a random key the engine keeps with its journal, for signing
// what it hands out (page cursors) and knowing it again after a restart.
func (e *Engine) Secret() []byte { return e.journal.Secret() }
