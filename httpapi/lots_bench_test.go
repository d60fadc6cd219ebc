package httpapi

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
	"github.com/baconator/baconator/journal/journaltest"
	"github.com/baconator/baconator/seed"
)

var traceOrders = flag.Int("trace.orders", 1_000_000, "BenchmarkTraceLot: orders in the journal (a hundredth of them ship from the traced lot)")

// BenchmarkTraceLot traces a lot forward through the HTTP handler, as
// JSON and as CSV, in a journal of -trace.orders orders written straight
// to it, spread over 100 pallets of one lot each: the traced lot has
// -trace.orders/100 shipment lines (10,000 by default).
//
//	go test -run '^$' -bench '^BenchmarkTraceLot$' -benchtime 50x ./httpapi/
func BenchmarkTraceLot(b *testing.B) {
	h := journaltest.History{Pallets: 100, Orders: *traceOrders, Now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	j, err := journal.Open(b.TempDir(), journal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = j.Close() }) // after the engine: cleanups run last-in, first-out
	specs, err := h.Write(j)
	if err != nil {
		b.Fatal(err)
	}
	_, handler := serveJournal(b, j, 0)
	lot := specs[0].Lot
	for _, format := range []string{"json", "csv"} {
		b.Run(format, func(b *testing.B) {
			lat := hdrhistogram.New(1, int64(60*time.Second/time.Microsecond), 3)
			lines := 0
			for b.Loop() {
				began := time.Now()
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/lots/"+lot+"/trace?format="+format, nil))
				_ = lat.RecordValue(time.Since(began).Microseconds())
				if rec.Code != http.StatusOK {
					b.Fatalf("trace: %d %s", rec.Code, rec.Body)
				}
				if format == "csv" {
					lines = strings.Count(rec.Body.String(), "\n") - 1
				}
			}
			if format == "csv" && lines != h.Orders/len(specs) {
				b.Fatalf("%d shipment lines, want %d", lines, h.Orders/len(specs))
			}
			b.ReportMetric(float64(lat.ValueAtQuantile(50))/1000, "p50-ms")
			b.ReportMetric(float64(lat.ValueAtQuantile(99))/1000, "p99-ms")
		})
	}
}

// BenchmarkHoldUnderLoad holds and releases the lot at the FEFO head —
// where every order goes — over HTTP, one every 10 ms, while orders arrive
// at 2,000 a second and chaos strikes every 150 ms, on a durable journal,
// and reports how long an operator waits for the 200 (each hold or release
// is journaled before it is answered) and how many orders arrived.
//
//	go test -run '^$' -bench '^BenchmarkHoldUnderLoad$' -benchtime 400x ./httpapi/
func BenchmarkHoldUnderLoad(b *testing.B) {
	j, err := journal.Open(b.TempDir(), journal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = j.Close() }) // after the engine: cleanups run last-in, first-out
	eng, handler := serveJournal(b, j, actors.DefaultConfig().Chaos.Interval)
	specs, err := seed.Synthetic{Count: 2000, Seed: 1, Now: time.Now()}.Pallets(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := eng.ReceivePallets(specs); err != nil {
		b.Fatal(err)
	}
	lot := eng.Inventory(inventory.DefaultSKU)[0].Spec.Lot

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // 2,000 orders a second: two every millisecond
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i += 2 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for k := range 2 {
				_, _, _ = eng.PlaceOrder(inventory.OrderRequest{ID: fmt.Sprintf("load-%d", i+k), Customer: "load", Amount: inventory.Lbs(1)})
			}
		}
	})
	lat := hdrhistogram.New(1, int64(60*time.Second/time.Microsecond), 3)
	pace := time.NewTicker(10 * time.Millisecond) // an operator every 10 ms: 400 of them take 4 s of load
	defer pace.Stop()
	for i := 0; b.Loop(); i++ {
		<-pace.C
		path, body := "/api/lots/"+lot+"/hold", `{"status":"on_hold","reason":"lab test"}`
		if i%2 == 1 {
			path, body = "/api/lots/"+lot+"/release", `{"reason":"cleared"}`
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		began := time.Now()
		handler.ServeHTTP(rec, req)
		_ = lat.RecordValue(time.Since(began).Microseconds())
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
	close(stop)
	wg.Wait()
	s := eng.Stats()
	b.ReportMetric(float64(lat.ValueAtQuantile(50))/1000, "p50-ms")
	b.ReportMetric(float64(lat.ValueAtQuantile(99))/1000, "p99-ms")
	b.ReportMetric(float64(lat.Max())/1000, "max-ms")
	b.ReportMetric(float64(s.Accepted), "orders")
}

// serveJournal recovers an engine from j, with chaos every chaos (0: off),
// and returns it with the API's handler, ready; both close with b.
func serveJournal(b *testing.B, j *journal.Journal, chaos time.Duration) (*actors.Engine, http.Handler) {
	cfg := actors.DefaultConfig()
	cfg.Chaos.Interval = chaos
	cfg.Journal = j
	eng, err := actors.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = eng.Close(context.Background()) })
	if _, err := eng.Recover(); err != nil {
		b.Fatal(err)
	}
	api := New(Config{Engine: eng})
	api.SetReady()
	return eng, api.Handler()
}
