package alloc_test

import (
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
)

var (
	simSeeds = flag.Int("sim.seeds", 5000, "simulated histories to run (each its own seed)")
	simSeed  = flag.Uint64("sim.seed", 0, "run this one seed only, and print its trace")
	simFirst = flag.Uint64("sim.first", 1, "the first seed of a run of -sim.seeds")
	simTrace = flag.Int("sim.trace", 2000, "with -sim.seed: how many of the last steps the trace shows")
	simTally = flag.Bool("sim.tally", false, "run every seed and count the failing ones (to measure how quickly a planted bug is caught)")
)

// Bounds of one simulated history.
const (
	simActionsMax   = 120              // things the outside world does
	simStepsMax     = 400_000          // scheduler steps: more is a livelock
	simQuietWithin  = 10 * time.Minute // of simulated time, after the outside world stops
	simChaosTargets = 3                // strikes land on the first pallets of the FEFO line
	simHourJumpsMax = 30 * time.Hour   // the longest time jump (expiry happens)
)

// TestSimulation runs thousands of seeded histories of the real state
// machines on one goroutine, with chaos, operators, cancels, receipts,
// expiry, a lossy network and crashes, and checks each against the
// sequential FEFO oracle and every invariant. A failing seed replays
// exactly, with its trace:
//
//	go test ./actors/alloc -run TestSimulation -sim.seed N -v
func TestSimulation(t *testing.T) {
	n := *simSeeds
	if testing.Short() || raceEnabled {
		n = min(n, 1000) // the race detector adds nothing to one goroutine
	}
	first := *simFirst
	if *simSeed != 0 {
		first, n = *simSeed, 1
	}
	var crashes, halts, orders, failed int
	var firstFailed uint64
	for seed := first; seed < first+uint64(n); seed++ {
		w := simulate(seed)
		crashes, halts, orders = crashes+w.crashes, halts+w.halts, orders+len(w.store.orders)
		if *simSeed != 0 {
			t.Logf("seed %d: %d steps, %d orders, %d crashes, %d halts; trace tail:\n%s", seed, w.steps, len(w.store.orders), w.crashes, w.halts, strings.Join(w.log, "\n"))
		}
		if w.failure != nil && *simTally {
			if failed++; failed == 1 {
				firstFailed = seed
				t.Logf("first failing seed %d: %v", seed, w.failure)
			}
			continue
		}
		if w.failure != nil {
			t.Fatalf("seed %d: %v\nlast steps:\n%s\nreplay: go test ./actors/alloc -run TestSimulation -sim.seed %d -v",
				seed, w.failure, strings.Join(w.log, "\n"), seed)
		}
	}
	t.Logf("%d histories: %d orders, %d crashes, %d halts recovered", n, orders, crashes, halts)
	if failed > 0 {
		t.Fatalf("%d of %d seeds failed; the first was seed %d", failed, n, firstFailed)
	}
}

// simulate runs one seed's history and checks it.
func simulate(seed uint64) *world {
	w := newWorld(seed, faultsFor(seed))
	w.start()
	w.run(simActionsMax)
	w.faults = faults{} // the network heals and crashes stop: now it must converge
	deadline := w.now.Add(simQuietWithin)
	w.run(0)
	if w.failure == nil && w.now.After(deadline) {
		w.fail("not quiet within %s of simulated time after the last action", simQuietWithin)
	}
	if w.failure == nil {
		w.check()
	}
	return w
}

// faultsFor gives one seed in four a perfect network and the others a
// lossy one; crashes come and go.
func faultsFor(seed uint64) faults {
	switch seed % 4 {
	case 0:
		return faults{}
	case 1:
		return faults{drop: 0.02, duplicate: 0.02, delay: 0.05}
	case 2:
		return faults{crash: 0.002, crashMidReady: 0.01}
	}
	return faults{drop: 0.03, duplicate: 0.03, delay: 0.05, crash: 0.001, crashMidReady: 0.005}
}

func (w *world) start() {
	var specs []inventory.PalletSpec
	for range 8 + w.rng.IntN(16) {
		specs = append(specs, w.newPallet())
	}
	w.receive(specs...)
}

