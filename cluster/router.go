package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baconator/baconator/httpapi"
	"github.com/baconator/baconator/inventory"
)

// Bounds of a node's view of the cluster.
const (
	// IntakeBacklogMax is how many accepted orders a partition's owner may
	// have yet to take before every node answers new ones for it 429: the
	// intake is a log, it cannot refuse by itself.
	IntakeBacklogMax = 20_000
	// lookEvery is how often a node reads every partition's backlog and
	// replication state; readyAfterLook how long one good reading keeps
	// it ready.
	lookEvery      = 500 * time.Millisecond
	readyAfterLook = 3 * time.Second
)

// Router is a node's way into the cluster for its HTTP gateway
// (httpapi.Cluster): every partition's intake, the owners by forwarding,
// and what /readyz and /metrics say of the cluster as this node sees it.
type Router struct {
	node   *Node
	member *Member
	logs   [Partitions]*Log

	mu     sync.Mutex
	looked time.Time // the last reading that succeeded
	seen   [Partitions]partitionState

	stop context.CancelFunc
	done chan struct{}
}

// partitionState is a partition as a node last read it.
type partitionState struct {
	backlog uint64            // accepted orders its owner has yet to take
	lag     map[string]uint64 // by replica (a server's name): operations behind the leader
}

var _ httpapi.Cluster = (*Router)(nil)

// NewRouter opens every partition's log (the streams are made if they are
// not there) and starts reading their state.
func NewRouter(ctx context.Context, node *Node, member *Member) (*Router, error) {
	r := &Router{node: node, member: member, done: make(chan struct{})}
	for p := range Partitions {
		err := retried(ctx, func() (err error) {
			r.logs[p], err = OpenLog(ctx, node.js, p, Replicas)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	runCtx, stop := context.WithCancel(context.Background())
	r.stop = stop
	go r.watch(runCtx)
	return r, nil
}

// Close stops reading the partitions' state.
func (r *Router) Close() {
	r.stop()
	<-r.done
}

// Partitions is how many partitions there are.
func (r *Router) Partitions() int { return Partitions }

// PartitionOf is the partition a SKU lives in.
func (r *Router) PartitionOf(sku string) int { return PartitionOf(sku) }

// Accept appends an order to its partition's intake, unless the
// partition's owner is too far behind.
func (r *Router) Accept(ctx context.Context, p int, req inventory.OrderRequest) (uint64, bool, error) {
	r.mu.Lock()
	backlog := r.seen[p].backlog
	r.mu.Unlock()
	if backlog >= IntakeBacklogMax {
		return 0, false, fmt.Errorf("partition %d: %d orders to take: %w", p, backlog, httpapi.ErrBacklog)
	}
	body, err := EncodeOrder(req)
	if err != nil {
		return 0, false, err
	}
	return r.logs[p].Accept(ctx, req.ID, body)
}

// Forward sends a request to partition p's owner.
func (r *Router) Forward(ctx context.Context, p int, req *http.Request, body []byte) (*http.Response, error) {
	return forward(ctx, r.node.nc, p, req, body)
}

// Ready is nil while the node is connected and has lately read the
// cluster's state (which takes the JetStream majority).
func (r *Router) Ready() error {
	if !r.node.nc.IsConnected() {
		return errors.New("not connected to its NATS server")
	}
	r.mu.Lock()
	looked := r.looked
	r.mu.Unlock()
	if since := time.Since(looked); since > readyAfterLook {
		return fmt.Errorf("no answer from JetStream for %v", since.Round(time.Second))
	}
	return nil
}

// watch reads every partition's state every lookEvery until ctx ends.
func (r *Router) watch(ctx context.Context) {
	defer close(r.done)
	tick := time.NewTicker(lookEvery)
	defer tick.Stop()
	for {
		r.look(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// look reads each partition's intake backlog (from its owner's consumer:
// orders not yet delivered plus delivered and not yet taken) and each
// replica's lag.
func (r *Router) look(ctx context.Context) {
	r.mu.Lock()
	seen := r.seen // a partition not read this time keeps what was read last
	r.mu.Unlock()
	read := false
	for p, l := range r.logs {
		ctx, cancel := context.WithTimeout(ctx, lookEvery)
		s, err := r.node.js.Stream(ctx, l.stream)
		if err != nil {
			cancel()
			continue
		}
		read = true
		seen[p].lag = map[string]uint64{}
		if c := s.CachedInfo().Cluster; c != nil {
			for _, rep := range c.Replicas {
				seen[p].lag[rep.Name] = rep.Lag
			}
		}
		cons, err := s.Consumer(ctx, ownerConsumer(p))
		cancel()
		if err != nil {
			continue // never owned yet, or no answer this time
		}
		info := cons.CachedInfo()
		seen[p].backlog = info.NumPending + uint64(info.NumAckPending)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = seen
	if read {
		r.looked = time.Now()
	}
}

// Collector is the cluster's metrics as this node sees them.
func (r *Router) Collector() prometheus.Collector { return routerCollector{r} }

var (
	ownedDesc = prometheus.NewDesc("baconator_cluster_partitions_owned",
		"Partitions this node owns now.", nil, nil)
	takeoversDesc = prometheus.NewDesc("baconator_cluster_takeovers_total",
		"Partitions this node has taken over since it started.", nil, nil)
	backlogDesc = prometheus.NewDesc("baconator_cluster_intake_backlog",
		"Orders accepted into a partition's intake that its owner has yet to take (at 20000 the intake answers 429).", []string{"partition"}, nil)
	lagDesc = prometheus.NewDesc("baconator_cluster_replication_lag",
		"Operations a replica of a partition's log is behind its leader.", []string{"partition", "replica"}, nil)
	ownsDesc = prometheus.NewDesc("baconator_cluster_partition_owned",
		"1 for each partition this node owns now, 0 for the others.", []string{"partition"}, nil)
	fencedDesc = prometheus.NewDesc("baconator_cluster_fenced_total",
		"Partitions this node gave up because the log refused one of its commits (another node had taken the partition over).", nil, nil)
	readyDesc = prometheus.NewDesc("baconator_cluster_ready",
		"1 while the node is connected and JetStream answers it.", nil, nil)
)

type routerCollector struct{ r *Router }

func (c routerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{ownedDesc, ownsDesc, takeoversDesc, fencedDesc, backlogDesc, lagDesc, readyDesc} {
		ch <- d
	}
}

func (c routerCollector) Collect(ch chan<- prometheus.Metric) {
	owned := c.r.member.Owned()
	ch <- prometheus.MustNewConstMetric(ownedDesc, prometheus.GaugeValue, float64(len(owned)))
	for p := range Partitions {
		v := 0.0
		if _, ok := owned[p]; ok {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(ownsDesc, prometheus.GaugeValue, v, strconv.Itoa(p))
	}
	ch <- prometheus.MustNewConstMetric(takeoversDesc, prometheus.CounterValue, float64(c.r.member.Takeovers()))
	ch <- prometheus.MustNewConstMetric(fencedDesc, prometheus.CounterValue, float64(c.r.member.Fenced()))
	ready := 0.0
	if c.r.Ready() == nil {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, ready)
	c.r.mu.Lock()
	seen := c.r.seen
	c.r.mu.Unlock()
	for p, s := range seen {
		part := strconv.Itoa(p)
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(s.backlog), part)
		for rep, lag := range s.lag {
			ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(lag), part, rep)
		}
	}
}
