package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrLeaseLost: the lease was taken by another node, or lapsed, before it
// was renewed. Its holder must stop acting as the partition's owner.
var ErrLeaseLost = errors.New("partition lease lost")

// Leases hands out partition ownership through a replicated JetStream
// key-value bucket: a partition's key holds its owner's name, and every
// write names the revision it replaces, so two nodes can never both
// succeed. A key not renewed within the bucket's TTL disappears, and
// another node may then take it. A lease makes ownership likely to be
// single; the log's commit fence (Log.Commit) makes it certain.
type Leases struct {
	kv   jetstream.KeyValue
	node string
	ttl  time.Duration
}

// leaseBucket names the bucket of partition owners.
const leaseBucket = "baconator_owners"

// OpenLeases makes the lease bucket if it is not there. ttl is how long a
// lease lasts unrenewed: a dead owner's partitions are free after it.
func OpenLeases(ctx context.Context, js jetstream.JetStream, node string, ttl time.Duration, replicas int) (*Leases, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   leaseBucket,
		TTL:      ttl,
		History:  1,
		Replicas: replicas,
		Storage:  jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("lease bucket: %w", err)
	}
	return &Leases{kv: kv, node: node, ttl: ttl}, nil
}

// Lease is a node's hold on a partition.
type Lease struct {
	leases    *Leases
	partition int
	revision  atomic.Uint64 // renewed on one goroutine, read by a release on another
}

func leaseKey(partition int) string { return fmt.Sprintf("p%02d", partition) }

// Acquire takes the partition if nobody holds it: ok is false, with no
// error, when another node does.
func (l *Leases) Acquire(ctx context.Context, partition int) (lease *Lease, ok bool, err error) {
	rev, err := l.kv.Create(ctx, leaseKey(partition), []byte(l.node))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("partition %d: acquire: %w", partition, err)
	}
	le := &Lease{leases: l, partition: partition}
	le.revision.Store(rev)
	return le, true, nil
}

// Owner is the node holding the partition, or "" if none does.
func (l *Leases) Owner(ctx context.Context, partition int) (string, error) {
	e, err := l.kv.Get(ctx, leaseKey(partition))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(e.Value()), nil
}

// Renew extends the lease by the bucket's TTL. ErrLeaseLost means another
// node holds it now, or it lapsed: the holder must step down.
func (le *Lease) Renew(ctx context.Context) error {
	rev, err := le.leases.kv.Update(ctx, leaseKey(le.partition), []byte(le.leases.node), le.revision.Load())
	var apiErr *jetstream.APIError
	if errors.Is(err, jetstream.ErrKeyNotFound) || (errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)) {
		return fmt.Errorf("partition %d: %w", le.partition, ErrLeaseLost)
	}
	if err != nil {
		return fmt.Errorf("partition %d: renew: %w", le.partition, err)
	}
	le.revision.Store(rev)
	return nil
}

// Reacquire takes the lease again after it lapsed, if no other node has
// taken it since: ErrLeaseLost if one has.
func (le *Lease) Reacquire(ctx context.Context) error {
	rev, err := le.leases.kv.Create(ctx, leaseKey(le.partition), []byte(le.leases.node))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("partition %d: %w", le.partition, ErrLeaseLost)
	}
	if err != nil {
		return fmt.Errorf("partition %d: take the lease again: %w", le.partition, err)
	}
	le.revision.Store(rev)
	return nil
}

// Partition is the partition held.
func (le *Lease) Partition() int { return le.partition }

// Release gives the lease back, if it is still this node's.
func (l *Leases) Release(ctx context.Context, le *Lease) error {
	err := l.kv.Delete(ctx, leaseKey(le.partition), jetstream.LastRevision(le.revision.Load()))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return nil // not ours any more: nothing to give back
	}
	return err
}

// nodeKeyPrefix starts the key by which a node says it is alive: it is
// put again every round, and lapses with the bucket's TTL like a lease.
const nodeKeyPrefix = "node."

// Announce says this node is alive, until the TTL.
func (l *Leases) Announce(ctx context.Context) error {
	_, err := l.kv.Put(ctx, nodeKeyPrefix+l.node, []byte(l.node))
	return err
}

// Holdings is who holds what: each partition's owner (none: free), and
// how many partitions each live node holds (a live node holding none is
// there with 0; a lease of a node no longer live is not counted).
//
// It reads the bucket through one watcher (a consumer on the bucket's
// leader), not a get per key: a get may be served by any replica, and
// goes unanswered while the one it reaches is paused.
func (l *Leases) Holdings(ctx context.Context) (owners [Partitions]string, live map[string]int, err error) {
	w, err := l.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return owners, nil, err
	}
	defer func() { _ = w.Stop() }()
	live = map[string]int{}
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return owners, nil, ctx.Err()
		case e = <-w.Updates():
		}
		if e == nil { // the bucket's current values are all read
			break
		}
		k := e.Key()
		if node, ok := strings.CutPrefix(k, nodeKeyPrefix); ok {
			live[node] += 0
			continue
		}
		if p, err := strconv.Atoi(strings.TrimPrefix(k, "p")); err == nil && p >= 0 && p < Partitions {
			owners[p] = string(e.Value())
		}
	}
	for _, o := range owners {
		if _, ok := live[o]; ok {
			live[o]++
		}
	}
	return owners, live, nil
}
