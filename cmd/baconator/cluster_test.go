package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/cluster"
	"github.com/baconator/baconator/internal/testkit"
	"github.com/baconator/baconator/loadtest"
)

var (
	clusterCycles = flag.Int("cluster-cycles", 2, "SIGKILL cycles in the cluster's crash test")
	clusterSeed   = flag.Uint64("cluster-seed", 1, "seed of the cluster crash test's load and kill moments")
)

// clusterArgs are node i's flags in a local cluster of len(routes) nodes.
func clusterArgs(i int, routes []string, dir string, seed uint64) []string {
	return []string{"-addr", "127.0.0.1:0", "-data-dir", dir, "-seed-pallets", "240", "-seed", fmt.Sprint(seed),
		"-chaos-interval", "20ms", "-cluster-node", fmt.Sprintf("n%d", i), "-cluster-listen", routes[i],
		"-cluster-peers", strings.Join(routes, ","), "-cluster-lease-ttl", "1s"}
}

func clusterRoutes(t *testing.T, n int) []string {
	t.Helper()
	ports, err := cluster.FreePorts("127.0.0.1", n)
	require.NoError(t, err)
	return cluster.RouteAddrs("127.0.0.1", ports)
}

// TestAClusterServesTheAPIOnEveryNode runs three nodes of the real server
// in this process, with chaos on: orders sent to every node end once, and
// are read the same from every node; repeats are answered as a single
// node answers them; the audit of every partition passes.
func TestAClusterServesTheAPIOnEveryNode(t *testing.T) {
	routes := clusterRoutes(t, 3)
	bases := make([]string, 3)
	stops := make([]func() error, 3)
	logs := make([]*testkit.SyncBuffer, 3)
	addrs := make([]chan string, 3)
	dones := make([]chan error, 3)
	for i := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		logs[i], addrs[i], dones[i] = &testkit.SyncBuffer{}, make(chan string, 1), make(chan error, 1)
		args := clusterArgs(i, routes, t.TempDir(), uint64(i+1))
		go func() { dones[i] <- run(ctx, args, io.Discard, logs[i], func(a string) { addrs[i] <- a }) }()
		var once sync.Once
		var err error
		stops[i] = func() error {
			once.Do(func() { cancel(); err = <-dones[i] })
			return err
		}
		t.Cleanup(func() { _ = stops[i]() })
	}
	for i := range 3 {
		select {
		case a := <-addrs[i]:
			bases[i] = "http://" + a
		case err := <-dones[i]:
			t.Fatalf("node %d did not start: %v\n%s", i, err, logs[i].String())
		case <-time.After(listenTimeout):
			t.Fatalf("node %d not listening within %v\n%s", i, listenTimeout, logs[i].String())
		}
		waitReady(t, bases[i])
	}
	waitOwned(t, bases, 2*time.Minute)

	// Orders sent to every node, of every partition's SKU.
	acked := map[string]int{} // order id → the node that answered 202
	var mu sync.Mutex
	var wg sync.WaitGroup
	for node := range 3 {
		for w := range 3 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(node), uint64(w)))
				for i := range 20 {
					id := fmt.Sprintf("o-%d-%d-%d", node, w, i)
					body := fmt.Sprintf(`{"id":%q,"customer":"c","sku":%q,"amountRequested":%d}`, id, cluster.SeedSKUs[rng.IntN(cluster.Partitions)], 1+rng.IntN(400))
					status, answer, _ := postAgain(bases[node]+"/api/orders", body)
					// 200: a try answered 503 had been accepted after all.
					if !assert.Contains(t, []int{http.StatusAccepted, http.StatusOK}, status, "%s", answer) {
						return
					}
					// Read at once where it was accepted: found, never 404.
					resp, err := http.Get(bases[node] + "/api/orders/" + id)
					if assert.NoError(t, err) {
						resp.Body.Close()
						assert.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, resp.StatusCode, "order %s read right after its 202", id)
					}
					mu.Lock()
					acked[id] = node
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	require.Len(t, acked, 180)

	var ids []string
	for id, node := range acked {
		o := getOrder(t, bases[(node+1)%3], id) // read from another node than took it
		require.Contains(t, []string{"allocated", "rejected"}, o.Status, "order %s", id)
		ids = append(ids, id)
	}

	// A repeat on another node is the same order; a different request
	// under its id is refused, as on a single node.
	id := ids[0]
	node := acked[id]
	var first struct {
		ID, Customer, SKU string
		AmountRequested   float64
	}
	getInto(t, bases[node]+"/api/orders/"+id, &first)
	same := fmt.Sprintf(`{"id":%q,"customer":%q,"sku":%q,"amountRequested":%v}`, id, first.Customer, first.SKU, first.AmountRequested)
	status, body, _ := postAgain(bases[(node+2)%3]+"/api/orders", same)
	assert.Equal(t, http.StatusOK, status, "%s", body)
	status, body, _ = postAgain(bases[(node+1)%3]+"/api/orders", strings.Replace(same, `"customer":"c"`, `"customer":"other"`, 1))
	assert.Equal(t, http.StatusConflict, status, "%s", body)

	// One id, two different orders sent to two nodes at the same moment:
	// one is accepted and stays the order under the id, the other is
	// refused — never two 202s, never a 202 whose order is replaced.
	for i := range 10 {
		id := fmt.Sprintf("race-%d", i)
		bodies := []string{
			fmt.Sprintf(`{"id":%q,"customer":"alice","sku":"beef","amountRequested":5}`, id),
			fmt.Sprintf(`{"id":%q,"customer":"bob","sku":"beef","amountRequested":5}`, id),
		}
		statuses := make([]int, 2)
		var race sync.WaitGroup
		for k := range 2 {
			race.Go(func() { statuses[k], _, _ = postAgain(bases[k]+"/api/orders", bodies[k]) })
		}
		race.Wait()
		won := slices.Index(statuses, http.StatusAccepted)
		if won < 0 { // a try answered 503 had been accepted; its repeat says 200
			won = slices.Index(statuses, http.StatusOK)
		}
		require.NotEqual(t, -1, won, "one of %v is accepted", statuses)
		assert.Equal(t, http.StatusConflict, statuses[1-won], "the other is refused: %v", statuses)
		var o struct{ Customer string }
		getInto(t, bases[2]+"/api/orders/"+id, &o)
		assert.Equal(t, []string{"alice", "bob"}[won], o.Customer, "the order under %s is the one accepted", id)
	}

	// A request every partition refuses alike (a body that does not
	// parse) does not make a node forget where a lot is.
	var lots struct{ Batches []struct{ ID, Lot string } }
	getInto(t, bases[0]+"/api/inventory?sku=lamb&limit=1", &lots)
	require.NotEmpty(t, lots.Batches)
	lot, pallet := lots.Batches[0].Lot, lots.Batches[0].ID
	status, body, _ = postAgain(bases[1]+"/api/lots/"+lot+"/hold", `{`)
	assert.Equal(t, http.StatusBadRequest, status, "%s", body)
	getInto(t, bases[1]+"/api/lots/"+lot, &struct{}{})

	// A pallet id or a lot another partition holds is refused at receipt,
	// as one warehouse refuses it.
	receipt := `{"id":%q,"sku":"veal","lot":%q,"supplier":"Farm_1","weightLbs":100,"expirationDate":%q}`
	expires := time.Now().Add(10 * 24 * time.Hour).UTC().Format(time.RFC3339)
	status, body, _ = postAgain(bases[2]+"/api/inventory", fmt.Sprintf(receipt, pallet, "L-new", expires))
	assert.Equal(t, http.StatusConflict, status, "a lamb pallet's id for a veal pallet: %s", body)
	status, body, _ = postAgain(bases[2]+"/api/inventory", fmt.Sprintf(receipt, "P-new-veal", lot, expires))
	assert.Equal(t, http.StatusBadRequest, status, "a lamb lot for a veal pallet: %s", body)
	status, body, again := postAgain(bases[2]+"/api/inventory", fmt.Sprintf(receipt, "P-new-veal", "L-new", expires))
	if again && status == http.StatusConflict { // an earlier try, answered 503, was applied
		getInto(t, bases[0]+"/api/inventory/P-new-veal", &struct{}{})
	} else {
		assert.Equal(t, http.StatusCreated, status, "%s", body)
	}

	// What a cluster answers differently, and clearly.
	for _, path := range []string{"/api/orders/no-such-order", "/api/inventory/no-such-pallet"} {
		resp, err := http.Get(bases[1] + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
	}
	for body, want := range map[string]int{
		`{"customer":"c","sku":"beef","amountRequested":-1}`:      http.StatusBadRequest,
		`{"customer":"c","sku":"beef","amountRequested":1,"x":1}`: http.StatusBadRequest,
		`{"customer":"c","sku":"beef"`:                            http.StatusBadRequest,
		`{"id":"a b","customer":"c","amountRequested":1}`:         http.StatusBadRequest,
	} {
		status, answer := post(context.Background(), bases[0]+"/api/orders", body)
		assert.Equal(t, want, status, "%s: %s", body, answer)
		assert.Contains(t, string(answer), `"type":"/problems/`, "problem+json")
	}
	for _, path := range []string{"/api/inventory", "/api/orders", "/api/events", "/api/inventory?partition=12", "/api/inventory?partition=x", "/api/inventory?partition=1&partition=2"} {
		resp, err := http.Get(bases[2] + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, path)
	}

	res, err := loadtest.AuditServer(context.Background(), loadtest.Config{URL: bases[0], Partitions: cluster.Partitions}, ids)
	require.NoError(t, err)
	for _, c := range res.Checks {
		require.True(t, c.OK, "%s: %s", c.Name, c.Detail)
	}
	for i := range 3 {
		require.NoError(t, stops[i](), "node %d leaves cleanly", i)
	}
}

