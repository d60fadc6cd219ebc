package actors

import (
	"fmt"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/journal"
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
	retired := e.pallets.retiredCount(a.sku)
	if err == nil && rd.Durable() {
		retired, err = a.journal(rd, retired)
	}
	if err == nil {
		a.publishPallets(ctx, rd, retired)
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
				if u.Finished || u.CancelledAfter {
					e.orders.remove(rec) // ended and journaled: read from the journal from now on
				}
			}
		}
		if u.Finished {
			e.orderDone()
		}
	}
	if r := e.cfg.Recorder; r != nil && err == nil { // the history, before anyone is answered
		for _, ev := range rd.Events {
			r.Record(ev)
		}
	}
	revive := slices.Clone(rd.Revive) // rd is the state machine's, until its next Step
	a.answer(ctx, rd.Replies, err)
	a.send(ctx, rd.Messages)
	a.arm(ctx, rd)
	a.logNotes(rd.Notes)
	e.metrics.conflicts.Add(rd.Counters.Conflicts)
	e.metrics.retries.Add(rd.Counters.Retries)
	e.metrics.strikes.Add(rd.Counters.Strikes)
	if len(rd.Pallets) > 0 || err != nil {
		e.durableChanged.notify()
	}
	// A return waits for retired pallets: bring them back now, so the state
	// machine never sees a pallet spawned but not yet taken in.
	for _, r := range revive {
		if err != nil {
			break
		}
		in, rerr := a.revive(ctx, r, nil)
		if rerr != nil {
			e.halt(fmt.Errorf("sku %s: %w", a.sku, rerr)) // the journal lost a pallet it holds
			return
		}
		a.apply(ctx, a.sm.Step(time.Now().UTC(), in))
	}
}

// journal writes what the Ready changed as one batch: ledger lines, order
// snapshots with their indexes, pallet checkpoints — live, retired or back
// from the retired, with the SKU's count of retired pallets. It returns
// the count after the batch.
func (a *coordinatorActor) journal(rd *alloc.Ready, retired int64) (int64, error) {
	b := &a.batch
	b.Reset()
	for _, l := range rd.Ledger {
		b.AppendLedgerLeaving(l.PalletID, l.Index, l.Entry, l.Status)
	}
	for _, u := range rd.Orders {
		if u.Journal {
			b.PutOrder(u.Order, u.Was)
		}
	}
	for _, u := range rd.Pallets {
		s := u.State
		cp := journal.Checkpoint{Spec: s.Spec, OnHand: s.OnHand, Version: s.Version}
		if !s.Allocatable() { // available is the default, and takes no bytes
			cp.Status = string(s.Status)
		}
		switch {
		case u.Retired && u.Revived: // never back in the journal
		case u.Retired:
			retired++
			b.Retire(cp, retired)
		case u.Revived:
			retired--
			b.Revive(cp, retired)
		default:
			b.Checkpoint(cp)
		}
	}
	if err := a.eng.journal.Commit(b); err != nil {
		return retired, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return retired, nil
}

// publishPallets makes the pallets' new durable states visible, and lets
// retired ones go: out of the registry, their actors stopped. Snapshots are
// immutable: usually the pallet's live one is at this very state, and
// sharing it saves an allocation per pallet per commit (shown() takes only
// weight and version from it).
func (a *coordinatorActor) publishPallets(ctx actor.Context, rd *alloc.Ready, retired int64) {
	var gone []string
	for i := range rd.Pallets {
		u := &rd.Pallets[i]
		s := &u.State
		if u.Retired {
			gone = append(gone, s.Spec.ID)
			continue
		}
		en := a.entries[s.Spec.ID]
		if live := en.state.Load(); live != nil && live.Version == s.Version && live.OnHand == s.OnHand {
			en.durable.Store(live)
			continue
		}
		d := *s // rd is reused: publish a copy
		en.durable.Store(&d)
	}
	if len(gone) > 0 {
		a.eng.pallets.retire(a.sku, gone)
		for _, id := range gone {
			// A poison pill, not a stop: what is already in its mailbox (an
			// operator's adjustment, say) is still answered — by a pallet
			// that has left, so the caller goes again through here.
			if pid := a.pids[id]; pid != nil {
				ctx.Poison(pid)
				delete(a.pids, id)
			}
			delete(a.entries, id)
		}
	}
	a.eng.pallets.setRetired(a.sku, retired)
}

// answer sends the Ready's replies; with err (the journal refused, or the
// engine halted) every answer says so.
func (a *coordinatorActor) answer(ctx actor.Context, replies []alloc.Reply, err error) {
	for _, r := range replies {
		if r.Kind == alloc.ReplyReceived && err == nil && len(r.PalletIDs) > 0 {
			a.list(r.PalletIDs)
		}
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
			ctx.Send(to, &receivedPallets{err: err})
		case alloc.ReplyFlushed:
			ctx.Send(to, &Flushed{})
		}
	}
}

// list makes received pallets visible to reads, in FEFO order.
func (a *coordinatorActor) list(ids []string) {
	entries := make([]*palletEntry, len(ids))
	for i, id := range ids {
		entries[i] = a.entries[id]
	}
	a.eng.pallets.list(a.sku, entries)
}
