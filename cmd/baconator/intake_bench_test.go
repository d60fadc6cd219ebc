package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baconator/baconator/internal/naive"
	"github.com/baconator/baconator/seed"
)

// BenchmarkIntakeOverHTTP sets our server beside the simplest one a team
// would write instead (internal/naive: stdlib, one mutex, in memory) and a
// bare net/http handler, over real loopback HTTP, with the same client: 64
// keep-alive connections, 1-lb orders, 2,000 pallets. It reports req/s;
// compare ratios within one run (docs/performance.md, "Against the
// simplest server"):
//
//	go test -run '^$' -bench IntakeOverHTTP -benchtime 100000x -count 3 ./cmd/baconator/
//
// The client shares the machine's cores with the server, so absolute
// rates are below wrk's; the ratios are what the targets are.
func BenchmarkIntakeOverHTTP(b *testing.B) {
	const body = `{"customer":"bench","amountRequested":1}`
	bare := serveHandler(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	specs, err := seed.Synthetic{Count: 2000, Seed: 2, Now: time.Now()}.Pallets(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	ref := serveHandler(b, naive.New(specs).Handler())
	b.Run("healthz/bare-net-http", func(b *testing.B) { hammer(b, http.MethodGet, bare+"/healthz", "") })
	b.Run("healthz/naive", func(b *testing.B) { hammer(b, http.MethodGet, ref+"/healthz", "") })
	b.Run("post/naive", func(b *testing.B) { hammer(b, http.MethodPost, ref+"/api/orders", body) })
	for _, mode := range []struct{ name, dataDir string }{{"memory", ":memory:"}, {"durable", ""}} {
		args := []string{"-seed", "2", "-log-level", "error"}
		if mode.dataDir != "" {
			args = append(args, "-data-dir", mode.dataDir)
		}
		base, _, stop := startServer(b, args...)
		waitReady(b, base)
		b.Run("healthz/ours-"+mode.name, func(b *testing.B) { hammer(b, http.MethodGet, base+"/healthz", "") })
		b.Run("post/ours-"+mode.name, func(b *testing.B) { hammer(b, http.MethodPost, base+"/api/orders", body) })
		if err := stop(); err != nil {
			b.Fatal(err)
		}
	}
}

func serveHandler(b *testing.B, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close(); <-done })
	return "http://" + ln.Addr().String()
}

// hammer sends b.N requests from 64 keep-alive connections and reports
// the rate; any answer but 200 or 202 fails the benchmark.
func hammer(b *testing.B, method, url, body string) {
	const conns = 64
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var clients sync.WaitGroup
	work := make(chan struct{}, conns)
	var failed sync.Once
	b.ResetTimer()
	for range conns {
		clients.Go(func() {
			for range work {
				var r io.Reader
				if body != "" {
					r = strings.NewReader(body)
				}
				req, _ := http.NewRequest(method, url, r)
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
						err = fmt.Errorf("%s %s: %s", method, url, resp.Status)
					}
				}
				if err != nil {
					failed.Do(func() { b.Error(err) })
				}
			}
		})
	}
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	clients.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
