package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrFenced: a commit named a commit sequence that is no longer the
// partition's last: another owner committed since. The writer has been
// deposed and must stop at once; nothing it sent was applied.
var ErrFenced = errors.New("fenced: another owner committed to the partition")

// Log is one partition's replicated log: a stream with an intake subject
// and a commit subject.
type Log struct {
	js        jetstream.JetStream
	partition int
	stream    string
	intake    string
	commits   string
}

// Replicas is how many copies JetStream keeps of each partition's log.
const Replicas = 3

// dedupWindow is how long JetStream remembers an order id it appended.
const dedupWindow = 2 * time.Minute

// OpenLog makes the partition's stream if it is not there (replicas
// copies, on file) and returns its log.
func OpenLog(ctx context.Context, js jetstream.JetStream, partition, replicas int) (*Log, error) {
	l := &Log{js: js, partition: partition,
		stream:  fmt.Sprintf("BACONATOR_P%02d", partition),
		intake:  fmt.Sprintf("baconator.p%02d.intake", partition),
		commits: fmt.Sprintf("baconator.p%02d.commits", partition)}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     l.stream,
		Subjects: []string{l.intake, l.commits},
		Storage:  jetstream.FileStorage,
		Replicas: replicas,
		// Nats-Msg-Id deduplicates an order sent twice within the window
		// (a client's retry after a lost 202); older repeats are caught
		// by the owner, which knows every id it has accepted.
		Duplicates: dedupWindow,
		// The log is the record: nothing in it is ever taken out.
		DenyDelete: true,
		DenyPurge:  true,
	})
	if err != nil {
		return nil, fmt.Errorf("partition %d: make stream: %w", partition, err)
	}
	return l, nil
}

// Accept appends an accepted order to the partition's intake, with the
// order's id as Nats-Msg-Id, and returns once a majority of replicas have
// it: only then may its 202 be sent. duplicate says the id was already
// appended within the dedup window (seq is then the first append's).
func (l *Log) Accept(ctx context.Context, orderID string, order []byte) (seq uint64, duplicate bool, err error) {
	for try := 0; ; try++ {
		ack, err := l.js.Publish(ctx, l.intake, order, jetstream.WithMsgID(orderID))
		// 10158: the same id is being appended by another request this
		// moment; once that append is done this one is its duplicate.
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrDuplicateInProcess && try < acceptTries {
			select {
			case <-ctx.Done():
			case <-time.After(acceptPause):
			}
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("partition %d: accept %s: %w", l.partition, orderID, err)
		}
		return ack.Sequence, ack.Duplicate, nil
	}
}

// An id appended by two requests at once: the second is tried again
// acceptTries times, acceptPause apart (jsErrDuplicateInProcess is
// nats-server's JSStreamDuplicateMessageConflict).
const (
	jsErrDuplicateInProcess = 10158
	acceptTries             = 20
	acceptPause             = 10 * time.Millisecond
)

// Commit appends an owner's commit. after is the stream sequence of the
// last commit the owner knows of (0 before the first): if another commit
// has been appended since, JetStream refuses this one and Commit returns
// ErrFenced. It returns the commit's own sequence, the next one's after.
//
// msgID, if not empty, deduplicates a retried commit (one whose answer
// was lost): it must be unique to this owner and this after, or another
// owner's commit would be taken for this one.
func (l *Log) Commit(ctx context.Context, after uint64, commit []byte, msgID string) (uint64, error) {
	opts := []jetstream.PublishOpt{jetstream.WithExpectLastSequencePerSubject(after)}
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ack, err := l.js.Publish(ctx, l.commits, commit, opts...)
	// 10071 is a fence. 10164 (the constant form, for a replicated
	// stream) can also answer an owner's next commit sent while its last
	// one is still being applied: it is tried again (Owner.Append), and
	// comes back 10071 if another commit really came first.
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return 0, fmt.Errorf("partition %d: %w (%v)", l.partition, ErrFenced, err)
	}
	if err != nil {
		return 0, fmt.Errorf("partition %d: commit: %w", l.partition, err)
	}
	return ack.Sequence, nil
}

// LastCommit is the sequence of the partition's last commit (0 if none):
// where a new owner's first commit follows.
func (l *Log) LastCommit(ctx context.Context) (uint64, error) {
	s, err := l.js.Stream(ctx, l.stream)
	if err != nil {
		return 0, err
	}
	m, err := s.GetLastMsgForSubject(ctx, l.commits)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("partition %d: last commit: %w", l.partition, err)
	}
	return m.Sequence, nil
}
