package actors

import (
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
)

type chaosTick struct{}

// chaosActor is the floor scale gone wild: on a timer it strikes one of the
// earliest-expiring pallets with a weight change, exactly as a
// recalibration or a dropped box would. Strikes go straight to the pallet,
// never through the coordinator, so plans made on the old version abort.
type chaosActor struct {
	eng    *Engine
	cfg    ChaosConfig
	rng    *rand.Rand
	timers selfTimers
}

func newChaosProps(e *Engine, cfg ChaosConfig, seed uint64) *actor.Props {
	a := &chaosActor{eng: e, cfg: cfg, rng: rand.New(rand.NewPCG(seed, 0x6368616f73))}
	return actor.PropsFromProducer(func() actor.Actor { return a }, actor.WithGuardian(e.failStop))
}

func (a *chaosActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		a.schedule(ctx)
	case *chaosTick:
		a.strike(ctx)
		a.schedule(ctx)
	case *actor.Stopping:
		a.timers.stopAll()
	}
}

func (a *chaosActor) schedule(ctx actor.Context) {
	a.timers.after(ctx, 0, a.cfg.Interval, &chaosTick{})
}

func (a *chaosActor) strike(ctx actor.Context) {
	if a.eng.haltErr.Load() != nil {
		return // a halted engine changes nothing more
	}
	now := time.Now()
	targets := a.eng.pallets.head(a.cfg.SKU, a.cfg.Targets, func(s inventory.PalletState) bool {
		return s.OnHand > 0 && !inventory.Expired(s.Spec.Expires, now)
	})
	if len(targets) == 0 {
		return
	}
	target := targets[a.rng.IntN(len(targets))]
	delta := inventory.CentiLbs(a.rng.Int64N(2*int64(a.cfg.DeltaMax))) - a.cfg.DeltaMax
	if delta >= 0 {
		delta++ // a strike always changes something: [-max, -1] ∪ [1, max]
	}
	// Fire and forget, like a scale: the pallet reports the change to its
	// coordinator, which logs the strike. A pallet with no actor yet gets
	// one from its coordinator, which passes the strike on.
	adjust := &alloc.Adjust{Delta: delta, Reason: inventory.ReasonChaos, Clamp: true}
	if pid := target.pid.Load(); pid != nil {
		ctx.Send(pid, adjust)
		return
	}
	ctx.Send(a.eng.route(a.cfg.SKU), &strikePallet{id: target.spec.ID, adjust: adjust})
}
