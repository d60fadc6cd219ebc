package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/httpapi"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// partitionMemTableBytes is each partition journal's write buffer: a node
// may hold a dozen partitions, and a busy journal two buffers.
const partitionMemTableBytes = 8 << 20

// Bounds of a partition's intake.
const (
	// intakeBatch is how many accepted orders an owner takes at once.
	intakeBatch = 64
	// intakeAckWait is how long an order taken and not yet journaled by
	// its owner stays with it: past it, JetStream hands the order to
	// whoever asks next — the new owner, when the old one died with it.
	intakeAckWait = 5 * time.Second
	// intakePendingMax bounds orders taken and not yet journaled.
	intakePendingMax = 1024
	// checkpointTimeout bounds the making and storing of one checkpoint.
	checkpointTimeout = time.Minute
	// intakeFetchWait is how long a fetch of the intake waits for orders.
	intakeFetchWait = 250 * time.Millisecond
	// intakeRetry is how long an order the engine throttled waits before
	// it is offered again.
	intakeRetry = 50 * time.Millisecond
)

// ownerConsumer names the durable consumer through which a partition's
// owners take its intake, one after another.
func ownerConsumer(p int) string { return fmt.Sprintf("owner_p%02d", p) }

// Partition is a partition this node owns: an engine rebuilt from the
// partition's log, fed the orders any node accepted into its intake, and
// whose every commit goes to the log first, fenced. It stops — and the
// node must give the partition up — when its journal fails (another owner
// committed, or the cluster lost its majority) or when Close is called.
type Partition struct {
	ID     int
	Engine *actors.Engine

	journal *journal.Journal
	owner   *Owner
	log     *Log
	stop    context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	err     error // why the intake stopped, if not by Close

	servingState // forwarded requests (forward.go)
	progress     *intakeProgress

	logger        *slog.Logger
	checkpointing sync.WaitGroup // the checkpoints goroutine
}

// EncodeOrder is an accepted order as the intake carries it.
func EncodeOrder(req inventory.OrderRequest) ([]byte, error) { return json.Marshal(req) }

// Own takes partition p over on this node: its journal restored from the
// log, an engine recovered from that (cfg.Journal is set here; every
// unfinished order is driven again), and the intake consumed.
func Own(ctx context.Context, js jetstream.JetStream, p int, cfg actors.Config) (*Partition, error) {
	var log *Log
	err := retried(ctx, func() (err error) {
		log, err = OpenLog(ctx, js, p, Replicas)
		return err
	})
	if err != nil {
		return nil, err
	}
	secret, err := partitionSecret(ctx, js, p)
	if err != nil {
		return nil, err
	}
	owner := NewOwner(log)
	// The log is the system of record: the local journal is a cache of
	// it, rebuilt at every takeover, so it needs no log or sync of its own.
	j, err := journal.Open(fmt.Sprintf("p%02d", p), journal.Options{FS: vfs.NewMem(), Volatile: true, Replica: owner,
		MemTableBytes: partitionMemTableBytes, Secret: secret})
	if err != nil {
		return nil, err
	}
	if err := owner.TakeOver(ctx, j); err != nil {
		_ = j.Close()
		return nil, err
	}
	cfg.Journal = j
	eng, err := actors.New(cfg)
	if err != nil {
		_ = j.Close()
		return nil, fmt.Errorf("partition %d: engine: %w", p, err)
	}
	if _, err := eng.Recover(); err != nil {
		_ = eng.Close(ctx)
		_ = j.Close()
		return nil, fmt.Errorf("partition %d: %w", p, err)
	}
	var cons jetstream.Consumer
	err = retried(ctx, func() (err error) {
		cons, err = js.CreateOrUpdateConsumer(ctx, log.stream, jetstream.ConsumerConfig{
			Durable:       ownerConsumer(p),
			FilterSubject: log.intake,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       intakeAckWait,
			MaxAckPending: intakePendingMax,
		})
		return err
	})
	if err != nil {
		_ = eng.Close(ctx)
		_ = j.Close()
		return nil, fmt.Errorf("partition %d: intake consumer: %w", p, err)
	}
	// The partition's own API, reached by forwarded requests only: the
	// gateway that forwards them has checked their keys.
	api := httpapi.New(httpapi.Config{Engine: eng, Logger: cfg.Logger})
	api.SetReady()
	runCtx, stop := context.WithCancel(context.Background())
	pt := &Partition{ID: p, Engine: eng, journal: j, owner: owner, log: log, stop: stop, done: make(chan struct{}),
		servingState: servingState{api: api, cons: cons, slots: make(chan struct{}, forwardSlots)},
		// Every order the consumer's earlier owners acknowledged is taken.
		progress: newIntakeProgress(cons.CachedInfo().AckFloor.Stream),
		logger:   cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))}
	go pt.take(runCtx, cons)
	pt.checkpointing.Add(1)
	go pt.checkpoints(runCtx)
	return pt, nil
}

// checkpoints makes a checkpoint each time the owner says one is due,
// until ctx ends.
func (pt *Partition) checkpoints(ctx context.Context) {
	defer pt.checkpointing.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-pt.owner.due:
		}
		save, cancel := context.WithTimeout(ctx, checkpointTimeout)
		err := pt.Checkpoint(save)
		cancel()
		if err != nil && ctx.Err() == nil {
			pt.logger.Warn("[CLUSTER] A checkpoint failed; the next takeover replays more", "partition", pt.ID, "err", err)
		}
	}
}

