package inventory

import (
	"slices"
	"sort"
	"time"
)

// Slot is a FEFO view's knowledge of one pallet: its spec, on-hand weight
// and the version that weight belongs to.
type Slot struct {
	Spec    PalletSpec
	OnHand  CentiLbs
	Version int64
	// Blocked: on hold, quarantined, recalled or written off. Its weight
	// stays in the view but is never planned.
	Blocked bool
	gone    bool // removed: kept, empty, until the view compacts
}

// Part is a planned take of Lbs from the slot at index Slot.
type Part struct {
	Slot int
	Lbs  CentiLbs
}

// View is the FEFO view of one SKU's pallets: slots sorted by FEFOCompare,
// and a planner that takes weight earliest-expiring first.
//
// Planning is batched: Plan remembers what it took until ResetPlan, so
// orders planned one after another see each other's takes exactly as a
// sequential run would. Slot indexes are stable between Insert calls.
type View struct {
	slots   []Slot
	index   map[string]int
	head    int        // every slot before head has nothing on hand
	taken   []CentiLbs // planner scratch, parallel to slots
	touched []int      // slots with taken > 0, to reset
	gone    int        // removed slots not yet compacted away
}

// NewView returns an empty view.
func NewView() *View { return &View{index: map[string]int{}} }

// Len is the number of slots, removed ones not yet compacted away
// included (they are empty, and not in the index).
func (v *View) Len() int { return len(v.slots) }

// At returns the slot at index i.
func (v *View) At(i int) *Slot { return &v.slots[i] }

// Index returns the index of the pallet with id.
func (v *View) Index(id string) (int, bool) {
	i, ok := v.index[id]
	return i, ok
}

// Insert adds newly received pallets at version 1 with their full weight.
// It must not be called while a plan is open (indexes shift).
func (v *View) Insert(specs ...PalletSpec) {
	if len(v.touched) > 0 {
		panic("fefo view: insert during an open plan")
	}
	if len(specs) == 1 { // a single receipt: place it, re-index only what moved
		s := specs[0]
		i, _ := slices.BinarySearchFunc(v.slots, s, func(a Slot, b PalletSpec) int { return FEFOCompare(&a.Spec, &b) })
		v.slots = slices.Insert(v.slots, i, Slot{Spec: s, OnHand: s.Weight, Version: 1})
		v.taken = append(v.taken, 0)
		v.reindex(i)
		v.head = min(v.head, i)
		return
	}
	v.compact()
	for _, s := range specs {
		v.slots = append(v.slots, Slot{Spec: s, OnHand: s.Weight, Version: 1})
	}
	slices.SortFunc(v.slots, func(a, b Slot) int { return FEFOCompare(&a.Spec, &b.Spec) })
	clear(v.index)
	for i := range v.slots {
		v.index[v.slots[i].Spec.ID] = i
	}
	v.taken = make([]CentiLbs, len(v.slots))
	v.head = 0
}

// Remove drops pallets from the view (they left the floor). Pallets
// retire at the FEFO head, one or two per order at full speed, so a removal
// must not move every slot behind it: a removed slot stays, empty and out
// of the index, and the view compacts once removed slots outnumber the
// rest, so removal costs O(1) amortized whatever the floor's size. Like
// Insert, it must not be called while a plan is open.
func (v *View) Remove(ids ...string) {
	if len(v.touched) > 0 {
		panic("fefo view: remove during an open plan")
	}
	for _, id := range ids {
		if i, ok := v.index[id]; ok {
			v.slots[i].gone, v.slots[i].OnHand = true, 0
			delete(v.index, id)
			v.gone++
		}
	}
	if v.gone > compactAfter && 2*v.gone > len(v.slots) {
		v.compact()
	}
}

// compactAfter is how many removed slots a view keeps at least before it
// compacts: below it, a scan of the slots costs less than the bookkeeping.
const compactAfter = 64

// compact drops removed slots and re-indexes what moved.
func (v *View) compact() {
	if v.gone == 0 {
		return
	}
	kept, first := v.slots[:0], len(v.slots)
	for i, s := range v.slots {
		if s.gone {
			first = min(first, i)
			continue
		}
		kept = append(kept, s)
	}
	clear(v.slots[len(kept):])
	v.slots = kept
	v.taken = v.taken[:len(kept)]
	v.gone = 0
	v.reindex(first)
	v.head = min(v.head, first)
}

// reindex records the index of every slot from i on.
func (v *View) reindex(i int) {
	for j := i; j < len(v.slots); j++ {
		if !v.slots[j].gone {
			v.index[v.slots[j].Spec.ID] = j
		}
	}
}

// Block marks a pallet as not to be allocated from (or, false, as
// available again). Its coordinator calls it in the pallet's version order.
func (v *View) Block(id string, blocked bool) {
	if i, ok := v.index[id]; ok {
		v.slots[i].Blocked = blocked
	}
}

// Update records a pallet's on-hand weight at version, if version is newer
// than what the view has. It reports whether the view changed.
func (v *View) Update(id string, onHand CentiLbs, version int64) bool {
	i, ok := v.index[id]
	if !ok || version <= v.slots[i].Version {
		return false
	}
	v.slots[i].OnHand, v.slots[i].Version = onHand, version
	if onHand > 0 && i < v.head {
		v.head = i
	}
	return true
}

// Plan takes amount from slots whose pallets expire after cutoff (see
// ShelfLifeCutoff), earliest-expiring first, on top of what earlier Plan
// calls took. It appends the takes to parts and returns them with
// ReasonNone, or returns parts unchanged, taking nothing, with
// ReasonNoEligibleStock when there is weight left but none on a pallet that
// qualifies (it expires too soon, or has expired), or
// ReasonInsufficientStock when qualifying pallets hold too little or there
// is nothing left at all (sold out).
func (v *View) Plan(amount CentiLbs, cutoff time.Time, parts []Part) ([]Part, Reason) {
	for v.head < len(v.slots) && v.slots[v.head].OnHand == 0 {
		v.head++
	}
	start := sort.Search(len(v.slots), func(i int) bool { return v.slots[i].Spec.Expires.After(cutoff) })
	first := len(parts)
	need := amount
	for i := max(start, v.head); i < len(v.slots) && need > 0; i++ {
		avail := v.slots[i].OnHand - v.taken[i]
		if avail <= 0 || v.slots[i].Blocked {
			continue
		}
		take := min(avail, need)
		if v.taken[i] == 0 {
			v.touched = append(v.touched, i)
		}
		v.taken[i] += take
		need -= take
		parts = append(parts, Part{Slot: i, Lbs: take})
	}
	if need > 0 {
		for _, p := range parts[first:] {
			v.taken[p.Slot] -= p.Lbs
		}
		if need == amount && v.anyLeft(v.head, start) {
			return parts[:first], ReasonNoEligibleStock
		}
		return parts[:first], ReasonInsufficientStock
	}
	return parts, ReasonNone
}

// anyLeft reports whether a slot in [from, to) has weight the plan has not
// taken.
func (v *View) anyLeft(from, to int) bool {
	for i := from; i < to; i++ {
		if v.slots[i].OnHand-v.taken[i] > 0 && !v.slots[i].Blocked {
			return true
		}
	}
	return false
}

// ResetPlan forgets every take since the last reset.
func (v *View) ResetPlan() {
	for _, i := range v.touched {
		v.taken[i] = 0
	}
	v.touched = v.touched[:0]
}
