package httpapi

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/baconator/baconator/journal"
	"github.com/baconator/baconator/journal/journaltest"
)

var (
	readsOrders = flag.Int("reads.orders", 1_000_000, "BenchmarkReads: orders in the journal")
	readsDir    = flag.String("reads.dir", "", "BenchmarkReads: keep the journal in this directory and reuse it when it holds -reads.orders orders")
)

// BenchmarkReads reads a journal holding a long history — -reads.orders
// orders, accepted one millisecond apart, allocated and ended, written
// straight to the journal — through the HTTP handlers (in process, no
// network): the newest page, a customer's newest page, a page of a status
// at a random moment of the history, the next page by cursor, an order by
// id, a pallet's ledger page. Each reports its latency percentiles; a page
// costs O(page) whatever the history, so they must not grow with it.
//
//	go test -run '^$' -bench '^BenchmarkReads$' -benchtime 2000x ./httpapi/
//	go test -run '^$' -bench '^BenchmarkReads$' -benchtime 2000x -timeout 1h ./httpapi/ -reads.orders 10000000 -reads.dir /tmp/reads-10m
func BenchmarkReads(b *testing.B) {
	h := journaltest.History{Pallets: 2000, Orders: *readsOrders, Now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	j := readsJournal(b, h)
	b.Cleanup(func() { _ = j.Close() }) // after the engine: cleanups run last-in, first-out
	_, handler := serveJournal(b, j, 0)
	get := func(b *testing.B, path string) []byte {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		return rec.Body.Bytes()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	moment := func() string { // a random moment of the history
		return url.QueryEscape(h.Start().Add(time.Duration(rng.IntN(h.Orders)) * time.Millisecond).Format(time.RFC3339Nano))
	}
	var deepCursor string // a page from the middle of the history
	{
		var page struct {
			Orders     []json.RawMessage `json:"orders"`
			NextCursor string            `json:"nextCursor"`
		}
		if err := json.Unmarshal(get(b, "/api/orders?limit=100&until="+moment()), &page); err != nil || page.NextCursor == "" || len(page.Orders) != 100 {
			b.Fatalf("a page from the middle: %d items, cursor %q, %v", len(page.Orders), page.NextCursor, err)
		}
		deepCursor = page.NextCursor
	}
	for _, c := range []struct {
		name string
		path func() string
	}{
		{"orders/newest", func() string { return "/api/orders?limit=100" }},
		{"orders/customer", func() string { return "/api/orders?limit=100&customer=" + h.Customer(rng.IntN(h.Orders)) }},
		{"orders/status-until", func() string { return "/api/orders?limit=100&status=allocated&until=" + moment() }},
		{"orders/oldest-since", func() string { return "/api/orders?limit=100&order=asc&since=" + moment() }},
		{"orders/next-page", func() string { return "/api/orders?limit=100&cursor=" + url.QueryEscape(deepCursor) }},
		{"order/by-id", func() string { return "/api/orders/" + journaltest.OrderID(rng.IntN(h.Orders)) }},
		{"ledger/page", func() string { return fmt.Sprintf("/api/inventory/P-%04d/ledger?limit=100", 1+rng.IntN(h.Pallets)) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			lat := hdrhistogram.New(1, int64(10*time.Second/time.Microsecond), 3)
			for b.Loop() {
				path := c.path()
				began := time.Now()
				get(b, path)
				_ = lat.RecordValue(time.Since(began).Microseconds())
			}
			b.ReportMetric(float64(lat.ValueAtQuantile(50))/1000, "p50-ms")
			b.ReportMetric(float64(lat.ValueAtQuantile(99))/1000, "p99-ms")
			b.ReportMetric(float64(lat.Max())/1000, "max-ms")
		})
	}
}

// readsJournal opens the benchmark's journal: -reads.dir's if it holds
// the history already, else a new one with the history written to it.
func readsJournal(b *testing.B, h journaltest.History) *journal.Journal {
	dir := *readsDir
	marker := ""
	if dir == "" {
		dir = b.TempDir()
	} else {
		marker = dir + ".orders"
		if got, err := os.ReadFile(marker); err == nil && string(got) == fmt.Sprint(h.Orders) {
			j, err := journal.Open(dir, journal.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return j
		}
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
	}
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	if _, err := h.Write(j); err != nil {
		b.Fatal(err)
	}
	b.Logf("wrote %d orders in %s", h.Orders, time.Since(began).Round(time.Second))
	if marker != "" {
		if err := os.WriteFile(marker, []byte(fmt.Sprint(h.Orders)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return j
}
