package actors

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/inventory"
)

// Messages only the engine sends to a coordinator.
type (
	placeOrder struct{ rec *orderRecord }
	// receivePallets hands a coordinator pallets that are already durable:
	// new receipts the engine journaled, or pallets recovered at start-up.
	receivePallets struct {
		pallets   []*inventory.Pallet
		entries   []*palletEntry
		recovered bool // from the journal at start-up: not a new event
		replyTo   *actor.PID
	}
	receivedPallets struct{ err error }
	cancelOrder     struct {
		rec     *orderRecord
		replyTo *actor.PID
	}
	cancelReply struct {
		order inventory.Order
		err   error
	}
	retryDue     struct{ id string }
	batchTimeout struct {
		batch uint64
		gen   int
	}
	returnTimeout struct{ op uint64 }
)

// orderState is a coordinator's working state for one unfinished order.
type orderState struct {
	rec       *orderRecord
	snap      inventory.Order // published through rec on every change
	missing   inventory.CentiLbs
	inBatch   bool
	queued    bool         // in c.pending
	cancelled bool         // cancel requested while in a batch
	waiters   []*actor.PID // cancel callers to answer
	parked    bool         // waiting out a retry backoff
}

type batchEntry struct {
	o       *orderState
	parts   []inventory.Part
	reason  inventory.Reason
	attempt int32
}

type batchPhase int8

const (
	phaseReserving batchPhase = iota
	phaseConfirming
)

// batchState is the one attempt in flight: orders planned together, one
// Reserve per pallet, one confirm chain.
type batchState struct {
	id          uint64
	at          time.Time
	phase       batchPhase
	entries     []batchEntry
	slots       []int // distinct slots planned, ascending = FEFO
	holds       map[int][]inventory.HoldRequest
	outstanding int
	failed      map[int]bool // slots that refused or changed since planning
	prefix      int          // entries[:prefix] go to confirm
	chain       *ConfirmChain
	timerGen    int // bumped on every arm, so a stale tick is recognised
	timer       *time.Timer
	resends     int // of the decided confirm chain
}

// returnOp gives an order's weight back: a cancel of an allocated order, or
// compensation for an order that committed part of itself and then could
// not be completed.
type returnOp struct {
	id          uint64
	replied     map[string]bool
	timer       *time.Timer
	orderID     string
	rec         *orderRecord
	pallets     []string
	outstanding int
	returned    []*ReturnReply // from pallets that gave weight back
	status      inventory.Status
	reason      inventory.Reason
	waiters     []*actor.PID
	finishSlot  bool // the order still holds an in-flight slot
	resends     int
}

// resendsMax bounds how often a decided confirm chain or a return is sent
// again. Locally a message is never lost, so one that stays unanswered
// means a pallet is gone — a bug. The engine then halts, and a restart
// recovers from the journal, which holds nothing the lost messages did.
const resendsMax = 3

// coordinator allocates one SKU. It is the serialization point of that
// SKU: it plans orders in batches on its FEFO view, reserves on pallet
// actors at the versions it planned with, and confirms the clean prefix as
// a chain in FEFO order. See docs/protocol.md.
type coordinator struct {
	eng  *Engine
	sku  string
	log  *slog.Logger
	rng  *rand.Rand
	view *inventory.View
	pids map[string]*actor.PID

	orders      map[string]*orderState // unfinished orders
	pending     []*orderState          // ready to plan, oldest first
	early       map[string]bool        // cancelled before they arrived
	batch       *batchState
	ret         *returnOp
	returnQueue []*returnOp
	stash       []any // changes that arrived while an operation was in flight
	flushers    []*actor.PID
	timers      selfTimers
	nextID      uint64
	batchLimit  int // adapts to contention: see batchSize
	entries     map[string]*palletEntry
	out         outcome // what the message being handled changed
}

func newCoordinator(eng *Engine, sku string, seed uint64) *coordinator {
	return &coordinator{
		eng:        eng,
		sku:        sku,
		log:        eng.log.With("sku", sku),
		rng:        rand.New(rand.NewPCG(seed, 0x6261636f6e)),
		view:       inventory.NewView(),
		pids:       map[string]*actor.PID{},
		entries:    map[string]*palletEntry{},
		orders:     map[string]*orderState{},
		early:      map[string]bool{},
		batchLimit: eng.cfg.BatchOrdersMax,
		out:        outcome{journaled: eng.journal != nil, index: map[*palletEntry]int{}},
	}
}

func (c *coordinator) busy() bool { return c.batch != nil || c.ret != nil }

