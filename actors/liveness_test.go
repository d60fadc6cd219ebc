package actors

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/seed"
)

var stressRuns = flag.Int("stress-runs", 50, "seeded runs of the original's stress test at 1 ms chaos")

// TestStressAtOneMillisecondChaosAllocatesEveryOrder is the original's
// stress test — 300 orders of 1,500 lb posted at once against 2,000
// pallets of 1,000 lb, stock plentiful — with chaos striking the head of
// the FEFO line every millisecond. Chaos is the only contention there is,
// so every order must end allocated: an order is charged only for
// refusals on its own reservations, and one that was refused is planned
// alone next, where its window is the smallest there is.
func TestStressAtOneMillisecondChaosAllocatesEveryOrder(t *testing.T) {
	n := *stressRuns
	if testing.Short() {
		n = 5
	}
	specs, err := seed.Synthetic{Count: 2000, Seed: 1, Now: time.Now()}.Pallets(context.Background())
	require.NoError(t, err)
	for run := range n {
		seed := uint64(run + 1)
		if *seedFlag != 0 {
			if run > 0 {
				break
			}
			seed = *seedFlag
		}
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			seeded(t, seed)
			cfg := DefaultConfig() // the server's defaults: batches of 256, 8 conflicts allowed
			cfg.Seed = seed
			cfg.Logger = debugLogger
			cfg.Chaos.Interval = time.Millisecond
			e := startEngine(t, cfg)
			receive(t, e, specs...)

			const orders, lbs = 300, 1500
			var wg sync.WaitGroup
			for i := range orders {
				wg.Go(func() {
					_, _, err := e.PlaceOrder(order(fmt.Sprintf("o%d", i), lbs))
					if err != nil {
						t.Errorf("place o%d: %v", i, err)
					}
				})
			}
			wg.Wait()
			allocated, conflicts := 0, 0
			for i := range orders {
				o := wait(t, e, fmt.Sprintf("o%d", i))
				conflicts += o.Conflicts
				if o.Status == inventory.StatusAllocated {
					allocated++
					continue
				}
				t.Errorf("order %s ended %s/%s after %d attempts with %d conflicts of its own", o.Request.ID, o.Status, o.Reason, o.Attempts, o.Conflicts)
			}
			require.Equal(t, orders, allocated, "every order allocated (%d conflicts, %d strikes)", conflicts, e.Stats().Strikes)
		})
	}
}
