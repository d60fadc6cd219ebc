package alloc

import (
	"fmt"
	"slices"

	"github.com/baconator/baconator/inventory"
)

// returnOp gives an order's weight back: the cancel of an allocated order,
// or compensation for an order that committed part of itself and then
// could not be completed.
type returnOp struct {
	id          uint64
	o           *order
	status      inventory.Status // how the order ends once its weight is back
	reason      inventory.Reason
	pallets     []PalletLbs // what goes back where: the order's allocations
	reviving    int         // of its pallets, retired ones still to come back
	replied     map[string]bool
	outstanding int
	returned    []*ReturnReply // from pallets that gave weight back
	timer       uint64
	sends       int
}

// arrive takes an accepted order into the line. A recovered order keeps
// what it had committed: only the rest is missing.
func (c *Coordinator) arrive(snap inventory.Order) {
	id := snap.Request.ID
	if _, ok := c.active[id]; ok {
		panic(fmt.Sprintf("order %s arrived twice", id))
	}
	o := &order{snap: snap, missing: snap.Request.Amount - total(snap.Allocations), journaled: snap.Status}
	c.active[id] = o
	switch {
	case c.early[id]:
		delete(c.early, id)
		c.settleCancelled(o)
	case o.missing == 0: // recovered holding all it asked for
		c.finish(o, inventory.StatusAllocated, inventory.ReasonNone)
	case o.missing < 0:
		panic(fmt.Sprintf("order %s holds %s lbs more than it asked for", id, -o.missing))
	default:
		o.to(phaseQueued)
		c.line = append(c.line, o)
	}
}

// cancel handles a client's cancel in whatever phase the order is.
func (c *Coordinator) cancel(m *CancelRequested) {
	id := m.Order.Request.ID
	o, active := c.active[id]
	switch {
	case active && o.phase == phasePlanned:
		o.cancel = true // settled when its batch resolves
		o.waiters = append(o.waiters, m.Reply)
	case active && o.phase == phaseReturning:
		if o.ret.status == inventory.StatusCancelled {
			o.waiters = append(o.waiters, m.Reply)
			return
		}
		c.refuseCancel(m.Reply, o.snap, "it is being rejected")
	case active:
		o.waiters = append(o.waiters, m.Reply)
		c.settleCancelled(o)
	case m.Order.Status == inventory.StatusQueued:
		// Still on its way from the intake: it is cancelled now, and
		// dropped when it arrives (its in-flight slot is freed then).
		snap := m.Order
		snap.Status, snap.CompletedAt = inventory.StatusCancelled, c.now
		c.rd.Orders = append(c.rd.Orders, OrderUpdate{Order: snap, Journal: true, Was: m.Order.Status})
		c.early[id] = true
		c.rd.Replies = append(c.rd.Replies, Reply{To: m.Reply, Kind: ReplyCancel, Order: snap})
	case m.Order.Status == inventory.StatusAllocated:
		o := &order{snap: m.Order, wasTerminal: true, waiters: []any{m.Reply}, journaled: m.Order.Status}
		c.active[id] = o
		c.queueReturn(o, inventory.StatusCancelled, inventory.ReasonNone)
	default:
		c.refuseCancel(m.Reply, m.Order, "it is "+string(m.Order.Status))
	}
}

func (c *Coordinator) refuseCancel(to any, snap inventory.Order, why string) {
	err := fmt.Errorf("cancel order %s: %s: %w", snap.Request.ID, why, ErrNotCancellable)
	c.rd.Replies = append(c.rd.Replies, Reply{To: to, Kind: ReplyCancel, Order: snap, Err: err})
}

// settleCancelled ends a cancelled order: its weight goes back first if it
// holds any.
func (c *Coordinator) settleCancelled(o *order) {
	if o.retry != 0 {
		c.stop(o.retry)
		o.retry = 0
	}
	if len(o.snap.Allocations) > 0 {
		c.queueReturn(o, inventory.StatusCancelled, inventory.ReasonNone)
		return
	}
	c.finish(o, inventory.StatusCancelled, inventory.ReasonNone)
}

// reject ends an order as rejected. If it had already committed part of
// itself, that part goes back first (compensation), so it ends holding
// nothing.
func (c *Coordinator) reject(o *order, reason inventory.Reason) {
	if len(o.snap.Allocations) > 0 {
		c.queueReturn(o, inventory.StatusRejected, reason)
		return
	}
	c.finish(o, inventory.StatusRejected, reason)
}