func (c *coordinator) Receive(ctx actor.Context) {
	if c.eng.haltErr.Load() != nil {
		c.inert(ctx)
		return
	}
	defer func() {
		if r := recover(); r != nil {
			c.out.reset() // half a message is never journaled or shown
			panic(r)
		}
		c.commit(ctx) // journal what the message changed, then show it
	}()
	switch m := ctx.Message().(type) {
	case *placeOrder:
		c.accept(ctx, m.rec)
	case *ReserveReply:
		c.onReserveReply(ctx, m)
	case *ConfirmChain:
		c.onChain(ctx, m)
	case *ReturnReply:
		c.onReturnReply(ctx, m)
	case *PalletChanged:
		if c.busy() {
			if b := c.batch; b != nil && b.phase == phaseReserving {
				if i, ok := c.view.Index(m.PalletID); ok && b.holds[i] != nil {
					b.failed[i] = true
				}
			}
			c.stash = append(c.stash, m)
			return
		}
		c.applyChange(m)
	case *receivePallets:
		m.replyTo = ctx.Sender()
		if c.busy() {
			c.stash = append(c.stash, m)
			return
		}
		c.receive(ctx, m)
	case *cancelOrder:
		m.replyTo = ctx.Sender()
		c.cancel(ctx, m)
	case *retryDue:
		if o, ok := c.orders[m.id]; ok && o.parked {
			o.parked = false
			c.enqueueFront(o)
		}
	case *batchTimeout:
		c.onTimeout(ctx, m)
	case *returnTimeout:
		if op := c.ret; op != nil && op.id == m.op {
			if op.resends == resendsMax {
				c.eng.halt(fmt.Errorf("sku %s: the return of order %s went unanswered %d times", c.sku, op.orderID, resendsMax+1))
				return
			}
			op.resends++
			c.log.Warn("return replies timed out; asking again", "order", op.orderID, "resend", op.resends)
			c.sendReturns(ctx, op)
		}
	case *Flush:
		c.flushers = append(c.flushers, ctx.Sender())
	case *actor.Stopping:
		c.timers.stop()
		return
	}
	c.maybeStart(ctx)
}

// inert is a halted engine's coordinator: it does nothing more, and only
// answers what callers wait for, with the reason.
func (c *coordinator) inert(ctx actor.Context) {
	err := c.eng.Err()
	switch m := ctx.Message().(type) {
	case *cancelOrder:
		ctx.Respond(&cancelReply{order: m.rec.load(), err: fmt.Errorf("cancel order %s: %w", m.rec.load().Request.ID, err)})
	case *receivePallets:
		ctx.Respond(&receivedPallets{err: err})
	case *Flush:
		ctx.Respond(&Flushed{})
	case *actor.Stopping:
		c.timers.stop()
	}
}

// maybeStart begins the next operation when none is in flight: queued
// returns first, then a batch of pending orders.
func (c *coordinator) maybeStart(ctx actor.Context) {
	for !c.busy() {
		if len(c.stash) > 0 {
			stash := c.stash
			c.stash = nil
			for _, m := range stash {
				switch m := m.(type) {
				case *PalletChanged:
					c.applyChange(m)
				case *receivePallets:
					c.receive(ctx, m)
				}
			}
			continue
		}
		if len(c.returnQueue) > 0 {
			op := c.returnQueue[0]
			c.returnQueue = c.returnQueue[1:]
			c.startReturn(ctx, op)
			continue
		}
		if len(c.pending) > 0 {
			c.startBatch(ctx)
			continue
		}
		for _, f := range c.flushers {
			c.out.reply(f, &Flushed{}, nil)
		}
		c.flushers = nil
		return
	}
}

func (c *coordinator) accept(ctx actor.Context, rec *orderRecord) {
	snap := rec.load()
	id := snap.Request.ID
	// A recovered order keeps what it had committed: only the rest is missing.
	o := &orderState{rec: rec, snap: snap, missing: snap.Request.Amount - total(snap.Allocations)}
	c.orders[id] = o
	if c.early[id] {
		delete(c.early, id)
		c.finish(ctx, o, inventory.StatusCancelled, inventory.ReasonNone)
		return
	}
	if o.missing == 0 { // recovered holding all it asked for
		c.finish(ctx, o, inventory.StatusAllocated, inventory.ReasonNone)
		return
	}
	o.queued = true
	c.pending = append(c.pending, o)
}

// enqueueFront puts orders at the head of the line, in their order: they
// were ahead of everything still queued.
func (c *coordinator) enqueueFront(orders ...*orderState) {
	for _, o := range orders {
		o.queued = true
	}
	c.pending = append(orders, c.pending...)
}

