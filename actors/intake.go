package actors

import (
	"fmt"
	"time"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// PlaceOrder accepts an order without waiting for it to be allocated. An
// empty ID gets a random one and an empty SKU means pork. Placing an id
// again — any id ever accepted, from memory or the journal — with the same
// request returns the existing order and false; with a different request
// it fails with ErrOrderConflict. A full intake fails at once with
// ErrIntakeFull and queues nothing.
func (e *Engine) PlaceOrder(req inventory.OrderRequest) (inventory.Order, bool, error) {
	if req.SKU == "" {
		req.SKU = inventory.DefaultSKU
	}
	minted := req.ID == ""
	if minted {
		req.ID = newID()
	}
	req.CreatedAt = req.CreatedAt.UTC()
	if err := req.Validate(); err != nil {
		return inventory.Order{}, false, fmt.Errorf("place order: %w", err)
	}
	e.admit.RLock()
	defer e.admit.RUnlock()
	if e.closing {
		return inventory.Order{}, false, fmt.Errorf("place order %s: %w", req.ID, ErrClosed)
	}
	if err := e.Err(); err != nil {
		return inventory.Order{}, false, fmt.Errorf("place order %s: %w", req.ID, err)
	}
	if rec, ok := e.orders.lookup(req.ID); ok {
		return e.repeat(rec, req)
	}
	if e.queued.Add(1) > int64(e.cfg.IntakeCapacity) {
		e.queued.Add(-1)
		e.metrics.throttled.Add(1)
		return inventory.Order{}, false, fmt.Errorf("place order %s: %w", req.ID, ErrIntakeFull)
	}
	rec, created, err := e.accept(inventory.Order{Request: req, Status: inventory.StatusQueued, AcceptedAt: time.Now().UTC()}, minted)
	if !created || err != nil {
		e.queued.Add(-1)
	}
	switch {
	case err != nil:
		return inventory.Order{}, false, err
	case rec == nil: // accepted long ago: the journal has it
		return e.repeatStored(req)
	case !created:
		return e.repeat(rec, req)
	}
	e.unfinished.Add(1)
	accepted := rec.load() // before the hand-off: the answer describes the acceptance
	e.intake <- rec        // cannot block: queued never exceeds the channel's capacity
	return accepted, true, nil
}

// accept records a new order and journals it; only then may anyone see it
// or be told it was accepted. The id is claimed in memory first, and only
// then looked up in the journal: an order that ended leaves memory only
// after its end is journaled, so whatever it did by the time the claim
// succeeds, the lookup sees it. If the id is in memory it returns that
// record and false; if it is only in the journal, nil and false; if the
// journal fails, its error (the order then never existed). An id the
// engine minted (128 random bits, never shown before this call returns)
// cannot name an order accepted before, so it skips the lookup: on a
// journal of millions of orders that lookup was a quarter of the intake's
// CPU.
func (e *Engine) accept(o inventory.Order, minted bool) (*orderRecord, bool, error) {
	id := o.Request.ID
	rec, created := e.orders.insert(o, true, e.route(o.Request.SKU))
	if !created {
		return rec, false, nil
	}
	if !minted {
		if _, ok, err := e.journal.Order(id); ok || err != nil {
			e.orders.remove(rec)
			rec.settle(true)
			if err != nil {
				return nil, false, fmt.Errorf("place order %s: %w: %w", id, ErrUnavailable, err)
			}
			return nil, false, nil
		}
	}
	var b journal.Batch
	b.PutOrder(o, "")
	if err := e.journal.Commit(&b); err != nil {
		e.orders.remove(rec)
		rec.settle(true)
		return rec, true, fmt.Errorf("place order %s: %w: %w", id, ErrUnavailable, err)
	}
	rec.settle(false)
	e.metrics.accepted.Add(1)
	return rec, true, nil
}

// repeat answers a second placement of an id: the order it names, if the
// request is the same. A placement still being journaled is waited for.
func (e *Engine) repeat(rec *orderRecord, req inventory.OrderRequest) (inventory.Order, bool, error) {
	if !rec.waitSettled() {
		// Its placement could not be journaled, or the id turned out to be
		// taken in the journal: either way the journal has the answer.
		return e.repeatStored(req)
	}
	o := rec.load()
	if !o.Request.SameAs(req) {
		return inventory.Order{}, false, fmt.Errorf("place order %s: %w", req.ID, ErrOrderConflict)
	}
	return o, false, nil
}

// repeatStored answers a placement of an id the journal holds.
func (e *Engine) repeatStored(req inventory.OrderRequest) (inventory.Order, bool, error) {
	o, ok, err := e.journal.Order(req.ID)
	switch {
	case err != nil:
		return inventory.Order{}, false, fmt.Errorf("place order %s: %w: %w", req.ID, ErrUnavailable, err)
	case !ok:
		return inventory.Order{}, false, fmt.Errorf("place order %s: %w: its first placement could not be journaled", req.ID, ErrUnavailable)
	case !o.Request.SameAs(req):
		return inventory.Order{}, false, fmt.Errorf("place order %s: %w", req.ID, ErrOrderConflict)
	}
	return o, false, nil
}
