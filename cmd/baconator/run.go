package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/httpapi"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
	"github.com/baconator/baconator/seed"
)

// errUsage marks a bad flag or setting: exit code 2.
var errUsage = errors.New("usage")

// errHelp is -h or -help: the usage was printed; the server exits 0.
var errHelp = errors.New("help requested")

// options are the server's settings, from flags or BACONATOR_* variables.
type options struct {
	addr            string
	seedPallets     int
	seed            uint64
	chaosInterval   time.Duration
	queueCapacity   int
	processDelay    time.Duration
	logLevel        string
	apiKeysFile     string
	apiKeys         string
	inventoryFile   string
	shutdownTimeout time.Duration
	dataDir         string
	idleTimeout     time.Duration
	maxConnections  int
	pprofAddr       string
	cluster         clusterOptions
}

// inMemory is the -data-dir that keeps everything in memory.
const inMemory = ":memory:"

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("baconator", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed once, by main; the usage only when asked for
	fs.Usage = func() {}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.IntVar(&o.seedPallets, "seed-pallets", 2000, "pallets to seed when the warehouse is empty (1000 lb each); 0 seeds none")
	fs.Uint64Var(&o.seed, "seed", 0, "random seed for the seeder and the chaos actor (0: time-based)")
	fs.DurationVar(&o.chaosInterval, "chaos-interval", 150*time.Millisecond, "chaos strike interval; 0 turns chaos off")
	fs.IntVar(&o.queueCapacity, "queue-capacity", 4096, "orders the intake holds before answering 429")
	fs.DurationVar(&o.processDelay, "process-delay", 0, "artificial delay per order before allocation (the seed: 100ms)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.apiKeysFile, "api-keys-file", "", "file of key:role lines (roles viewer, sales, operator)")
	fs.StringVar(&o.apiKeys, "api-keys", "", "API keys as key1:operator,key2:sales (prefer the environment or a file)")
	fs.StringVar(&o.inventoryFile, "inventory-file", "", "seed from this JSON or CSV inventory export instead of synthetic pallets")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long shutdown waits for in-flight orders")
	fs.StringVar(&o.dataDir, "data-dir", "./data", "directory of the durable journal; "+inMemory+" keeps everything in memory (lost at exit)")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", httpapi.IdleTimeoutDefault, "how long a keep-alive connection may wait for its next request")
	fs.IntVar(&o.maxConnections, "max-connections", 0, "connections held open at once (0: derived from the open-files limit)")
	fs.StringVar(&o.pprofAddr, "pprof-addr", "", "serve Go's profiler (/debug/pprof/) on this loopback address; empty: off")
	o.cluster.flags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, stderr)
			return o, errHelp
		}
		return o, fmt.Errorf("%w: %v (baconator -h lists the flags)", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	// Every flag also reads from BACONATOR_<FLAG>, unless given on the
	// command line.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		env := "BACONATOR_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !set[f.Name] {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s=%q: %v", errUsage, env, v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return o, err
	}
	switch {
	case o.seedPallets < 0:
		return o, fmt.Errorf("%w: -seed-pallets %d: must not be negative", errUsage, o.seedPallets)
	case o.queueCapacity < 1:
		return o, fmt.Errorf("%w: -queue-capacity %d: must be positive", errUsage, o.queueCapacity)
	case o.chaosInterval < 0 || o.processDelay < 0 || o.shutdownTimeout <= 0:
		return o, fmt.Errorf("%w: durations must not be negative", errUsage)
	case o.idleTimeout <= 0:
		return o, fmt.Errorf("%w: -idle-timeout %s: must be positive", errUsage, o.idleTimeout)
	case o.maxConnections < 0:
		return o, fmt.Errorf("%w: -max-connections %d: must not be negative (0: derived from the open-files limit)", errUsage, o.maxConnections)
	case o.dataDir == "":
		return o, fmt.Errorf("%w: -data-dir: required (%s for memory only)", errUsage, inMemory)
	}
	if err := o.cluster.check(o.dataDir); err != nil {
		return o, err
	}
	return o, nil
}

// printUsage lists the flags, and says that each can come from the
// environment too.
func printUsage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage: baconator [flags]\n\nServes the allocation engine over HTTP (see README.md). Flags:\n\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprintf(w, "\nEvery flag also reads BACONATOR_<FLAG> from the environment (e.g. BACONATOR_QUEUE_CAPACITY=100,\nBACONATOR_API_KEYS=\"key1:operator,key2:sales\"); the command line wins.\n")
}

