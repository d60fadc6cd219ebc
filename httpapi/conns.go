package httpapi

import (
	"container/list"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// connSet caps the connections the server holds open at once, so that
// accepting one more can never fail for want of a file descriptor (an
// accept that fails with EMFILE leaves new clients waiting in the kernel's
// backlog, unanswered, while idle ones hold every descriptor).
//
// At the cap a new connection takes the place of the one that has idled
// longest between requests: a keep-alive connection costs a descriptor
// and no work, its client reconnects when it needs it again (HTTP lets a
// server close an idle connection at any time), and a fresh client is
// served. Only when no connection idles, every slot being busy with a
// request, is the newcomer refused: 503 problem+json with Retry-After.
//
// A connection is idle from the moment net/http says so (ConnState) until
// the first byte of its next request arrives (conn.Read); it is shed only
// while net/http waits in Read for that byte, so a request that has begun
// is never cut.
type connSet struct {
	connsMax int
	metrics  *Metrics
	log      *slog.Logger

	mu   sync.Mutex
	live int       // admitted and not yet closed
	idle list.List // of *conn, the longest idle first

	refusals atomic.Int32   // refusals being written
	refusing sync.WaitGroup // ends each refusal; Shutdown waits on it
	warned   atomic.Bool    // the cap was reached once: logged
}

// Connection states as the cap sees them.
const (
	connNew  int32 = iota // accepted, no request yet
	connBusy              // reading a request or answering it
	connIdle              // between requests
	connShed              // closed by the cap; bytes that still arrive are dropped
)

// refusalsMax bounds the connections refused at once with a 503; beyond
// it the newest are closed without an answer, so that a flood cannot
// spend the descriptors the cap keeps in reserve.
const refusalsMax = 32

func newConnSet(connsMax int, m *Metrics, log *slog.Logger) *connSet {
	return &connSet{connsMax: connsMax, metrics: m, log: log}
}

// admit takes a slot for c, shedding idle connections to make room if the
// set is full; false if no slot could be had.
func (s *connSet) admit(c *conn) bool {
	s.mu.Lock()
	for s.live >= s.connsMax {
		victim := s.sheddableLocked()
		if victim == nil {
			s.mu.Unlock()
			return false
		}
		s.mu.Unlock()
		s.warnOnce()
		s.metrics.connsShed.Inc()
		_ = victim.Close() // gives its slot back
		s.mu.Lock()
	}
	s.live++
	s.metrics.connsOpen.Inc()
	s.mu.Unlock()
	return true
}

// sheddableLocked claims the longest-idle connection that waits for its
// next request, or returns nil. Connections that turned busy leave the
// list on the way.
func (s *connSet) sheddableLocked() *conn {
	for e := s.idle.Front(); e != nil; {
		next := e.Next()
		c := e.Value.(*conn)
		switch {
		case c.waiting.Load() && c.state.CompareAndSwap(connIdle, connShed):
			s.unlistLocked(c)
			return c
		case c.state.Load() != connIdle:
			s.unlistLocked(c)
		}
		e = next
	}
	return nil
}

// release gives c's slot back; conn.Close calls it once.
func (s *connSet) release(c *conn) {
	s.mu.Lock()
	s.unlistLocked(c)
	c.released = true
	s.live--
	s.metrics.connsOpen.Dec()
	s.mu.Unlock()
}

func (s *connSet) unlistLocked(c *conn) {
	if c.idle != nil {
		s.idle.Remove(c.idle)
		c.idle = nil
	}
}

// connState is the http.Server's ConnState hook: it lists connections
// while they idle between requests.
func (s *connSet) connState(nc net.Conn, st http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	switch st {
	case http.StateIdle:
		c.state.Store(connIdle)
		s.mu.Lock()
		if c.idle == nil && !c.released {
			c.idle = s.idle.PushBack(c)
		}
		s.mu.Unlock()
	case http.StateActive, http.StateHijacked, http.StateClosed:
		c.state.CompareAndSwap(connIdle, connBusy)
		s.mu.Lock()
		s.unlistLocked(c)
		s.mu.Unlock()
	}
}

// wake marks c busy as a request's first bytes arrive; false if the cap
// already shed it.
func (c *conn) wake() bool {
	for {
		switch st := c.state.Load(); st {
		case connBusy:
			return true
		case connShed:
			return false
		default:
			if c.state.CompareAndSwap(st, connBusy) {
				return true
			}
		}
	}
}

// refuse answers a connection for which there is no slot with a 503 and
// closes it, in the background and within refusalLinger.
func (s *connSet) refuse(nc net.Conn) {
	s.warnOnce()
	s.metrics.connsRefused.Inc()
	if s.refusals.Add(1) > refusalsMax {
		s.refusals.Add(-1)
		_ = nc.Close()
		return
	}
	s.refusing.Add(1)
	go func() {
		defer s.refusing.Done()
		defer s.refusals.Add(-1)
		_ = nc.SetWriteDeadline(time.Now().Add(refusalLinger))
		if _, err := nc.Write(overloadedResponse); err != nil {
			_ = nc.Close()
			return
		}
		_ = lingerClose(nc)
	}()
}

func (s *connSet) warnOnce() {
	if s.warned.CompareAndSwap(false, true) {
		s.log.Warn(fmt.Sprintf("[HTTP] %d connections open, the cap: closing the longest-idle keep-alive connection for each new one, refusing new ones with 503 while none idles (counted in baconator_http_connections_shed_total and _refused_total)", s.connsMax))
	}
}

// overloadedResponse is what a refused connection reads, whatever its
// request: every slot is busy with a request, none idles.
var overloadedResponse = func() []byte {
	p := problem(http.StatusServiceUnavailable, "too-many-connections", "every connection the server can hold is busy with a request; retry shortly")
	body, _ := json.Marshal(p)
	return rawResponse("HTTP/1.1", p.Status, body, "Retry-After: "+retryAfterSeconds+"\r\n")
}()
