package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/baconator/baconator/actors/alloc"
)

type sweepTick struct{}

// sweeper makes holds whose coordinator vanished lapse. Holds normally end
// within their batch, so rather than a timer per reserve (which cost 13% of
// the coordinator's time per order), one sweeper looks at the pallets'
// published states every half hold timeout and pokes only those still
// holding weight; a pallet also drops lapsed holds before any reserve. A
// hold therefore lapses between its deadline and 1.5 hold timeouts.
type sweeper struct {
	eng    *Engine
	timers selfTimers
}

func newSweeperProps(e *Engine) *actor.Props {
	s := &sweeper{eng: e}
	return actor.PropsFromProducer(func() actor.Actor { return s }, actor.WithGuardian(e.failStop))
}

// sweepIntervalMin keeps a tiny hold timeout from spinning the sweeper.
const sweepIntervalMin = 10 * time.Millisecond

func (s *sweeper) interval() time.Duration { return max(s.eng.cfg.HoldTimeout/2, sweepIntervalMin) }

func (s *sweeper) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		s.timers.after(ctx, 0, s.interval(), &sweepTick{})
	case *sweepTick:
		for _, e := range s.eng.pallets.holding() {
			ctx.Send(e.pid.Load(), &alloc.ExpireHolds{}) // a pallet with holds has an actor
		}
		s.timers.after(ctx, 0, s.interval(), &sweepTick{})
	case *actor.Stopping:
		s.timers.stopAll()
	}
}
