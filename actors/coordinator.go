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
	sku     string
	sm      *alloc.Coordinator
	log     *slog.Logger
	pids    map[string]*actor.PID   // its pallets' actors, started on first need
	entries map[string]*palletEntry // its pallets on the floor
	timers  selfTimers
	batch   journal.Batch      // reused for every commit
	arrived alloc.OrderArrived // reused: Step copies what it keeps
}

func newCoordinatorActor(eng *Engine, sku string, seed uint64) *coordinatorActor {
	cfg := eng.cfg
	return &coordinatorActor{
		eng: eng,
		sku: sku,
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
		o, err := a.current(m)
		if err != nil {
			ctx.Respond(&cancelReply{err: fmt.Errorf("cancel order %s: %w", m.id, err)})
			return
		}
		in = &alloc.CancelRequested{Order: o, Reply: ctx.Sender()}
	case *receivePallets:
		in = a.arrive(ctx, m)
	case *flushPallet:
		if pid := a.pids[m.id]; pid != nil { // an idle pallet has nothing in flight
			ctx.RequestWithCustomSender(pid, &Flush{}, ctx.Sender())
		} else {
			ctx.Respond(&Flushed{})
		}
		return
	case *revivePallet:
		if a.entries[m.id] != nil { // on the floor, or on its way back
			ctx.RequestWithCustomSender(a.pid(ctx, m.id), m.then, ctx.Sender())
			return
		}
		var err error
		if in, err = a.revive(ctx, alloc.Revival{PalletID: m.id, ReturnFloor: a.sm.ReturnFloor()}, nil); err != nil {
			ctx.Respond(&receivedPallets{err: err})
			return
		}
		ctx.RequestWithCustomSender(a.pids[m.id], m.then, ctx.Sender()) // before anything the state machine says
	case *palletPID:
		var pid *actor.PID
		if a.entries[m.id] != nil {
			pid = a.pid(ctx, m.id)
		}
		ctx.Respond(pid)
		return
	case *strikePallet:
		if a.entries[m.id] != nil { // else it left the floor since chaos looked
			ctx.Send(a.pid(ctx, m.id), m.adjust)
		}
		return
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

// arrive takes in arriving pallets (they are durable already) and turns
// the receipt into the state machine's input; the pallets are listed for
// reads once the state machine has taken them in. None gets an actor yet.
func (a *coordinatorActor) arrive(ctx actor.Context, m *receivePallets) alloc.Input {
	in := &alloc.PalletsArrived{Recovered: m.recovered, Reply: ctx.Sender(), Pallets: make([]inventory.PalletState, len(m.pallets))}
	for i, p := range m.pallets {
		s := p.State()
		en := m.entries[i]
		en.state.Store(&s)
		en.durable.Store(&s)
		a.entries[s.Spec.ID] = en
		in.Pallets[i] = s
	}
	return in
}

// pid is the actor of one of the coordinator's pallets on the floor,
// started the first time anything is sent to it. A warehouse holds far
// more pallets than are ever touched at once — FEFO and chaos work the
// head of each SKU — and an idle one costs only its books, its place in
// the FEFO view and its registry entry; an actor (mailbox, context,
// process) would triple that. Until its actor starts nothing can have
// changed the pallet (every change is made by its actor), so its state is
// the one it arrived with, which its entry holds. Once started, an actor
// stays until its pallet retires.
func (a *coordinatorActor) pid(ctx actor.Context, id string) *actor.PID {
	if pid, ok := a.pids[id]; ok {
		return pid
	}
	en := a.entries[id]
	s := en.state.Load()
	pid := ctx.Spawn(newPalletProps(a.eng, inventory.Restore(*s), 0, ctx.Self(), en))
	a.pids[id] = pid
	en.pid.Store(pid)
	return pid
}

// current is the order a cancel is about, as it stands: its record while
// it has not ended, else the journal — read here, after everything this
// coordinator journaled before, so it is never stale. (A record that ended
// has left memory: its later changes, a cancel after allocation, reach the
// journal only.)
func (a *coordinatorActor) current(m *cancelOrder) (inventory.Order, error) {
	if m.rec != nil {
		if o := m.rec.load(); !o.Status.Terminal() {
			return o, nil
		}
	}
	o, ok, err := a.eng.journal.Order(m.id)
	switch {
	case err != nil:
		return o, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case !ok:
		return o, ErrNotFound
	}
	return o, nil
}

// revive brings a retired pallet back: its state from the journal, a new
// actor, and the input that gives it back to the state machine.
func (a *coordinatorActor) revive(ctx actor.Context, r alloc.Revival, reply any) (alloc.Input, error) {
	c, retired, ok, err := a.eng.journal.Pallet(r.PalletID)
	switch {
	case err != nil:
		return nil, fmt.Errorf("revive pallet %s: %w: %w", r.PalletID, ErrUnavailable, err)
	case !ok || !retired:
		return nil, fmt.Errorf("revive pallet %s: %w: not retired", r.PalletID, ErrUnavailable)
	}
	entries, dup := a.eng.pallets.claim([]inventory.PalletSpec{c.Spec})
	if dup != "" {
		return nil, fmt.Errorf("revive pallet %s: %w: on the floor already", r.PalletID, ErrUnavailable)
	}
	p := inventory.Restore(c.State())
	s := p.State()
	en := entries[0]
	en.state.Store(&s)
	en.durable.Store(&s)
	pid := ctx.Spawn(newPalletProps(a.eng, p, r.ReturnFloor, ctx.Self(), en))
	a.pids[r.PalletID], a.entries[r.PalletID] = pid, en
	en.pid.Store(pid)
	return &alloc.PalletsArrived{Pallets: []inventory.PalletState{s}, Revived: true, Reply: reply}, nil
}

// inert is a halted engine's coordinator: it does nothing more, and only
// answers what callers wait for, with the reason.
func (a *coordinatorActor) inert(ctx actor.Context) {
	err := a.eng.Err()
	switch m := ctx.Message().(type) {
	case *cancelOrder:
		ctx.Respond(&cancelReply{order: m.rec.load(), err: fmt.Errorf("cancel order %s: %w", m.rec.load().Request.ID, err)})
	case *receivePallets, *revivePallet:
		ctx.Respond(&receivedPallets{err: err})
	case *Flush:
		ctx.Respond(&Flushed{})
	case *palletPID:
		ctx.Respond(a.pids[m.id]) // none is started any more
	case *actor.Stopping:
		a.timers.stopAll()
	}
}

// send carries out the Ready's messages: pallets by PID, and a confirm
// chain with its links' addresses filled in so pallets can pass it on.
func (a *coordinatorActor) send(ctx actor.Context, envs []alloc.Envelope) {
	for _, env := range envs {
		pid := a.pid(ctx, env.Pallet)
		switch m := env.Msg.(type) {
		case *alloc.ConfirmChain:
			for i := range m.Links {
				m.Links[i].Addr = a.pid(ctx, m.Links[i].PalletID)
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