func (w *world) newPallet() inventory.PalletSpec {
	w.seq++
	id := fmt.Sprintf("P%03d", w.seq)
	return inventory.PalletSpec{
		ID: id, SKU: w.skus[w.rng.IntN(len(w.skus))], Lot: "L-" + id, Supplier: fmt.Sprintf("Farm_%d", 1+w.rng.IntN(9)),
		Weight: inventory.CentiLbs(100 + w.rng.Int64N(100_000)),
		// Whole days and hours, so expirations and receipts tie and the
		// tie-breaks are exercised.
		Expires:  w.now.Add(time.Duration(1+w.rng.IntN(10))*24*time.Hour + time.Duration(w.rng.IntN(3))*time.Hour),
		Received: w.now.Add(-time.Duration(w.rng.IntN(3)) * time.Hour),
	}
}

// run schedules until the outside world has done its actions and nothing
// is left to happen.
func (w *world) run(actions int) {
	for w.failure == nil {
		w.steps++
		if w.steps > simStepsMax {
			w.fail("no end after %d steps: a livelock", simStepsMax)
			return
		}
		if w.faults.crash > 0 && w.rng.Float64() < w.faults.crash {
			w.crash()
			continue
		}
		if actions > 0 && w.rng.IntN(8) == 0 {
			actions--
			w.act()
			continue
		}
		if w.serveSomething() {
			continue
		}
		if !w.advance(actions > 0) {
			return
		}
	}
}

// serveSomething serves a random mailbox, a due timer or a due delayed
// letter; false when there is none.
func (w *world) serveSomething() bool {
	addrs := slices.Sorted(maps.Keys(w.mail))
	var dueTimers, dueNet []int
	for i, t := range w.timers {
		if !t.at.After(w.now) {
			dueTimers = append(dueTimers, i)
		}
	}
	for i, d := range w.net {
		if !d.at.After(w.now) {
			dueNet = append(dueNet, i)
		}
	}
	n := len(addrs) + len(dueTimers) + len(dueNet)
	if n == 0 {
		return false
	}
	switch k := w.rng.IntN(n); {
	case k < len(addrs):
		w.serve(addrs[k])
	case k < len(addrs)+len(dueTimers):
		t := w.timers[dueTimers[k-len(addrs)]]
		w.timers = slices.Delete(w.timers, dueTimers[k-len(addrs)], dueTimers[k-len(addrs)]+1)
		if _, ok := w.coords[t.sku]; ok {
			w.stepCoordinator(t.sku, &alloc.TimerFired{ID: t.id})
		}
	default:
		i := dueNet[k-len(addrs)-len(dueTimers)]
		d := w.net[i]
		w.net = slices.Delete(w.net, i, i+1)
		w.mail[d.to] = append(w.mail[d.to], d.l)
	}
	return true
}

// advance moves time to the next timer or delayed letter, or a little
// while the outside world is still acting; with nothing ahead it sweeps
// lapsed holds, as the engine's sweeper does. False when all is quiet.
func (w *world) advance(acting bool) bool {
	next := time.Time{}
	for _, t := range w.timers {
		if next.IsZero() || t.at.Before(next) {
			next = t.at
		}
	}
	for _, d := range w.net {
		if next.IsZero() || d.at.Before(next) {
			next = d.at
		}
	}
	if acting {
		step := w.now.Add(time.Duration(w.rng.Int64N(int64(2 * time.Millisecond))))
		if next.IsZero() || step.Before(next) {
			next = step
		}
	}
	if next.IsZero() {
		return w.sweep()
	}
	w.now = next
	return true
}

// sweep pokes pallets still holding weight after half a hold timeout, as
// the engine's sweeper does, so holds whose batch was abandoned lapse.
func (w *world) sweep() bool {
	var holding []string
	for _, id := range slices.Sorted(maps.Keys(w.pallets)) {
		if w.pallets[id].node.P.State().Held > 0 {
			holding = append(holding, id)
		}
	}
	if len(holding) == 0 {
		return false
	}
	w.now = w.now.Add(w.cfg.HoldTimeout / 2)
	for _, id := range holding {
		w.post("p:"+id, letter{msg: &alloc.ExpireHolds{}}, false)
	}
	return true
}

