package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/inventory"
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
	// Engine configures each partition's engine (its Journal, and the SKU
	// its chaos strikes, are set per partition).
	Engine actors.Config
	// Seed, if set, is the stock a partition is given the first time it is
	// owned (its log holds no pallet, received or retired): p's share of
	// the warehouse. It is received as one commit, so it happens once.
	Seed   func(p int) ([]inventory.PalletSpec, error)
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

	// Placement's own (only its goroutine's): rounds so far, how many in
	// a row each partition was seen free, and the round before which a
	// partition handed on is not taken back.
	rounds     int
	freeRounds map[int]int
	handedOn   map[int]int

	mu        sync.Mutex
	owned     map[int]*held
	takeovers int64
	fenced    int64          // partitions given up because the log refused a commit
	closing   sync.WaitGroup // partitions being given up

	stop context.CancelFunc
	done chan struct{}
}

type held struct {
	lease   *Lease
	part    *Partition // nil while it is being taken over
	renewed time.Time  // the last successful renewal (or the acquisition)
}

// Join opens the lease bucket and starts the member's rounds.
func Join(ctx context.Context, node *Node, cfg MemberConfig) (*Member, error) {
	var leases *Leases
	err := retried(ctx, func() (err error) {
		leases, err = OpenLeases(ctx, node.JetStream(), node.Name(), cfg.LeaseTTL, Replicas)
		return err
	})
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	runCtx, stop := context.WithCancel(context.Background())
	m := &Member{node: node, cfg: cfg, leases: leases, log: cfg.Logger, owned: map[int]*held{}, freeRounds: map[int]int{}, handedOn: map[int]int{}, stop: stop, done: make(chan struct{})}
	go m.run(runCtx)
	return m, nil
}