// TestAClusterLosesNothingWhenNodesAreKilled runs the built binary as
// three nodes with chaos on, drives seeded load at all of them, and kills
// one with SIGKILL at a seeded moment, then starts it again, cycle after
// cycle. Then, through the API of any node: every order that got a 202
// ended exactly once, every acknowledged adjustment and hold is there, and
// the audit of every partition passes (ledgers sum to weights, every order
// holds exactly what the ledgers gave it: no pound allocated twice).
func TestAClusterLosesNothingWhenNodesAreKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server binary and kills cluster nodes")
	}
	bin := buildServer(t)
	seed := *clusterSeed
	rng := rand.New(rand.NewPCG(seed, 0xc1))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with: go test ./cmd/baconator -run '%s' -cluster-seed %d", t.Name(), seed)
		}
	})
	c := startNodes(t, bin, 3, seed)
	pallets := palletIDs(t, c.nodes[0].base, partitionScopes(cluster.Partitions)...)
	acked := map[string]string{}       // order id → the body that got a 202
	adjusted := map[string][]float64{} // pallet → versions of acknowledged adjustments
	held := map[string]bool{}
	var mu sync.Mutex
	for cycle := range *clusterCycles {
		ctx, stopLoad := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range 6 {
			wrng := rand.New(rand.NewPCG(seed, uint64(cycle*100+w)))
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					base := c.live(wrng)
					id := pallets[wrng.IntN(len(pallets))]
					switch {
					case wrng.IntN(40) == 0:
						if status, _ := post(ctx, base+"/api/inventory/"+url.PathEscape(id)+"/hold", `{"status":"on_hold","reason":"lab"}`); status == http.StatusOK {
							mu.Lock()
							held[id] = true
							mu.Unlock()
						}
					case wrng.IntN(10) == 0:
						status, body := post(ctx, base+"/api/inventory/"+url.PathEscape(id)+"/adjustments", fmt.Sprintf(`{"deltaLbs":%d,"reason":"count_correction"}`, 1+wrng.IntN(40)))
						var p struct{ Version float64 }
						if status == http.StatusOK && jsonInto(body, &p) {
							mu.Lock()
							adjusted[id] = append(adjusted[id], p.Version)
							mu.Unlock()
						}
					default:
						oid := fmt.Sprintf("c%d-w%d-%d", cycle, w, i)
						body := fmt.Sprintf(`{"id":%q,"customer":"crash","sku":%q,"amountRequested":%d}`, oid, cluster.SeedSKUs[wrng.IntN(cluster.Partitions)], 1+wrng.IntN(900))
						if status, _ := post(ctx, base+"/api/orders", body); status == http.StatusAccepted {
							mu.Lock()
							acked[oid] = body
							mu.Unlock()
						}
					}
				}
			})
		}
		// The load's running time before and after the kill, not
		// synchronization: any moment must do, and the seed picks one.
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		victim := rng.IntN(3)
		c.kill(t, victim)
		time.Sleep(time.Second) // the survivors take orders while the dead node's partitions move
		stopLoad()
		wg.Wait()
		mu.Lock()
		t.Logf("cycle %d: node %d killed; %d orders acknowledged so far", cycle, victim, len(acked))
		mu.Unlock()
		waitOwned(t, c.liveBases(), 60*time.Second)
		c.restart(t, victim)
		waitOwned(t, c.bases(), 60*time.Second)
	}

	verifyAcknowledged(t, c.bases()[rng.IntN(3)], acked, adjusted, held, cluster.Partitions)
}

