package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDerivedConnsMax(t *testing.T) {
	for limit, want := range map[uint64]int{
		0:       0, // unknown: no cap
		100:     50,
		512:     256,
		1024:    768,
		4096:    3072,
		20000:   15000,
		1 << 62: 786432, // unlimited, or as good as
	} {
		assert.Equal(t, want, derivedConnsMax(limit), "open-files limit %d", limit)
	}
}

// TestIdleConnectionsCannotStarveNewClients runs the server binary with an
// open-files limit of 1024, holds 2,000 keep-alive connections that have
// each made one request, and checks that a fresh client is still answered
// at once. Without the connection cap the process runs out of descriptors
// near 1,000 connections, accept fails, and every new client, /healthz
// included, waits unanswered in the listen backlog.
func TestIdleConnectionsCannotStarveNewClients(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server binary and holds 2,000 connections")
	}
	const (
		serverOpenFiles = 1024
		idleConns       = 2000
		answerWithin    = 2 * time.Second
	)
	var own syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &own))
	if own.Cur < idleConns+256 {
		t.Skipf("the test's own open-files limit, %d, cannot hold %d connections", own.Cur, idleConns)
	}
	bin := buildServer(t)
	srv := startCmd(t, exec.Command("sh", "-c", `ulimit -n `+strconv.Itoa(serverOpenFiles)+` && exec "$0" "$@"`,
		bin, "-addr", "127.0.0.1:0", "-data-dir", t.TempDir(), "-seed-pallets", "0", "-chaos-interval", "0"))
	require.Contains(t, srv.logs.String(), "At most 768 connections at once (derived; open-files limit 1024)")
	addr := strings.TrimPrefix(srv.base, "http://")

	started := time.Now()
	for i := range idleConns {
		c, err := net.DialTimeout("tcp", addr, answerWithin)
		require.NoError(t, err, "connection %d", i)
		t.Cleanup(func() { _ = c.Close() })
		status, _, err := getOn(c, bufio.NewReader(c), "/healthz", answerWithin)
		require.NoError(t, err, "connection %d: not answered within %s", i, answerWithin)
		require.Equal(t, http.StatusOK, status, "connection %d", i)
	}
	opened := time.Since(started)

	// The fresh client asks for /healthz and then /metrics on one
	// keep-alive connection. Had it closed its connection and opened
	// another, the server could admit the second (shedding an idle one to
	// make room) before releasing the first, and the gauge read between
	// the two would be one short of the cap.
	asked := time.Now()
	fresh, err := net.DialTimeout("tcp", addr, answerWithin)
	require.NoError(t, err)
	defer fresh.Close()
	br := bufio.NewReader(fresh)
	status, _, err := getOn(fresh, br, "/healthz", answerWithin)
	require.NoError(t, err, "a fresh client is answered while %d connections idle", idleConns)
	require.Equal(t, http.StatusOK, status)
	t.Logf("%d keep-alive connections opened in %s; a fresh /healthz answered in %s", idleConns, opened.Round(time.Millisecond), time.Since(asked).Round(time.Microsecond))

	status, metrics, err := getOn(fresh, br, "/metrics", answerWithin)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(metrics), "baconator_http_connections 768\n", "the cap is full: of idle connections")
	srv.stop(t)
}

// getOn sends a GET for path on the keep-alive connection c and reads the
// answer from br, all within timeout.
func getOn(c net.Conn, br *bufio.Reader, path string, timeout time.Duration) (int, []byte, error) {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return 0, nil, err
	}
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: baconator\r\n\r\n"); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}
