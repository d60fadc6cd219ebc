package actors

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// selfTimers schedules messages an actor sends to itself later, keyed by
// the id its state machine gave them, and sends none once the actor is
// stopping: a tick that outlives its actor would be a dead letter. Every
// actor here that keeps time uses one, and calls stopAll from its
// actor.Stopping handler.
type selfTimers struct {
	mu      sync.Mutex
	stopped bool
	pending map[uint64]*time.Timer
	nextID  uint64 // for timers the actor numbers itself
}

// after sends msg to the actor after d, under id (0: a fresh id).
func (s *selfTimers) after(ctx actor.Context, id uint64, d time.Duration, msg any) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	if s.pending == nil {
		s.pending = map[uint64]*time.Timer{}
	}
	if id == 0 {
		s.nextID--
		id = s.nextID // counts down from the top: never an id a state machine gives
	}
	s.pending[id] = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.pending, id)
		if !s.stopped {
			root.Send(self, msg)
		}
	})
}

// cancel stops one timer; an unknown id is ignored.
func (s *selfTimers) cancel(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.pending[id]; ok {
		t.Stop()
		delete(s.pending, id)
	}
}

// stopAll stops every timer and any later send.
func (s *selfTimers) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	for _, t := range s.pending {
		t.Stop()
	}
	clear(s.pending)
}
