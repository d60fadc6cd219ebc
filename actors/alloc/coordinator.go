package alloc

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/baconator/baconator/inventory"
)

// ErrNotCancellable: the order ended rejected or cancelled, or is being
// rejected.
var ErrNotCancellable = errors.New("order cannot be cancelled")

// Coordinator allocates one SKU. It is the serialization point of that
// SKU: it plans orders in batches on its FEFO view, reserves on pallets at
// the versions it planned with, and confirms the clean prefix as a chain
// in FEFO order (see doc.go and docs/protocol.md).
//
// It is a pure state machine: Step takes one input at a time, with the
// time passed in, and returns what must happen. It keeps no clock, starts
// no goroutine, logs nothing and draws its jitter from a seeded source, so
// the same inputs give the same outputs.
type Coordinator struct {
	cfg  Config
	rng  *rand.Rand
	view *inventory.View
	books

	active     map[string]*order // orders it works on, by id
	line       []*order          // queued, oldest first
	early      map[string]bool   // cancelled before they arrived
	batch      *batch            // the attempt in flight
	ret        *returnOp         // the return under way
	returns    []*returnOp       // returns waiting for it
	stash      []Input           // changes and receipts that came while busy
	flushers   []any
	timers     map[uint64]timer
	nextID     uint64 // batches, returns and timers
	batchLimit int    // adapts to contention: see batchSize
	retiring   int    // Retire messages still to be answered
	halted     bool

	now time.Time
	rd  Ready
}

// timer is what an armed timer is for.
type timer struct {
	kind    timerKind
	id      uint64 // the batch or return it guards
	orderID string // the parked order it wakes
}

type timerKind int8

const (
	timerRetry timerKind = iota + 1
	timerBatch
	timerReturn
)

// NewCoordinator returns a coordinator with an empty view. It panics on a
// config that does not validate: check it first.
func NewCoordinator(cfg Config) *Coordinator {
	if err := cfg.Validate(); err != nil {
		panic(fmt.Sprintf("alloc: %v", err))
	}
	return &Coordinator{
		cfg:        cfg,
		rng:        rand.New(rand.NewPCG(cfg.Seed, 0x6261636f6e)),
		view:       inventory.NewView(),
		books:      newBooks(),
		active:     map[string]*order{},
		early:      map[string]bool{},
		timers:     map[uint64]timer{},
		batchLimit: cfg.BatchOrdersMax,
	}
}

// Step handles one input at time now and returns what must happen (see
// Ready). A broken invariant panics: the caller must stop the coordinator
// and recover from the journal, which holds nothing of this Step.
func (c *Coordinator) Step(now time.Time, in Input) *Ready {
	c.rd.reset()
	if c.halted {
		return &c.rd
	}
	c.now = now
	switch m := in.(type) {
	case *OrderArrived:
		c.arrive(m.Order)
	case *CancelRequested:
		c.cancel(m)
	case *PalletsArrived:
		if m.Revived && c.batch == nil { // a return may be waiting for it
			c.receive(m)
			break
		}
		c.whenIdle(m)
	case *PalletChanged:
		if b := c.batch; b != nil && !b.confirming {
			if i, ok := c.view.Index(m.PalletID); ok {
				if f := b.facts(i); f != nil {
					f.failed = true // its holds were revoked, or its reserve will be refused
				}
			}
		}
		c.whenIdle(m)
	case *ReserveReply:
		c.onReserveReply(m)
	case *ConfirmChain:
		c.onChain(m)
	case *ReturnReply:
		c.onReturnReply(m)
	case *RetireReply:
		c.onRetireReply(m)
	case *TimerFired:
		c.onTimer(m.ID)
	case *FlushRequested:
		c.flushers = append(c.flushers, m.Reply)
	default:
		panic(fmt.Sprintf("alloc: unknown input %T", in))
	}
	if !c.halted {
		c.maybeStart()
	}
	c.books.flush(&c.rd)
	return &c.rd
}

// ReturnFloor is the first return op a pallet brought back now may take:
// the oldest return not yet finished. Returns run one at a time in op
// order, and a pallet retires only while none runs, so every op before the
// floor finished before the pallet left: a copy of one is stale.
func (c *Coordinator) ReturnFloor() uint64 {
	if c.ret != nil {
		return c.ret.id
	}
	if len(c.returns) > 0 {
		return c.returns[0].id
	}
	return c.nextID + 1
}

// Busy reports whether an operation is in flight: a batch, a return, or
// pallets asked to retire.
func (c *Coordinator) Busy() bool { return c.batch != nil || c.ret != nil || c.retiring > 0 }

// Idle reports whether the coordinator has nothing left to do: no
// operation in flight, nothing queued, parked or stashed.
func (c *Coordinator) Idle() bool {
	return !c.Busy() && len(c.active) == 0 && len(c.returns) == 0 && len(c.stash) == 0
}