// TestAPausedOwnersLateWritesAreRefused pauses a partition's owner with
// SIGSTOP (a node cut off, as by a network partition), lets another node
// take the partition over and sell from it, and resumes the old owner:
// it gives the partition up, and nothing it had under way is applied on
// top of the new owner's sales — every order ends once, the audit passes.
func TestAPausedOwnersLateWritesAreRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server binary and pauses a cluster node")
	}
	bin := buildServer(t)
	c := startNodes(t, bin, 3, 7)
	const sku = "beef"
	p := cluster.PartitionOf(sku)
	owner := ownerOf(t, c.bases(), p)
	other := c.nodes[(owner+1)%3].base
	order := func(id string) {
		status, body, _ := postAgain(other+"/api/orders", fmt.Sprintf(`{"id":%q,"customer":"c","sku":%q,"amountRequested":700}`, id, sku))
		require.Contains(t, []int{http.StatusAccepted, http.StatusOK}, status, "%s", body)
	}
	var ids []string
	for i := range 10 {
		ids = append(ids, fmt.Sprintf("before-%d", i))
		order(ids[i])
	}
	for _, id := range ids {
		require.Equal(t, "allocated", getOrder(t, other, id).Status)
	}

	require.NoError(t, c.nodes[owner].cmd.Process.Signal(syscall.SIGSTOP))
	paused := time.Now()
	var rest []string
	for i, n := range c.nodes {
		if i != owner {
			rest = append(rest, n.base)
		}
	}
	require.Eventually(t, func() bool { o, ok := tryOwnerOf(rest, p); return ok && o >= 0 }, 60*time.Second, 50*time.Millisecond,
		"another node takes partition %d over", p)
	t.Logf("partition %d taken over %v after its owner was paused", p, time.Since(paused).Round(time.Millisecond))
	for i := range 10 {
		id := fmt.Sprintf("during-%d", i)
		ids = append(ids, id)
		order(id)
	}
	for _, id := range ids[10:] {
		require.Equal(t, "allocated", getOrder(t, other, id).Status, "order %s", id)
	}

	require.NoError(t, c.nodes[owner].cmd.Process.Signal(syscall.SIGCONT))
	require.Eventually(t, func() bool {
		m, err := metricsOf(c.nodes[owner].base)
		return err == nil && m["baconator_cluster_partition_owned{partition=\""+strconv.Itoa(p)+"\"}"] == 0
	}, 60*time.Second, 50*time.Millisecond, "the old owner gives the partition up")
	m, err := metricsOf(c.nodes[owner].base)
	require.NoError(t, err)
	t.Logf("the resumed owner: %v partitions refused a commit by the fence", m["baconator_cluster_fenced_total"])
	waitOwned(t, c.bases(), 60*time.Second) // it takes its share again

	res, err := loadtest.AuditServer(context.Background(), loadtest.Config{URL: other, Partitions: cluster.Partitions}, ids)
	require.NoError(t, err)
	for _, ch := range res.Checks {
		require.True(t, ch.OK, "%s: %s", ch.Name, ch.Detail)
	}
}

