package actors

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// Errors of the engine's API, for callers to branch on.
var (
	ErrIntakeFull      = errors.New("intake full")
	ErrOrderConflict   = errors.New("order id already used for a different request")
	ErrNotFound        = errors.New("not found")
	ErrDuplicatePallet = errors.New("pallet id already received")
	ErrNotCancellable  = alloc.ErrNotCancellable
	ErrClosed          = errors.New("engine closed")
	// ErrUnavailable: the engine cannot persist, so it takes no writes —
	// it is still recovering, its journal failed, or it halted (the wrapped
	// error says why; a restart recovers from what was persisted).
	ErrUnavailable = errors.New("unavailable")
	// ErrHalted: a broken invariant stopped the engine (always wrapped in
	// ErrUnavailable). Nothing it did after the break was journaled or
	// shown; a restart recovers from the journal.
	ErrHalted = errors.New("engine halted")
)

// apiTimeout bounds how long an API call waits on an actor. Replies are
// local and fast; this only turns a bug into an error instead of a hang.
const apiTimeout = 30 * time.Second

// Engine is Baconator's allocation engine: a protoactor-go system with one
// actor per pallet, one coordinator per SKU and a chaos actor, behind a
// plain Go API. Its methods are safe for concurrent use.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	system  *actor.ActorSystem
	failSub *eventstream.Subscription
	pallets *palletRegistry
	orders  *orderBook
	metrics metrics
	journal *journal.Journal // nil: in memory only

	// durableChanged is notified whenever coordinators publish durable
	// pallet states (or fail to): adjustments wait on it.
	durableChanged notifier
	recovered      atomic.Bool // writes are taken only once recovery is done

	// failStop is the supervision of every actor here. A panic is a broken
	// invariant (a programmer error, counted in Failures): the whole engine
	// halts, and from then on every actor is inert — it changes nothing and
	// only answers what callers wait for, with the reason — so the
	// half-changed state is never used again. Carrying on would use a
	// state no test ever saw, and restarting an actor in place would lose
	// what it knew without the journal's help; the journal already knows
	// how to rebuild everything, so a restart recovers from it. (Actors are
	// kept, inert, rather than stopped, so that no request in flight to
	// them waits out a timeout.)
	failStop actor.SupervisorStrategy
	halted   chan struct{} // closed by halt
	haltErr  atomic.Pointer[error]
	haltOnce sync.Once

	coordMu      sync.Mutex
	coordinators map[string]*actor.PID
	unstocked    *actor.PID // the coordinator of orders for SKUs never received
	coordSeq     uint64

	admit      sync.RWMutex // held shared while admitting, exclusively to close
	closing    bool
	draining   atomic.Bool // set at Close: the draining stage skips ProcessDelay
	intake     chan *orderRecord
	queued     atomic.Int64
	inFlight   chan struct{} // a token per order handed to a coordinator
	unfinished atomic.Int64  // accepted and not yet terminal
	allDone    chan struct{} // closed once closing and unfinished reaches zero
	doneOnce   sync.Once
	idleMu     sync.Mutex
	idle       *sync.Cond    // broadcast whenever unfinished reaches zero
	stop       chan struct{} // closed at teardown: the draining stage gives up
	dispatched chan struct{}
	chaos      *actor.PID
	sweeper    *actor.PID
	failures   atomic.Int64
}

