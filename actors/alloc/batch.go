package alloc

import (
	"fmt"
	"slices"
	"time"

	"github.com/baconator/baconator/inventory"
)

// batch is the one attempt in flight: orders planned together, one Reserve
// per pallet, one confirm chain.
type batch struct {
	id          uint64
	at          time.Time
	confirming  bool
	entries     []entry
	slots       []slotFacts // ascending slot index: FEFO order
	bySlot      map[int]int // slot index → position in slots
	outstanding int         // reserve replies still to come
	prefix      int         // entries[:prefix] go to confirm
	links       []ConfirmLink
	sends       int // of the confirm chain; a resend is a new send
	timer       uint64
}

// entry is one order's place in a batch.
type entry struct {
	o       *order
	parts   []inventory.Part // FEFO order
	reason  inventory.Reason // why it cannot be met, if it cannot
	attempt int32
}

func (e *entry) key() inventory.HoldKey {
	return inventory.HoldKey{Order: e.o.id(), Attempt: e.attempt}
}

// slotFacts is everything a batch knows about one pallet it planned on.
type slotFacts struct {
	slot      int
	holds     []inventory.HoldRequest
	replied   bool // its reserve was answered
	failed    bool // refused, or changed since planning
	committed bool // its confirm link committed
}

// facts returns what the batch knows of a slot it planned on, or nil.
func (b *batch) facts(slot int) *slotFacts {
	i, ok := b.bySlot[slot]
	if !ok {
		return nil
	}
	return &b.slots[i]
}

// touchesFailed reports whether e planned on a pallet that failed.
func (b *batch) touchesFailed(e *entry) bool {
	for _, p := range e.parts {
		if b.facts(p.Slot).failed {
			return true
		}
	}
	return false
}

// batchSize is how many orders at the head of the line the next batch
// plans. Contention is physical: strikes land on the head of the FEFO line,
// where the first orders of every batch are, and a batch's window between
// planning and confirming grows with its size. So an order that was
// refused before is planned alone (its window is then the smallest there
// is), orders that were refused never ride behind others, and the batch
// limit halves after a cut and doubles after a clean batch.
func (c *Coordinator) batchSize() int {
	if c.line[0].snap.Conflicts > 0 {
		return 1
	}
	n := min(len(c.line), c.batchLimit)
	for i, o := range c.line[1:n] {
		if o.snap.Conflicts > 0 {
			return i + 1
		}
	}
	return n
}

// startBatch plans the head of the line one order after another on the
// FEFO view — each seeing what the earlier ones took, exactly as a
// sequential run — and sends one Reserve per pallet (phase 1).
func (c *Coordinator) startBatch() {
	c.nextID++
	b := &batch{id: c.nextID, at: c.now, bySlot: map[int]int{}}
	n := c.batchSize()
	for _, o := range c.line[:n] {
		o.to(phasePlanned)
		o.snap.Attempts++
		if o.snap.Status == inventory.StatusQueued {
			o.snap.Status = inventory.StatusAllocating
		}
		c.publish(o, false)
		e := entry{o: o, attempt: int32(o.snap.Attempts)}
		cutoff := inventory.ShelfLifeCutoff(c.now, o.snap.Request.MinShelfLifeDays)
		e.parts, e.reason = c.view.Plan(o.missing, cutoff, nil)
		if e.reason != inventory.ReasonNone && c.cfg.SKU == "" {
			e.reason = inventory.ReasonNoEligibleStock // a SKU never received
		}
		for _, p := range e.parts {
			i, ok := b.bySlot[p.Slot]
			if !ok {
				i = len(b.slots)
				b.bySlot[p.Slot] = i
				b.slots = append(b.slots, slotFacts{slot: p.Slot})
			}
			b.slots[i].holds = append(b.slots[i].holds, inventory.HoldRequest{Key: e.key(), Lbs: p.Lbs})
		}
		b.entries = append(b.entries, e)
	}
	c.line = slices.Delete(c.line, 0, n)
	c.view.ResetPlan()
	slices.SortFunc(b.slots, func(x, y slotFacts) int { return x.slot - y.slot })
	for i := range b.slots {
		b.bySlot[b.slots[i].slot] = i
	}
	c.batch = b
	if len(b.slots) == 0 {
		b.prefix = len(b.entries)
		c.resolve(nil)
		return
	}
	deadline := c.now.Add(c.cfg.HoldTimeout)
	for i := range b.slots {
		f := &b.slots[i]
		s := c.view.At(f.slot)
		c.send(s.Spec.ID, &Reserve{Batch: b.id, ExpectedVersion: s.Version, Holds: f.holds, Deadline: deadline})
	}
	b.outstanding = len(b.slots)
	c.armBatch(b)
}