// localCluster is the server binary running as a cluster's nodes.
type localCluster struct {
	bin    string
	routes []string
	dirs   []string
	seed   uint64
	nodes  []*server
	dead   []bool
}

// startNodes starts n nodes of the binary and waits until every one is
// ready and every partition owned.
func startNodes(t *testing.T, bin string, n int, seed uint64) *localCluster {
	t.Helper()
	c := &localCluster{bin: bin, routes: clusterRoutes(t, n), seed: seed, nodes: make([]*server, n), dead: make([]bool, n)}
	for range n {
		c.dirs = append(c.dirs, t.TempDir())
	}
	for i := range n {
		c.nodes[i] = launch(t, bin, clusterArgs(i, c.routes, c.dirs[i], seed+uint64(i))...)
	}
	for i := range n {
		c.await(t, i)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, s := range c.nodes {
				t.Logf("node %d's log:\n%s", i, s.logs)
			}
		}
	})
	waitOwned(t, c.bases(), 60*time.Second)
	return c
}

// await waits until node i listens and is ready.
func (c *localCluster) await(t *testing.T, i int) {
	t.Helper()
	s := c.nodes[i]
	select {
	case addr := <-s.listening:
		s.base = "http://" + addr
	case err := <-s.done:
		t.Fatalf("node %d exited at start: %v\n%s", i, err, s.logs)
	case <-time.After(listenTimeout):
		t.Fatalf("node %d did not listen within %v\n%s", i, listenTimeout, s.logs)
	}
	s.waitReady(t)
}