// New starts an engine. It validates cfg first.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configure engine: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		cfg:          cfg,
		log:          log,
		pallets:      newPalletRegistry(),
		orders:       newOrderBook(),
		journal:      cfg.Journal,
		coordinators: map[string]*actor.PID{},
		inFlight:     make(chan struct{}, cfg.OrdersInFlightMax),
		allDone:      make(chan struct{}),
		stop:         make(chan struct{}),
		dispatched:   make(chan struct{}),
		halted:       make(chan struct{}),
	}
	e.idle = sync.NewCond(&e.idleMu)
	e.system = actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(warnOnly{log.Handler()}).With("component", "protoactor")
		}),
		// The throttle only rate-limits dead-letter log lines (late replies
		// at shutdown); a short window ends its helper goroutine quickly.
		actor.WithDeadLetterThrottleInterval(50*time.Millisecond),
	)
	e.failStop = actor.NewOneForOneStrategy(0, 0, func(reason any) actor.Directive {
		// Counted here, before the halt, and not when protoactor publishes
		// its SupervisorEvent: that comes only after the decider returns,
		// so whoever wakes on Halted could otherwise still read Failures
		// as zero for the very panic that halted the engine.
		e.failures.Add(1)
		e.halt(fmt.Errorf("an actor panicked: %v", reason))
		return actor.ResumeDirective // inert from now on: see halt
	})
	e.failSub = e.system.EventStream.Subscribe(func(evt any) {
		switch ev := evt.(type) {
		case *actor.SupervisorEvent: // counted by failStop, which every actor here has
			e.log.Error("actor failed", "actor", ev.Child.String(), "reason", fmt.Sprint(ev.Reason), "directive", ev.Directive.String())
		case *actor.DeadLetterEvent:
			e.log.Debug("dead letter", "to", ev.PID.String(), "message", fmt.Sprintf("%T", ev.Message))
		}
	})
	e.sweeper = e.system.Root.Spawn(newSweeperProps(e))
	e.unstocked = e.spawnCoordinator("")
	if e.journal == nil {
		e.start(nil)
	}
	return e, nil
}

// start re-drives recovered orders, opens the intake and starts chaos: the
// engine takes writes from now on. A recovered order that holds weight was
// being allocated when the crash came: it goes straight back to its
// coordinator, ahead of any cancel, which then gives its weight back the
// usual way. The others wait in the intake, ahead of new orders.
func (e *Engine) start(redrive []*orderRecord) {
	var queued []*orderRecord
	for _, rec := range redrive {
		e.unfinished.Add(1)
		o := rec.load()
		if len(o.Allocations) == 0 {
			queued = append(queued, rec)
			continue
		}
		e.inFlight <- struct{}{} // freed as coordinators finish orders
		e.system.Root.Send(rec.route, &placeOrder{rec: rec})
	}
	e.intake = make(chan *orderRecord, e.cfg.IntakeCapacity+len(queued))
	for _, rec := range queued {
		e.queued.Add(1)
		e.intake <- rec
	}
	go e.dispatch()
	if e.cfg.Chaos.Interval > 0 {
		e.chaos = e.system.Root.Spawn(newChaosProps(e, e.cfg.Chaos, e.cfg.Seed))
	}
	e.recovered.Store(true)
}

// halt stops the engine for good after a broken invariant: it takes no
// more writes, its coordinators journal and show nothing more, waiters are
// released, and Close no longer waits for unfinished orders. The process
// should then exit so that a restart recovers from the journal (the server
// does). Only the first cause is kept.
func (e *Engine) halt(cause error) {
	e.haltOnce.Do(func() {
		err := fmt.Errorf("%w: %w", ErrHalted, cause)
		e.haltErr.Store(&err)
		e.log.Error(fmt.Sprintf("[ALERT] %v. Taking no more writes; restart to recover from the journal.", err))
		close(e.halted)
		e.durableChanged.notify()
	})
}

// haltedErr is Err's halt, or nil.
func (e *Engine) haltedErr() error {
	if e.haltErr.Load() == nil {
		return nil
	}
	return e.Err()
}

// Halted is closed once the engine has halted; Err then says why.
func (e *Engine) Halted() <-chan struct{} { return e.halted }

// Err reports why the engine takes no writes: it has not recovered yet,
// its journal failed, or it halted. Nil when it takes them.
func (e *Engine) Err() error {
	if p := e.haltErr.Load(); p != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, *p)
	}
	if !e.recovered.Load() {
		return fmt.Errorf("%w: recovering", ErrUnavailable)
	}
	if e.journal != nil {
		if err := e.journal.Err(); err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return nil
}