// act is one thing the outside world does.
func (w *world) act() {
	switch r := w.rng.IntN(100); {
	case r < 45:
		w.seq++
		req := inventory.OrderRequest{ID: fmt.Sprintf("o%d", w.seq), Customer: "c", SKU: w.skus[w.rng.IntN(len(w.skus))],
			Amount: inventory.CentiLbs(1 + w.rng.Int64N(150_000)), CreatedAt: w.now}
		if w.rng.IntN(20) == 0 {
			req.SKU = "never-received"
		}
		if w.rng.IntN(4) == 0 {
			req.MinShelfLifeDays = w.rng.IntN(10)
		}
		w.placeOrder(req)
	case r < 55:
		if ids := slices.Sorted(maps.Keys(w.store.orders)); len(ids) > 0 {
			w.cancelOrder(ids[w.rng.IntN(len(ids))])
		}
	case r < 62:
		var specs []inventory.PalletSpec
		for range 1 + w.rng.IntN(3) {
			specs = append(specs, w.newPallet())
		}
		w.receive(specs...)
	case r < 67:
		if ids := slices.Sorted(maps.Keys(w.store.receipts)); len(ids) > 0 { // retired ones too
			w.adjust(ids[w.rng.IntN(len(ids))], inventory.CentiLbs(w.rng.Int64N(40_000)-20_000), false)
		}
	case r < 70:
		if ids := slices.Sorted(maps.Keys(w.store.receipts)); len(ids) > 0 { // retired ones too
			w.setStatus(ids[w.rng.IntN(len(ids))], w.statusChange())
		}
	case r < 97:
		sku := w.skus[w.rng.IntN(len(w.skus))]
		if ids := w.head(sku, simChaosTargets); len(ids) > 0 {
			delta := inventory.CentiLbs(1 + w.rng.Int64N(3000))
			if w.rng.IntN(2) == 0 {
				delta = -delta
			}
			w.adjust(ids[w.rng.IntN(len(ids))], delta, true)
		}
	default:
		w.now = w.now.Add(time.Duration(w.rng.Int64N(int64(simHourJumpsMax))))
		w.trace("time jumps")
	}
}

// statusChange is a random operator's status change: mostly holds and
// releases, now and then a recall or a write-off.
func (w *world) statusChange() *alloc.SetStatus {
	switch r := w.rng.IntN(100); {
	case r < 35:
		return &alloc.SetStatus{Status: inventory.StatusOnHold, Reason: "lab", Note: "sim"}
	case r < 50:
		return &alloc.SetStatus{Status: inventory.StatusQuarantined, Reason: "lab"}
	case r < 88:
		return &alloc.SetStatus{Status: inventory.StatusAvailable, Reason: "cleared"}
	case r < 95:
		return &alloc.SetStatus{Status: inventory.StatusRecalled, Reason: "recall"}
	}
	return &alloc.SetStatus{WriteOff: true, Reason: "damaged"}
}

// listed returns the pallets (of sku, or all) their coordinators took in.
func (w *world) listed(sku string) []string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(w.pallets)) {
		if p := w.pallets[id]; p.listed && (sku == "" || p.sku == sku) {
			out = append(out, id)
		}
	}
	return out
}

// head returns the first n listed pallets of sku in FEFO order that have
// weight and are not expired: where chaos strikes.
func (w *world) head(sku string, n int) []string {
	var states []inventory.PalletState
	for _, id := range w.listed(sku) {
		s := w.pallets[id].node.P.State()
		if s.OnHand > 0 && !inventory.Expired(s.Spec.Expires, w.now) {
			states = append(states, s)
		}
	}
	slices.SortFunc(states, func(a, b inventory.PalletState) int { return inventory.FEFOCompare(&a.Spec, &b.Spec) })
	var out []string
	for _, s := range states[:min(n, len(states))] {
		out = append(out, s.Spec.ID)
	}
	return out
}