// take feeds the intake to the engine until ctx ends or the engine can
// take no more.
func (pt *Partition) take(ctx context.Context, cons jetstream.Consumer) {
	defer close(pt.done)
	for ctx.Err() == nil {
		if pt.takeBatch(ctx, cons) {
			return
		}
	}
}

// takeBatch takes one batch of the intake; true when the partition must
// stop.
func (pt *Partition) takeBatch(ctx context.Context, cons jetstream.Consumer) bool {
	// The server ends the fetch (FetchMaxWait), not a local deadline: a
	// fetch cut short here would drop orders already on their way, which
	// JetStream then counts as delivered and offers again only after
	// intakeAckWait — later than orders behind them.
	batch, err := cons.Fetch(intakeBatch, jetstream.FetchMaxWait(intakeFetchWait))
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return true
	case errors.Is(err, nats.ErrConnectionClosed):
		pt.fail(fmt.Errorf("partition %d: fetch intake: %w", pt.ID, err))
		return true
	default: // a leader being elected, a busy server: try again shortly
		select {
		case <-ctx.Done():
		case <-time.After(intakeRetry):
		}
		return false
	}
	// The batch's orders are placed at once, each on a goroutine of its
	// own, so that the journal commits them as one group (one replicated
	// commit) rather than one after another: at most intakeBatch at a
	// time, as the fetch bounds them.
	var placing sync.WaitGroup
	var stopped, full atomic.Bool
	for m := range batch.Messages() { // drained to its end: the fetch's goroutine ends with it
		if stopped.Load() || full.Load() { // offered again at once: to this owner after a pause, or the next
			if meta, err := m.Metadata(); err == nil {
				pt.progress.begin(meta.Sequence.Stream) // not taken: still to come
			}
			_ = m.Nak()
			continue
		}
		// Marked delivered here, in sequence, before any is taken: a
		// later order taken first must not make an earlier one look taken.
		if meta, err := m.Metadata(); err == nil {
			pt.progress.begin(meta.Sequence.Stream)
		}
		placing.Go(func() {
			switch pt.place(m) {
			case placeStop:
				stopped.Store(true)
			case placeFull:
				full.Store(true)
			}
		})
	}
	placing.Wait()
	if full.Load() && !stopped.Load() {
		select { // the engine is full: let it drain before asking for more
		case <-ctx.Done():
		case <-time.After(intakeRetry):
		}
	}
	return stopped.Load()
}

// What place did with an order.
const (
	placeDone = iota // journaled (or never will be: not an order)
	placeFull        // the engine is full: offered again later
	placeStop        // the engine takes no more: the partition stops
)

// place gives one accepted order to the engine. It is acknowledged to
// JetStream once the engine has journaled it (through the log). A message
// that is not an order of this partition — no id, an id other than its
// Nats-Msg-Id, a SKU of another partition — is dropped for good: taking
// it would mint a new order at each redelivery, or put a SKU where its
// owner is not.
func (pt *Partition) place(m jetstream.Msg) int {
	var seq uint64
	if meta, err := m.Metadata(); err == nil {
		seq = meta.Sequence.Stream
	}
	var req inventory.OrderRequest
	if err := json.Unmarshal(m.Data(), &req); err != nil || req.ID == "" || req.ID != m.Headers().Get(jetstream.MsgIDHeader) ||
		PartitionOf(cmp.Or(req.SKU, inventory.DefaultSKU)) != pt.ID {
		_ = m.Term()
		pt.progress.taken(seq)
		return placeDone
	}
	_, _, err := pt.Engine.PlaceOrder(req)
	switch {
	case err == nil, errors.Is(err, inventory.ErrInvalid), errors.Is(err, actors.ErrOrderConflict):
		_ = m.Ack()
		pt.progress.taken(seq)
		return placeDone
	case errors.Is(err, actors.ErrIntakeFull):
		_ = m.Nak()
		return placeFull
	default: // the engine stopped (its journal failed: fenced, or no majority)
		_ = m.Nak()
		pt.fail(fmt.Errorf("partition %d: %w", pt.ID, err))
		return placeStop
	}
}

func (pt *Partition) fail(err error) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.err == nil {
		pt.err = err
	}
}

// Err is why the partition can no longer serve, or nil: its intake
// stopped, or its engine takes no writes (its journal failed through any
// writer: an allocation, a redriven order, chaos).
func (pt *Partition) Err() error {
	pt.mu.Lock()
	err := pt.err
	pt.mu.Unlock()
	if err != nil {
		return err
	}
	if err := pt.Engine.Err(); err != nil {
		return fmt.Errorf("partition %d: %w", pt.ID, err)
	}
	return nil
}

// Done is closed when the partition has stopped taking orders.
func (pt *Partition) Done() <-chan struct{} { return pt.done }

// Depose stops the partition at once after its lease was lost: nothing
// more is committed (Owner.Depose), the intake stops, and the engine is
// closed without waiting for its orders — the next owner drives them.
func (pt *Partition) Depose() {
	pt.owner.Depose()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = pt.Close(ctx)
}

// Close stops taking orders, then the engine (waiting for its orders
// until ctx ends) and the journal.
func (pt *Partition) Close(ctx context.Context) error {
	pt.stopServing()
	pt.stop()
	<-pt.done
	pt.checkpointing.Wait() // a snapshot must not outlive its journal
	return errors.Join(pt.Engine.Close(ctx), pt.journal.Close())
}