func (c *coordinator) applyChange(m *PalletChanged) {
	c.view.Update(m.PalletID, m.OnHand, m.Version)
	c.journalChange(m.PalletID, inventory.LedgerEntry{At: m.At, Kind: inventory.LedgerAdjusted, Lbs: m.Delta, Reason: m.Reason, Version: m.Version}, m.OnHand)
	if m.Reason == inventory.ReasonChaos {
		c.eng.metrics.strikes.Add(1)
		c.log.Info(fmt.Sprintf("[CHAOS] Pallet %s (%s) %+.2f lbs -> %s lbs, v%d, %d hold(s) revoked",
			m.PalletID, m.Supplier, m.Delta.Pounds(), m.OnHand, m.Version, m.Revoked))
	}
	c.record(PalletAdjusted{PalletID: m.PalletID, Delta: m.Delta, Reason: m.Reason, Version: m.Version, At: m.At})
}

// journalChange adds a pallet's ledger line to the message's outcome and
// asserts that the journal's weight agrees with the pallet's own.
func (c *coordinator) journalChange(palletID string, e inventory.LedgerEntry, palletOnHand inventory.CentiLbs) {
	if onHand := c.out.ledger(c.entries[palletID], e); onHand != palletOnHand {
		panic(fmt.Sprintf("pallet %s: journaled %s lbs at v%d, pallet has %s", palletID, onHand, e.Version, palletOnHand))
	}
}

// receive spawns pallet actors for durable pallets and lists them.
func (c *coordinator) receive(ctx actor.Context, m *receivePallets) {
	pids := make([]*actor.PID, len(m.pallets))
	specs := make([]inventory.PalletSpec, len(m.pallets))
	for i, p := range m.pallets {
		s := p.State()
		specs[i] = s.Spec
		en := m.entries[i]
		en.state.Store(&s)
		pids[i] = ctx.Spawn(newPalletProps(p, ctx.Self(), en))
		c.pids[s.Spec.ID], c.entries[s.Spec.ID] = pids[i], en
		en.durable.Store(&s)
	}
	c.view.Insert(specs...)
	if m.recovered {
		for _, p := range m.pallets {
			s := p.State()
			c.view.Update(s.Spec.ID, s.OnHand, s.Version)
		}
	} else {
		c.record(PalletsReceived{Specs: specs})
	}
	c.eng.pallets.list(c.sku, m.entries, pids)
	c.out.reply(m.replyTo, &receivedPallets{}, nil)
}

// pullForward applies, before an operation's own event, the stashed changes
// that a pallet made before the operation reached it (lower versions), so
// the history stays in every pallet's version order.
func (c *coordinator) pullForward(versions map[string]int64) {
	c.stash = slices.DeleteFunc(c.stash, func(m any) bool {
		pc, ok := m.(*PalletChanged)
		if !ok || versions[pc.PalletID] == 0 || pc.Version >= versions[pc.PalletID] {
			return false
		}
		c.applyChange(pc)
		return true
	})
}

func (c *coordinator) record(e Event) {
	if c.eng.cfg.Recorder != nil {
		c.eng.cfg.Recorder.Record(e)
	}
}

// --- phase 1: plan and reserve ---------------------------------------------

func (c *coordinator) startBatch(ctx actor.Context) {
	now := time.Now().UTC()
	c.nextID++
	b := &batchState{id: c.nextID, at: now, holds: map[int][]inventory.HoldRequest{}, failed: map[int]bool{}}
	n := c.batchSize()
	for _, o := range c.pending[:n] {
		o.inBatch, o.queued = true, false
		o.snap.Attempts++
		if o.snap.Status == inventory.StatusQueued {
			o.snap.Status = inventory.StatusAllocating
		}
		c.out.publish(o.rec, o.snap, false)
		e := batchEntry{o: o, attempt: int32(o.snap.Attempts)}
		cutoff := inventory.ShelfLifeCutoff(now, o.snap.Request.MinShelfLifeDays)
		e.parts, e.reason = c.view.Plan(o.missing, cutoff, nil)
		for _, p := range e.parts {
			if b.holds[p.Slot] == nil {
				b.slots = append(b.slots, p.Slot)
			}
			b.holds[p.Slot] = append(b.holds[p.Slot], inventory.HoldRequest{Key: inventory.HoldKey{Order: o.snap.Request.ID, Attempt: e.attempt}, Lbs: p.Lbs})
		}
		b.entries = append(b.entries, e)
	}
	c.pending = slices.Delete(c.pending, 0, n)
	c.view.ResetPlan()
	slices.Sort(b.slots)
	c.batch = b
	if len(b.slots) == 0 {
		b.prefix = len(b.entries)
		c.resolve(ctx, nil)
		return
	}
	if hook := c.eng.hooks.beforeReserve; hook != nil {
		ids := make([]string, len(b.slots))
		for i, slot := range b.slots {
			ids[i] = c.view.At(slot).Spec.ID
		}
		hook(ids)
	}
	deadline := now.Add(c.eng.cfg.HoldTimeout)
	for _, slot := range b.slots {
		s := c.view.At(slot)
		ctx.Request(c.pids[s.Spec.ID], &Reserve{Batch: b.id, ExpectedVersion: s.Version, Holds: b.holds[slot], Deadline: deadline})
	}
	b.outstanding = len(b.slots)
	c.armTimeout(ctx, b)
}

