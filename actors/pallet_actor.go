package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
)

// palletActor puts one pallet's alloc.PalletNode on the actor system: it
// is the only writer of the pallet's bookkeeping, and publishes a snapshot
// after every change so reads never queue behind allocation traffic.
type palletActor struct {
	eng         *Engine
	node        alloc.PalletNode
	coordinator *actor.PID
	entry       *palletEntry
}

func newPalletProps(eng *Engine, p *inventory.Pallet, returnFloor uint64, coordinator *actor.PID, entry *palletEntry) *actor.Props {
	// The producer hands out the same state, so nothing a supervisor does
	// can wipe a pallet's weight.
	a := &palletActor{eng: eng, node: alloc.NewPalletNode(p, returnFloor), coordinator: coordinator, entry: entry}
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
	case *alloc.Adjust:
		if err := a.eng.haltedErr(); err != nil { // inert: see Engine.halt
			if ctx.Sender() == nil {
				return
			}
			ctx.Respond(&alloc.AdjustReply{State: a.node.P.State(), Err: fmt.Errorf("adjust pallet: %w", err)})
			return
		}
		a.step(ctx, m)
	case *alloc.SetStatus:
		if err := a.eng.haltedErr(); err != nil { // inert: see Engine.halt
			if ctx.Sender() != nil {
				ctx.Respond(&alloc.StatusReply{State: a.node.P.State(), Err: fmt.Errorf("change pallet: %w", err)})
			}
			return
		}
		a.step(ctx, m)
	case alloc.Message:
		if a.eng.haltErr.Load() == nil {
			a.step(ctx, m)
		}
	case *Flush:
		ctx.Respond(&Flushed{})
	}
}

func (a *palletActor) step(ctx actor.Context, m alloc.Message) {
	out, reply, changed := a.node.Step(time.Now().UTC(), m)
	if changed {
		s := a.node.P.State()
		a.entry.state.Store(&s)
	}
	for _, env := range out {
		a.route(ctx, env)
	}
	if reply != nil && ctx.Sender() != nil {
		ctx.Respond(reply)
	}
}

// route sends what the pallet's step produced: a confirm chain to the next
// link's address or back to its coordinator; replies to whoever asked (the
// coordinator, or a probe in tests); changes to the coordinator.
func (a *palletActor) route(ctx actor.Context, env alloc.Envelope) {
	switch m := env.Msg.(type) {
	case *alloc.ConfirmChain:
		if env.Pallet != "" {
			ctx.Send(m.Links[len(m.Results)].Addr.(*actor.PID), m)
			return
		}
		ctx.Send(m.ReplyTo.(*actor.PID), m)
	case *alloc.ReserveReply, *alloc.ReturnReply, *alloc.RetireReply:
		if ctx.Sender() != nil {
			ctx.Respond(m)
			return
		}
		ctx.Send(a.coordinator, m)
	default:
		ctx.Send(a.coordinator, m)
	}
}
