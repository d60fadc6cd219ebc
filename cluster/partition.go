package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

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
	// intakeRetry is how long an order the engine throttled waits before
	// it is offered again.
	intakeRetry = 50 * time.Millisecond
)

// Partition is a partition this node owns: an engine rebuilt from the
// partition's log, fed the orders any node accepted into its intake, and
// whose every commit goes to the log first, fenced. It stops — and the
// node must give the partition up — when its journal fails (another owner
// committed, or the cluster lost its majority) or when Close is called.
type Partition struct {
	ID     int
	Engine *actors.Engine

	journal *journal.Journal
	stop    context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	err     error // why the intake stopped, if not by Close
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
	owner := NewOwner(log)
	// The log is the system of record: the local journal is a cache of
	// it, rebuilt at every takeover, so it needs no log or sync of its own.
	j, err := journal.Open(fmt.Sprintf("p%02d", p), journal.Options{FS: vfs.NewMem(), Volatile: true, Replica: owner})
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
			Durable:       fmt.Sprintf("owner_p%02d", p),
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
	runCtx, stop := context.WithCancel(context.Background())
	pt := &Partition{ID: p, Engine: eng, journal: j, stop: stop, done: make(chan struct{})}
	go pt.take(runCtx, cons)
	return pt, nil
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
	wait, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
	defer cancel() // after the batch is drained: its messages arrive under it
	batch, err := cons.Fetch(intakeBatch, jetstream.FetchContext(wait))
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
	stopped := false
	for m := range batch.Messages() { // drained to its end: the fetch's goroutine ends with it
		if !stopped {
			stopped = !pt.place(m)
		}
	}
	return stopped
}

// place gives one accepted order to the engine; false when the engine
// can take no more. The order is acknowledged to JetStream once the engine
// has journaled it (through the log); one the engine throttles is offered
// again; one that is not an order at all is dropped for good.
func (pt *Partition) place(m jetstream.Msg) bool {
	var req inventory.OrderRequest
	if err := json.Unmarshal(m.Data(), &req); err != nil {
		_ = m.Term()
		return true
	}
	_, _, err := pt.Engine.PlaceOrder(req)
	switch {
	case err == nil, errors.Is(err, inventory.ErrInvalid), errors.Is(err, actors.ErrOrderConflict):
		_ = m.Ack() // journaled, or never will be: either way done
	case errors.Is(err, actors.ErrIntakeFull):
		_ = m.NakWithDelay(intakeRetry)
	default: // the engine stopped (its journal failed: fenced, or no majority)
		pt.fail(fmt.Errorf("partition %d: %w", pt.ID, err))
		return false
	}
	return true
}

func (pt *Partition) fail(err error) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.err == nil {
		pt.err = err
	}
}

// Err is why the partition stopped taking orders, or nil while it takes
// them (or after Close).
func (pt *Partition) Err() error {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return pt.err
}

// Done is closed when the partition has stopped taking orders.
func (pt *Partition) Done() <-chan struct{} { return pt.done }

// Close stops taking orders, then the engine and the journal.
func (pt *Partition) Close(ctx context.Context) error {
	pt.stop()
	<-pt.done
	return errors.Join(pt.Engine.Close(ctx), pt.journal.Close())
}
