package actors

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/inventory"
)

// orderRecord holds an order's latest snapshot. Before it is accepted only
// the intake writes it; afterwards only its SKU's coordinator does.
//
// A record is pending while its acceptance is being journaled: it holds
// the id against a concurrent duplicate, but nobody else sees it, and a
// duplicate waits to learn whether it was accepted or abandoned.
type orderRecord struct {
	// route is the coordinator that owns the order: its SKU's, or the
	// engine's unstocked coordinator for a SKU nobody had received when the
	// order was accepted. Set once, before anyone else sees the record.
	route     *actor.PID
	mu        sync.Mutex
	snap      inventory.Order
	done      chan struct{} // made by the first waiter, closed at the first terminal state
	pending   bool
	abandoned bool          // the acceptance could not be journaled
	settled   chan struct{} // made by a waiting duplicate, closed when no longer pending
}

// visible reports whether clients may see the record.
func (r *orderRecord) visible() bool {
	_, ok := r.loadVisible()
	return ok
}

// loadVisible returns the snapshot if clients may see it.
func (r *orderRecord) loadVisible() (inventory.Order, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snap, !r.pending && !r.abandoned
}

// settle ends the pending state: accepted, or abandoned.
func (r *orderRecord) settle(abandoned bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending, r.abandoned = false, abandoned
	if r.settled != nil {
		close(r.settled)
	}
}

// waitSettled blocks while the record is pending and reports whether it
// was accepted.
func (r *orderRecord) waitSettled() bool {
	r.mu.Lock()
	if !r.pending {
		r.mu.Unlock()
		return !r.abandoned
	}
	if r.settled == nil {
		r.settled = make(chan struct{})
	}
	ch := r.settled
	r.mu.Unlock()
	<-ch
	return r.visible()
}

// closedChan is what a waiter gets for an order already terminal: most
// orders are never waited on, so none gets a channel of its own up front.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// finished returns a channel closed once the order first is terminal.
func (r *orderRecord) finished() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.snap.Status.Terminal() {
		return closedChan
	}
	if r.done == nil {
		r.done = make(chan struct{})
	}
	return r.done
}

func (r *orderRecord) load() inventory.Order {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snap
}

// store publishes o. Allocations slices are never mutated after publishing,
// so readers may share them.
func (r *orderRecord) store(o inventory.Order) {
	r.mu.Lock()
	defer r.mu.Unlock()
	wasTerminal := r.snap.Status.Terminal()
	r.snap = o
	if !wasTerminal && o.Status.Terminal() && r.done != nil {
		close(r.done)
	}
}

const orderBookShards = 64

// orderBook indexes every order by id, sharded so intake and reads on
// different orders never share a lock.
type orderBook struct {
	shards [orderBookShards]struct {
		mu sync.RWMutex
		m  map[string]*orderRecord
	}
}

func newOrderBook() *orderBook {
	b := &orderBook{}
	for i := range b.shards {
		b.shards[i].m = map[string]*orderRecord{}
	}
	return b
}

func (b *orderBook) shard(id string) int {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return int(h % orderBookShards)
}

// insert adds a new record for o, or returns the existing record with that
// id and false. A pending record is seen by nobody until it is settled.
func (b *orderBook) insert(o inventory.Order, pending bool, route *actor.PID) (*orderRecord, bool) {
	s := &b.shards[b.shard(o.Request.ID)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.m[o.Request.ID]; ok {
		return r, false
	}
	r := &orderRecord{snap: o, pending: pending, route: route}
	s.m[o.Request.ID] = r
	return r, true
}

// remove drops an abandoned record, so its id can be placed again.
func (b *orderBook) remove(r *orderRecord) {
	id := r.load().Request.ID
	s := &b.shards[b.shard(id)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[id] == r {
		delete(s.m, id)
	}
}

// lookup finds a record, pending or not.
func (b *orderBook) lookup(id string) (*orderRecord, bool) {
	s := &b.shards[b.shard(id)]
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.m[id]
	return r, ok
}

// get finds a record clients may see.
func (b *orderBook) get(id string) (*orderRecord, bool) {
	r, ok := b.lookup(id)
	if !ok || !r.visible() {
		return nil, false
	}
	return r, true
}

// all returns every order's snapshot, in no particular order.
func (b *orderBook) all() []inventory.Order {
	var out []inventory.Order
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.RLock()
		for _, r := range s.m {
			if o, ok := r.loadVisible(); ok {
				out = append(out, o)
			}
		}
		s.mu.RUnlock()
	}
	return out
}
