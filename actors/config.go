package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// Config configures an Engine. Build it from DefaultConfig and check it
// with Validate; New does both.
type Config struct {
	// IntakeCapacity bounds orders accepted but not yet handed to a
	// coordinator; past it PlaceOrder answers ErrIntakeFull at once.
	IntakeCapacity int
	// OrdersInFlightMax bounds orders handed to coordinators and not yet
	// terminal, so accepted-but-unfinished work stays bounded too.
	OrdersInFlightMax int
	// BatchOrdersMax bounds how many queued orders one attempt plans.
	BatchOrdersMax int
	// RetryAttemptsMax bounds conflicts per order before it is rejected
	// for contention.
	RetryAttemptsMax int
	// RetryBackoffBase and RetryBackoffMax shape the jittered exponential
	// backoff after a conflict.
	RetryBackoffBase, RetryBackoffMax time.Duration
	// HoldTimeout is how long a hold lives unconfirmed before the pallet
	// drops it (its coordinator vanished).
	HoldTimeout time.Duration
	// ReplyTimeout is how long a coordinator waits for a phase's replies.
	ReplyTimeout time.Duration
	// ProcessDelay is an artificial pause per order before allocation,
	// spent in the draining stage, to show intake decoupled from work.
	ProcessDelay time.Duration
	// Chaos configures the chaos actor; a zero Interval turns it off.
	Chaos ChaosConfig
	// Seed makes the engine's randomness (retry jitter, chaos) repeatable.
	Seed uint64
	// Logger receives the engine's log lines ([SYSTEM], [ALERT], [CHAOS]).
	Logger *slog.Logger
	// Recorder, if set, receives every coordinator's events in order.
	Recorder Recorder
	// Journal, if set, makes the engine durable: it journals every change
	// before anyone sees it, and Recover rebuilds the warehouse from it.
	// Nil keeps everything in memory.
	Journal *journal.Journal
	// OnFinished, if set, is called with each order's first terminal state,
	// from inside its coordinator: it must be quick (a metric, not I/O).
	OnFinished func(inventory.Order)
}

// ChaosConfig configures the chaos actor.
type ChaosConfig struct {
	Interval time.Duration      // between strikes; 0 is off
	DeltaMax inventory.CentiLbs // strikes change weight by up to ±DeltaMax
	Targets  int                // strikes hit one of the Targets earliest-expiring pallets
	SKU      string             // the SKU it strikes
	// SummaryEvery is how often it sums up at INFO what each strike and
	// conflict logs at DEBUG (0: every 10 s).
	SummaryEvery time.Duration
}

// DefaultConfig is the demo server's engine: the seed's 150 ms chaos of
// ±30 lb and generous bounds.
func DefaultConfig() Config {
	return Config{
		IntakeCapacity:    4096,
		OrdersInFlightMax: 1024,
		BatchOrdersMax:    256,
		RetryAttemptsMax:  8,
		RetryBackoffBase:  time.Millisecond,
		RetryBackoffMax:   50 * time.Millisecond,
		HoldTimeout:       5 * time.Second,
		ReplyTimeout:      2 * time.Second,
		Chaos: ChaosConfig{
			Interval: 150 * time.Millisecond,
			DeltaMax: inventory.Lbs(30),
			Targets:  5,
			SKU:      inventory.DefaultSKU,
		},
		Seed: 1,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.IntakeCapacity > 0, "intake capacity %d: must be positive", c.IntakeCapacity)
	check(c.OrdersInFlightMax > 0, "orders in flight %d: must be positive", c.OrdersInFlightMax)
	check(c.BatchOrdersMax > 0, "batch size %d: must be positive", c.BatchOrdersMax)
	check(c.RetryAttemptsMax >= 0, "retry attempts %d: must not be negative", c.RetryAttemptsMax)
	check(c.RetryBackoffBase > 0 && c.RetryBackoffMax >= c.RetryBackoffBase, "retry backoff %s..%s: want 0 < base <= max", c.RetryBackoffBase, c.RetryBackoffMax)
	check(c.HoldTimeout > 0, "hold timeout %s: must be positive", c.HoldTimeout)
	check(c.ReplyTimeout > 0, "reply timeout %s: must be positive", c.ReplyTimeout)
	check(c.ProcessDelay >= 0, "process delay %s: must not be negative", c.ProcessDelay)
	check(c.Chaos.Interval >= 0, "chaos interval %s: must not be negative", c.Chaos.Interval)
	if c.Chaos.Interval > 0 {
		check(c.Chaos.DeltaMax > 0, "chaos delta %s: must be positive", c.Chaos.DeltaMax)
		check(c.Chaos.Targets > 0, "chaos targets %d: must be positive", c.Chaos.Targets)
		check(c.Chaos.SKU != "", "chaos sku: required")
	}
	return errors.Join(errs...)
}