// dispatch is the bounded draining stage between the intake and the
// coordinators: at most OrdersInFlightMax orders are past it and unfinished.
func (e *Engine) dispatch() {
	defer close(e.dispatched)
	for rec := range e.intake {
		e.queued.Add(-1)
		select {
		case e.inFlight <- struct{}{}:
		case <-e.stop:
			return // Close gave up waiting; what is left stays unfinished
		}
		if e.cfg.ProcessDelay > 0 && !e.draining.Load() {
			time.Sleep(e.cfg.ProcessDelay) // the demo's artificial work, not synchronization
		}
		e.system.Root.Send(rec.route, &placeOrder{rec: rec})
	}
}

// coordinator returns sku's coordinator, starting it on first use. Only
// receipts start coordinators, so clients cannot mint one per made-up SKU.
func (e *Engine) coordinator(sku string) *actor.PID {
	e.coordMu.Lock()
	defer e.coordMu.Unlock()
	if pid, ok := e.coordinators[sku]; ok {
		return pid
	}
	pid := e.spawnCoordinator(sku)
	e.coordinators[sku] = pid
	return pid
}

// spawnCoordinator starts a coordinator; coordMu must be held.
func (e *Engine) spawnCoordinator(sku string) *actor.PID {
	e.coordSeq++
	c := newCoordinatorActor(e, sku, e.cfg.Seed+e.coordSeq)
	props := actor.PropsFromProducer(func() actor.Actor { return c },
		actor.WithSupervisor(e.failStop), actor.WithGuardian(e.failStop))
	return e.system.Root.Spawn(props)
}

// route returns the coordinator an order for sku goes to: the SKU's own,
// or, for a SKU never received, the unstocked coordinator, whose view is
// empty — it rejects every order no_eligible_stock through the same
// intake, limits and cancel path as any other, and no client can mint a
// coordinator per made-up SKU.
func (e *Engine) route(sku string) *actor.PID {
	e.coordMu.Lock()
	defer e.coordMu.Unlock()
	if pid, ok := e.coordinators[sku]; ok {
		return pid
	}
	return e.unstocked
}

// orderDone frees the in-flight slot of an order that reached its first
// terminal state (already counted and published).
func (e *Engine) orderDone() {
	<-e.inFlight
	if e.unfinished.Add(-1) == 0 {
		e.idleMu.Lock()
		e.idle.Broadcast()
		e.idleMu.Unlock()
		if e.draining.Load() {
			e.doneOnce.Do(func() { close(e.allDone) })
		}
	}
}

