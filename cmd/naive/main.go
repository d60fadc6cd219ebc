// Command naive runs the simplest server a team would write instead of
// Baconator (internal/naive): stdlib HTTP and JSON, one mutex, FEFO, in
// memory. It is here to be measured beside ours:
//
//	go run ./cmd/naive -addr 127.0.0.1:8081 &
//	wrk -t2 -c64 -d8s -s post.lua http://127.0.0.1:8081/api/orders
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/baconator/baconator/internal/naive"
	"github.com/baconator/baconator/seed"
)

func main() {
	fs := flag.NewFlagSet("naive", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	pallets := fs.Int("seed-pallets", 2000, "synthetic pallets of 1,000 lb (the same as baconator's)")
	seedN := fs.Uint64("seed", 1, "seed of the synthetic pallets")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		os.Exit(2)
	}
	specs, err := seed.Synthetic{Count: *pallets, Seed: *seedN, Now: time.Now()}.Pallets(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "naive reference server on http://%s (%d pallets, one mutex, in memory)\n", *addr, len(specs))
	srv := &http.Server{Addr: *addr, Handler: naive.New(specs).Handler(), ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