// run renews what is held and takes what is free, on two goroutines: a
// slow takeover (a large partition's rebuild) must not delay the renewal
// of leases already held, its own included.
func (m *Member) run(ctx context.Context) {
	defer close(m.done)
	var wg sync.WaitGroup
	wg.Go(func() { m.every(ctx, m.renew) })
	wg.Go(func() { m.every(ctx, m.place) })
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

// renew renews every lease held, and gives up each partition whose lease
// is lost (taken by another node, or not renewed for patience) or whose
// engine stopped. A renewal that fails for want of an answer is tried
// again next time: only a lease really gone gives a partition up.
func (m *Member) renew(ctx context.Context) {
	m.mu.Lock()
	owned := make(map[int]*held, len(m.owned))
	for p, h := range m.owned {
		owned[p] = h
	}
	m.mu.Unlock()
	// All at once: one slow renewal must not make the others late.
	var wg sync.WaitGroup
	for p, h := range owned {
		wg.Go(func() { m.renewOne(ctx, p, h) })
	}
	wg.Wait()
}

func (m *Member) renewOne(ctx context.Context, p int, h *held) {
	m.mu.Lock()
	part, last := h.part, h.renewed
	m.mu.Unlock()
	if part != nil {
		if err := part.Err(); err != nil {
			m.giveUp(p, h, err, true)
			return
		}
	}
	sent := time.Now()
	try, cancel := context.WithTimeout(ctx, m.cfg.LeaseTTL/3)
	err := h.lease.Renew(try)
	cancel()
	switch {
	case err == nil:
		m.renewed(h, sent)
	case errors.Is(err, ErrLeaseLost):
		// A lease that lapsed while nobody could renew it (the bucket's
		// leader died, and its election outlasted the TTL) is taken
		// again if it is still free: the partition stays where it is.
		// Taken by another node, it is lost.
		sent := time.Now()
		try, cancel := context.WithTimeout(ctx, m.cfg.LeaseTTL/3)
		again := h.lease.Reacquire(try)
		cancel()
		switch {
		case again == nil:
			m.renewed(h, sent)
		case errors.Is(again, ErrLeaseLost), time.Since(last) >= m.patience():
			m.giveUp(p, h, err, false)
		}
	case time.Since(last) >= m.patience():
		m.giveUp(p, h, fmt.Errorf("not renewed for %v: %w", m.patience(), err), false)
	}
}

// renewed records a renewal sent at sent: the partition, if started, may
// answer requests until three quarters of a TTL after it (the lease lasts
// a TTL from when the bucket got it, later than sent; the quarter is
// margin for clocks and scheduling). A node paused past that answers
// nothing from it until renewed — and a paused node's lease is lost.
func (m *Member) renewed(h *held, sent time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h.renewed = sent
	if h.part != nil {
		h.part.leaseUntil(sent.Add(m.cfg.LeaseTTL * 3 / 4))
	}
}

// renewPatience is how long a partition is kept while its lease cannot be
// renewed for want of an answer (beyond the TTL): JetStream elects a dead
// leader's successor 4–9 s after its last heartbeat, and a node that
// merely waited out an election should not give every partition up. A
// node cut off from the majority cannot commit meanwhile (its engine
// stops, and the partition is given up then); the fence refuses a
// deposed owner's writes whatever its lease says.
const renewPatience = 10 * time.Second

func (m *Member) patience() time.Duration { return m.cfg.LeaseTTL + renewPatience }

// giveUp stops holding p: its partition, if started, is deposed (nothing
// more is committed, its orders are left to the next owner), on a
// goroutine of its own so that renewals go on; release gives the lease
// back when it is still ours (the engine died, not the lease).
func (m *Member) giveUp(p int, h *held, why error, release bool) {
	m.mu.Lock()
	if m.owned[p] != h { // given up already
		m.mu.Unlock()
		return
	}
	delete(m.owned, p)
	part := h.part
	if errors.Is(why, ErrFenced) {
		m.fenced++
	}
	m.mu.Unlock()
	m.log.Warn("[CLUSTER] Giving a partition up", "partition", p, "err", why)
	m.closing.Go(func() {
		if part != nil {
			part.Depose()
		}
		if release {
			ctx, cancel := context.WithTimeout(context.Background(), m.cfg.LeaseTTL)
			defer cancel()
			_ = m.leases.Release(ctx, h.lease)
		}
	})
}

// Placement, each round (every third of the lease TTL):
//   - the node says it is alive (a key that lapses with the TTL) and reads
//     who holds what: the live nodes, and each partition's owner;
//   - its share is the partitions over the live nodes, rounded up;
//   - below its share it takes partitions seen free two rounds in a row;
//     at or above it, only those free for freeRoundsAnyone rounds (no
//     node under its share took them);
//   - above its share, while another live node is below, it hands one
//     partition on (given up, lease released) and leaves it to that node
//     for a while.
//
// Seeing a partition free twice before taking it lets a holder whose lease
// lapsed while nobody could renew it (an election in the lease bucket)
// take it back first, rather than race another node to the fence.
const (
	freeRoundsMine   = 2
	freeRoundsAnyone = 4
	handOnRounds     = 9 // rounds a handed-on partition is left to others
	// startRounds is how long, in rounds, a node counts on the cluster's
	// planned size (MemberConfig.Nodes) before it counts only the live
	// nodes: nodes started together announce themselves at different
	// moments, and the first must not take everything to hand it on.
	startRounds = 6
)

// place is one round of placement; its reads are bounded by the lease TTL.
func (m *Member) place(ctx context.Context) {
	read, cancel := context.WithTimeout(ctx, m.cfg.LeaseTTL)
	defer cancel()
	if err := m.leases.Announce(read); err != nil {
		return
	}
	owners, live, err := m.leases.Holdings(read)
	if err != nil {
		return
	}
	me := m.node.Name()
	live[me] += 0
	nodes := len(live)
	if m.rounds < startRounds { // the others may not have said so yet
		nodes = max(nodes, m.cfg.Nodes)
	}
	share := (Partitions + nodes - 1) / nodes
	m.rounds++
	for p := range Partitions {
		if ctx.Err() != nil {
			return
		}
		m.mu.Lock()
		_, mine := m.owned[p]
		n := len(m.owned)
		m.mu.Unlock()
		if owners[p] != "" || mine {
			m.freeRounds[p] = 0
			continue
		}
		m.freeRounds[p]++
		switch {
		case m.rounds < m.handedOn[p]:
		case (n < share && m.freeRounds[p] >= freeRoundsMine) || (m.rounds >= startRounds && m.freeRounds[p] >= freeRoundsAnyone):
			m.take(ctx, p)
		}
	}
	m.handOn(live, share)
}

// handOn gives one partition up (released at once) when this node holds
// more than its share and a live node holds less.
func (m *Member) handOn(live map[string]int, share int) {
	short := false
	for _, n := range live {
		short = short || n < share
	}
	m.mu.Lock()
	var give *held
	giveP := -1
	if n := len(m.owned); n > share && short {
		for p, h := range m.owned {
			if h.part != nil && p > giveP {
				give, giveP = h, p
			}
		}
	}
	held := len(m.owned)
	m.mu.Unlock()
	if give != nil {
		m.handedOn[giveP] = m.rounds + handOnRounds
		m.giveUp(giveP, give, fmt.Errorf("handed on: this node holds %d partitions, its share is %d", held, share), true)
	}
}

// take acquires p's lease if it is free and starts the partition here.
// The lease is renewed from the moment it is acquired, while the
// partition is being taken over.
func (m *Member) take(ctx context.Context, p int) {
	m.freeRounds[p] = 0
	sent := time.Now()
	lease, ok, err := m.leases.Acquire(ctx, p)
	if err != nil || !ok {
		return
	}
	h := &held{lease: lease, renewed: sent}
	m.mu.Lock()
	m.owned[p] = h
	m.mu.Unlock()
	cfg := m.cfg.Engine
	// Chaos strikes the partition's own seeded SKU: the default, pork,
	// lives in one partition only.
	cfg.Chaos.SKU = SeedSKUs[p]
	part, err := Own(ctx, m.node.JetStream(), p, cfg)
	if err != nil {
		m.log.Warn("[CLUSTER] Could not take a partition over", "partition", p, "err", err)
		m.giveUp(p, h, err, true)
		return
	}
	m.mu.Lock()
	part.leaseUntil(h.renewed.Add(m.cfg.LeaseTTL * 3 / 4))
	m.mu.Unlock()
	if err := m.start(part); err != nil {
		m.log.Warn("[CLUSTER] Could not start a partition", "partition", p, "err", err)
		part.Depose()
		m.giveUp(p, h, err, true)
		return
	}
	m.mu.Lock()
	lost := m.owned[p] != h
	if !lost {
		h.part = part
		m.takeovers++
	}
	m.mu.Unlock()
	if lost { // the lease went while the partition was being taken over
		m.log.Warn("[CLUSTER] Lost a partition while taking it over", "partition", p)
		part.Depose()
		return
	}
	m.log.Info("[CLUSTER] Took a partition", "partition", p, "node", m.node.Name())
}

// start seeds a partition owned for the first time and starts answering
// its forwarded requests.
func (m *Member) start(part *Partition) error {
	if m.cfg.Seed != nil && len(part.Engine.Inventory("")) == 0 && part.Engine.RetiredCount("") == 0 {
		specs, err := m.cfg.Seed(part.ID)
		if err != nil {
			return err
		}
		if len(specs) > 0 {
			if _, err := part.Engine.ReceivePallets(specs); err != nil {
				return fmt.Errorf("partition %d: seed: %w", part.ID, err)
			}
			m.log.Info("[CLUSTER] Seeded a partition", "partition", part.ID, "pallets", len(specs))
		}
	}
	return part.serve(m.node.nc)
}

// Owned is the partitions this node holds, by number.
func (m *Member) Owned() map[int]*Partition {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[int]*Partition, len(m.owned))
	for p, h := range m.owned {
		if h.part != nil {
			out[p] = h.part
		}
	}
	return out
}

// Takeovers counts the partitions this node has taken since it joined.
func (m *Member) Takeovers() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.takeovers
}

// Fenced counts the partitions this node gave up because the log refused
// one of its commits: another owner had taken the partition over.
func (m *Member) Fenced() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fenced
}

// Leave stops the rounds and gives every partition up at once, leases
// included, so that others take over now rather than after the TTL; the
// orders under way are left to them (nothing more is committed here).
func (m *Member) Leave(ctx context.Context) error {
	return m.halt(ctx, true)
}

// Halt stops the rounds and the partitions without giving their leases
// back: what a crash leaves, for tests of takeover.
func (m *Member) Halt(ctx context.Context) { _ = m.halt(ctx, false) }

func (m *Member) halt(ctx context.Context, release bool) error {
	m.stop()
	<-m.done
	m.mu.Lock()
	owned := m.owned
	m.owned = map[int]*held{}
	m.mu.Unlock()
	var errs []error
	for _, h := range owned {
		if h.part != nil {
			h.part.Depose()
		}
		if release {
			errs = append(errs, m.leases.Release(ctx, h.lease))
		}
	}
	m.closing.Wait()
	return errors.Join(errs...)
}
