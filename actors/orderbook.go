package actors

import (
	"sync"

	"github.com/baconator/baconator/inventory"
)

// orderRecord holds an order's latest snapshot. Before it is accepted only
// the intake writes it; afterwards only its SKU's coordinator does.
type orderRecord struct {
	mu   sync.Mutex
	snap inventory.Order
	done chan struct{} // made by the first waiter, closed at the first terminal state
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
// id and false.
func (b *orderBook) insert(o inventory.Order) (*orderRecord, bool) {
	s := &b.shards[b.shard(o.Request.ID)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.m[o.Request.ID]; ok {
		return r, false
	}
	r := &orderRecord{snap: o}
	s.m[o.Request.ID] = r
	return r, true
}

func (b *orderBook) get(id string) (*orderRecord, bool) {
	s := &b.shards[b.shard(id)]
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.m[id]
	return r, ok
}

// all returns every order's snapshot, in no particular order.
func (b *orderBook) all() []inventory.Order {
	var out []inventory.Order
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.RLock()
		for _, r := range s.m {
			out = append(out, r.load())
		}
		s.mu.RUnlock()
	}
	return out
}