func (c *Coordinator) armBatch(b *batch) {
	if b.timer != 0 {
		c.stop(b.timer)
	}
	b.timer = c.arm(c.cfg.ReplyTimeout, timer{kind: timerBatch, id: b.id})
}

func (c *Coordinator) onReserveReply(m *ReserveReply) {
	b := c.batch
	if b == nil || b.id != m.Batch || b.confirming {
		return // a late reply to an abandoned attempt; its holds were released
	}
	slot, _ := c.view.Index(m.PalletID)
	f := b.facts(slot)
	if f == nil || f.replied {
		return // a copy of a reply already counted
	}
	f.replied = true
	if m.Refusal != RefusalNone {
		f.failed = true
		c.alert(m.PalletID, m.Refusal, c.view.At(slot).Version, m.Version)
	}
	b.outstanding--
	if b.outstanding == 0 {
		c.afterReserve()
	}
}

// afterReserve confirms the longest prefix of the batch whose holds were
// all granted on pallets unchanged since planning: that prefix is exactly
// what a sequential run would have done. Everything after it plans again.
func (c *Coordinator) afterReserve() {
	b := c.batch
	b.prefix = len(b.entries)
	for i := range b.entries {
		if b.touchesFailed(&b.entries[i]) {
			b.prefix = i
			break
		}
	}
	keys := map[int][]inventory.HoldKey{}
	for i := range b.entries[:b.prefix] {
		e := &b.entries[i]
		for _, p := range e.parts {
			keys[p.Slot] = append(keys[p.Slot], e.key())
		}
	}
	for i := range b.slots {
		f := &b.slots[i]
		if k := keys[f.slot]; k != nil {
			b.links = append(b.links, ConfirmLink{PalletID: c.view.At(f.slot).Spec.ID, Keys: k})
		}
	}
	if len(b.links) == 0 {
		c.resolve(nil)
		return
	}
	b.confirming = true
	c.sendChain(b)
}

// sendChain sends (or sends again) the decided confirm chain to its first
// pallet, with links of its own: the network may fill in their addresses.
func (c *Coordinator) sendChain(b *batch) {
	b.sends++
	c.send(b.links[0].PalletID, &ConfirmChain{Batch: b.id, Send: b.sends, At: b.at, Links: slices.Clone(b.links)})
	c.armBatch(b)
}

func (c *Coordinator) onChain(m *ConfirmChain) {
	b := c.batch
	if b == nil || b.id != m.Batch || !b.confirming {
		return // a late copy of a chain already resolved
	}
	c.resolve(m.Results)
}

// onBatchTimeout handles a batch whose replies did not come back in time.
// Local delivery never loses a message, so this is the remote-ready safety
// net: missing reserve replies count as refusals (their holds are
// released), and a lost confirm chain is sent again — confirms are
// idempotent per hold — a bounded number of times, like any two-phase
// commit coordinator whose decision is made; past the bound it halts.
func (c *Coordinator) onBatchTimeout() {
	b := c.batch
	c.note(NoteWarn, "batch replies timed out", "batch", b.id, "confirming", b.confirming)
	if !b.confirming {
		for i := range b.slots {
			if f := &b.slots[i]; !f.replied {
				f.failed = true
			}
		}
		c.afterReserve()
		return
	}
	if b.sends > c.cfg.ResendsMax {
		c.halt(fmt.Errorf("sku %s: the confirm chain of batch %d went unanswered %d times", c.cfg.SKU, b.id, b.sends))
		return
	}
	c.note(NoteError, "confirm chain lost; sending it again", "batch", b.id, "send", b.sends+1)
	c.sendChain(b)
}

