package actors

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
)

type chaosTick struct{}

// chaosSummary asks the chaos actor for its periodic summary line.
type chaosSummary struct{}

// chaosSummaryEvery is how often the chaos actor sums up at INFO what each
// strike and conflict logs at DEBUG, unless configured: a strike every
// 150 ms would otherwise be most of the log.
const chaosSummaryEvery = 10 * time.Second

func (a *chaosActor) summaryEvery() time.Duration {
	if a.cfg.SummaryEvery > 0 {
		return a.cfg.SummaryEvery
	}
	return chaosSummaryEvery
}

// chaosActor is the floor scale gone wild: on a timer it strikes one of the
// earliest-expiring pallets with a weight change, exactly as a
// recalibration or a dropped box would. Strikes go straight to the pallet,
// never through the coordinator, so plans made on the old version abort.
type chaosActor struct {
	eng    *Engine
	cfg    ChaosConfig
	rng    *rand.Rand
	timers selfTimers
	last   Stats // at the previous summary
}

func newChaosProps(e *Engine, cfg ChaosConfig, seed uint64) *actor.Props {
	a := &chaosActor{eng: e, cfg: cfg, rng: rand.New(rand.NewPCG(seed, 0x6368616f73))}
	return actor.PropsFromProducer(func() actor.Actor { return a }, actor.WithGuardian(e.failStop))
}

func (a *chaosActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		a.last = a.eng.Stats()
		a.schedule(ctx)
		a.timers.after(ctx, 1, a.summaryEvery(), &chaosSummary{})
	case *chaosTick:
		a.strike(ctx)
		a.schedule(ctx)
	case *chaosSummary:
		a.summarize()
		a.timers.after(ctx, 1, a.summaryEvery(), &chaosSummary{})
	case *actor.Stopping:
		a.timers.stopAll()
	}
}

// summarize logs, at INFO, what chaos did since the last summary: the
// strikes, the conflicts they caused, and what those cost orders.
func (a *chaosActor) summarize() {
	now := a.eng.Stats()
	strikes, conflicts := now.Strikes-a.last.Strikes, now.Conflicts-a.last.Conflicts
	retries, rejected := now.Retries-a.last.Retries, now.RejectedContention-a.last.RejectedContention
	a.last = now
	if strikes == 0 && conflicts == 0 {
		return
	}
	a.eng.log.Info(fmt.Sprintf("[CHAOS] Last %s: %d strikes on the oldest %s pallets, %d conflicts, %d retries, %d orders rejected for contention (each strike and conflict at -log-level debug)",
		a.summaryEvery(), strikes, a.cfg.SKU, conflicts, retries, rejected))
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
