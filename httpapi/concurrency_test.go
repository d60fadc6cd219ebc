package httpapi

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/actors"
)

func TestLastFiftyPoundsOverHTTP(t *testing.T) {
	f := newFixture(t)
	r := f.do(http.MethodPost, "/api/inventory", `{"id":"L","sku":"last","supplier":"F","weightLbs":50,"expirationDate":"`+future(3)+`"}`)
	require.Equal(t, http.StatusCreated, r.Code)
	for round := range 50 {
		if round > 0 {
			// Put the 50 lb back for the next round by cancelling the winner.
			f.do(http.MethodPost, fmt.Sprintf("/api/orders/a-%d/cancel", round-1), "")
			f.do(http.MethodPost, fmt.Sprintf("/api/orders/b-%d/cancel", round-1), "")
		}
		var wg sync.WaitGroup
		for _, who := range []string{"a", "b"} {
			wg.Go(func() {
				r := f.do(http.MethodPost, "/api/orders", fmt.Sprintf(`{"id":"%s-%d","sku":"last","customer":"%s","amountRequested":50}`, who, round, who))
				assert.Equal(t, http.StatusAccepted, r.Code)
			})
		}
		wg.Wait()
		won := 0
		for _, who := range []string{"a", "b"} {
			o := f.waitTerminal(fmt.Sprintf("%s-%d", who, round))
			if o["status"] == "allocated" {
				won++
			} else {
				assert.Equal(t, "insufficient_stock", o["reason"])
			}
		}
		require.Equal(t, 1, won, "round %d: exactly one order wins the last 50 lb", round)
	}
}

func TestTwentyDuplicatesAtOnce(t *testing.T) {
	f := newFixture(t)
	codes := make(chan int, 20)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			codes <- f.do(http.MethodPost, "/api/orders", `{"id":"dup","customer":"c","amountRequested":100}`).Code
		})
	}
	wg.Wait()
	close(codes)
	accepted := 0
	for c := range codes {
		require.Contains(t, []int{http.StatusAccepted, http.StatusOK}, c)
		if c == http.StatusAccepted {
			accepted++
		}
	}
	assert.Equal(t, 1, accepted, "one order, nineteen answers about it")
	assert.Equal(t, "allocated", f.waitTerminal("dup")["status"])
	assert.EqualValues(t, 900, f.do(http.MethodGet, "/api/inventory/P-1", "").json()["weightLbs"], "allocated once")
}

func TestFloodAgainstASmallIntake(t *testing.T) {
	f := newFixture(t, func(c *actors.Config, _ *Config) {
		c.IntakeCapacity, c.OrdersInFlightMax, c.ProcessDelay = 8, 2, time.Millisecond
	})
	const flood = 200
	var (
		mu       sync.Mutex
		accepted []string
		throttle int
		wg       sync.WaitGroup
	)
	for i := range flood {
		wg.Go(func() {
			id := fmt.Sprintf("f-%d", i)
			r := f.do(http.MethodPost, "/api/orders", fmt.Sprintf(`{"id":%q,"customer":"c","amountRequested":1}`, id))
			mu.Lock()
			defer mu.Unlock()
			switch r.Code {
			case http.StatusAccepted:
				accepted = append(accepted, id)
			case http.StatusTooManyRequests:
				throttle++
				assert.Equal(t, "1", r.Header().Get("Retry-After"))
				assert.Equal(t, "application/problem+json", r.Header().Get("Content-Type"))
			default:
				t.Errorf("order %s: unexpected %d %s", id, r.Code, r.Body.String())
			}
		})
	}
	wg.Wait()
	assert.Positive(t, throttle, "a flood against an 8-order intake meets 429")
	assert.Equal(t, flood, throttle+len(accepted), "every request is either accepted or refused, none dropped")
	for _, id := range accepted {
		assert.Equal(t, "allocated", f.waitTerminal(id)["status"], "every accepted order completes")
	}
	assert.Len(t, allOrders(t, f.eng), len(accepted), "a refused order was not queued")
}
