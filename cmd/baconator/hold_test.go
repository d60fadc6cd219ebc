package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAHeldLotShipsNothingAfterItsAnswer is the black-box check of a
// hold: the real server, chaos every millisecond, orders posted at about
// 2,000 a second onto the FEFO head; the lot at the head is held over
// HTTP mid-stream; afterwards its pallets' ledgers, read over HTTP, show
// no allocation after the hold's entry.
func TestAHeldLotShipsNothingAfterItsAnswer(t *testing.T) {
	base, _, _ := startServer(t, "-seed-pallets", "200", "-seed", "11", "-chaos-interval", "1ms")
	waitReady(t, base)
	var inv struct {
		Batches []struct {
			ID  string `json:"id"`
			Lot string `json:"lot"`
		} `json:"batches"`
	}
	getInto(t, base+"/api/inventory?limit=1", &inv)
	require.Len(t, inv.Batches, 1)
	lot := inv.Batches[0].Lot

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const orders = 1200 // 0.6 s at 2,000 a second
	var (
		wg   sync.WaitGroup
		sent atomic.Int64
		half = make(chan struct{})
	)
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var posts sync.WaitGroup
		defer posts.Wait()
		inFlight := make(chan struct{}, 64) // a client's connection pool, well under any connection cap
		for i := 0; i < orders; i += 2 {
			<-tick.C
			for k := range 2 {
				inFlight <- struct{}{}
				posts.Go(func() {
					defer func() { <-inFlight }()
					code, body := post(ctx, base+"/api/orders", fmt.Sprintf(`{"id":"h-%d","customer":"c","amountRequested":1}`, i+k))
					assert.Equal(t, http.StatusAccepted, code, string(body))
					if sent.Add(1) == orders/2 {
						close(half)
					}
				})
			}
		}
	})
	<-half
	code, body := post(ctx, base+"/api/lots/"+lot+"/hold", `{"status":"on_hold","reason":"lab test"}`)
	require.Equal(t, http.StatusOK, code, string(body))
	wg.Wait()
	for i := range orders {
		getOrder(t, base, fmt.Sprintf("h-%d", i)) // waits for its end
	}

	var l struct {
		Pallets []struct {
			ID string `json:"id"`
		} `json:"pallets"`
	}
	require.NoError(t, json.Unmarshal(body, &l))
	require.NotEmpty(t, l.Pallets)
	shipped := 0
	for _, p := range l.Pallets {
		var ledger struct {
			Entries []struct {
				Kind    string `json:"kind"`
				OrderID string `json:"orderId"`
				Version int64  `json:"version"`
			} `json:"entries"`
		}
		getInto(t, base+"/api/inventory/"+p.ID+"/ledger?limit=10000", &ledger)
		held := false
		for _, e := range ledger.Entries {
			switch e.Kind {
			case "held":
				held = true
			case "allocated":
				if held {
					t.Errorf("pallet %s: order %s allocated at v%d after the hold", p.ID, e.OrderID, e.Version)
				} else {
					shipped++
				}
			}
		}
		assert.True(t, held, "pallet %s has its held entry", p.ID)
	}
	t.Logf("the lot shipped %d lines before its hold and none after", shipped)
}
