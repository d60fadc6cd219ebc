package actors

import (
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/inventory"
)

// palletActor is one pallet: it owns the pallet's bookkeeping and is the
// only writer of it. It publishes a snapshot after every change so reads
// never queue behind allocation traffic.
type palletActor struct {
	p           *inventory.Pallet
	coordinator *actor.PID
	entry       *palletEntry
}

func newPalletProps(p *inventory.Pallet, coordinator *actor.PID, entry *palletEntry) *actor.Props {
	// The producer hands out the same state, so nothing a supervisor does
	// can wipe a pallet's weight or ledger.
	a := &palletActor{p: p, coordinator: coordinator, entry: entry}
	return actor.PropsFromProducer(func() actor.Actor { return a }, actor.WithDispatcher(palletDispatcher))
}

// palletDispatcher runs an idle pallet's mailbox on the sender's goroutine
// instead of starting one per activation. A pallet's work per message is a
// few map operations, so a goroutine hand-off cost more than the work: a
// confirm chain is a sequence of hops, and this makes each hop a call. The
// mailbox still guarantees one runner at a time and FIFO order, and a
// pallet only ever sends to its coordinator (a goroutine-dispatched actor,
// so never re-entered) or to the next pallet of a chain.
var palletDispatcher = actor.NewSynchronizedDispatcher(300)

func (a *palletActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Reserve:
		lapsed := a.p.ExpireHolds(time.Now()) // lapsed holds must not block a fresh reserve
		err := a.p.Reserve(m.ExpectedVersion, m.Holds, m.Deadline)
		if err == nil || lapsed > 0 {
			a.publish()
		}
		ctx.Respond(&ReserveReply{Batch: m.Batch, PalletID: a.p.State().Spec.ID, Refusal: refusalOf(err), Version: a.p.State().Version})
	case *ConfirmChain:
		a.confirm(ctx, m)
	case *Release:
		a.p.Release(m.Keys)
		a.publish()
	case *ReturnOrder:
		lbs := a.p.Return(m.OrderID, m.At)
		a.publish()
		s := a.p.State()
		ctx.Respond(&ReturnReply{Op: m.Op, PalletID: s.Spec.ID, Lbs: lbs, OnHand: s.OnHand, Version: s.Version, At: m.At})
	case *Adjust:
		now := time.Now().UTC()
		applied, revoked, err := a.p.Adjust(m.Delta, m.Reason, now, m.Clamp)
		s := a.p.State()
		if applied != 0 {
			a.publish()
			ctx.Send(a.coordinator, &PalletChanged{PalletID: s.Spec.ID, Supplier: s.Spec.Supplier, Revoked: revoked, Delta: applied, Reason: m.Reason, OnHand: s.OnHand, Version: s.Version, At: now})
		}
		if ctx.Sender() != nil {
			ctx.Respond(&AdjustReply{State: s, Applied: applied, Revoked: revoked, Err: err})
		}
	case *Flush:
		ctx.Respond(&Flushed{})
	case *GetLedger:
		ctx.Respond(&LedgerReply{Entries: a.p.LedgerUpTo(m.UpTo)})
	case *expireHolds:
		if a.p.ExpireHolds(time.Now()) > 0 {
			a.publish()
		}
	}
}

func (a *palletActor) confirm(ctx actor.Context, m *ConfirmChain) {
	link := m.Links[len(m.Results)]
	version, err := a.p.Confirm(link.Keys, m.At)
	a.publish()
	s := a.p.State()
	r := ConfirmResult{PalletID: s.Spec.ID, Refusal: refusalOf(err), OnHand: s.OnHand, Version: s.Version}
	if err == nil && version != s.Version {
		// A repeated confirm: report the version it committed at; the view
		// learns the pallet's later state from the change that followed.
		r.Version, r.Repeated = version, true
	}
	m.Results = append(m.Results, r)
	if err != nil || len(m.Results) == len(m.Links) {
		ctx.Send(m.ReplyTo, m)
		return
	}
	ctx.Send(m.Links[len(m.Results)].Pallet, m)
}

func (a *palletActor) publish() {
	s := a.p.State()
	a.entry.state.Store(&s)
}

func refusalOf(err error) Refusal {
	switch {
	case err == nil:
		return RefusalNone
	case errors.Is(err, inventory.ErrStaleVersion):
		return RefusalStale
	case errors.Is(err, inventory.ErrInsufficientStock):
		return RefusalInsufficient
	default:
		return RefusalHoldMissing
	}
}
