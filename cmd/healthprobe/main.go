// Command healthprobe is the container image's HEALTHCHECK: one GET with a
// timeout, exit 0 on a 2xx answer and 1 on anything else (a refused
// connection, a timeout, a 503 from /readyz), with one line on stderr
// saying why. The image's base (distroless) has no shell, curl or wget.
//
//	healthprobe [-timeout 2s] [URL]
//
// Without a URL it probes /readyz on the port the server listens on, taken
// from BACONATOR_ADDR as the server reads it (a wildcard host becomes
// loopback); without that, http://127.0.0.1:8080/readyz. Standard library
// only, so that the probe stays a few megabytes and never drifts with the
// server's dependencies.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// defaultAddr is the server's default -addr port, on loopback.
const defaultAddr = "127.0.0.1:8080"

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// run probes and returns the exit code: 0 healthy, 1 not, 2 a usage error.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthprobe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 || *timeout <= 0 {
		fmt.Fprintln(stderr, "usage: healthprobe [-timeout 2s] [URL]")
		return 2
	}
	url := fs.Arg(0)
	if url == "" {
		var err error
		if url, err = defaultURL(getenv("BACONATOR_ADDR")); err != nil {
			fmt.Fprintln(stderr, "healthprobe:", err)
			return 2
		}
	}
	if err := probe(url, *timeout); err != nil {
		fmt.Fprintln(stderr, "healthprobe:", err)
		return 1
	}
	return 0
}

// defaultURL is /readyz on the server's listen address, reached over
// loopback: the address the server binds may be a wildcard (0.0.0.0, ::,
// or none), which is no address to connect to.
func defaultURL(addr string) (string, error) {
	if addr == "" {
		addr = defaultAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("BACONATOR_ADDR %q: %v", addr, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}

// probe GETs url once, not following redirects, and wants a 2xx.
func probe(url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client := &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("GET %s: no answer within %s", url, timeout)
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	// The server's 503s are problem+json naming the reason (not-ready,
	// shutting-down, unavailable): worth a line in `docker inspect`.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
}
