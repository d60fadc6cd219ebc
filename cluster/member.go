package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/baconator/baconator/actors"
)

// MemberConfig is how a node takes its share of the partitions.
type MemberConfig struct {
	// Nodes is how many nodes the cluster is meant to have: a node first
	// takes no more than its fair share (Partitions / Nodes, rounded up),
	// and takes more only of partitions that stayed free a whole round.
	Nodes int
	// LeaseTTL is how long a lease lasts unrenewed: a dead node's
	// partitions are taken over within about LeaseTTL and one round.
	LeaseTTL time.Duration
	// Engine configures each partition's engine (its Journal is set per
	// partition).
	Engine actors.Config
	Logger *slog.Logger
}

// Member keeps this node's share of the partitions: every third of the
// lease TTL it renews what it holds, gives up any partition whose lease it
// lost or whose engine stopped, and takes free ones.
type Member struct {
	node   *Node
	cfg    MemberConfig
	leases *Leases
	log    *slog.Logger

	free map[int]bool // free when last looked at; only takeFree's goroutine

	mu        sync.Mutex
	owned     map[int]*held
	takeovers int64

	stop context.CancelFunc
	done chan struct{}
}

type held struct {
	lease *Lease
	part  *Partition
}

// Join opens the lease bucket and starts the member's rounds.
func Join(ctx context.Context, node *Node, cfg MemberConfig) (*Member, error) {
	leases, err := OpenLeases(ctx, node.JetStream(), node.Name(), cfg.LeaseTTL, Replicas)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	runCtx, stop := context.WithCancel(context.Background())
	m := &Member{node: node, cfg: cfg, leases: leases, log: cfg.Logger, owned: map[int]*held{}, free: map[int]bool{}, stop: stop, done: make(chan struct{})}
	go m.run(runCtx)
	return m, nil
}

// run renews what is held and takes what is free, on two goroutines: a
// slow takeover (a large partition's rebuild) must not delay the renewal
// of leases already held past their TTL.
func (m *Member) run(ctx context.Context) {
	defer close(m.done)
	var wg sync.WaitGroup
	wg.Go(func() { m.every(ctx, m.renew) })
	wg.Go(func() { m.every(ctx, m.takeFree) })
	wg.Wait()
}

// every runs f now and then every third of the lease TTL until ctx ends.
func (m *Member) every(ctx context.Context, f func(context.Context)) {
	tick := time.NewTicker(m.cfg.LeaseTTL / 3)
	defer tick.Stop()
	for {
		f(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// renew renews every lease held, giving up what is lost.
func (m *Member) renew(ctx context.Context) {
	m.mu.Lock()
	owned := make(map[int]*held, len(m.owned))
	for p, h := range m.owned {
		owned[p] = h
	}
	m.mu.Unlock()
	for p, h := range owned {
		if ctx.Err() != nil {
			return
		}
		m.keep(ctx, p, h)
	}
}

// takeFree takes free partitions: up to the fair share, and beyond it
// those that stayed free a whole round (a dead node's).
func (m *Member) takeFree(ctx context.Context) {
	share := (Partitions + m.cfg.Nodes - 1) / max(m.cfg.Nodes, 1)
	for p := range Partitions {
		if ctx.Err() != nil {
			return
		}
		m.mu.Lock()
		_, mine := m.owned[p]
		n := len(m.owned)
		m.mu.Unlock()
		switch {
		case mine:
		case n < share || m.free[p]:
			m.take(ctx, p)
		default:
			owner, err := m.leases.Owner(ctx, p)
			m.free[p] = err == nil && owner == ""
		}
	}
}

// keep renews p's lease, or gives p up if the lease or the engine is lost.
func (m *Member) keep(ctx context.Context, p int, h *held) {
	m.mu.Lock()
	if m.owned[p] != h { // given up meanwhile (Leave, Halt)
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	err := h.part.Err()
	if err == nil {
		err = h.lease.Renew(ctx)
	}
	if err == nil {
		return
	}
	m.log.Warn("[CLUSTER] Giving a partition up", "partition", p, "err", err)
	m.mu.Lock()
	delete(m.owned, p)
	m.mu.Unlock()
	_ = h.part.Close(context.Background())
}

// take acquires p's lease if it is free and starts the partition here.
func (m *Member) take(ctx context.Context, p int) {
	lease, ok, err := m.leases.Acquire(ctx, p)
	if err != nil || !ok {
		return
	}
	part, err := Own(ctx, m.node.JetStream(), p, m.cfg.Engine)
	if err != nil {
		m.log.Warn("[CLUSTER] Could not take a partition over", "partition", p, "err", err)
		_ = m.leases.Release(ctx, lease)
		return
	}
	// Taking over can outlast the lease (a large partition's rebuild):
	// hold it only if it is still ours now.
	if err := lease.Renew(ctx); err != nil {
		m.log.Warn("[CLUSTER] Lost a partition while taking it over", "partition", p, "err", err)
		_ = part.Close(context.Background())
		return
	}
	m.free[p] = false
	m.mu.Lock()
	m.owned[p] = &held{lease: lease, part: part}
	m.takeovers++
	m.mu.Unlock()
	m.log.Info("[CLUSTER] Took a partition", "partition", p, "node", m.node.Name())
}

// Owned is the partitions this node holds, by number.
func (m *Member) Owned() map[int]*Partition {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[int]*Partition, len(m.owned))
	for p, h := range m.owned {
		out[p] = h.part
	}
	return out
}

// Takeovers counts the partitions this node has taken since it joined.
func (m *Member) Takeovers() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.takeovers
}

// Leave stops the rounds, closes every partition held and gives its lease
// back, so that others take over at once rather than after the TTL.
func (m *Member) Leave(ctx context.Context) error {
	m.stop()
	<-m.done
	m.mu.Lock()
	owned := m.owned
	m.owned = map[int]*held{}
	m.mu.Unlock()
	var errs []error
	for _, h := range owned {
		errs = append(errs, h.part.Close(ctx), m.leases.Release(ctx, h.lease))
	}
	return errors.Join(errs...)
}

// Halt stops the rounds and closes the partitions without giving their
// leases back: what a crash leaves, for tests of takeover.
func (m *Member) Halt(ctx context.Context) {
	m.stop()
	<-m.done
	m.mu.Lock()
	owned := m.owned
	m.owned = map[int]*held{}
	m.mu.Unlock()
	for _, h := range owned {
		_ = h.part.Close(ctx)
	}
}
