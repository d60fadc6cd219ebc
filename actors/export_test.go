package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
)

// Test-only access to the engine's insides, without widening its API.

// palletPID returns the PID of a pallet's actor, started if it had none.
func (e *Engine) palletPID(id string) *actor.PID {
	en, ok := e.pallets.get(id)
	if !ok {
		return nil
	}
	res, err := e.system.Root.RequestFuture(e.route(en.spec.SKU), &palletPID{id: id}, apiTimeout).Result()
	if err != nil {
		panic(err)
	}
	return res.(*actor.PID)
}

// strikeNow applies a chaos strike to a pallet and waits for it.
func (e *Engine) strikeNow(id string, delta inventory.CentiLbs) *alloc.AdjustReply {
	res, err := e.system.Root.RequestFuture(e.palletPID(id), &alloc.Adjust{Delta: delta, Reason: inventory.ReasonChaos, Clamp: true}, apiTimeout).Result()
	if err != nil {
		panic(err)
	}
	return res.(*alloc.AdjustReply)
}

// plantBrokenInvariant tells sku's coordinator of a change to a pallet
// that does not add up: the pallet says it holds a weight the journaled
// ledger does not give it. The coordinator updates its view and then
// asserts, panicking mid-message — as a real bug would.
func (e *Engine) plantBrokenInvariant(sku, palletID string) {
	s, _ := e.Pallet(palletID)
	e.system.Root.Send(e.route(sku), &alloc.PalletChanged{PalletID: palletID, Delta: 1, Reason: "planted",
		OnHand: s.OnHand + 12345, Version: s.Version + 1, At: time.Now().UTC()})
}

// quiesce waits for every accepted order to be finished, stops chaos, and
// waits until every pallet and coordinator has applied every change sent
// so far, so that the event history is complete.
func (e *Engine) quiesce() error {
	// An order cancelled in the intake is terminal before it reaches its
	// coordinator; wait until every accepted order has been finished there.
	e.waitIdle()
	if e.chaos != nil {
		if err := e.system.Root.StopFuture(e.chaos).Wait(); err != nil {
			return err
		}
		e.chaos = nil
	}
	for _, s := range e.pallets.snapshot("") {
		if _, err := e.system.Root.RequestFuture(e.coordinator(s.Spec.SKU), &flushPallet{id: s.Spec.ID}, apiTimeout).Result(); err != nil {
			return err
		}
	}
	e.coordMu.Lock()
	defer e.coordMu.Unlock()
	pids := []*actor.PID{e.unstocked}
	for _, pid := range e.coordinators {
		pids = append(pids, pid)
	}
	for _, pid := range pids {
		if _, err := e.system.Root.RequestFuture(pid, &Flush{}, apiTimeout).Result(); err != nil {
			return err
		}
	}
	return nil
}

// waitIdle blocks until no accepted order is unfinished: every one has
// reached its coordinator and a terminal state there.
func (e *Engine) waitIdle() {
	e.idleMu.Lock()
	defer e.idleMu.Unlock()
	for e.unfinished.Load() > 0 {
		e.idle.Wait()
	}
}
