package actors

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// coordinatorActor puts one SKU's alloc.Coordinator on the actor system.
// It decides nothing: each message becomes one input to the state machine,
// and the Ready that comes back is carried out — journaled, then
// published, answered, sent, armed, logged.
type coordinatorActor struct {
	eng     *Engine
	sm      *alloc.Coordinator
	log     *slog.Logger
	pids    map[string]*actor.PID // its pallets' actors
	entries map[string]*palletEntry
	timers  selfTimers
	batch   journal.Batch      // reused for every commit
	arrived alloc.OrderArrived // reused: Step copies what it keeps
}

func newCoordinatorActor(eng *Engine, sku string, seed uint64) *coordinatorActor {
	cfg := eng.cfg
	return &coordinatorActor{
		eng: eng,
		sm: alloc.NewCoordinator(alloc.Config{
			SKU: sku, BatchOrdersMax: cfg.BatchOrdersMax, RetryAttemptsMax: cfg.RetryAttemptsMax,
			RetryBackoffBase: cfg.RetryBackoffBase, RetryBackoffMax: cfg.RetryBackoffMax,
			HoldTimeout: cfg.HoldTimeout, ReplyTimeout: cfg.ReplyTimeout, ResendsMax: alloc.DefaultResendsMax, Seed: seed,
		}),
		log:     eng.log.With("sku", sku),
		pids:    map[string]*actor.PID{},
		entries: map[string]*palletEntry{},
	}
}

func (a *coordinatorActor) Receive(ctx actor.Context) {
	if a.eng.haltErr.Load() != nil {
		a.inert(ctx)
		return
	}
	var in alloc.Input
	switch m := ctx.Message().(type) {
	case *placeOrder:
		a.arrived.Order = m.rec.load()
		in = &a.arrived
	case *cancelOrder:
		in = &alloc.CancelRequested{Order: m.rec.load(), Reply: ctx.Sender()}
	case *receivePallets:
		in = a.spawn(ctx, m)
	case *timerFired:
		in = &alloc.TimerFired{ID: m.id}
	case *Flush:
		in = &alloc.FlushRequested{Reply: ctx.Sender()}
	case alloc.Input: // a pallet's reply, chain or change
		in = m
	case *actor.Stopping:
		a.timers.stopAll()
		return
	default:
		return
	}
	a.apply(ctx, a.sm.Step(time.Now().UTC(), in))
}

// spawn starts an actor for each arriving pallet (they are durable
// already) and turns the receipt into the state machine's input; the
// pallets are listed for reads once the state machine has taken them in.
func (a *coordinatorActor) spawn(ctx actor.Context, m *receivePallets) alloc.Input {
	in := &alloc.PalletsArrived{Recovered: m.recovered, Reply: ctx.Sender(), Pallets: make([]inventory.PalletState, len(m.pallets))}
	for i, p := range m.pallets {
		s := p.State()
		en := m.entries[i]
		en.state.Store(&s)
		en.durable.Store(&s)
		id := s.Spec.ID
		a.pids[id], a.entries[id] = ctx.Spawn(newPalletProps(a.eng, p, ctx.Self(), en)), en
		in.Pallets[i] = s
	}
	return in
}

// inert is a halted engine's coordinator: it does nothing more, and only
// answers what callers wait for, with the reason.
func (a *coordinatorActor) inert(ctx actor.Context) {
	err := a.eng.Err()
	switch m := ctx.Message().(type) {
	case *cancelOrder:
		ctx.Respond(&cancelReply{order: m.rec.load(), err: fmt.Errorf("cancel order %s: %w", m.rec.load().Request.ID, err)})
	case *receivePallets:
		ctx.Respond(&receivedPallets{err: err})
	case *Flush:
		ctx.Respond(&Flushed{})
	case *actor.Stopping:
		a.timers.stopAll()
	}
}

// send carries out the Ready's messages: pallets by PID, and a confirm
// chain with its links' addresses filled in so pallets can pass it on.
func (a *coordinatorActor) send(ctx actor.Context, envs []alloc.Envelope) {
	for _, env := range envs {
		pid := a.pids[env.Pallet]
		switch m := env.Msg.(type) {
		case *alloc.ConfirmChain:
			for i := range m.Links {
				m.Links[i].Addr = a.pids[m.Links[i].PalletID]
			}
			m.ReplyTo = ctx.Self()
			ctx.Send(pid, m)
		case *alloc.Reserve, *alloc.ReturnOrder:
			ctx.Request(pid, m) // answered to the sender
		default:
			ctx.Send(pid, m)
		}
	}
}

func (a *coordinatorActor) arm(ctx actor.Context, rd *alloc.Ready) {
	for _, id := range rd.Stopped {
		a.timers.cancel(id)
	}
	for _, t := range rd.Timers {
		a.timers.after(ctx, t.ID, t.After, &timerFired{id: t.ID})
	}
}

func (a *coordinatorActor) logNotes(notes []alloc.Note) {
	for _, n := range notes {
		level := slog.LevelDebug
		switch n.Level {
		case alloc.NoteInfo:
			level = slog.LevelInfo
		case alloc.NoteWarn:
			level = slog.LevelWarn
		case alloc.NoteError:
			level = slog.LevelError
		}
		a.log.Log(context.Background(), level, n.Text, n.Attrs...)
	}
}