// batchSize is how many orders at the head of the line the next batch
// plans. Contention is physical: strikes land on the head of the FEFO line,
// where the first orders of every batch are, and a batch's window between
// planning and confirming grows with its size. So an order that was
// refused before is planned alone (its window is then the smallest there
// is), orders that were refused never ride behind others, and the batch
// limit halves after a cut and doubles after a clean batch.
func (c *coordinator) batchSize() int {
	if c.pending[0].snap.Conflicts > 0 {
		return 1
	}
	n := min(len(c.pending), c.batchLimit)
	for i, o := range c.pending[1:n] {
		if o.snap.Conflicts > 0 {
			return i + 1
		}
	}
	return n
}

func (c *coordinator) onReserveReply(ctx actor.Context, m *ReserveReply) {
	b := c.batch
	if b == nil || b.id != m.Batch || b.phase != phaseReserving {
		return // a late reply to an abandoned attempt; its holds were released
	}
	slot, _ := c.view.Index(m.PalletID)
	if m.Refusal != RefusalNone {
		b.failed[slot] = true
		c.alert(m.PalletID, m.Refusal, c.view.At(slot).Version, m.Version)
	}
	b.outstanding--
	if b.outstanding == 0 {
		c.afterReserve(ctx)
	}
}

// afterReserve commits the longest prefix of the batch whose holds were all
// granted on pallets unchanged since planning: that prefix is exactly what
// a sequential run would have done. Everything after it is planned again.
func (c *coordinator) afterReserve(ctx actor.Context) {
	b := c.batch
	b.prefix = len(b.entries)
	for i, e := range b.entries {
		if e.touches(b.failed) {
			b.prefix = i
			break
		}
	}
	keys := map[int][]inventory.HoldKey{}
	for _, e := range b.entries[:b.prefix] {
		for _, p := range e.parts {
			keys[p.Slot] = append(keys[p.Slot], inventory.HoldKey{Order: e.o.snap.Request.ID, Attempt: e.attempt})
		}
	}
	b.chain = &ConfirmChain{Batch: b.id, At: b.at, ReplyTo: ctx.Self()}
	for _, slot := range b.slots {
		if k := keys[slot]; k != nil {
			id := c.view.At(slot).Spec.ID
			b.chain.Links = append(b.chain.Links, ConfirmLink{Pallet: c.pids[id], PalletID: id, Keys: k})
		}
	}
	if len(b.chain.Links) == 0 {
		c.resolve(ctx, b.chain)
		return
	}
	b.phase = phaseConfirming
	if hook := c.eng.hooks.beforeConfirm; hook != nil {
		ids := make([]string, len(b.chain.Links))
		for i, l := range b.chain.Links {
			ids[i] = l.PalletID
		}
		hook(ids)
	}
	ctx.Send(b.chain.Links[0].Pallet, b.chain)
	c.armTimeout(ctx, b)
}

func (e *batchEntry) touches(slots map[int]bool) bool {
	for _, p := range e.parts {
		if slots[p.Slot] {
			return true
		}
	}
	return false
}

// --- phase 2: the confirm chain comes back ----------------------------------

func (c *coordinator) onChain(ctx actor.Context, m *ConfirmChain) {
	b := c.batch
	if b == nil || m != b.chain || b.phase != phaseConfirming {
		return
	}
	c.resolve(ctx, m)
}

