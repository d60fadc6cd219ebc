// Command loadgen drives a running Baconator server and audits it
// afterwards. Its defaults reproduce the original stress test: 300
// concurrent orders of 1,500 lb. See loadtest for what it measures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run returns the exit code: 0 all invariants held (and an open loop kept
// up with its rate), 1 the run or its audit failed, 2 bad flags, 3 the
// audit passed but the server did not keep up with the offered rate
// (saturated; -allow-saturated makes that 0).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := loadtest.DefaultConfig()
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lbs := fs.String("lbs", "1500", "pounds per order (at most two decimals)")
	fs.StringVar(&cfg.URL, "url", cfg.URL, "server")
	fs.IntVar(&cfg.Orders, "orders", cfg.Orders, "orders to send (0 with -duration: until it ends)")
	fs.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "concurrent clients (open loop: the most requests in flight)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open-loop orders per second; 0 = closed loop, as fast as the clients go")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop sending after this long (a soak run)")
	fs.DurationVar(&cfg.Settle, "settle", cfg.Settle, "how long to wait for accepted orders to end")
	fs.StringVar(&cfg.SKU, "sku", "", "SKU to order (default: the server's, pork); several, comma separated, are ordered in turn")
	fs.IntVar(&cfg.Partitions, "partitions", 0, "the server is a cluster of this many partitions (12): its lists are read one partition at a time; 0 for a single node")
	fs.StringVar(&cfg.Follow, "follow", cfg.Follow, "how to learn that an order ended: events (one event stream for the run) or poll (a long poll per order)")
	jsonPath := fs.String("json", "", "also write the report as JSON to this path (- for stdout)")
	htmlPath := fs.String("html", "", "also write a self-contained HTML report to this path: a summary of the run, and charts of it and of the server")
	cpuProfile := fs.String("cpuprofile", "", "write the load generator's own CPU profile to this path (what the client costs, on a shared machine)")
	allowSaturated := fs.Bool("allow-saturated", false, "exit 0 even if the server did not keep up with -rate (to find a knee on purpose)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // the usage is printed
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	w, err := inventory.ParseLbs(*lbs)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: -lbs: %v\n", err)
		return 2
	}
	cfg.Lbs = w
	cfg.APIKey = os.Getenv("BACONATOR_API_KEY")
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	if f, ok := stderr.(*os.File); ok && loadtest.IsTerminal(f) {
		cfg.Progress = stderr
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: -cpuprofile: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "loadgen: -cpuprofile: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	report, err := loadtest.Run(ctx, cfg)
	if err != nil {
		if errors.Is(err, loadtest.ErrUnreachable) {
			fmt.Fprintf(stderr, "loadgen: %v\n  is the server running? start it with: go run ./cmd/baconator\n", err)
		} else {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
		}
		return 1
	}
	report.WriteText(stdout)
	if err := writeTo(*jsonPath, stdout, report.WriteJSON); err != nil {
		fmt.Fprintf(stderr, "loadgen: -json: %v\n", err)
		return 1
	}
	if err := writeTo(*htmlPath, stdout, report.WriteHTML); err != nil {
		fmt.Fprintf(stderr, "loadgen: -html: %v\n", err)
		return 1
	}
	return exitCode(report, *allowSaturated)
}

// exitCode is what a finished run exits with: 1 if its audit failed or an
// order did not end, 3 if it saturated (unless allowed), else 0. The audit
// comes first: a broken invariant is never hidden behind a load verdict.
func exitCode(report *loadtest.Report, allowSaturated bool) int {
	switch {
	case !report.OK():
		return 1
	case report.Saturated && !allowSaturated:
		return 3
	}
	return 0
}

func writeTo(path string, stdout io.Writer, write func(io.Writer) error) error {
	switch path {
	case "":
		return nil
	case "-":
		return write(stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
