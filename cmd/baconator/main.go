// Command baconator serves the allocation engine over HTTP: a seeded
// warehouse with chaos on by default. See ../../README.md and the contract
// in ../../docs/api.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		if errors.Is(err, errHelp) {
			os.Exit(0) // the usage is printed
		}
		fmt.Fprintln(os.Stderr, "baconator:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