// resolve settles a batch from its chain's results: links before the first
// refusal committed, the rest did not. Orders wholly committed are
// allocated; an order cut by the refusal keeps its committed FEFO prefix and
// plans only the missing part next; the others plan again.
func (c *coordinator) resolve(ctx actor.Context, chain *ConfirmChain) {
	b := c.batch
	if b.timer != nil {
		c.timers.cancel(b.timer)
	}
	committed := map[int]bool{}
	step := AllocationStep{At: b.at, Versions: map[string]int64{}}
	if chain != nil {
		for _, r := range chain.Results {
			slot, _ := c.view.Index(r.PalletID)
			if r.Refusal != RefusalNone {
				b.failed[slot] = true
				c.alert(r.PalletID, r.Refusal, c.view.At(slot).Version, r.Version)
				break
			}
			committed[slot] = true
			step.Versions[r.PalletID] = r.Version
			if !r.Repeated { // a repeated confirm does not know the weight at its version
				c.view.Update(r.PalletID, r.OnHand, r.Version)
			}
		}
	}
	var (
		again   []*orderState // plan again, before anything newer
		endings []ending      // applied after the step is recorded
		clean   = true        // every earlier entry committed in full
	)
	for i, e := range b.entries {
		o := e.o
		o.inBatch = false
		if i >= b.prefix {
			clean = false
			again = c.retryOrPark(ctx, o, e.touches(b.failed), again)
			continue
		}
		if e.reason != inventory.ReasonNone {
			if !clean {
				again = c.retryOrPark(ctx, o, false, again)
				continue
			}
			step.Rejections = append(step.Rejections, OrderRejection{OrderID: o.snap.Request.ID, Reason: e.reason})
			endings = append(endings, ending{o: o, status: inventory.StatusRejected, reason: e.reason})
			continue
		}
		done := e.parts
		for i, p := range e.parts { // parts are in slot (FEFO) order: the committed ones lead
			if !committed[p.Slot] {
				done = e.parts[:i]
				break
			}
		}
		if len(done) > 0 {
			take := OrderTake{OrderID: o.snap.Request.ID, Takes: make([]PalletLbs, len(done))}
			for i, p := range done {
				take.Takes[i] = PalletLbs{PalletID: c.view.At(p.Slot).Spec.ID, Lbs: p.Lbs}
			}
			step.Takes = append(step.Takes, take)
			c.allocate(o, done)
		}
		if len(done) == len(e.parts) {
			endings = append(endings, ending{o: o, status: inventory.StatusAllocated})
			continue
		}
		clean = false
		again = c.retryOrPark(ctx, o, e.touches(b.failed), again)
	}
	if len(step.Takes) > 0 || len(step.Rejections) > 0 {
		c.pullForward(step.Versions)
		if c.sku != "" { // the unstocked coordinator's rejections are no SKU's history
			c.record(step)
		}
		for _, t := range step.Takes {
			for _, p := range t.Takes {
				c.out.ledger(c.entries[p.PalletID], inventory.LedgerEntry{At: step.At, Kind: inventory.LedgerAllocated, Lbs: -p.Lbs, OrderID: t.OrderID, Version: step.Versions[p.PalletID]})
			}
		}
	}
	for _, end := range endings {
		switch {
		case end.status == inventory.StatusRejected:
			c.reject(ctx, end.o, end.reason)
		case end.o.cancelled:
			c.queueReturn(end.o, inventory.StatusCancelled, inventory.ReasonNone)
		default:
			c.finish(ctx, end.o, inventory.StatusAllocated, inventory.ReasonNone)
		}
	}
	// Release every hold that did not commit; pallets ignore unknown keys.
	for _, slot := range b.slots {
		if committed[slot] {
			continue
		}
		var keys []inventory.HoldKey
		for _, h := range b.holds[slot] {
			keys = append(keys, h.Key)
		}
		ctx.Send(c.pids[c.view.At(slot).Spec.ID], &Release{Keys: keys})
	}
	for _, slot := range b.slots {
		if !committed[slot] {
			continue
		}
		var keys []inventory.HoldKey
		for _, e := range b.entries[b.prefix:] {
			for _, p := range e.parts {
				if p.Slot == slot {
					keys = append(keys, inventory.HoldKey{Order: e.o.snap.Request.ID, Attempt: e.attempt})
				}
			}
		}
		if keys != nil {
			ctx.Send(c.pids[c.view.At(slot).Spec.ID], &Release{Keys: keys})
		}
	}
	if len(b.failed) > 0 {
		c.batchLimit = max(1, c.batchLimit/2)
	} else {
		c.batchLimit = min(c.eng.cfg.BatchOrdersMax, 2*c.batchLimit)
	}
	c.enqueueFront(again...)
	c.batch = nil
}

