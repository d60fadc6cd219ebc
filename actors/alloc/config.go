package alloc

import (
	"errors"
	"fmt"
	"time"
)

// Config configures a Coordinator. Every bound the protocol has is here.
type Config struct {
	// SKU is the coordinator's SKU; empty for the unstocked coordinator,
	// whose view stays empty and which rejects every order it gets.
	SKU string
	// BatchOrdersMax bounds how many queued orders one attempt plans.
	BatchOrdersMax int
	// RetryAttemptsMax bounds an order's own conflicts before it is
	// rejected for contention.
	RetryAttemptsMax int
	// RetryBackoffBase and RetryBackoffMax shape the jittered exponential
	// backoff after a conflict.
	RetryBackoffBase, RetryBackoffMax time.Duration
	// HoldTimeout is how long a hold lives unconfirmed before its pallet
	// drops it (its coordinator vanished).
	HoldTimeout time.Duration
	// ReplyTimeout is how long a coordinator waits for a phase's replies.
	ReplyTimeout time.Duration
	// ResendsMax bounds how often a decided confirm chain or a return is
	// sent again before the coordinator halts.
	ResendsMax int
	// Seed makes the retry jitter repeatable.
	Seed uint64
}

// DefaultResendsMax is the default bound on resends. Locally a message is
// never lost, so one that stays unanswered means a pallet is gone: a bug.
const DefaultResendsMax = 3

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.BatchOrdersMax > 0, "batch size %d: must be positive", c.BatchOrdersMax)
	check(c.RetryAttemptsMax >= 0, "retry attempts %d: must not be negative", c.RetryAttemptsMax)
	check(c.RetryBackoffBase > 0 && c.RetryBackoffMax >= c.RetryBackoffBase, "retry backoff %s..%s: want 0 < base <= max", c.RetryBackoffBase, c.RetryBackoffMax)
	check(c.HoldTimeout > 0, "hold timeout %s: must be positive", c.HoldTimeout)
	check(c.ReplyTimeout > 0, "reply timeout %s: must be positive", c.ReplyTimeout)
	check(c.ResendsMax >= 0, "resends %d: must not be negative", c.ResendsMax)
	return errors.Join(errs...)
}