// whenIdle applies a change or a receipt now, or after the operation in
// flight: an operation's slot indexes and versions must not move under it.
func (c *Coordinator) whenIdle(in Input) {
	if c.Busy() {
		c.stash = append(c.stash, in)
		return
	}
	c.apply(in)
}

func (c *Coordinator) apply(in Input) {
	switch m := in.(type) {
	case *PalletChanged:
		c.applyChange(m)
	case *PalletsArrived:
		c.receive(m)
	}
}

// maybeStart begins the next operation while none is in flight: stashed
// changes first, then queued returns, then retiring empty pallets (when
// enough have emptied, or nothing else waits), then a batch; idle, it
// answers flushes.
func (c *Coordinator) maybeStart() {
	for !c.Busy() && !c.halted {
		switch {
		case len(c.stash) > 0:
			stash := c.stash
			c.stash = nil
			for _, in := range stash {
				c.apply(in)
			}
		case len(c.returns) > 0:
			op := c.returns[0]
			c.returns = c.returns[1:]
			c.startReturn(op)
		case len(c.books.empty) >= retireBatchMin || (len(c.books.empty) > 0 && len(c.line) == 0):
			c.retireEmpty()
		case len(c.line) > 0:
			c.startBatch()
		default:
			for _, f := range c.flushers {
				c.rd.Replies = append(c.rd.Replies, Reply{To: f, Kind: ReplyFlushed})
			}
			c.flushers = c.flushers[:0]
			return
		}
	}
}

// receive lists durable pallets in the view.
func (c *Coordinator) receive(m *PalletsArrived) {
	specs := make([]inventory.PalletSpec, len(m.Pallets))
	ids := make([]string, len(m.Pallets))
	for i, s := range m.Pallets {
		specs[i], ids[i] = s.Spec, s.Spec.ID
		c.books.open(s, m.Revived)
	}
	c.view.Insert(specs...)
	if m.Recovered || m.Revived {
		for _, s := range m.Pallets {
			c.view.Update(s.Spec.ID, s.OnHand, s.Version)
			c.view.Block(s.Spec.ID, !s.Allocatable())
		}
	} else if c.cfg.SKU != "" {
		c.record(PalletsReceived{Specs: specs})
	}
	if m.Revived {
		c.revived(ids)
	}
	c.rd.Replies = append(c.rd.Replies, Reply{To: m.Reply, Kind: ReplyReceived, PalletIDs: ids})
}

// retireBatchMin is how many pallets must have emptied before the
// coordinator pauses a busy line to retire them: each retirement rewrites
// the FEFO view's index, so they go in groups.
const retireBatchMin = 32

// retireEmpty asks every pallet whose durable weight is 0 to leave the
// floor. Until they answer the coordinator starts nothing else, so no
// batch or return meets a pallet on its way out.
func (c *Coordinator) retireEmpty() {
	for _, id := range slices.Sorted(maps.Keys(c.books.empty)) {
		bk := c.books.m[id]
		if bk.retiring {
			continue
		}
		bk.retiring = true
		c.retiring++
		c.send(id, &Retire{ExpectedVersion: bk.state.Version})
	}
}

// onRetireReply retires a pallet that agreed: it leaves the view and the
// books (and the journal moves it among the retired). One that moved on
// stays; the change it made is on its way.
func (c *Coordinator) onRetireReply(m *RetireReply) {
	bk := c.books.m[m.PalletID]
	if bk == nil || !bk.retiring {
		return // a copy of an answer already taken
	}
	bk.retiring = false
	c.retiring--
	if !m.OK {
		delete(c.books.empty, m.PalletID) // asked again after its next change, if it is empty then
		return
	}
	if bk.state.Version != m.Version || bk.state.OnHand != 0 {
		panic(fmt.Sprintf("pallet %s retired at v%d; its books say %s lbs at v%d", m.PalletID, m.Version, bk.state.OnHand, bk.state.Version))
	}
	c.view.Remove(m.PalletID)
	c.books.retire(&c.rd, m.PalletID)
}