// ending is how a batch entry ends, applied once its step is recorded.
type ending struct {
	o      *orderState
	status inventory.Status
	reason inventory.Reason
}

// retryOrPark puts an order that did not complete back in line. Only an
// order whose own reservation was refused (or whose planned pallet changed)
// is charged a conflict: it backs off with jitter, and past
// RetryAttemptsMax conflicts it is rejected for contention. An order cut
// only because an order ahead of it conflicted plans again at once,
// uncharged: every cut charges the first order it cuts, so the re-plans an
// order can suffer are bounded by the conflicts the orders ahead of it may
// have.
func (c *coordinator) retryOrPark(ctx actor.Context, o *orderState, conflicted bool, again []*orderState) []*orderState {
	if o.cancelled {
		c.settleCancelled(ctx, o)
		return again
	}
	if !conflicted {
		return append(again, o)
	}
	o.snap.Conflicts++
	c.out.publish(o.rec, o.snap, false)
	if o.snap.Conflicts > c.eng.cfg.RetryAttemptsMax {
		c.reject(ctx, o, inventory.ReasonContention)
		return again
	}
	d := c.backoff(o.snap.Conflicts)
	c.log.Debug("order retrying after conflict", "order", o.snap.Request.ID,
		"conflicts", o.snap.Conflicts, "max", c.eng.cfg.RetryAttemptsMax, "backoff", d)
	c.eng.metrics.retries.Add(1)
	o.parked = true
	c.timers.after(ctx, d, &retryDue{id: o.snap.Request.ID})
	return again
}

// backoff is exponential in the number of conflicts, capped, with full
// jitter over its upper half so that colliding orders spread out.
func (c *coordinator) backoff(conflicts int) time.Duration {
	d := c.eng.cfg.RetryBackoffBase << min(conflicts-1, 20)
	d = min(d, c.eng.cfg.RetryBackoffMax)
	return d/2 + time.Duration(c.rng.Int64N(int64(d/2)+1))
}

func (c *coordinator) alert(palletID string, r Refusal, planned, now int64) {
	c.log.Warn(fmt.Sprintf("[ALERT] Concurrency conflict on pallet %s: %s (planned v%d, now v%d); aborting attempt", palletID, r, planned, now))
	c.eng.metrics.conflicts.Add(1)
}

func (c *coordinator) armTimeout(ctx actor.Context, b *batchState) {
	if b.timer != nil {
		c.timers.cancel(b.timer)
	}
	b.timerGen++
	b.timer = c.timers.after(ctx, c.eng.cfg.ReplyTimeout, &batchTimeout{batch: b.id, gen: b.timerGen})
}

// onTimeout handles a batch whose replies did not come back in time. Local
// delivery never loses a message, so this is the remote-ready safety net:
// missing reserve replies count as refusals (their holds are released), and
// a lost confirm chain is sent again — confirms are idempotent per hold.
func (c *coordinator) onTimeout(ctx actor.Context, m *batchTimeout) {
	b := c.batch
	if b == nil || b.id != m.batch || b.timerGen != m.gen {
		return
	}
	c.log.Warn("batch replies timed out", "batch", b.id, "phase", b.phase)
	switch b.phase {
	case phaseReserving:
		for _, slot := range b.slots {
			b.failed[slot] = true // conservative: any of them may be missing
		}
		c.afterReserve(ctx)
	case phaseConfirming:
		// Confirms are idempotent, so the decided chain is sent again, like
		// any 2PC coordinator's decision — a bounded number of times.
		if b.resends == resendsMax {
			c.eng.halt(fmt.Errorf("sku %s: the confirm chain of batch %d went unanswered %d times", c.sku, b.id, resendsMax+1))
			return
		}
		b.resends++
		c.log.Error("confirm chain lost; sending it again", "batch", b.id, "resend", b.resends)
		b.chain = &ConfirmChain{Batch: b.id, At: b.chain.At, Links: b.chain.Links, ReplyTo: ctx.Self()}
		ctx.Send(b.chain.Links[0].Pallet, b.chain)
		c.armTimeout(ctx, b)
	}
}

// --- finishing, cancelling, returning ----------------------------------------

