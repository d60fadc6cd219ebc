package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/loadtest"
)

var (
	crashCycles = flag.Int("crash-cycles", 8, "SIGKILL cycles in the crash test")
	crashSeed   = flag.Uint64("crash-seed", 1, "seed of the crash test's load and kill moments")
)

// TestSIGKILLLosesNothingAcknowledged builds the real server binary, runs
// it on one data directory with chaos on, drives seeded load at it, kills
// it with SIGKILL at seeded moments and starts it again, many times. Then,
// through the API only: every order that got a 202 is there and ends
// terminal, every acknowledged adjustment is in its ledger, every
// acknowledged hold still holds, ledgers sum to
// weights, nothing is negative, and every order holds exactly what the
// ledgers gave it — so none was allocated twice.
func TestSIGKILLLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the server binary")
	}
	bin := buildServer(t)
	dir := t.TempDir()
	seed := *crashSeed
	rng := rand.New(rand.NewPCG(seed, 0xdead))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with: go test ./cmd/baconator -run '%s' -crash-seed %d", t.Name(), seed)
		}
	})
	acked := map[string]string{}       // order id → the body that got a 202
	adjusted := map[string][]float64{} // pallet → versions of acknowledged adjustments
	held := map[string]bool{}          // pallets whose hold was acknowledged (nothing releases them)
	for cycle := range *crashCycles {
		srv := startBinary(t, bin, dir, seed+uint64(cycle))
		ctx, stopLoad := context.WithCancel(context.Background())
		var mu sync.Mutex
		var wg sync.WaitGroup
		pallets := palletIDs(t, srv.base)
		for w := range 6 {
			wrng := rand.New(rand.NewPCG(seed, uint64(cycle*100+w)))
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					if wrng.IntN(60) == 0 {
						id := pallets[wrng.IntN(len(pallets))]
						if status, _ := post(ctx, srv.base+"/api/inventory/"+url.PathEscape(id)+"/hold", `{"status":"on_hold","reason":"lab"}`); status == http.StatusOK {
							mu.Lock()
							held[id] = true
							mu.Unlock()
						}
						continue
					}
					if wrng.IntN(10) == 0 {
						id := pallets[wrng.IntN(len(pallets))]
						status, body := post(ctx, srv.base+"/api/inventory/"+url.PathEscape(id)+"/adjustments", fmt.Sprintf(`{"deltaLbs":%d,"reason":"count_correction"}`, 1+wrng.IntN(40)))
						if status == http.StatusOK {
							var p struct{ Version float64 }
							if json.Unmarshal(body, &p) == nil {
								mu.Lock()
								adjusted[id] = append(adjusted[id], p.Version)
								mu.Unlock()
							}
						}
						continue
					}
					id := fmt.Sprintf("c%d-w%d-%d", cycle, w, i)
					body := fmt.Sprintf(`{"id":%q,"customer":"crash","amountRequested":%d}`, id, 1+wrng.IntN(1500))
					if status, _ := post(ctx, srv.base+"/api/orders", body); status == http.StatusAccepted {
						mu.Lock()
						acked[id] = body
						mu.Unlock()
					}
				}
			})
		}
		// Any moment must do; the seed picks one. Sleeping here is the
		// workload's running time, not synchronization.
		time.Sleep(time.Duration(20+rng.IntN(300)) * time.Millisecond)
		srv.kill(t)
		stopLoad()
		wg.Wait()
		t.Logf("cycle %d: killed with %d orders acknowledged so far", cycle, len(acked))
	}

	srv := startBinary(t, bin, dir, seed+1000)
	srv.waitLog(t, "[SYSTEM] Recovered")
	verifyAcknowledged(t, srv.base, acked, adjusted, held, 0)
	srv.stop(t)
}