// applyChange records a physical change a pallet made: the view learns
// it, the journal gets its ledger line (which must agree with the pallet),
// and it takes its place in the SKU's history.
func (c *Coordinator) applyChange(m *PalletChanged) {
	c.view.Update(m.PalletID, m.OnHand, m.Version)
	kind := m.Kind
	if kind == "" {
		kind = inventory.LedgerAdjusted
	}
	if m.Status != "" {
		c.view.Block(m.PalletID, m.Status != inventory.StatusAvailable)
	}
	e := inventory.LedgerEntry{At: m.At, Kind: kind, Lbs: m.Delta, Reason: m.Reason, Version: m.Version, Status: m.Status, Note: m.Note}
	if onHand := c.books.write(&c.rd, m.PalletID, e); onHand != m.OnHand {
		panic(fmt.Sprintf("pallet %s: journaled %s lbs at v%d, pallet has %s", m.PalletID, onHand, m.Version, m.OnHand))
	}
	switch {
	case m.Reason == inventory.ReasonChaos:
		c.rd.Counters.Strikes++
		c.note(NoteDebug, fmt.Sprintf("[CHAOS] Pallet %s (%s) %+.2f lbs -> %s lbs, v%d, %d hold(s) revoked",
			m.PalletID, m.Supplier, m.Delta.Pounds(), m.OnHand, m.Version, m.Revoked))
	case m.Status != "":
		c.note(NoteInfo, fmt.Sprintf("[STATUS] Pallet %s (%s) %s: %s (%s), %s lbs on hand, v%d, %d hold(s) revoked",
			m.PalletID, m.Supplier, kind, m.Status, m.Reason, m.OnHand, m.Version, m.Revoked))
	}
	c.record(PalletAdjusted{PalletID: m.PalletID, Delta: m.Delta, Reason: m.Reason, Version: m.Version, At: m.At, Kind: kind, Status: m.Status})
}

// pullForward applies, before an operation's own event, the stashed changes
// that a pallet made before the operation reached it (lower versions), so
// the history stays in every pallet's version order.
func (c *Coordinator) pullForward(versions map[string]int64) {
	c.stash = slices.DeleteFunc(c.stash, func(in Input) bool {
		pc, ok := in.(*PalletChanged)
		if !ok || versions[pc.PalletID] == 0 || pc.Version >= versions[pc.PalletID] {
			return false
		}
		c.applyChange(pc)
		return true
	})
}

func (c *Coordinator) onTimer(id uint64) {
	t, ok := c.timers[id]
	if !ok {
		return // stopped, or already fired
	}
	delete(c.timers, id)
	switch t.kind {
	case timerRetry:
		if o := c.active[t.orderID]; o != nil && o.phase == phaseParked && o.retry == id {
			o.retry = 0
			o.to(phaseQueued)
			c.line = append([]*order{o}, c.line...)
		}
	case timerBatch:
		if b := c.batch; b != nil && b.id == t.id && b.timer == id {
			b.timer = 0
			c.onBatchTimeout()
		}
	case timerReturn:
		if op := c.ret; op != nil && op.id == t.id && op.timer == id {
			op.timer = 0
			c.onReturnTimeout()
		}
	}
}

// arm asks for a timer and returns its id.
func (c *Coordinator) arm(after time.Duration, t timer) uint64 {
	c.nextID++
	c.timers[c.nextID] = t
	c.rd.Timers = append(c.rd.Timers, Timer{ID: c.nextID, After: after})
	return c.nextID
}

// stop forgets a timer that is no longer needed.
func (c *Coordinator) stop(id uint64) {
	if _, ok := c.timers[id]; ok {
		delete(c.timers, id)
		c.rd.Stopped = append(c.rd.Stopped, id)
	}
}

// halt stops the coordinator for good: a bound was broken. Everyone still
// waiting on it is answered with the reason, since nothing more will
// happen here.
func (c *Coordinator) halt(err error) {
	c.halted = true
	c.rd.Halt = err
	for _, id := range slices.Sorted(maps.Keys(c.active)) {
		o := c.active[id]
		for _, w := range o.waiters {
			c.rd.Replies = append(c.rd.Replies, Reply{To: w, Kind: ReplyCancel, Order: o.snap, Err: err})
		}
		o.waiters = nil
	}
	for _, f := range c.flushers {
		c.rd.Replies = append(c.rd.Replies, Reply{To: f, Kind: ReplyFlushed})
	}
	c.flushers = nil
}

func (c *Coordinator) send(pallet string, m Message) {
	c.rd.Messages = append(c.rd.Messages, Envelope{Pallet: pallet, Msg: m})
}

func (c *Coordinator) record(e Event) { c.rd.Events = append(c.rd.Events, e) }

func (c *Coordinator) note(level NoteLevel, text string, attrs ...any) {
	c.rd.Notes = append(c.rd.Notes, Note{Level: level, Text: text, Attrs: attrs})
}

// publish adds an order's snapshot to the Ready; with journal, the
// journal keeps it too.
func (c *Coordinator) publish(o *order, journal bool) *OrderUpdate {
	u := OrderUpdate{Order: o.snap, Journal: journal, Was: o.journaled}
	if journal {
		o.journaled = o.snap.Status
	}
	c.rd.Orders = append(c.rd.Orders, u)
	return &c.rd.Orders[len(c.rd.Orders)-1]
}