// allocate adds an order's committed parts to its allocations, in a new
// slice (published snapshots share the old one). Parts arrive in FEFO
// order, so only a repair merging into earlier allocations needs a sort.
func (c *coordinator) allocate(o *orderState, parts []inventory.Part) {
	prior := len(o.snap.Allocations)
	allocs := make([]inventory.Allocation, prior, prior+len(parts))
	copy(allocs, o.snap.Allocations)
	for _, p := range parts {
		s := c.view.At(p.Slot)
		o.missing -= p.Lbs
		if i := slices.IndexFunc(allocs, func(a inventory.Allocation) bool { return a.PalletID == s.Spec.ID }); i >= 0 {
			allocs[i].Lbs += p.Lbs
			continue
		}
		allocs = append(allocs, inventory.Allocation{PalletID: s.Spec.ID, Lot: s.Spec.Lot, Supplier: s.Spec.Supplier, Lbs: p.Lbs, Expires: s.Spec.Expires})
	}
	if prior > 0 {
		slices.SortStableFunc(allocs, func(a, b inventory.Allocation) int {
			ia, _ := c.view.Index(a.PalletID)
			ib, _ := c.view.Index(b.PalletID)
			return ia - ib
		})
	}
	o.snap.Allocations = allocs
}

// reject ends an order as rejected. If it had already committed part of
// itself, that part goes back first (compensation), so it ends holding
// nothing.
func (c *coordinator) reject(ctx actor.Context, o *orderState, reason inventory.Reason) {
	if len(o.snap.Allocations) > 0 {
		c.queueReturn(o, inventory.StatusRejected, reason)
		return
	}
	c.finish(ctx, o, inventory.StatusRejected, reason)
}

func (c *coordinator) settleCancelled(ctx actor.Context, o *orderState) {
	if len(o.snap.Allocations) > 0 {
		c.queueReturn(o, inventory.StatusCancelled, inventory.ReasonNone)
		return
	}
	c.finish(ctx, o, inventory.StatusCancelled, inventory.ReasonNone)
}

// finish publishes a terminal state, answers cancel callers and frees the
// order's in-flight slot.
func (c *coordinator) finish(ctx actor.Context, o *orderState, status inventory.Status, reason inventory.Reason) {
	id := o.snap.Request.ID
	o.snap.Status, o.snap.Reason = status, reason
	o.snap.CompletedAt = time.Now().UTC()
	if status != inventory.StatusAllocated {
		o.snap.Allocations = nil
	}
	c.retire(o)
	c.record(OrderFinished{OrderID: id, Status: status, Reason: reason})
	c.out.publish(o.rec, o.snap, true).finished = true
	for _, w := range o.waiters {
		reply := cancelReply{order: o.snap}
		if status != inventory.StatusCancelled {
			reply.err = fmt.Errorf("cancel order %s: it ended %s: %w", id, status, ErrNotCancellable)
		}
		c.out.reply(w, &reply, cancelFailed(id))
	}
}

// cancelFailed answers a cancel whose outcome the journal refused.
func cancelFailed(id string) func(error) any {
	return func(err error) any { return &cancelReply{err: fmt.Errorf("cancel order %s: %w", id, err)} }
}

func (c *coordinator) queueReturn(o *orderState, status inventory.Status, reason inventory.Reason) {
	c.nextID++
	op := &returnOp{id: c.nextID, orderID: o.snap.Request.ID, rec: o.rec, status: status, reason: reason, waiters: o.waiters, finishSlot: true}
	for _, a := range o.snap.Allocations {
		op.pallets = append(op.pallets, a.PalletID)
	}
	o.waiters = nil
	c.retire(o)
	c.returnQueue = append(c.returnQueue, op)
}

// retire forgets an order that will plan no more: it leaves the unfinished
// set and the line, and a parked retry finds nothing when it fires.
func (c *coordinator) retire(o *orderState) {
	delete(c.orders, o.snap.Request.ID)
	if o.queued { // only an order cancelled while waiting in line is in it
		o.queued = false
		c.pending = slices.DeleteFunc(c.pending, func(p *orderState) bool { return p == o })
	}
}