func (o options) logger(stderr io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("%w: -log-level %q: want debug, info, warn or error", errUsage, o.logLevel)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})), nil
}

func (o options) keys() (httpapi.Keys, error) {
	keys := httpapi.Keys{}
	if o.apiKeysFile != "" {
		f, err := os.Open(o.apiKeysFile)
		if err != nil {
			return nil, fmt.Errorf("%w: -api-keys-file: %v", errUsage, err)
		}
		defer f.Close()
		if keys, err = httpapi.ReadKeys(f); err != nil {
			return nil, fmt.Errorf("%w: -api-keys-file %s: %v", errUsage, o.apiKeysFile, err)
		}
	}
	if o.apiKeys != "" {
		more, err := httpapi.ParseKeys(o.apiKeys)
		if err != nil {
			return nil, fmt.Errorf("%w: BACONATOR_API_KEYS: %v", errUsage, err)
		}
		for k, r := range more {
			keys[k] = r
		}
	}
	return keys, nil
}

// connsCap is how many connections the server holds open at once:
// -max-connections, or derived from the open-files limit so that accepting
// a connection never fails for want of a descriptor.
func (o options) connsCap(log *slog.Logger) int {
	limit := openFilesLimit()
	n, from := o.maxConnections, "-max-connections"
	switch {
	case n > 0 && limit > 0 && uint64(n) >= limit:
		log.Warn(fmt.Sprintf("[SYSTEM] -max-connections %d is not below the open-files limit %d: once descriptors run out, new clients wait unanswered", n, limit))
	case n == 0 && limit == 0:
		log.Warn("[SYSTEM] Open-files limit unknown: connections are not capped; set -max-connections")
		return 0
	case n == 0:
		n, from = derivedConnsMax(limit), "derived"
	}
	log.Info(fmt.Sprintf("[SYSTEM] At most %d connections at once (%s; open-files limit %d); idle ones give way to new ones", n, from, limit))
	return n
}

// loopbackOnly refuses a non-loopback address in dev mode (no API keys).
func loopbackOnly(addr string) error {
	if err := loopbackOnlyFor("-addr", addr); err != nil {
		return fmt.Errorf("%w; with no API keys (dev mode) the server listens on loopback only; configure -api-keys-file or BACONATOR_API_KEYS", err)
	}
	return nil
}

// loopbackOnlyFor refuses an address, given with flag, that is not on
// loopback.
func loopbackOnlyFor(flag, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: %s %q: %v", errUsage, flag, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %s %s: not a loopback address", errUsage, flag, addr)
}