func (c *localCluster) kill(t *testing.T, i int) {
	t.Helper()
	c.nodes[i].kill(t)
	c.dead[i] = true
}

func (c *localCluster) restart(t *testing.T, i int) {
	t.Helper()
	c.nodes[i] = launch(t, c.bin, clusterArgs(i, c.routes, c.dirs[i], c.seed+uint64(i))...)
	c.await(t, i)
	c.dead[i] = false
}

func (c *localCluster) bases() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.base
	}
	return out
}

func (c *localCluster) liveBases() []string {
	var out []string
	for i, n := range c.nodes {
		if !c.dead[i] {
			out = append(out, n.base)
		}
	}
	return out
}

// live is the base of a node, picked by rng; a dead one too, at times:
// its clients get no answer, as they would.
func (c *localCluster) live(rng *rand.Rand) string { return c.nodes[rng.IntN(len(c.nodes))].base }

// waitOwned waits until every partition has exactly one owner among the
// nodes at bases, and each node holds its share (no partition is about to
// be handed on).
func waitOwned(t *testing.T, bases []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	share := (cluster.Partitions + len(bases) - 1) / len(bases)
	for {
		owners := make([]int, cluster.Partitions)
		held := make([]float64, len(bases))
		ok := true
		for i, b := range bases {
			m, err := metricsOf(b)
			if err != nil {
				ok = false
				break
			}
			for p := range cluster.Partitions {
				owners[p] += int(m["baconator_cluster_partition_owned{partition=\""+strconv.Itoa(p)+"\"}"])
			}
			held[i] = m["baconator_cluster_partitions_owned"]
			ok = ok && held[i] <= float64(share)
		}
		for _, n := range owners {
			ok = ok && n == 1
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions not each owned once, %d a node at most, within %v: owners %v, held %v", share, within, owners, held)
		}
		time.Sleep(50 * time.Millisecond) // polling a remote state: nothing to wait on
	}
}

// ownerOf is the index (among bases) of the node owning partition p.
func ownerOf(t *testing.T, bases []string, p int) int {
	t.Helper()
	o, ok := tryOwnerOf(bases, p)
	require.True(t, ok, "partition %d has an owner", p)
	return o
}

func tryOwnerOf(bases []string, p int) (int, bool) {
	for i, b := range bases {
		m, err := metricsOf(b)
		if err == nil && m["baconator_cluster_partition_owned{partition=\""+strconv.Itoa(p)+"\"}"] == 1 {
			return i, true
		}
	}
	return -1, false
}

// metricsOf reads a node's /metrics into a map of "name{labels}" → value.
func metricsOf(base string) (map[string]float64, error) {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// postAgain posts as a client of a cluster does: a 503 (a partition
// changing hands, an owner too busy to answer in time) is sent again after
// its Retry-After, for at most two minutes; again says whether it was.
func postAgain(url, body string) (status int, answer []byte, again bool) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status, answer = post(context.Background(), url, body)
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return status, answer, again
		}
		again = true
		time.Sleep(time.Second) // the answer's Retry-After
	}
}

func jsonInto(b []byte, v any) bool { return json.Unmarshal(b, v) == nil }