func (c *coordinator) cancel(ctx actor.Context, m *cancelOrder) {
	snap := m.rec.load()
	id := snap.Request.ID
	o, active := c.orders[id]
	switch {
	case active && o.inBatch:
		o.cancelled = true
		o.waiters = append(o.waiters, m.replyTo)
	case active:
		o.waiters = append(o.waiters, m.replyTo)
		o.parked = false
		c.settleCancelled(ctx, o)
	case snap.Status == inventory.StatusQueued:
		// Still on its way from the intake: it is cancelled now, and dropped
		// when it arrives (its in-flight slot is freed then).
		snap.Status, snap.CompletedAt = inventory.StatusCancelled, time.Now().UTC()
		c.out.publish(m.rec, snap, true)
		c.early[id] = true
		c.out.reply(m.replyTo, &cancelReply{order: snap}, cancelFailed(id))
	case c.returning(id) != nil:
		op := c.returning(id)
		if op.status == inventory.StatusCancelled {
			op.waiters = append(op.waiters, m.replyTo)
		} else { // compensation: it will end rejected
			ctx.Send(m.replyTo, &cancelReply{order: snap, err: fmt.Errorf("cancel order %s: it is being rejected: %w", id, ErrNotCancellable)})
		}
	case snap.Status == inventory.StatusAllocated:
		c.nextID++
		op := &returnOp{id: c.nextID, orderID: id, rec: m.rec, status: inventory.StatusCancelled, waiters: []*actor.PID{m.replyTo}}
		for _, a := range snap.Allocations {
			op.pallets = append(op.pallets, a.PalletID)
		}
		c.returnQueue = append(c.returnQueue, op)
	default:
		ctx.Send(m.replyTo, &cancelReply{order: snap, err: fmt.Errorf("cancel order %s: it is %s: %w", id, snap.Status, ErrNotCancellable)})
	}
}

// returning finds the return under way or queued for an order.
func (c *coordinator) returning(id string) *returnOp {
	if c.ret != nil && c.ret.orderID == id {
		return c.ret
	}
	if i := slices.IndexFunc(c.returnQueue, func(op *returnOp) bool { return op.orderID == id }); i >= 0 {
		return c.returnQueue[i]
	}
	return nil
}

func (c *coordinator) startReturn(ctx actor.Context, op *returnOp) {
	c.ret = op
	op.replied = map[string]bool{}
	op.outstanding = len(op.pallets)
	if op.outstanding == 0 {
		c.endReturn(ctx)
		return
	}
	c.sendReturns(ctx, op)
}

// sendReturns asks every pallet that has not answered to give the order's
// weight back, and arms a timeout to ask again (a bounded number of
// times): a return is idempotent, a second one gives nothing.
func (c *coordinator) sendReturns(ctx actor.Context, op *returnOp) {
	now := time.Now().UTC()
	for _, id := range op.pallets {
		if !op.replied[id] {
			ctx.Request(c.pids[id], &ReturnOrder{Op: op.id, OrderID: op.orderID, At: now})
		}
	}
	op.timer = c.timers.after(ctx, c.eng.cfg.ReplyTimeout, &returnTimeout{op: op.id})
}

func (c *coordinator) onReturnReply(ctx actor.Context, m *ReturnReply) {
	op := c.ret
	if op == nil || op.id != m.Op || op.replied[m.PalletID] {
		return
	}
	op.replied[m.PalletID] = true
	if m.Lbs > 0 {
		op.returned = append(op.returned, m)
		c.view.Update(m.PalletID, m.OnHand, m.Version)
	}
	op.outstanding--
	if op.outstanding == 0 {
		c.endReturn(ctx)
	}
}

func (c *coordinator) endReturn(ctx actor.Context) {
	op := c.ret
	c.ret = nil
	if op.timer != nil {
		c.timers.cancel(op.timer)
	}
	if len(op.returned) > 0 {
		ev := OrderReturned{OrderID: op.orderID, Versions: map[string]int64{}, At: time.Now().UTC()}
		for _, r := range op.returned {
			ev.Returns = append(ev.Returns, PalletLbs{PalletID: r.PalletID, Lbs: r.Lbs})
			ev.Versions[r.PalletID] = r.Version
		}
		c.pullForward(ev.Versions)
		c.record(ev)
		for _, r := range op.returned {
			c.journalChange(r.PalletID, inventory.LedgerEntry{At: r.At, Kind: inventory.LedgerReturned, Lbs: r.Lbs, OrderID: op.orderID, Version: r.Version}, r.OnHand)
		}
	}
	o := &orderState{rec: op.rec, snap: op.rec.load(), waiters: op.waiters}
	if !op.finishSlot {
		// Already terminal (allocated): publish the cancel without counting
		// the order as finishing twice.
		o.snap.Status, o.snap.Reason, o.snap.Allocations = op.status, op.reason, nil
		o.snap.CompletedAt = time.Now().UTC()
		c.record(OrderFinished{OrderID: op.orderID, Status: op.status, Reason: op.reason})
		c.out.publish(o.rec, o.snap, true).cancelledAfter = true
		for _, w := range o.waiters {
			c.out.reply(w, &cancelReply{order: o.snap}, cancelFailed(op.orderID))
		}
		return
	}
	c.orders[op.orderID] = o
	c.finish(ctx, o, op.status, op.reason)
}