// PlaceOrder accepts an order without waiting for it to be allocated. An
// empty ID gets a random one and an empty SKU means pork. Placing an id
// again with the same request returns the existing order and false; with a
// different request it fails with ErrOrderConflict. A full intake fails at
// once with ErrIntakeFull and queues nothing.
func (e *Engine) PlaceOrder(req inventory.OrderRequest) (inventory.Order, bool, error) {
	if req.SKU == "" {
		req.SKU = inventory.DefaultSKU
	}
	if req.ID == "" {
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
	rec, created, err := e.accept(inventory.Order{Request: req, Status: inventory.StatusQueued, AcceptedAt: time.Now().UTC()})
	if !created || err != nil {
		e.queued.Add(-1)
	}
	if !created {
		return e.repeat(rec, req)
	}
	if err != nil {
		return inventory.Order{}, false, err
	}
	e.unfinished.Add(1)
	accepted := rec.load() // before the hand-off: the answer describes the acceptance
	e.intake <- rec        // cannot block: queued never exceeds the channel's capacity
	return accepted, true, nil
}

// accept records a new order and journals it; only then may anyone see it
// or be told it was accepted. If the id is taken it returns that record and
// false; if the journal fails, its error (the order then never existed).
func (e *Engine) accept(o inventory.Order) (*orderRecord, bool, error) {
	rec, created := e.orders.insert(o, e.journal != nil, e.route(o.Request.SKU))
	if !created {
		return rec, false, nil
	}
	if e.journal != nil {
		var b journal.Batch
		b.PutOrder(o)
		if err := e.journal.Commit(&b); err != nil {
			e.orders.remove(rec)
			rec.settle(true)
			return rec, true, fmt.Errorf("place order %s: %w: %w", o.Request.ID, ErrUnavailable, err)
		}
		rec.settle(false)
	}
	e.metrics.accepted.Add(1)
	return rec, true, nil
}

// repeat answers a second placement of an id: the order it names, if the
// request is the same. A placement still being journaled is waited for.
func (e *Engine) repeat(rec *orderRecord, req inventory.OrderRequest) (inventory.Order, bool, error) {
	if !rec.waitSettled() {
		return inventory.Order{}, false, fmt.Errorf("place order %s: %w: its first placement could not be journaled", req.ID, ErrUnavailable)
	}
	o := rec.load()
	if !o.Request.SameAs(req) {
		return inventory.Order{}, false, fmt.Errorf("place order %s: %w", req.ID, ErrOrderConflict)
	}
	return o, false, nil
}

// Order returns an order's latest state.
func (e *Engine) Order(id string) (inventory.Order, error) {
	rec, ok := e.orders.get(id)
	if !ok {
		return inventory.Order{}, fmt.Errorf("order %s: %w", id, ErrNotFound)
	}
	return rec.load(), nil
}

// Orders returns every order's latest state, in no particular order.
func (e *Engine) Orders() []inventory.Order { return e.orders.all() }

// Wait blocks until the order first reaches a terminal state.
func (e *Engine) Wait(ctx context.Context, id string) (inventory.Order, error) {
	rec, ok := e.orders.get(id)
	if !ok {
		return inventory.Order{}, fmt.Errorf("wait for order %s: %w", id, ErrNotFound)
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
// one gives its weight back. It answers once the cancel has taken effect;
// an order that ended rejected or cancelled fails with ErrNotCancellable.
func (e *Engine) CancelOrder(id string) (inventory.Order, error) {
	if err := e.Err(); err != nil {
		return inventory.Order{}, fmt.Errorf("cancel order %s: %w", id, err)
	}
	rec, ok := e.orders.get(id)
	if !ok {
		return inventory.Order{}, fmt.Errorf("cancel order %s: %w", id, ErrNotFound)
	}
	res, err := e.system.Root.RequestFuture(rec.route, &cancelOrder{rec: rec}, apiTimeout).Result()
	if err != nil {
		return inventory.Order{}, fmt.Errorf("cancel order %s: %w", id, err)
	}
	r := res.(*cancelReply)
	return r.order, r.err
}

// ReceivePallets receives pallets, all or none: each is validated (an
// empty SKU means pork, a zero received time means now), and a duplicate
// or already-expired pallet fails the whole call.
func (e *Engine) ReceivePallets(specs []inventory.PalletSpec) ([]inventory.PalletState, error) {
	if err := e.Err(); err != nil {
		return nil, fmt.Errorf("receive pallets: %w", err)
	}
	now := time.Now().UTC()
	specs = append([]inventory.PalletSpec(nil), specs...)
	for i := range specs {
		s := &specs[i]
		if s.SKU == "" {
			s.SKU = inventory.DefaultSKU
		}
		if s.ID == "" {
			s.ID = "P-" + newID()
		}
		if s.Received.IsZero() {
			s.Received = now
		}
		s.Received, s.Expires = s.Received.UTC(), s.Expires.UTC()
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("receive pallet %s: %w", s.ID, err)
		}
		if inventory.Expired(s.Expires, now) {
			return nil, fmt.Errorf("receive pallet %s: expirationDate %s: %w", s.ID, s.Expires.Format(time.RFC3339), inventory.ErrExpired)
		}
	}
	pallets := make([]*inventory.Pallet, len(specs))
	for i, s := range specs {
		pallets[i] = inventory.NewPallet(s)
	}
	entries, err := e.place(pallets, false)
	if err != nil {
		return nil, err
	}
	out := make([]inventory.PalletState, len(entries))
	for i, en := range entries {
		out[i], _ = en.shown()
	}
	return out, nil
}

// place claims pallets' ids, journals new receipts — all in one batch, so
// a receipt is all or none even across SKUs and crashes — and hands the
// pallets to their SKUs' coordinators, waiting until they are listed.
// Recovered pallets are already in the journal.
func (e *Engine) place(pallets []*inventory.Pallet, recovered bool) ([]*palletEntry, error) {
	specs := make([]inventory.PalletSpec, len(pallets))
	for i, p := range pallets {
		specs[i] = p.State().Spec
	}
	entries, dup := e.pallets.claim(specs)
	if dup != "" {
		return nil, fmt.Errorf("receive pallet %s: %w", dup, ErrDuplicatePallet)
	}
	if e.journal != nil && !recovered {
		var b journal.Batch
		for _, p := range pallets {
			b.PutPallet(p.State().Spec)
			b.AppendLedger(p.State().Spec.ID, 0, p.Ledger()[0])
		}
		if err := e.journal.Commit(&b); err != nil {
			e.pallets.unclaim(entries)
			return nil, fmt.Errorf("receive pallets: %w: %w", ErrUnavailable, err)
		}
	}
	bySKU := map[string][]int{}
	for i, s := range specs {
		bySKU[s.SKU] = append(bySKU[s.SKU], i)
	}
	for sku, idx := range bySKU {
		m := &receivePallets{recovered: recovered}
		for _, i := range idx {
			m.pallets = append(m.pallets, pallets[i])
			m.entries = append(m.entries, entries[i])
		}
		res, err := e.system.Root.RequestFuture(e.coordinator(sku), m, apiTimeout).Result()
		if err != nil {
			// The coordinator may still receive them: keep the ids claimed.
			return nil, fmt.Errorf("receive pallets of %s: outcome unknown: %w", sku, err)
		}
		if err := res.(*receivedPallets).err; err != nil {
			return nil, fmt.Errorf("receive pallets of %s: %w", sku, err)
		}
	}
	return entries, nil
}

// AdjustPallet applies an operator's weight change. It fails with
// inventory.ErrBelowZero, changing nothing, if on-hand would go negative.
// It answers once the change is journaled.
func (e *Engine) AdjustPallet(id string, delta inventory.CentiLbs, reason string) (inventory.PalletState, error) {
	if err := e.Err(); err != nil {
		return inventory.PalletState{}, fmt.Errorf("adjust pallet %s: %w", id, err)
	}
	en, ok := e.pallets.get(id)
	if !ok {
		return inventory.PalletState{}, fmt.Errorf("adjust pallet %s: %w", id, ErrNotFound)
	}
	res, err := e.system.Root.RequestFuture(en.pid, &alloc.Adjust{Delta: delta, Reason: reason}, apiTimeout).Result()
	if err != nil {
		return inventory.PalletState{}, fmt.Errorf("adjust pallet %s: %w", id, err)
	}
	r := res.(*alloc.AdjustReply)
	if r.Err != nil {
		return inventory.PalletState{}, r.Err
	}
	// The pallet changed; its coordinator journals the change and then
	// publishes it. Answer only then.
	timeout := time.NewTimer(apiTimeout)
	defer timeout.Stop()
	for {
		changed := e.durableChanged.wait()
		if s, _ := en.shown(); s.Version >= r.State.Version {
			return r.State, nil // the pallet as the adjustment left it, now durable
		}
		if err := e.Err(); err != nil {
			return inventory.PalletState{}, fmt.Errorf("adjust pallet %s: %w", id, err)
		}
		select {
		case <-changed:
		case <-timeout.C:
			return inventory.PalletState{}, fmt.Errorf("adjust pallet %s: applied but not journaled within %s", id, apiTimeout)
		}
	}
}

// Pallet returns a pallet's latest durable state.
func (e *Engine) Pallet(id string) (inventory.PalletState, error) {
	en, ok := e.pallets.get(id)
	if !ok {
		return inventory.PalletState{}, fmt.Errorf("pallet %s: %w", id, ErrNotFound)
	}
	s, _ := en.shown()
	return s, nil
}

// Inventory returns every pallet of sku (every SKU if empty), emptied and
// expired ones too, in FEFO order.
func (e *Engine) Inventory(sku string) []inventory.PalletState { return e.pallets.snapshot(sku) }

// Ledger returns a pallet's audit trail, oldest first.
func (e *Engine) Ledger(id string) ([]inventory.LedgerEntry, error) {
	en, ok := e.pallets.get(id)
	if !ok {
		return nil, fmt.Errorf("ledger of pallet %s: %w", id, ErrNotFound)
	}
	d := en.durable.Load()
	res, err := e.system.Root.RequestFuture(en.pid, &GetLedger{UpTo: d.Version}, apiTimeout).Result()
	if err != nil {
		return nil, fmt.Errorf("ledger of pallet %s: %w", id, err)
	}
	return res.(*LedgerReply).Entries, nil
}

// Failures counts actor panics seen by supervisors. Any is a bug. A panic
// is counted before the halt it causes, so once Halted is closed by one,
// Failures already includes it.
func (e *Engine) Failures() int64 { return e.failures.Load() }

// Close stops taking orders, waits for every accepted order to reach a
// terminal state (or ctx to end), then stops every actor.
func (e *Engine) Close(ctx context.Context) error {
	e.admit.Lock()
	if e.closing {
		e.admit.Unlock()
		return nil
	}
	e.closing = true
	e.draining.Store(true)
	if e.intake == nil { // never recovered: nothing was taken
		e.intake = make(chan *orderRecord)
		go e.dispatch()
	}
	close(e.intake)
	e.admit.Unlock()

	if e.chaos != nil {
		_ = e.system.Root.StopFuture(e.chaos).Wait()
	}
	if e.unfinished.Load() == 0 {
		e.doneOnce.Do(func() { close(e.allDone) })
	}
	var err error
	select {
	case <-e.allDone:
	case <-e.halted:
	case <-ctx.Done():
		err = fmt.Errorf("close engine: %d orders still unfinished: %w", e.unfinished.Load(), ctx.Err())
	}
	if e.haltErr.Load() != nil { // it may have halted on the way to idle, too
		err = fmt.Errorf("close engine: %d orders unfinished: %w", e.unfinished.Load(), e.Err())
	}
	close(e.stop)
	<-e.dispatched
	_ = e.system.Root.StopFuture(e.sweeper).Wait()
	e.coordMu.Lock()
	pids := []*actor.PID{e.unstocked}
	for _, pid := range e.coordinators {
		pids = append(pids, pid)
	}
	e.coordMu.Unlock()
	for _, pid := range pids { // not under the lock: each waits for an actor to stop
		_ = e.system.Root.StopFuture(pid).Wait()
	}
	e.system.EventStream.Unsubscribe(e.failSub)
	e.system.Shutdown()
	return err
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// warnOnly passes protoactor's own log lines on only from warn level up:
// its info lines (actor started, dead letters at shutdown) are noise here.
type warnOnly struct{ slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.Handler.Enabled(ctx, l)
}

func (w warnOnly) WithAttrs(as []slog.Attr) slog.Handler { return warnOnly{w.Handler.WithAttrs(as)} }
func (w warnOnly) WithGroup(name string) slog.Handler    { return warnOnly{w.Handler.WithGroup(name)} }
