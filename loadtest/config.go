package loadtest

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/baconator/baconator/inventory"
)

// Config is one load run.
type Config struct {
	URL         string             // the server, e.g. http://127.0.0.1:8080
	Orders      int                // orders to send; 0 with Duration means until the duration ends
	Concurrency int                // closed loop: clients, each with one order in flight
	Lbs         inventory.CentiLbs // pounds per order
	SKU         string             // empty: the server's default (pork); several, comma separated, are ordered in turn
	Rate        float64            // open loop: orders per second; 0 is closed loop
	Duration    time.Duration      // soak: stop sending after this long (0: until Orders are sent)
	APIKey      string             // bearer key with the sales role, if the server wants one
	Settle      time.Duration      // how long to wait for accepted orders to end
	Progress    io.Writer          // a live progress line, or nil
	RunID       string             // prefixes order ids; random if empty
	Follow      string             // how orders are followed to their end: FollowEvents (the default, also when empty) or FollowPoll
	Partitions  int                // a cluster's partitions (its lists are each one partition's); 0 for a single node
}

// DefaultConfig reproduces the original's stress test: 300 concurrent
// orders of 1,500 lb.
func DefaultConfig() Config {
	return Config{URL: "http://127.0.0.1:8080", Orders: 300, Concurrency: 300, Lbs: inventory.Lbs(1500), Settle: 2 * time.Minute, Follow: FollowEvents}
}

// Limits on a run, so that a typo cannot melt the machine.
const (
	concurrencyMax = 100_000
	rateMax        = 1_000_000
	partitionsMax  = 1024
)

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("-url %q: want http://host:port", c.URL))
	}
	if c.Orders < 0 {
		errs = append(errs, fmt.Errorf("-orders %d: must not be negative", c.Orders))
	}
	if c.Orders == 0 && c.Duration == 0 {
		errs = append(errs, errors.New("-orders 0 needs a -duration"))
	}
	if c.Concurrency < 1 || c.Concurrency > concurrencyMax {
		errs = append(errs, fmt.Errorf("-concurrency %d: want 1..%d", c.Concurrency, concurrencyMax))
	}
	if c.Lbs <= 0 || c.Lbs > inventory.WeightMaxCentiLbs {
		errs = append(errs, fmt.Errorf("-lbs %s: want a positive weight up to %s", c.Lbs, inventory.WeightMaxCentiLbs))
	}
	if c.Rate < 0 || c.Rate > rateMax {
		errs = append(errs, fmt.Errorf("-rate %g: want 0 (closed loop) up to %d", c.Rate, rateMax))
	}
	if c.Duration < 0 || c.Settle <= 0 {
		errs = append(errs, errors.New("-duration must not be negative and -settle must be positive"))
	}
	if c.Follow != "" && c.Follow != FollowEvents && c.Follow != FollowPoll {
		errs = append(errs, fmt.Errorf("-follow %q: want %s or %s", c.Follow, FollowEvents, FollowPoll))
	}
	if c.Partitions < 0 || c.Partitions > partitionsMax {
		errs = append(errs, fmt.Errorf("-partitions %d: want 0 (a single node) up to %d", c.Partitions, partitionsMax))
	}
	return errors.Join(errs...)
}
