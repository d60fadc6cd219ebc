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
		require.NoError(t, c.SetDeadline(time.Now().Add(answerWithin)))
		_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: baconator\r\n\r\n")
		require.NoError(t, err, "connection %d", i)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err, "connection %d: not answered within %s", i, answerWithin)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "connection %d", i)
	}
	opened := time.Since(started)

	fresh := &http.Client{Timeout: answerWithin, Transport: &http.Transport{DisableKeepAlives: true}}
	asked := time.Now()
	resp, err := fresh.Get(srv.base + "/healthz")
	require.NoError(t, err, "a fresh client is answered while %d connections idle", idleConns)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	t.Logf("%d keep-alive connections opened in %s; a fresh /healthz answered in %s", idleConns, opened.Round(time.Millisecond), time.Since(asked).Round(time.Microsecond))

	resp, err = fresh.Get(srv.base + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Contains(t, string(metrics), "baconator_http_connections 768\n", "the cap is full: of idle connections")
	srv.stop(t)
}
