package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePprof serves Go's profiler on its own loopback listener, never on
// the API's: a profile is how a slow request gets explained, and it must
// not be reachable from the network the API serves. The returned stop
// closes it.
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	if err := loopbackOnlyFor("-pprof-addr", addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof: " + err.Error())
		}
	}()
	log.Info(fmt.Sprintf("[SYSTEM] Profiler at http://%s/debug/pprof/", ln.Addr()))
	return func() { _ = srv.Close() }, nil
}
