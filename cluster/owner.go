package cluster

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/baconator/baconator/journal"
)

// appendTimeout bounds one replicated commit, its tries included: past it
// the journal fails (and stops) rather than waiting on a cluster that lost
// its majority. appendTryTimeout bounds one try.
const (
	// A stream's leader that stops answering is noticed after about 3 s
	// (pings) and replaced 4–9 s after its last heartbeat: a commit waits
	// that out rather than stop a healthy owner's engine.
	appendTimeout    = 20 * time.Second
	appendTryTimeout = 2 * time.Second
)

// Owner is a partition owner's side of its log: the journal's Replica.
// Each group the journal writes is appended as a fenced commit after the
// last one this owner made; once another owner has committed, the next
// append is refused (ErrFenced), the journal fails, and this owner's
// engine stops taking writes.
type Owner struct {
	// What its takeover read: the checkpoint's position (0: none), and
	// how many commits after it were replayed.
	FromCheckpoint, Replayed uint64

	commits uint64        // made by this owner; only the journal's writer
	due     chan struct{} // a checkpoint is due
	log     *Log
	token   string // this takeover's own: makes each commit's Nats-Msg-Id unique to it
	last    uint64 // the partition's last commit, as this owner knows it
	deposed atomic.Bool
}

// Position is the sequence of the last commit this owner made or knows
// of: a snapshot of its journal taken between groups is the state through
// it (journal.Positioner). Only the journal's writer calls it.
func (o *Owner) Position() uint64 { return o.last }

// Depose makes every later Append fail as fenced: the owner lost its
// lease, and must not commit even if the log would still let it.
func (o *Owner) Depose() { o.deposed.Store(true) }

var _ journal.Replica = (*Owner)(nil)

// NewOwner is an owner of l that has not taken the partition over yet:
// open the journal with it as Replica, then call TakeOver.
func NewOwner(l *Log) *Owner { return &Owner{log: l, token: nuid.Next(), due: make(chan struct{}, 1)} }

// TakeOver rebuilds the partition's committed state into j (a fresh
// journal opened with o as its Replica) from every commit in the log, and
// fences from the last one: a commit another owner makes after that
// refuses all of this one's.
func (o *Owner) TakeOver(ctx context.Context, j *journal.Journal) error {
	var last uint64
	err := retried(ctx, func() (err error) {
		last, err = o.log.LastCommit(ctx)
		return err
	})
	if err != nil {
		return err
	}
	// From the latest checkpoint, if there is one, and the commits after
	// it; else from every commit.
	wait, cancel := context.WithTimeout(ctx, checkpointWait)
	var cp checkpoint
	err = retried(wait, func() (err error) {
		cp, err = o.log.latestCheckpoint(wait)
		return err
	})
	cancel()
	if err != nil { // every commit, then: slower, never wrong
		cp = checkpoint{}
	}
	if cp.position > last { // cannot be: a checkpoint is of a commit in the log
		return fmt.Errorf("partition %d: take over: a checkpoint at %d past the last commit %d", o.log.partition, cp.position, last)
	}
	groups := func(yield func([]byte, error) bool) {
		if cp.state != nil && !yield(cp.state, nil) {
			return
		}
		for g, err := range o.log.commitsBetween(ctx, cp.position+1, last) {
			o.Replayed++
			if !yield(g, err) {
				return
			}
		}
	}
	if err := j.Restore(groups); err != nil {
		return fmt.Errorf("partition %d: take over: %w", o.log.partition, err)
	}
	o.FromCheckpoint = cp.position
	// The takeover is marked in the log at once, by an empty commit after
	// the last one: from here on the old owner's late commits are refused,
	// even before this owner has anything of its own to commit. Had it
	// committed since (ErrFenced), this takeover starts from a stale state
	// and must not go on.
	var mark uint64
	err = retried(ctx, func() (err error) {
		mark, err = o.log.Commit(ctx, last, nil, o.token+"-takeover")
		return err
	})
	if err != nil {
		return fmt.Errorf("partition %d: take over: %w", o.log.partition, err)
	}
	o.last = mark
	return nil
}