// run is the whole server; main only wires signals to ctx. onListen, if
// set, learns the bound address (tests listen on port 0).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, onListen func(addr string)) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	log, err := o.logger(stderr)
	if err != nil {
		return err
	}
	keys, err := o.keys()
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		if err := loopbackOnly(o.addr); err != nil {
			return err
		}
		log.Warn("[SYSTEM] Dev mode: no API keys configured, so no authentication; listening on loopback only")
	}
	if o.pprofAddr != "" {
		stop, err := servePprof(o.pprofAddr, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	log.Info(fmt.Sprintf("[SYSTEM] Random seed %d (replay with -seed %d)", o.seed, o.seed))
	if o.cluster.on() {
		return runCluster(ctx, o, log, keys, onListen)
	}

	var jnl *journal.Journal
	if o.dataDir != inMemory {
		// A damaged, foreign or busy directory stops start-up here, naming
		// it; what a first start cut short left is claimed.
		if jnl, err = journal.Open(o.dataDir, journal.Options{Logger: log}); err != nil {
			if errors.Is(err, journal.ErrLocked) {
				return fmt.Errorf("%w: stop the other server or choose another -data-dir", err)
			}
			return err
		}
		defer func() {
			if err := jnl.Close(); err != nil {
				log.Error(err.Error())
			}
		}()
		log.Info(fmt.Sprintf("[SYSTEM] Journal in %s (synced writes, group commit)", o.dataDir))
	} else {
		log.Warn("[SYSTEM] -data-dir " + inMemory + ": nothing is persisted; a restart loses every order and pallet")
	}

	metrics := httpapi.NewMetrics()
	cfg := o.engineConfig(log, metrics)
	cfg.Journal = jnl
	eng, err := actors.New(cfg)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	api := httpapi.New(httpapi.Config{Engine: eng, Keys: keys, Metrics: metrics, Logger: log})

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		_ = eng.Close(context.Background())
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	srv := api.HTTPServer(httpapi.HTTPOptions{Addr: o.addr, IdleTimeout: o.idleTimeout, ConnsMax: o.connsCap(log)})
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	log.Info(fmt.Sprintf("[SYSTEM] Listening on http://%s (Swagger UI at http://%s/swagger/)", addr, addr))
	if onListen != nil {
		onListen(addr)
	}

	// Listening already: /readyz answers 503 until recovery and seeding end.
	if jnl != nil {
		if _, err := eng.Recover(); err != nil {
			shutdown(eng, srv, api, o.shutdownTimeout, log)
			return err
		}
	}
	if err := seedWarehouse(ctx, eng, o, log); err != nil {
		stopErr := shutdown(eng, srv, api, o.shutdownTimeout, log)
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			// SIGINT/SIGTERM before the server was ready is a stop like
			// any other, not a failure: nothing was seeded (receipts are
			// all or none), so the next start seeds.
			return stopErr
		}
		return err
	}
	// Recovery and seeding build their inputs in bulk (every checkpoint
	// read, every receipt batched) and then hold only what is live: hand
	// that garbage back now rather than over the runtime's next minutes,
	// so a warehouse's resident memory is what it holds, from the start.
	debug.FreeOSMemory()
	api.SetReady()

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		shutdown(eng, srv, api, o.shutdownTimeout, log)
		return fmt.Errorf("serve: %w", err)
	case <-eng.Halted():
		// Fail-stop: a broken invariant stopped the engine. Exit non-zero so
		// that the service manager restarts the server, which recovers from
		// the journal; nothing the engine did after the break was persisted.
		shutdown(eng, srv, api, o.shutdownTimeout, log)
		return eng.Err()
	}
	return shutdown(eng, srv, api, o.shutdownTimeout, log)
}

// engineConfig is an engine's configuration from the options (its journal
// aside).
func (o options) engineConfig(log *slog.Logger, metrics *httpapi.Metrics) actors.Config {
	cfg := actors.DefaultConfig()
	cfg.IntakeCapacity = o.queueCapacity
	cfg.ProcessDelay = o.processDelay
	cfg.Chaos.Interval = o.chaosInterval
	cfg.Seed = o.seed
	cfg.Logger = log
	cfg.OnFinished = metrics.ObserveFinished
	return cfg
}

// seedWarehouse fills an empty warehouse from the inventory file or the
// synthetic seeder.
func seedWarehouse(ctx context.Context, eng *actors.Engine, o options, log *slog.Logger) error {
	if len(eng.Inventory("")) > 0 || eng.RetiredCount("") > 0 {
		log.Info("[SYSTEM] Warehouse not empty: not seeding")
		return nil
	}
	var src seed.Source = seed.Synthetic{Count: o.seedPallets, Seed: o.seed, Now: time.Now()}
	if o.inventoryFile != "" {
		src = seed.File{Path: o.inventoryFile}
	}
	specs, err := src.Pallets(ctx)
	if err != nil {
		return fmt.Errorf("seed warehouse: %w", err)
	}
	if _, err := eng.ReceivePallets(specs); err != nil {
		return fmt.Errorf("seed warehouse: %w", err)
	}
	var total inventory.CentiLbs
	for _, s := range specs {
		total += s.Weight
	}
	log.Info(fmt.Sprintf("[SYSTEM] Warehouse seeded: %d pallets, %s lbs. Chaos every %s.", len(specs), total, o.chaosInterval))
	return nil
}

// shutdown stops taking writes (503), answers the requests in flight and
// closes the listener, then lets every accepted order finish and stops the
// actors — so no request ever meets a stopped actor. Each stage has its own
// deadline.
func shutdown(eng *actors.Engine, srv *httpapi.HTTPServer, api *httpapi.Server, timeout time.Duration, log *slog.Logger) error {
	log.Info("[SYSTEM] Shutting down: refusing new orders, finishing accepted ones")
	api.Drain()
	httpCtx, cancelHTTP := context.WithTimeout(context.Background(), timeout)
	defer cancelHTTP()
	srvErr := srv.Shutdown(httpCtx)
	engCtx, cancelEng := context.WithTimeout(context.Background(), timeout)
	defer cancelEng()
	engErr := eng.Close(engCtx)
	if err := errors.Join(engErr, srvErr); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	log.Info("[SYSTEM] Stopped cleanly")
	return nil
}
