package actors

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/inventory"
)

// Test-only access to the engine's insides, without widening its API.

// palletPID returns the PID of a pallet actor.
func (e *Engine) palletPID(id string) *actor.PID {
	en, ok := e.pallets.get(id)
	if !ok {
		return nil
	}
	return en.pid
}

// onceBefore installs hooks that run once, inside the coordinator, just
// before it sends reserves (phase 1) or the confirm chain (phase 2), with
// the ids of the pallets involved in FEFO order. Install before any order.
func (e *Engine) onceBeforeReserve(f func(palletIDs []string)) { e.hooks.beforeReserve = once(f) }
func (e *Engine) onceBeforeConfirm(f func(palletIDs []string)) { e.hooks.beforeConfirm = once(f) }

// armPanic makes the coordinator panic mid-message, just before it sends
// its n-th confirm chain. Install before any order.
func armPanic(e *Engine, n int) {
	seen := 0 // only ever touched from one coordinator's goroutine
	e.hooks.beforeConfirm = func([]string) {
		if seen++; seen == n {
			panic(fmt.Sprintf("planted: a broken invariant before confirm chain %d", n))
		}
	}
}

func once(f func([]string)) func([]string) {
	done := false // only ever called from one coordinator's goroutine
	return func(ids []string) {
		if !done {
			done = true
			f(ids)
		}
	}
}

// strikeNow applies a chaos strike to a pallet and waits for it. Called
// from a hook it blocks the coordinator, which is what a test staging a
// strike inside a phase window wants: the pallet is another actor.
func (e *Engine) strikeNow(id string, delta inventory.CentiLbs) *AdjustReply {
	res, err := e.system.Root.RequestFuture(e.palletPID(id), &Adjust{Delta: delta, Reason: inventory.ReasonChaos, Clamp: true}, apiTimeout).Result()
	if err != nil {
		panic(err)
	}
	return res.(*AdjustReply)
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
		if _, err := e.system.Root.RequestFuture(e.palletPID(s.Spec.ID), &Flush{}, apiTimeout).Result(); err != nil {
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
