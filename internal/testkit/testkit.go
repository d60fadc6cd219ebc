// Package testkit holds the few test helpers several packages share.
package testkit

import (
	"bytes"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// VerifyNoLeaks runs the package's tests and fails them if goroutines
// outlive them, ignoring the two that end by themselves: protoactor's
// dead-letter log throttle (one throttle window after a late message) and
// net/http's idle connections.
func VerifyNoLeaks(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

// SyncBuffer is a log sink that many goroutines may write at once.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