// verifyAcknowledged checks, through the API at base, that everything the
// clients of a crash test were told was done is there: every order that
// got a 202 ended, every acknowledged adjustment is in its pallet's ledger,
// every acknowledged hold holds; and that the audit of every pallet and
// order (those accepted that no client heard of too) passes: ledgers sum to
// weights, every order holds exactly what the ledgers gave it. partitions
// is a cluster's (its lists are each one partition's), 0 for one server.
func verifyAcknowledged(t *testing.T, base string, acked map[string]string, adjusted map[string][]float64, held map[string]bool, partitions int) {
	t.Helper()
	var ids []string
	for id, body := range acked {
		o := getOrder(t, base, id)
		require.True(t, strings.Contains(body, fmt.Sprintf(`"id":%q`, o.ID)), "order %s", id)
		require.Contains(t, []string{"allocated", "rejected", "cancelled"}, o.Status, "order %s never ended", id)
		ids = append(ids, id)
	}
	require.NotEmpty(t, adjusted, "the load adjusts pallets: the check below must have something to check")
	for id, versions := range adjusted {
		var ledger struct {
			Entries []struct {
				Kind    string
				Version float64
			}
		}
		getInto(t, base+"/api/inventory/"+url.PathEscape(id)+"/ledger", &ledger)
		for _, v := range versions {
			found := false
			for _, e := range ledger.Entries {
				found = found || (e.Version == v && e.Kind == "adjusted")
			}
			require.True(t, found, "pallet %s: acknowledged adjustment at v%v lost", id, v)
		}
	}
	require.NotEmpty(t, held, "the load holds pallets: the check below must have something to check")
	for id := range held {
		var p struct{ Status string }
		getInto(t, base+"/api/inventory/"+url.PathEscape(id), &p)
		require.Equal(t, "on_hold", p.Status, "pallet %s: an acknowledged hold was lost", id)
	}
	ids = append(ids, unacknowledged(t, base, acked, partitionScopes(partitions)...)...) // accepted, the client never heard: audited too
	res, err := loadtest.AuditServer(context.Background(), loadtest.Config{URL: base, Partitions: partitions}, ids)
	require.NoError(t, err)
	for _, c := range res.Checks {
		require.True(t, c.OK, "%s: %s", c.Name, c.Detail)
	}
	t.Logf("%d orders acknowledged, %d pallets adjusted, %d held: all there; the audit passed", len(acked), len(adjusted), len(held))
}

func post(ctx context.Context, url, body string) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil // killed mid-request: its outcome is unknown, so not acknowledged
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil
	}
	return resp.StatusCode, b
}

// getInto reads url into into, as a client does: a 503 (a cluster's
// partition changing hands) is tried again after its Retry-After, for at
// most two minutes.
func getInto(t *testing.T, url string, into any) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(url)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		if resp.StatusCode == http.StatusServiceUnavailable && time.Now().Before(deadline) {
			time.Sleep(time.Second) // the answer's Retry-After
			continue
		}
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", url, body)
		require.NoError(t, json.Unmarshal(body, into))
		return
	}
}

type apiOrder struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// getOrder follows an order until it ends, as a client does: a long poll
// again while it is under way, and a 503 (a cluster's partition changing
// hands, or its owner catching up) tried again after its Retry-After; for
// at most two minutes, which only a machine far busier than any test's
// needs.
func getOrder(t *testing.T, base, id string) apiOrder {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(base + "/api/orders/" + url.PathEscape(id) + "?wait=30s")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		var o apiOrder
		switch {
		case time.Now().After(deadline):
		case resp.StatusCode == http.StatusServiceUnavailable:
			time.Sleep(time.Second) // the answer's Retry-After
			continue
		case resp.StatusCode == http.StatusOK && json.Unmarshal(body, &o) == nil && !inventory.Status(o.Status).Terminal():
			continue
		}
		require.Equal(t, http.StatusOK, resp.StatusCode, "order %s: %s", id, body)
		require.NoError(t, json.Unmarshal(body, &o))
		return o
	}
}

// partitionScopes is a list's scope for each of a cluster's n partitions
// (none for one server).
func partitionScopes(n int) []string {
	var scopes []string
	for p := range n {
		scopes = append(scopes, "&partition="+strconv.Itoa(p))
	}
	return scopes
}

// orWhole is the scopes given, or the whole server's.
func orWhole(scopes []string) []string {
	if len(scopes) == 0 {
		return []string{""}
	}
	return scopes
}

// palletIDs lists every pallet, retired ones too (an adjustment brings one
// back): of the whole server, or of each scope given (a cluster's
// "&partition=N").
func palletIDs(t *testing.T, base string, scopes ...string) []string {
	t.Helper()
	var ids []string
	for _, scope := range orWhole(scopes) {
		var inv struct{ Batches []struct{ ID string } }
		getInto(t, base+"/api/inventory?state=all"+scope, &inv)
		for _, b := range inv.Batches {
			ids = append(ids, b.ID)
		}
	}
	require.NotEmpty(t, ids)
	return ids
}

// unacknowledged lists the orders the server holds that no client saw a
// 202 for (killed before the answer got out): of the whole server, or of
// each scope given.
func unacknowledged(t *testing.T, base string, acked map[string]string, scopes ...string) []string {
	t.Helper()
	var out []string
	for _, scope := range orWhole(scopes) {
		cursor := ""
		for {
			var page struct {
				Orders     []apiOrder
				NextCursor string
			}
			getInto(t, base+"/api/orders?limit=1000"+scope+"&cursor="+url.QueryEscape(cursor), &page)
			for _, o := range page.Orders {
				if _, ok := acked[o.ID]; !ok {
					out = append(out, o.ID)
				}
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
	}
	return out
}