// finish is the one place an order ends: it publishes the terminal state
// (journaled), answers cancel callers and leaves the coordinator.
func (c *Coordinator) finish(o *order, status inventory.Status, reason inventory.Reason) {
	o.to(phaseEnded)
	delete(c.active, o.id())
	if i := slices.Index(c.line, o); i >= 0 { // a cancel in line
		c.line = slices.Delete(c.line, i, i+1)
	}
	o.snap.Status, o.snap.Reason = status, reason
	o.snap.CompletedAt = c.now
	if status != inventory.StatusAllocated {
		o.snap.Allocations = nil
	}
	c.record(OrderFinished{OrderID: o.id(), Status: status, Reason: reason})
	u := c.publish(o, true)
	u.Finished, u.CancelledAfter = !o.wasTerminal, o.wasTerminal
	for _, w := range o.waiters {
		r := Reply{To: w, Kind: ReplyCancel, Order: o.snap}
		if status != inventory.StatusCancelled {
			r.Err = fmt.Errorf("cancel order %s: it ended %s: %w", o.id(), status, ErrNotCancellable)
		}
		c.rd.Replies = append(c.rd.Replies, r)
	}
	o.waiters = nil
}

func (c *Coordinator) queueReturn(o *order, status inventory.Status, reason inventory.Reason) {
	if i := slices.Index(c.line, o); i >= 0 {
		c.line = slices.Delete(c.line, i, i+1)
	}
	o.to(phaseReturning)
	c.nextID++
	op := &returnOp{id: c.nextID, o: o, status: status, reason: reason}
	for _, a := range o.snap.Allocations {
		op.pallets = append(op.pallets, PalletLbs{PalletID: a.PalletID, Lbs: a.Lbs})
	}
	o.ret = op
	c.returns = append(c.returns, op)
}

// startReturn begins a return. Pallets the order took from may have left
// the floor since (emptied and retired): they are asked back first.
func (c *Coordinator) startReturn(op *returnOp) {
	c.ret = op
	op.replied = map[string]bool{}
	op.outstanding = len(op.pallets)
	if op.outstanding == 0 {
		c.endReturn()
		return
	}
	for _, p := range op.pallets {
		if _, ok := c.books.m[p.PalletID]; !ok {
			op.reviving++
			c.rd.Revive = append(c.rd.Revive, Revival{PalletID: p.PalletID, ReturnFloor: op.id})
		}
	}
	if op.reviving == 0 {
		c.sendReturns(op)
	}
}

// revived continues a return that was waiting for retired pallets.
func (c *Coordinator) revived(ids []string) {
	op := c.ret
	if op == nil || op.reviving == 0 {
		return
	}
	for _, id := range ids {
		if slices.ContainsFunc(op.pallets, func(p PalletLbs) bool { return p.PalletID == id }) {
			op.reviving--
		}
	}
	if op.reviving == 0 {
		c.sendReturns(op)
	}
}

// sendReturns asks every pallet that has not answered to give the order's
// weight back, and arms a timeout to ask again (a bounded number of
// times): a return is idempotent, a second one gives nothing.
func (c *Coordinator) sendReturns(op *returnOp) {
	op.sends++
	for _, p := range op.pallets {
		if !op.replied[p.PalletID] {
			c.send(p.PalletID, &ReturnOrder{Op: op.id, OrderID: op.o.id(), Lbs: p.Lbs, At: c.now})
		}
	}
	op.timer = c.arm(c.cfg.ReplyTimeout, timer{kind: timerReturn, id: op.id})
}

func (c *Coordinator) onReturnTimeout() {
	op := c.ret
	if op.sends > c.cfg.ResendsMax {
		c.halt(fmt.Errorf("sku %s: the return of order %s went unanswered %d times", c.cfg.SKU, op.o.id(), op.sends))
		return
	}
	c.note(NoteWarn, "return replies timed out; asking again", "order", op.o.id(), "send", op.sends+1)
	c.sendReturns(op)
}

func (c *Coordinator) onReturnReply(m *ReturnReply) {
	op := c.ret
	if op == nil || op.id != m.Op || op.replied[m.PalletID] {
		return
	}
	op.replied[m.PalletID] = true
	if m.Lbs > 0 {
		op.returned = append(op.returned, m)
	}
	op.outstanding--
	if op.outstanding == 0 {
		c.endReturn()
	}
}

func (c *Coordinator) endReturn() {
	op := c.ret
	c.ret = nil
	c.stop(op.timer)
	if len(op.returned) > 0 {
		ev := OrderReturned{OrderID: op.o.id(), Versions: map[string]int64{}, At: c.now}
		for _, r := range op.returned {
			ev.Returns = append(ev.Returns, PalletLbs{PalletID: r.PalletID, Lbs: r.Lbs})
			ev.Versions[r.PalletID] = r.Version
		}
		c.pullForward(ev.Versions)
		c.record(ev)
		for _, r := range op.returned {
			e := inventory.LedgerEntry{At: r.At, Kind: inventory.LedgerReturned, Lbs: r.Lbs, OrderID: op.o.id(), Version: r.Version}
			onHand := c.books.write(&c.rd, r.PalletID, e)
			if onHand != r.OnHand && !r.Repeated { // a repeated reply's weight may belong to a later version
				panic(fmt.Sprintf("pallet %s: journaled %s lbs at v%d, pallet has %s", r.PalletID, onHand, r.Version, r.OnHand))
			}
			c.view.Update(r.PalletID, onHand, r.Version)
		}
	}
	op.o.ret = nil
	c.finish(op.o, op.status, op.reason)
}
