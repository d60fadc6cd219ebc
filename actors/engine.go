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
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/journal"
)

// deadLetterThrottle is how often protoactor may log dead letters; its
// throttle waits this long in a goroutine after the first (tests in fake
// time wait it out: see inBubble).
const deadLetterThrottle = 50 * time.Millisecond

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
	cfg        Config
	log        *slog.Logger
	system     *actor.ActorSystem
	failSub    *eventstream.Subscription
	pallets    *palletRegistry
	orders     *orderBook
	metrics    metrics
	journal    *journal.Journal
	ownJournal bool // opened by New in memory: closed by Close

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
		actor.WithDeadLetterThrottleInterval(deadLetterThrottle),
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
		// Memory only: the same journal, on Pebble's in-memory filesystem,
		// so that everything runs the same code; a new one has nothing to
		// recover.
		j, err := journal.Open("memory", journal.Options{FS: vfs.NewMem(), Logger: log, Volatile: true})
		if err != nil {
			e.system.Shutdown()
			return nil, fmt.Errorf("open memory journal: %w", err)
		}
		e.journal, e.ownJournal = j, true
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
	if err := e.journal.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
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
	if e.ownJournal {
		err = errors.Join(err, e.journal.Close())
	}
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
