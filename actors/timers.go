package actors

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// selfTimers schedules messages an actor sends to itself later, and sends
// none once the actor is stopping: a tick that outlives its actor would be
// a dead letter. Every actor here that keeps time uses one, and calls stop
// from its actor.Stopping handler.
type selfTimers struct {
	mu      sync.Mutex
	stopped bool
	pending map[*time.Timer]struct{}
}

// after sends msg to the actor after d. The returned timer may be passed
// to cancel.
func (s *selfTimers) after(ctx actor.Context, d time.Duration, msg any) *time.Timer {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		s.pending = map[*time.Timer]struct{}{}
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.pending, t)
		if !s.stopped {
			root.Send(self, msg)
		}
	})
	s.pending[t] = struct{}{}
	return t
}

// cancel stops one timer.
func (s *selfTimers) cancel(t *time.Timer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Stop()
	delete(s.pending, t)
}

// stop stops every timer and any later send.
func (s *selfTimers) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	for t := range s.pending {
		t.Stop()
	}
	clear(s.pending)
}
