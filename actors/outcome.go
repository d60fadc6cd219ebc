package actors

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// outcome is what a coordinator's handling of one message changed. When
// the message is done the coordinator journals it as one batch (commit),
// and only then makes it visible: it publishes the pallets' durable states
// and the orders' snapshots, counts finished orders and answers callers.
// So no client ever sees — or is told — anything a crash could undo.
//
// Pallet actors run ahead of the journal (they apply a confirm before the
// coordinator hears of it), which is safe because nobody is shown their
// live state: after a crash the journal's state is the truth, and it is a
// prefix of each SKU's history in the coordinator's order, which is
// consistent with every pallet's version order.
type outcome struct {
	journaled bool // the engine has a journal: fill batch
	batch     journal.Batch
	pallets   []palletPub
	index     map[*palletEntry]int // into pallets
	orders    []orderPub
	replies   []replyPub
}

// palletPub is a pallet's next durable state; atVersion counts the ledger
// entries already written at its version (one confirm writes one per order).
type palletPub struct {
	en        *palletEntry
	state     inventory.PalletState
	atVersion int
}

// orderPub is an order snapshot to publish. finished: its first terminal
// state (count it, free its slot); cancelledAfter: the cancel of an order
// that had ended allocated.
type orderPub struct {
	rec                      *orderRecord
	snap                     inventory.Order
	finished, cancelledAfter bool
}

// replyPub is an answer to send after the commit: ok if it succeeded,
// failed(err) if the journal refused it.
type replyPub struct {
	to     *actor.PID
	ok     any
	failed func(error) any
}

func (o *outcome) empty() bool {
	return len(o.pallets) == 0 && len(o.orders) == 0 && len(o.replies) == 0 && o.batch.Len() == 0
}

// ledger adds one ledger entry of a pallet and returns the pallet's next
// durable on-hand weight.
func (o *outcome) ledger(en *palletEntry, e inventory.LedgerEntry) inventory.CentiLbs {
	i, ok := o.index[en]
	if !ok {
		i = len(o.pallets)
		o.index[en] = i
		d := *en.durable.Load()
		d.Held = 0 // holds are never durable
		o.pallets = append(o.pallets, palletPub{en: en, state: d})
	}
	p := &o.pallets[i]
	switch {
	case e.Version == p.state.Version && e.Kind == inventory.LedgerAllocated:
		p.atVersion++
	case e.Version == p.state.Version+1:
		p.state.Version, p.atVersion = e.Version, 0
	default: // the history would break a pallet's version order: a bug
		panic(fmt.Sprintf("pallet %s: ledger entry %s at v%d after durable v%d", en.spec.ID, e.Kind, e.Version, p.state.Version))
	}
	p.state.OnHand += e.Lbs
	if o.journaled {
		o.batch.AppendLedger(en.spec.ID, p.atVersion, e)
	}
	return p.state.OnHand
}

// publish adds an order snapshot to publish; journal says whether the
// snapshot is one the journal keeps (acceptance and ends) or a passing
// detail (attempts, conflicts) that only clients watching it see.
func (o *outcome) publish(rec *orderRecord, snap inventory.Order, journal bool) *orderPub {
	if journal && o.journaled {
		o.batch.PutOrder(snap)
	}
	o.orders = append(o.orders, orderPub{rec: rec, snap: snap})
	return &o.orders[len(o.orders)-1]
}

func (o *outcome) reply(to *actor.PID, ok any, failed func(error) any) {
	o.replies = append(o.replies, replyPub{to: to, ok: ok, failed: failed})
}

func (o *outcome) reset() {
	o.batch.Reset()
	clear(o.pallets)
	o.pallets = o.pallets[:0]
	clear(o.index)
	clear(o.orders)
	o.orders = o.orders[:0]
	clear(o.replies)
	o.replies = o.replies[:0]
}

// commit journals what the message changed, then makes it visible. If the
// journal refuses, nothing is published and callers are told it failed;
// finished orders still give back their in-flight slots, so the engine can
// still shut down.
func (c *coordinator) commit(ctx actor.Context) {
	out := &c.out
	if out.empty() {
		return
	}
	e := c.eng
	err := e.haltedErr() // a halted engine journals and shows nothing more
	if err == nil && e.journal != nil {
		if err = e.journal.Commit(&out.batch); err != nil {
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	if err == nil {
		for _, p := range out.pallets {
			// Snapshots are immutable: usually the pallet's live one is at
			// this very state, and sharing it saves an allocation per pallet
			// per commit (shown() takes only weight and version from it).
			if live := p.en.state.Load(); live != nil && live.Version == p.state.Version && live.OnHand == p.state.OnHand {
				p.en.durable.Store(live)
				continue
			}
			s := p.state
			p.en.durable.Store(&s)
		}
	}
	for _, p := range out.orders {
		if err == nil {
			// Counted, then published, then its slot freed: whoever sees the
			// order end also sees it in the metrics, and an idle engine has
			// published all.
			if p.finished {
				e.metrics.finished(p.snap.Status, p.snap.Reason)
				if f := e.cfg.OnFinished; f != nil {
					f(p.snap)
				}
			}
			if p.cancelledAfter {
				e.metrics.cancelledAfterAllocation.Add(1)
			}
			p.rec.store(p.snap)
		}
		if p.finished {
			e.orderDone()
		}
	}
	for _, r := range out.replies {
		msg := r.ok
		if err != nil && r.failed != nil {
			msg = r.failed(err)
		}
		ctx.Send(r.to, msg)
	}
	if len(out.pallets) > 0 || err != nil {
		e.durableChanged.notify()
	}
	out.reset()
}
