package actors

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/inventory"
)

// palletEntry is the registry's handle on one pallet on the floor: its
// actor's PID once it has one (an idle pallet has none: see
// coordinatorActor.pid), the latest snapshot the actor published (live:
// ahead of the journal, holds included, for the engine's own helpers) and
// the latest durable one (what the journal holds, published by the
// coordinator after each commit: the only state clients are shown).
type palletEntry struct {
	spec    inventory.PalletSpec
	listed  bool // visible to reads; guarded by the registry's lock
	pid     atomic.Pointer[actor.PID]
	state   atomic.Pointer[inventory.PalletState]
	durable atomic.Pointer[inventory.PalletState]
}

// shown is the pallet as clients see it: its durable state, with the live
// holds if the live state is at the same version (holds are promises about
// one version and are never journaled). False until it is durable.
func (e *palletEntry) shown() (inventory.PalletState, bool) {
	d := e.durable.Load()
	if d == nil {
		return inventory.PalletState{}, false
	}
	s := *d
	s.Held = 0
	if live := e.state.Load(); live.Version == s.Version {
		s.Held = live.Held
	}
	return s, true
}

// palletRegistry finds pallets by id and lists them in FEFO order without
// asking any actor: reads are served from published snapshots.
type palletRegistry struct {
	mu      sync.RWMutex
	byID    map[string]*palletEntry
	bySKU   map[string][]*palletEntry // FEFO order, retired entries among them until compacted
	gone    map[string]int            // by SKU: retired entries still in bySKU
	retired map[string]int64          // by SKU: pallets that left the floor
}

func newPalletRegistry() *palletRegistry {
	return &palletRegistry{byID: map[string]*palletEntry{}, bySKU: map[string][]*palletEntry{}, gone: map[string]int{}, retired: map[string]int64{}}
}

// retire drops pallets that left the floor (their states are in the
// journal now) and counts them. Pallets retire at the FEFO head, one or two
// per order at full speed, so a retired entry is only unlisted where it
// stands and the SKU's list compacts once retired entries outnumber the
// rest: O(1) amortized per pallet, whatever the floor's size. (A pallet
// that comes back gets a new entry.)
func (r *palletRegistry) retire(sku string, ids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if e, ok := r.byID[id]; ok {
			delete(r.byID, id)
			if e.listed {
				e.listed = false
				r.gone[sku]++
			}
			r.retired[sku]++
		}
	}
	if l := r.bySKU[sku]; r.gone[sku] > compactAfter && 2*r.gone[sku] > len(l) {
		r.bySKU[sku] = slices.DeleteFunc(l, func(e *palletEntry) bool { return !e.listed })
		r.gone[sku] = 0
	}
}

// compactAfter is how many retired entries a SKU's list keeps at least
// before it compacts.
const compactAfter = 64

// setRetired sets a SKU's count of retired pallets (at recovery, and as
// revivals bring pallets back).
func (r *palletRegistry) setRetired(sku string, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retired[sku] = n
}

// retiredCount is how many pallets of sku (every SKU if empty) retired.
func (r *palletRegistry) retiredCount(sku string) int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if sku != "" {
		return r.retired[sku]
	}
	var n int64
	for _, c := range r.retired {
		n += c
	}
	return n
}

// claim reserves ids for new pallets; it fails if any id is taken (then
// nothing is claimed). The entries get their PIDs and states before they
// are listed.
func (r *palletRegistry) claim(specs []inventory.PalletSpec) ([]*palletEntry, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool, len(specs))
	for _, s := range specs {
		if _, ok := r.byID[s.ID]; ok || seen[s.ID] {
			return nil, s.ID
		}
		seen[s.ID] = true
	}
	entries := make([]*palletEntry, len(specs))
	for i, s := range specs {
		e := &palletEntry{spec: s} // its states come with its actor
		entries[i] = e
		r.byID[s.ID] = e
	}
	return entries, ""
}

// unclaim frees ids claimed for pallets that were never received.
func (r *palletRegistry) unclaim(entries []*palletEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range entries {
		if r.byID[e.spec.ID] == e {
			delete(r.byID, e.spec.ID)
		}
	}
}

// list makes claimed entries visible, in FEFO listings.
func (r *palletRegistry) list(sku string, entries []*palletEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range entries {
		e.listed = true
	}
	byFEFO := func(a, b *palletEntry) int { return inventory.FEFOCompare(&a.spec, &b.spec) }
	l := r.bySKU[sku]
	if len(entries) == 1 { // a single receipt: insert in place
		i, _ := slices.BinarySearchFunc(l, entries[0], byFEFO)
		r.bySKU[sku] = slices.Insert(l, i, entries[0])
		return
	}
	l = append(l, entries...)
	slices.SortFunc(l, byFEFO)
	r.bySKU[sku] = l
}

// holding returns the listed pallets whose published state shows holds.
func (r *palletRegistry) holding() []*palletEntry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*palletEntry
	for _, l := range r.bySKU {
		for _, e := range l {
			if e.listed && e.state.Load().Held > 0 {
				out = append(out, e)
			}
		}
	}
	return out
}

// entry finds a pallet's entry once its id is claimed, listed or not (a
// pallet being brought back is claimed before it is listed).
func (r *palletRegistry) entry(id string) (*palletEntry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.byID[id]
	return e, ok
}

// listed reports whether a pallet is on the floor and visible.
func (r *palletRegistry) listed(id string) bool {
	_, ok := r.get(id)
	return ok
}

// get finds a pallet clients may see: listed and durable.
func (r *palletRegistry) get(id string) (*palletEntry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.byID[id]
	return e, ok && e.listed && e.durable.Load() != nil
}

// snapshot returns the shown states of sku's pallets in FEFO order; an
// empty sku means every SKU, each in FEFO order, SKUs sorted by name.
func (r *palletRegistry) snapshot(sku string) []inventory.PalletState {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var skus []string
	if sku != "" {
		skus = []string{sku}
	} else {
		for s := range r.bySKU {
			skus = append(skus, s)
		}
		slices.Sort(skus)
	}
	var out []inventory.PalletState
	for _, s := range skus {
		for _, e := range r.bySKU[s] {
			if !e.listed {
				continue
			}
			if st, ok := e.shown(); ok {
				out = append(out, st)
			}
		}
	}
	return out
}

// each calls fn with the shown state of every listed pallet of sku (every
// SKU if empty), without copying the list: for views that only sum.
func (r *palletRegistry) each(sku string, fn func(inventory.PalletState)) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for s, l := range r.bySKU {
		if sku != "" && s != sku {
			continue
		}
		for _, e := range l {
			if !e.listed {
				continue
			}
			if st, ok := e.shown(); ok {
				fn(st)
			}
		}
	}
}

// head returns up to n pallets of sku, earliest-expiring first, that have
// weight on hand and are not expired at now.
func (r *palletRegistry) head(sku string, n int, alive func(inventory.PalletState) bool) []*palletEntry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*palletEntry
	for _, e := range r.bySKU[sku] {
		if len(out) == n {
			break
		}
		if e.listed && alive(*e.state.Load()) {
			out = append(out, e)
		}
	}
	return out
}