// resolve settles a batch from its chain's results: links before the first
// refusal committed, the rest did not. Orders wholly committed are
// allocated; an order cut by the refusal keeps its committed FEFO prefix
// and plans only the missing part next; the others plan again.
func (c *Coordinator) resolve(results []ConfirmResult) {
	b := c.batch
	c.stop(b.timer)
	step := c.committed(b, results)
	again, endings := c.settle(b, &step)
	if len(step.Turns) > 0 {
		c.commit(step)
	}
	for _, end := range endings {
		c.end(end)
	}
	c.releaseUncommitted(b)
	c.adapt(b)
	c.line = append(again, c.line...)
	c.batch = nil
}

// committed marks the links of a chain that committed — every one before
// the first refusal — and starts the step they make.
func (c *Coordinator) committed(b *batch, results []ConfirmResult) AllocationStep {
	step := AllocationStep{At: b.at, Versions: map[string]int64{}}
	for _, r := range results {
		slot, _ := c.view.Index(r.PalletID)
		f := b.facts(slot)
		if r.Refusal != RefusalNone {
			f.failed = true
			c.alert(r.PalletID, r.Refusal, c.view.At(slot).Version, r.Version)
			break
		}
		f.committed = true
		step.Versions[r.PalletID] = r.Version
	}
	return step
}

// settle decides each entry's fate, in batch order: the turns of the step
// (takes and rejections), the endings to apply once it is recorded, and
// the orders to plan again, ahead of anything newer. A rejection counts
// only while every earlier entry committed in full: otherwise the stock it
// saw may not be what a sequential run would have left it.
func (c *Coordinator) settle(b *batch, step *AllocationStep) (again []*order, endings []ending) {
	clean := true // every earlier entry committed in full
	for i := range b.entries {
		e := &b.entries[i]
		o := e.o
		switch {
		case i >= b.prefix:
			clean = false
			again = c.retryOrPark(o, b.touchesFailed(e), again)
		case e.reason != inventory.ReasonNone && !clean:
			again = c.retryOrPark(o, false, again)
		case e.reason != inventory.ReasonNone:
			step.Turns = append(step.Turns, Turn{OrderID: o.id(), Reason: e.reason})
			endings = append(endings, ending{o: o, status: inventory.StatusRejected, reason: e.reason})
		default:
			done := e.parts
			for j, p := range e.parts { // parts are in FEFO order: the committed ones lead
				if !b.facts(p.Slot).committed {
					done = e.parts[:j]
					break
				}
			}
			if len(done) > 0 {
				take := Turn{OrderID: o.id(), Takes: make([]PalletLbs, len(done))}
				for j, p := range done {
					take.Takes[j] = PalletLbs{PalletID: c.view.At(p.Slot).Spec.ID, Lbs: p.Lbs}
				}
				step.Turns = append(step.Turns, take)
				c.allocate(o, done)
			}
			if len(done) == len(e.parts) {
				endings = append(endings, ending{o: o, status: inventory.StatusAllocated})
				continue
			}
			if len(done) > 0 {
				// It holds weight now: the journal keeps what, with the
				// ledger lines, so recovery reads it from the order alone.
				c.publish(o, true)
			}
			clean = false
			again = c.retryOrPark(o, b.touchesFailed(e), again)
		}
	}
	return again, endings
}

// commit records a step in the SKU's history — after the stashed changes
// its pallets made before it — and journals its ledger lines.
func (c *Coordinator) commit(step AllocationStep) {
	c.pullForward(step.Versions)
	if c.cfg.SKU != "" { // the unstocked coordinator's rejections are no SKU's history
		c.record(step)
	}
	for _, t := range step.Turns {
		for _, p := range t.Takes {
			c.books.write(&c.rd, p.PalletID, inventory.LedgerEntry{At: step.At, Kind: inventory.LedgerAllocated, Lbs: -p.Lbs, OrderID: t.OrderID, Version: step.Versions[p.PalletID]})
		}
	}
	// The view learns each pallet's weight at the step's version from the
	// books: a repeated confirm (a resent chain) reports the version it
	// committed at, but only the pallet's weight now.
	for id, v := range step.Versions {
		c.view.Update(id, c.books.m[id].state.OnHand, v)
	}
}

// ending is how a batch entry ends, applied once its step is recorded.
type ending struct {
	o      *order
	status inventory.Status
	reason inventory.Reason
}