// check holds a quiet world to every invariant.
func (w *world) check() {
	for sku, c := range w.coords {
		if !c.Idle() {
			w.fail("coordinator %q is not idle at the end", sku)
		}
	}
	for id, o := range w.store.orders { // nothing acknowledged lost, every order ended
		if !o.Status.Terminal() {
			w.fail("order %s is %s at the end: never terminal", id, o.Status)
			return
		}
		if o.Reason == inventory.ReasonContention && o.Conflicts <= w.cfg.RetryAttemptsMax {
			w.fail("order %s rejected for contention after only %d conflicts of its own", id, o.Conflicts)
		}
		var sum inventory.CentiLbs
		for _, a := range o.Allocations {
			sum += a.Lbs
			if held := w.oracle.Holding[id][a.PalletID]; held != a.Lbs {
				w.fail("order %s holds %s on %s, the oracle says %s", id, a.Lbs, a.PalletID, held)
			}
		}
		if o.Status == inventory.StatusAllocated && sum != o.Request.Amount {
			w.fail("order %s allocated %s of %s: not all-or-nothing", id, sum, o.Request.Amount)
		}
		if o.Status != inventory.StatusAllocated && sum != 0 {
			w.fail("order %s ended %s holding %s", id, o.Status, sum)
		}
		if st, ok := w.oracle.Status[id]; ok && st != o.Status {
			w.fail("order %s ended %s, the oracle says %s", id, o.Status, st)
		}
	}
	for id, saw := range w.seen { // what a client saw end stays ended
		o := w.store.orders[id]
		if saw.Status == inventory.StatusAllocated && o.Status == inventory.StatusCancelled {
			continue // cancelled later
		}
		if o.Status != saw.Status || !slices.Equal(o.Allocations, saw.Allocations) {
			w.fail("order %s: a client saw it end %s %v, the journal has %s %v", id, saw.Status, saw.Allocations, o.Status, o.Allocations)
		}
	}
	for id, versions := range w.acked { // acknowledged adjustments are in the ledger
		for _, v := range versions {
			if !slices.ContainsFunc(w.store.ledgers[id], func(l alloc.LedgerLine) bool {
				return l.Entry.Version == v && (l.Entry.Kind == inventory.LedgerAdjusted && l.Entry.Reason == "count_correction" || l.Entry.Status != "")
			}) {
				w.fail("pallet %s: acknowledged change at v%d lost", id, v)
			}
		}
	}
	for id := range w.store.retired { // retired pallets hold nothing
		onHand, version := w.store.onHand(id)
		if m := w.oracle.Pallets[id]; onHand != 0 || m == nil || m.OnHand != 0 || m.Version != version {
			w.fail("retired pallet %s: journal says %s at v%d, the oracle %+v", id, onHand, version, m)
		}
	}
	for id, p := range w.pallets { // conservation, no ghost weight, no hold left
		s := p.node.P.State()
		onHand, version := w.store.onHand(id)
		m := w.oracle.Pallets[id]
		switch {
		case s.OnHand != onHand || s.Version != version:
			w.fail("pallet %s is %s at v%d, its journaled ledger sums to %s at v%d", id, s.OnHand, s.Version, onHand, version)
		case s.Held != 0:
			w.fail("pallet %s still holds %s: a hold outlived its order", id, s.Held)
		case m == nil || m.OnHand != s.OnHand || m.Version != s.Version || m.Status != s.Status:
			w.fail("pallet %s is %s at v%d (%s), the oracle says %+v", id, s.OnHand, s.Version, s.Status, m)
		case w.store.status(id) != s.Status || w.durable[id].StatusOr() != s.Status:
			w.fail("pallet %s is %s, its ledger says %s, it shows %s", id, s.Status, w.store.status(id), w.durable[id].Status)
		case w.durable[id].OnHand != s.OnHand || w.durable[id].Version != s.Version:
			w.fail("pallet %s shows %s at v%d, it is %s at v%d", id, w.durable[id].OnHand, w.durable[id].Version, s.OnHand, s.Version)
		}
	}
}
