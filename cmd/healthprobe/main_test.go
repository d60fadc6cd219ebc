package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/internal/testkit"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }

// probeRun runs the probe as the HEALTHCHECK would, with env as its
// environment, and returns its exit code and stderr.
func probeRun(env map[string]string, args ...string) (int, string) {
	var stderr bytes.Buffer
	code := run(args, func(k string) string { return env[k] }, &stderr)
	return code, stderr.String()
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestHealthyOn2xx(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusNoContent} {
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
		code, stderr := probeRun(nil, srv.URL+"/readyz")
		assert.Equal(t, 0, code, "status %d: %s", status, stderr)
		assert.Empty(t, stderr)
	}
}

func TestUnhealthyOtherwiseAndSaysWhy(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"type":"not-ready","status":503}` + "\n"))
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound) // not followed: a 3xx is no health
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	code, stderr := probeRun(nil, srv.URL+"/readyz")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "503 Service Unavailable")
	assert.Contains(t, stderr, "not-ready")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)

	code, stderr = probeRun(nil, srv.URL+"/moved")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "302 Found")
}

func TestUnhealthyWhenNothingListens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	code, stderr := probeRun(nil, "http://"+addr+"/readyz")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "refused")
}

// A server that accepts but never answers is unhealthy once the timeout
// passes; the handler is released when the probe hangs up.
func TestUnhealthyWhenTheAnswerTakesTooLong(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	code, stderr := probeRun(nil, "-timeout", "50ms", srv.URL+"/readyz")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no answer within 50ms")
}

// Without a URL the probe finds the server where BACONATOR_ADDR puts it.
func TestProbesReadyzOnTheServersAddress(t *testing.T) {
	var path string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		w.WriteHeader(http.StatusOK)
	})
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	code, stderr := probeRun(map[string]string{"BACONATOR_ADDR": "0.0.0.0:" + port})
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, "/readyz", path)
}

func TestDefaultURL(t *testing.T) {
	for addr, want := range map[string]string{
		"":               "http://127.0.0.1:8080/readyz",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/readyz",
		":9000":          "http://127.0.0.1:9000/readyz",
		"[::]:9000":      "http://[::1]:9000/readyz",
		"127.0.0.1:8081": "http://127.0.0.1:8081/readyz",
		"localhost:80":   "http://localhost:80/readyz",
		"10.1.2.3:8080":  "http://10.1.2.3:8080/readyz",
	} {
		got, err := defaultURL(addr)
		if assert.NoError(t, err, addr) {
			assert.Equal(t, want, got, addr)
		}
	}
	_, err := defaultURL("8080")
	assert.ErrorContains(t, err, `BACONATOR_ADDR "8080"`)
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"http://a/", "http://b/"}, {"-timeout", "0s"}, {"-nope"}} {
		code, stderr := probeRun(nil, args...)
		assert.Equal(t, 2, code, "%q", args)
		assert.NotEmpty(t, stderr, "%q", args)
	}
	code, stderr := probeRun(map[string]string{"BACONATOR_ADDR": "no-port"})
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "BACONATOR_ADDR")
}