// Append commits group after the owner's last commit. A try that fails
// for want of an answer (a leader being elected, a busy server) is made
// again, within appendTimeout: the same Nats-Msg-Id makes a try whose
// answer was lost count once. Fenced is final.
func (o *Owner) Append(group []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
	defer cancel()
	id := fmt.Sprintf("%s-%d", o.token, o.last)
	for {
		if o.deposed.Load() {
			return fmt.Errorf("partition %d: %w (its lease was lost)", o.log.partition, ErrFenced)
		}
		try, cancelTry := context.WithTimeout(ctx, appendTryTimeout)
		seq, err := o.log.Commit(try, o.last, group, id)
		cancelTry()
		switch {
		case err == nil:
			o.last = seq
			if o.commits++; o.commits%checkpointEvery == 0 {
				select { // the partition checkpoints when it can; one at a time
				case o.due <- struct{}{}:
				default:
				}
			}
			return nil
		case errors.Is(err, ErrFenced), errors.Is(err, nats.ErrConnectionClosed), ctx.Err() != nil:
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(readPause):
		}
	}
}

// Reads during a takeover may meet a stream electing its leader, or a
// server too busy to answer in time: they are tried readTries times,
// readPause apart, before the takeover gives up (another node may try).
const (
	readTries = 20
	readPause = 100 * time.Millisecond
)

// retried runs read until it succeeds, fails for good (the connection
// closed), or has been tried readTries times.
func retried(ctx context.Context, read func() error) error {
	var err error
	for range readTries {
		if err = read(); err == nil || errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, ErrFenced) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(readPause):
		}
	}
	return err
}

// commitsBatch is how many commits a rebuild reads at once (what the
// stream has ready, without waiting for more), and emptyFetchesMax how
// many fetches in a row may come back empty, readPause apart, before it
// gives up.
const (
	commitsBatch    = 256
	emptyFetchesMax = 50
	// replayIdleMax is how long the server keeps a replay's consumer
	// that nobody reads (its reader died).
	replayIdleMax = 30 * time.Second
)

// commitsBetween yields the data of every commit from stream sequence
// first up to last, in order, read with an ephemeral pull consumer of the
// commit subject (deleted at the end; the server drops it by itself if
// this process dies first). Every read is bounded by ctx and by readTries.
func (l *Log) commitsBetween(ctx context.Context, first, last uint64) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		if last == 0 || first > last {
			return
		}
		var s jetstream.Stream
		var c jetstream.Consumer
		err := retried(ctx, func() (err error) {
			if s, err = l.js.Stream(ctx, l.stream); err == nil {
				c, err = s.CreateConsumer(ctx, jetstream.ConsumerConfig{
					FilterSubject:     l.commits,
					DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
					OptStartSeq:       first,
					AckPolicy:         jetstream.AckNonePolicy,
					MemoryStorage:     true,
					InactiveThreshold: replayIdleMax,
				})
			}
			return err
		})
		if err != nil {
			yield(nil, err)
			return
		}
		defer func() {
			cleanup, cancel := context.WithTimeout(context.Background(), readPause*readTries)
			defer cancel()
			_ = s.DeleteConsumer(cleanup, c.CachedInfo().Name)
		}()
		for empty := 0; ; {
			var batch jetstream.MessageBatch
			err := retried(ctx, func() (err error) {
				batch, err = c.FetchNoWait(commitsBatch)
				return err
			})
			if err != nil {
				yield(nil, err)
				return
			}
			got, done := 0, false
			for m := range batch.Messages() { // drained to its end: the fetch's goroutine ends with it
				got++
				if done {
					continue
				}
				meta, err := m.Metadata()
				switch {
				case err != nil:
					yield(nil, err)
					done = true
				case meta.Sequence.Stream > last: // last itself is gone: never read past it
					yield(nil, fmt.Errorf("partition %d: commit %d missing from the log", l.partition, last))
					done = true
				case len(m.Data()) == 0: // a takeover's mark: nothing to restore
					done = meta.Sequence.Stream == last
				default:
					done = !yield(m.Data(), nil) || meta.Sequence.Stream == last
				}
			}
			if done {
				return
			}
			if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
				if empty++; empty >= emptyFetchesMax {
					yield(nil, err)
					return
				}
			}
			if got > 0 {
				empty = 0
				continue
			}
			if empty++; empty >= emptyFetchesMax || ctx.Err() != nil {
				yield(nil, fmt.Errorf("partition %d: the commits end before sequence %d", l.partition, last))
				return
			}
			select { // nothing yet: the consumer is still starting, or the stream busy
			case <-ctx.Done():
			case <-time.After(readPause):
			}
		}
	}
}