func (c *Coordinator) end(e ending) {
	switch {
	case e.status == inventory.StatusRejected:
		c.reject(e.o, e.reason)
	case e.o.cancel:
		// It holds all it asked for and goes back: the journal keeps what
		// it holds, with the ledger lines, until its return is done.
		c.publish(e.o, true)
		c.queueReturn(e.o, inventory.StatusCancelled, inventory.ReasonNone)
	default:
		c.finish(e.o, inventory.StatusAllocated, inventory.ReasonNone)
	}
}

// releaseUncommitted releases every hold of the batch that did not commit:
// all holds on pallets whose link did not commit, and on committed pallets
// the holds of orders that were not in the chain. Pallets ignore unknown
// keys.
func (c *Coordinator) releaseUncommitted(b *batch) {
	for i := range b.slots {
		f := &b.slots[i]
		var keys []inventory.HoldKey
		if !f.committed {
			for _, h := range f.holds {
				keys = append(keys, h.Key)
			}
		} else {
			for i := range b.entries[b.prefix:] {
				e := &b.entries[b.prefix+i]
				for _, p := range e.parts {
					if p.Slot == f.slot {
						keys = append(keys, e.key())
					}
				}
			}
		}
		if keys != nil {
			c.send(c.view.At(f.slot).Spec.ID, &Release{Keys: keys})
		}
	}
}

// adapt halves the batch limit after a batch that was cut and doubles it
// after a clean one.
func (c *Coordinator) adapt(b *batch) {
	for i := range b.slots {
		if b.slots[i].failed {
			c.batchLimit = max(1, c.batchLimit/2)
			return
		}
	}
	c.batchLimit = min(c.cfg.BatchOrdersMax, 2*c.batchLimit)
}

// retryOrPark puts an order that did not complete back in line. Only an
// order whose own reservation was refused (or whose planned pallet changed)
// is charged a conflict: it backs off with jitter, and past
// RetryAttemptsMax conflicts it is rejected for contention. An order cut
// only because an order ahead of it conflicted plans again at once,
// uncharged: every cut charges the first order it cuts, so the re-plans an
// order can suffer are bounded by the conflicts the orders ahead of it may
// have.
func (c *Coordinator) retryOrPark(o *order, conflicted bool, again []*order) []*order {
	if o.cancel {
		c.settleCancelled(o)
		return again
	}
	if !conflicted {
		o.to(phaseQueued)
		return append(again, o)
	}
	o.snap.Conflicts++
	c.publish(o, false)
	if o.snap.Conflicts > c.cfg.RetryAttemptsMax {
		c.reject(o, inventory.ReasonContention)
		return again
	}
	d := c.backoff(o.snap.Conflicts)
	c.note(NoteDebug, "order retrying after conflict", "order", o.id(), "conflicts", o.snap.Conflicts, "max", c.cfg.RetryAttemptsMax, "backoff", d)
	c.rd.Counters.Retries++
	o.to(phaseParked)
	o.retry = c.arm(d, timer{kind: timerRetry, orderID: o.id()})
	return again
}

// backoff is exponential in the number of conflicts, capped, with full
// jitter over its upper half so that colliding orders spread out.
func (c *Coordinator) backoff(conflicts int) time.Duration {
	d := c.cfg.RetryBackoffBase << min(conflicts-1, 20)
	d = min(d, c.cfg.RetryBackoffMax)
	return d/2 + time.Duration(c.rng.Int64N(int64(d/2)+1))
}

func (c *Coordinator) alert(palletID string, r Refusal, planned, now int64) {
	c.note(NoteDebug, fmt.Sprintf("[ALERT] Concurrency conflict on pallet %s: %s (planned v%d, now v%d); aborting attempt", palletID, r, planned, now))
	c.rd.Counters.Conflicts++
}

// allocate adds an order's committed parts to its allocations, in a new
// slice (published snapshots share the old one). Parts arrive in FEFO
// order, so only a repair merging into earlier allocations needs a sort.
func (c *Coordinator) allocate(o *order, parts []inventory.Part) {
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
		allocs = append(allocs, inventory.Allocation{PalletID: s.Spec.ID, Lot: s.Spec.Lot, Supplier: s.Spec.Supplier, Lbs: p.Lbs, Expires: s.Spec.Expires, Received: s.Spec.Received})
	}
	if prior > 0 {
		slices.SortFunc(allocs, inventory.CompareAllocations)
	}
	o.snap.Allocations = allocs
}
