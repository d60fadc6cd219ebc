package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A checkpoint is a partition's journal as it stood at one of its commits:
// every key, as one group a fresh journal restores (journal.Snapshot), and
// the commit's sequence. A takeover restores the latest and replays only
// the commits after it, so that it takes as long as the partition's
// recent history, not its whole life. Checkpoints live in a replicated
// object store, one object per partition, each replacing the last. Any
// checkpoint an owner ever made is a true state of the log's prefix up to
// its position (an owner's journal holds exactly the commits the log took
// from it and its predecessors), so even a deposed owner's late one is
// safe to restore from: the takeover just replays more.
type checkpoint struct {
	position uint64 // the commit it is the state after; 0: none
	state    []byte
}

const (
	checkpointBucket = "baconator_checkpoints"
	positionHeader   = "Baconator-Position"
	// checkpointEvery is how many commits an owner makes between two
	// checkpoints of its partition.
	checkpointEvery = 5000
	// checkpointWait bounds how long a takeover waits for the checkpoint
	// store (its leader may have died with the old owner, and JetStream
	// elects another 4–9 s later): past it, every commit is replayed.
	checkpointWait = 2 * time.Second
)

func checkpointName(p int) string { return fmt.Sprintf("p%02d", p) }

// stores is the checkpoint store as each connection opened it: opened
// once, not at every takeover.
var stores sync.Map // jetstream.JetStream → jetstream.ObjectStore

func (l *Log) checkpoints(ctx context.Context) (jetstream.ObjectStore, error) {
	if s, ok := stores.Load(l.js); ok {
		return s.(jetstream.ObjectStore), nil
	}
	s, err := l.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: checkpointBucket, Replicas: Replicas, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, err
	}
	stores.Store(l.js, s)
	return s, nil
}

// latestCheckpoint is the partition's checkpoint, or none.
func (l *Log) latestCheckpoint(ctx context.Context) (checkpoint, error) {
	store, err := l.checkpoints(ctx)
	if err != nil {
		return checkpoint{}, err
	}
	info, err := store.GetInfo(ctx, checkpointName(l.partition))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return checkpoint{}, nil
	}
	if err != nil {
		return checkpoint{}, err
	}
	position, err := strconv.ParseUint(info.Headers.Get(positionHeader), 10, 64)
	if err != nil {
		return checkpoint{}, fmt.Errorf("partition %d: checkpoint without a position: %w", l.partition, err)
	}
	state, err := store.GetBytes(ctx, checkpointName(l.partition))
	if err != nil {
		return checkpoint{}, err
	}
	return checkpoint{position: position, state: state}, nil
}

// saveCheckpoint stores the partition's checkpoint, replacing the last.
func (l *Log) saveCheckpoint(ctx context.Context, cp checkpoint) error {
	store, err := l.checkpoints(ctx)
	if err != nil {
		return err
	}
	meta := jetstream.ObjectMeta{Name: checkpointName(l.partition), Headers: map[string][]string{positionHeader: {strconv.FormatUint(cp.position, 10)}}}
	if _, err := store.Put(ctx, meta, bytes.NewReader(cp.state)); err != nil {
		return fmt.Errorf("partition %d: save checkpoint at %d: %w", l.partition, cp.position, err)
	}
	return nil
}

// Checkpoint stores the partition's state as it stands now (between two
// of its journal's groups) as its checkpoint.
func (pt *Partition) Checkpoint(ctx context.Context) error {
	snap, err := pt.journal.Snapshot()
	if err != nil {
		return err
	}
	state, err := snap.Export()
	_ = snap.Close()
	if err != nil {
		return err
	}
	if snap.Position == 0 {
		return nil // nothing committed yet
	}
	return pt.log.saveCheckpoint(ctx, checkpoint{position: snap.Position, state: state})
}
