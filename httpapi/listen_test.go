package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveTCP serves the fixture's API through HTTPServer, as the server
// binary does, on a free loopback port.
func serveTCP(t *testing.T, f *fixture, o HTTPOptions) (string, *HTTPServer) {
	t.Helper()
	hs := f.api.HTTPServer(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, hs.Shutdown(ctx))
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	})
	return ln.Addr().String(), hs
}

// ioDeadline bounds every raw exchange in these tests.
const ioDeadline = 5 * time.Second

// dial opens a raw connection to addr, closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioDeadline)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(ioDeadline)))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

type rawReply struct {
	*http.Response
	body []byte
}

// exchange writes raw bytes on c and reads one response from br.
func exchange(t *testing.T, c net.Conn, br *bufio.Reader, raw string) rawReply {
	t.Helper()
	_, err := io.WriteString(c, raw)
	require.NoError(t, err)
	return readReply(t, br)
}

func readReply(t *testing.T, br *bufio.Reader) rawReply {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return rawReply{resp, body}
}

// problem checks that the reply is problem+json with this status and
// returns its type.
func (r rawReply) problem(t *testing.T, status int) string {
	t.Helper()
	require.Equal(t, status, r.StatusCode, "%s", r.body)
	assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
	var p Problem
	require.NoError(t, json.Unmarshal(r.body, &p), "%s", r.body)
	assert.Equal(t, status, p.Status)
	assert.Equal(t, http.StatusText(status), p.Title)
	assert.NotEmpty(t, p.Detail)
	return p.Type
}

