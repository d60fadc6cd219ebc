package httpapi

import (
	"container/list"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPOptions are the API's network settings.
type HTTPOptions struct {
	Addr string
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request; 0 means IdleTimeoutDefault.
	IdleTimeout time.Duration
	// ConnsMax caps the connections held open at once (see connSet); 0
	// means no cap. The server derives it from its open-files limit.
	ConnsMax int
}

// IdleTimeoutDefault is how long a keep-alive connection may idle unless
// configured otherwise.
const IdleTimeoutDefault = 120 * time.Second

// HTTPServer is the API on the network: an http.Server with timeouts, so
// that a slow client (slowloris) cannot hold connections open, behind a
// listener whose connections answer net/http's own refusals as
// problem+json (refusals.go) and which caps how many are open (conns.go).
// The server binary serves through exactly this, and so do the tests.
type HTTPServer struct {
	srv   *http.Server
	conns *connSet // nil without a cap
}

// HTTPServer builds the API's HTTPServer; Serve starts it.
func (s *Server) HTTPServer(o HTTPOptions) *HTTPServer {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = IdleTimeoutDefault
	}
	h := &HTTPServer{srv: &http.Server{
		Addr:              o.Addr,
		Handler:           s.echo,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      orderWaitMax + 30*time.Second, // a long-poll must still be able to answer
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    headerMaxBytes,
	}}
	if o.ConnsMax > 0 {
		h.conns = newConnSet(o.ConnsMax, s.cfg.Metrics, s.log)
		h.srv.ConnState = h.conns.connState
	}
	return h
}

// headerMaxBytes bounds a request's line and headers (431 beyond).
const headerMaxBytes = 64 << 10

// Serve answers HTTP on ln until Shutdown; it returns http.ErrServerClosed
// then, or why it stopped.
func (h *HTTPServer) Serve(ln net.Listener) error {
	return h.srv.Serve(&listener{Listener: ln, conns: h.conns})
}

// Shutdown stops accepting, closes idle connections and waits for the
// requests in flight (until ctx ends), then for the connections still
// being refused for want of a slot, which give up after refusalLinger at
// each step.
func (h *HTTPServer) Shutdown(ctx context.Context) error {
	err := h.srv.Shutdown(ctx)
	if h.conns != nil {
		h.conns.refusing.Wait()
	}
	return err
}

// listener wraps each accepted connection in a conn and, with a cap, admits
// it only if there is room (refusing it politely otherwise).
type listener struct {
	net.Listener
	conns *connSet
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := &conn{Conn: nc, set: l.conns}
		if l.conns == nil || l.conns.admit(c) {
			return c, nil
		}
		l.conns.refuse(nc)
	}
}

// conn is an accepted connection as the http.Server sees it: it rewrites
// net/http's own refusals as they are written, and tracks whether the
// connection idles between requests so that the cap may shed it.
type conn struct {
	net.Conn
	set *connSet // nil without a cap

	state   atomic.Int32 // connNew, connBusy, connIdle or connShed
	waiting atomic.Bool  // blocked in Read, which is where an idle connection waits
	refused atomic.Bool  // a refusal was written: linger on close so the client reads it
	once    sync.Once

	idle     *list.Element // this connection's place in set.idle while listed; guarded by set.mu
	released bool          // its slot is given back; guarded by set.mu
}

// Read marks the connection busy as soon as a request's first bytes
// arrive, unless the cap already took it to shed: then those bytes are
// dropped, exactly as if the idle connection had timed out a moment
// earlier, so that no request ever starts on a connection being closed.
func (c *conn) Read(p []byte) (int, error) {
	if c.set == nil {
		return c.Conn.Read(p)
	}
	c.waiting.Store(true)
	n, err := c.Conn.Read(p)
	c.waiting.Store(false)
	if n > 0 && !c.wake() {
		return 0, net.ErrClosed
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	if r, ok := rewriteRefusal(p); ok {
		c.refused.Store(true)
		if _, err := c.Conn.Write(r); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite lets net/http half-close the connection, as it does before
// it hangs up on a request whose headers were too large.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close closes the connection and gives its slot back. After a refusal it
// first reads what the client still sends, briefly: closing a socket with
// unread data resets it, and the reset can destroy the refusal before the
// client reads it. The slot is given back only then, so lingering
// connections count against the cap like any other.
func (c *conn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		if c.refused.Load() {
			err = lingerClose(c.Conn)
		} else {
			err = c.Conn.Close()
		}
		if c.set != nil {
			c.set.release(c)
		}
	})
	return err
}

// How long and how much a connection that was answered with a refusal
// still reads before it closes.
const (
	refusalLinger        = time.Second
	refusalDrainMaxBytes = 256 << 10
)

// lingerClose half-closes nc, drains what the peer still sends for at most
// refusalLinger and refusalDrainMaxBytes, then closes it.
func lingerClose(nc net.Conn) error {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = nc.SetReadDeadline(time.Now().Add(refusalLinger))
	_, _ = io.Copy(io.Discard, io.LimitReader(nc, refusalDrainMaxBytes))
	if err := nc.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
