package actors

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/actors/alloc"
)

// apply carries out a Ready in the order that keeps the promise "nothing
// is shown that a crash could undo": journal what it changed as one batch,
// and only once that is durable publish the pallets' durable states and
// the orders' snapshots, count finished orders and answer callers. If the
// journal refuses, nothing is published and callers are told it failed;
// finished orders still give back their in-flight slots, so the engine
// can still shut down. Messages to pallets go out after the journal too,
// so nothing a pallet does next can depend on an unjournaled decision.
func (a *coordinatorActor) apply(ctx actor.Context, rd *alloc.Ready) {
	e := a.eng
	if rd.Halt != nil {
		e.halt(rd.Halt) // before anything: a halting step changes nothing
	}
	err := e.haltedErr() // a halted engine journals and shows nothing more
	if err == nil && e.journal != nil && rd.Durable() {
		b := &a.batch
		b.Reset()
		for _, l := range rd.Ledger {
			b.AppendLedger(l.PalletID, l.Index, l.Entry)
		}
		for _, u := range rd.Orders {
			if u.Journal {
				b.PutOrder(u.Order)
			}
		}
		if err = e.journal.Commit(b); err != nil {
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	if err == nil {
		a.publishPallets(rd)
	}
	for _, u := range rd.Orders {
		if err == nil {
			// Counted, then published, then its slot freed: whoever sees the
			// order end also sees it in the metrics, and an idle engine has
			// published all.
			if u.Finished {
				e.metrics.finished(u.Order.Status, u.Order.Reason)
				if f := e.cfg.OnFinished; f != nil {
					f(u.Order)
				}
			}
			if u.CancelledAfter {
				e.metrics.cancelledAfterAllocation.Add(1)
			}
			if rec, ok := e.orders.lookup(u.Order.Request.ID); ok {
				rec.store(u.Order)
			}
		}
		if u.Finished {
			e.orderDone()
		}
	}
	a.answer(ctx, rd.Replies, err)
	a.send(ctx, rd.Messages)
	a.arm(ctx, rd)
	a.logNotes(rd.Notes)
	if r := e.cfg.Recorder; r != nil && err == nil {
		for _, ev := range rd.Events {
			r.Record(ev)
		}
	}
	e.metrics.conflicts.Add(rd.Counters.Conflicts)
	e.metrics.retries.Add(rd.Counters.Retries)
	e.metrics.strikes.Add(rd.Counters.Strikes)
	if len(rd.Pallets) > 0 || err != nil {
		e.durableChanged.notify()
	}
}

// publishPallets makes the pallets' new durable states visible. Snapshots
// are immutable: usually the pallet's live one is at this very state, and
// sharing it saves an allocation per pallet per commit (shown() takes only
// weight and version from it).
func (a *coordinatorActor) publishPallets(rd *alloc.Ready) {
	for i := range rd.Pallets {
		s := &rd.Pallets[i]
		en := a.entries[s.Spec.ID]
		if live := en.state.Load(); live != nil && live.Version == s.Version && live.OnHand == s.OnHand {
			en.durable.Store(live)
			continue
		}
		d := *s // rd is reused: publish a copy
		en.durable.Store(&d)
	}
}

// answer sends the Ready's replies; with err (the journal refused, or the
// engine halted) every answer says so.
func (a *coordinatorActor) answer(ctx actor.Context, replies []alloc.Reply, err error) {
	for _, r := range replies {
		to, _ := r.To.(*actor.PID)
		if to == nil {
			continue
		}
		switch r.Kind {
		case alloc.ReplyCancel:
			reply := &cancelReply{order: r.Order, err: r.Err}
			if err != nil {
				reply.err = fmt.Errorf("cancel order %s: %w", r.Order.Request.ID, err)
			}
			ctx.Send(to, reply)
		case alloc.ReplyReceived:
			if err == nil && len(r.PalletIDs) > 0 {
				a.list(r.PalletIDs)
			}
			ctx.Send(to, &receivedPallets{err: err})
		case alloc.ReplyFlushed:
			ctx.Send(to, &Flushed{})
		}
	}
}

// list makes received pallets visible to reads, in FEFO order.
func (a *coordinatorActor) list(ids []string) {
	entries := make([]*palletEntry, len(ids))
	pids := make([]*actor.PID, len(ids))
	for i, id := range ids {
		entries[i], pids[i] = a.entries[id], a.pids[id]
	}
	a.eng.pallets.list(entries[0].spec.SKU, entries, pids)
}