// TestNetHTTPRefusalsAreProblems sends, over a real socket, requests that
// net/http refuses before any handler runs: none is answered 5xx, and every
// answer is problem+json.
func TestNetHTTPRefusalsAreProblems(t *testing.T) {
	f := newFixture(t)
	addr, _ := serveTCP(t, f, HTTPOptions{ConnsMax: 64})
	order := `{"customer":"c","amountRequested":1}`
	post := func(te string) string {
		return "POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + te + "\r\n" + order
	}
	tests := []struct {
		name, raw string
		status    int
		typ       string
	}{
		{"Transfer-Encoding gzip", post("Transfer-Encoding: gzip\r\n"), 400, "/problems/unsupported-transfer-encoding"},
		{"Transfer-Encoding identity", post("Transfer-Encoding: identity\r\n"), 400, "/problems/unsupported-transfer-encoding"},
		{"Transfer-Encoding chunked, gzip", post("Transfer-Encoding: chunked, gzip\r\n"), 400, "/problems/unsupported-transfer-encoding"},
		{"Transfer-Encoding twice", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 400, "/problems/unsupported-transfer-encoding"},
		{"HTTP/2.0", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 400, "/problems/unsupported-http-version"},
		{"HTTP/3.0", "GET /healthz HTTP/3.0\r\nHost: x\r\n\r\n", 400, "/problems/unsupported-http-version"},
		{"HTTP/0.9", "GET /healthz HTTP/0.9\r\nHost: x\r\n\r\n", 400, "/problems/unsupported-http-version"},
		{"no Host", "GET /healthz HTTP/1.1\r\n\r\n", 400, "/problems/malformed-request"},
		{"a bad escape", "GET /api/orders/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "/problems/malformed-request"},
		{"not HTTP", "HELLO\r\n\r\n", 400, "/problems/malformed-request"},
		{"a bad header name", "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", 400, "/problems/malformed-request"},
		{"headers too large", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 70<<10) + "\r\n\r\n", 431, "/problems/headers-too-large"},
		{"Expect other than 100-continue", "GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n", 417, "/problems/expectation-failed"},
		{"Expect over HTTP/1.0", "GET /healthz HTTP/1.0\r\nExpect: tea\r\n\r\n", 417, "/problems/expectation-failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			r := exchange(t, c, bufio.NewReader(c), tc.raw)
			assert.Equal(t, tc.typ, r.problem(t, tc.status))
			assert.True(t, r.Close, "the connection closes after a refusal")
		})
	}
	t.Run("a refusal after a request on the same connection", func(t *testing.T) {
		c := dial(t, addr)
		br := bufio.NewReader(c)
		require.Equal(t, http.StatusOK, exchange(t, c, br, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").StatusCode)
		r := exchange(t, c, br, "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n")
		assert.Equal(t, "/problems/unsupported-http-version", r.problem(t, http.StatusBadRequest))
	})
	t.Run("chunked and Content-Length bodies are served", func(t *testing.T) {
		c := dial(t, addr)
		br := bufio.NewReader(c)
		chunked := post("Transfer-Encoding: chunked\r\n")
		chunked = strings.TrimSuffix(chunked, order) + "24\r\n" + order + "\r\n0\r\n\r\n"
		assert.Equal(t, http.StatusAccepted, exchange(t, c, br, chunked).StatusCode)
		assert.Equal(t, http.StatusAccepted, exchange(t, c, br, post("Content-Length: 36\r\n")).StatusCode)
	})
}

func TestRewriteRefusalLeavesOtherWritesAlone(t *testing.T) {
	for _, w := range []string{
		"HTTP/1.1 202 Accepted\r\nCache-Control: no-store\r\nContent-Type: application/json\r\n\r\n{}",
		"HTTP/1.1 400 Bad Request\r\nCache-Control: no-store\r\nContent-Type: application/problem+json\r\nX-Content-Type-Options: nosniff\r\nDate: Mon, 30 Nov 2026 23:48:33 GMT\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 417 Expectation Failed\r\nCache-Control: no-store\r\nConnection: close\r\nDate: Mon, 30 Nov 2026 23:48:33 GMT\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nDate: Mon, 30 Nov 2026 23:48:33 GMT\r\nContent-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nok",
		`{"id":"HTTP/1.1 400 Bad Request"}`, "HTTP/1.1 4", "",
	} {
		_, ok := rewriteRefusal([]byte(w))
		assert.False(t, ok, "%q", w)
	}
}

// FuzzRewriteRefusal: any write either passes untouched or becomes a whole
// problem+json response that closes the connection, never a 5xx.
func FuzzRewriteRefusal(f *testing.F) {
	f.Add([]byte("HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nUnsupported transfer encoding"))
	f.Add([]byte("HTTP/1.1 400 Bad Request: invalid header name\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: invalid header name"))
	f.Add([]byte("HTTP/1.0 417 Expectation Failed\r\nConnection: close\r\nDate: Mon, 30 Nov 2026 23:48:33 GMT\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 599 \r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"))
	f.Fuzz(func(t *testing.T, p []byte) {
		out, ok := rewriteRefusal(p)
		if !ok {
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Less(t, resp.StatusCode, 500, "%q", p)
		require.True(t, resp.Close)
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		var pr Problem
		require.NoError(t, json.Unmarshal(body, &pr))
		require.Equal(t, resp.StatusCode, pr.Status)
	})
}

// TestConnectionCap: at the cap, a new connection takes the place of the
// longest-idle one; with none idle it is refused with a 503 problem.
func TestConnectionCap(t *testing.T) {
	const capConns = 4
	f := newFixture(t)
	addr, hs := serveTCP(t, f, HTTPOptions{ConnsMax: capConns})
	healthz := "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

	t.Run("the longest-idle connection gives way", func(t *testing.T) {
		var conns []net.Conn
		var readers []*bufio.Reader
		for i := range capConns {
			c := dial(t, addr)
			br := bufio.NewReader(c)
			require.Equal(t, http.StatusOK, exchange(t, c, br, healthz).StatusCode)
			conns, readers = append(conns, c), append(readers, br)
			// The server lists a connection as idle only after it has
			// written the response, on its own goroutine: the client can
			// read the answer, and the next connection be answered and
			// listed, first. Wait for each one, so that the idle order is
			// the order of the exchanges.
			waitFor(t, func() bool { return hs.conns.waitingIdle() == i+1 }, "connection idle")
		}

		fresh := dial(t, addr)
		assert.Equal(t, http.StatusOK, exchange(t, fresh, bufio.NewReader(fresh), healthz).StatusCode, "a fresh client is served")
		_, err := readers[0].ReadByte()
		assert.ErrorIs(t, err, io.EOF, "the first connection, idle longest, was closed")
		assert.Equal(t, http.StatusOK, exchange(t, conns[1], readers[1], healthz).StatusCode, "the others still serve")
		for _, c := range append(conns, fresh) {
			require.NoError(t, c.Close())
		}
		waitFor(t, func() bool { return hs.conns.open() == 0 }, "every connection closed")
	})

	t.Run("with every connection busy the newest is refused", func(t *testing.T) {
		for range capConns {
			// A body that never comes keeps its handler reading.
			c := dial(t, addr)
			_, err := io.WriteString(c, "POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
			require.NoError(t, err)
		}
		waitFor(t, func() bool { return hs.conns.open() == capConns }, "every slot taken")
		fresh := dial(t, addr)
		r := exchange(t, fresh, bufio.NewReader(fresh), healthz)
		assert.Equal(t, "/problems/too-many-connections", r.problem(t, http.StatusServiceUnavailable))
		assert.Equal(t, "1", r.Header.Get("Retry-After"))
	})

	metrics := f.do(http.MethodGet, "/metrics", "").Body.String()
	assert.Contains(t, metrics, "baconator_http_connections_shed_total 1\n")
	assert.Contains(t, metrics, "baconator_http_connections_refused_total 1\n")
}

// waitFor polls cond until it holds, failing the test after ioDeadline.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	require.Eventually(t, cond, ioDeadline, time.Millisecond, what)
}

// open counts the connections holding a slot.
func (s *connSet) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// waitingIdle counts the idle connections the cap could shed now.
func (s *connSet) waitingIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for e := s.idle.Front(); e != nil; e = e.Next() {
		if c := e.Value.(*conn); c.waiting.Load() && c.state.Load() == connIdle {
			n++
		}
	}
	return n
}
