package journal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Errors of the journal, for callers to branch on.
var (
	// ErrFailed: a write failed (a full disk, an I/O error, a replica that
	// refused it). Nothing after it is acknowledged, and the journal takes
	// no more writes; a commit answered with it may still have reached the
	// disk or the replica (its outcome is unknown, as after any lost
	// answer), but one acknowledged before it is always read back.
	ErrFailed = errors.New("journal write failed")
	// ErrCorrupt: the data directory holds something that is not a
	// readable Baconator journal.
	ErrCorrupt = errors.New("data directory unreadable")
	// ErrLocked: another process, or another journal in this one, has the
	// data directory open. Two writers would corrupt it.
	ErrLocked = errors.New("data directory in use")
	// ErrClosed: the journal was closed.
	ErrClosed = errors.New("journal closed")
)

// Limits of group commit.
const (
	// queueCapacity bounds commits waiting for the writer; past it
	// callers wait, which only happens when the disk cannot keep up.
	queueCapacity = 4096
	// groupCommitsMax bounds how many commits share one write and sync.
	groupCommitsMax = 4096
)

// memTableBytes is Pebble's write buffer unless Options.MemTableBytes
// says otherwise (Pebble's own default is 4 MiB).
const memTableBytes = 64 << 20

// blockCacheBytes is what the block cache holds of tables' filters,
// indexes and data beside two memtables. Pebble charges every memtable it
// allocates (and the one it keeps to recycle) to the block cache: with its
// default 8 MiB cache and our 64 MiB memtables, nothing was ever cached
// once the memtable had grown past 8 MiB, and each lookup of a new order
// id read and checksummed a Bloom filter and two index blocks per table
// from disk (7 µs, against 1 µs cached). So the cache is sized two
// memtables' charge plus this.
const blockCacheBytes = 32 << 20

// bloomBitsPerKey sizes the Bloom filters: 10 bits a key is a 1% false
// positive rate.
const bloomBitsPerKey = 10

// Options configures Open.
type Options struct {
	// FS is the filesystem; nil is the operating system's. Tests pass
	// Pebble's in-memory and crash-simulating filesystems.
	FS vfs.FS
	// Logger receives the journal's log lines and Pebble's.
	Logger *slog.Logger
	// Volatile says nothing is meant to outlive the process (memory
	// mode): the journal keeps no write-ahead log, since a log on an
	// in-memory filesystem protects nothing, and a commit is then just a
	// write to Pebble's memtable.
	Volatile bool
	// EventsKept is how many events the event log keeps (events.go);
	// 0 means DefaultEventsKept.
	EventsKept int
	// MemTableBytes is Pebble's write buffer; 0 means 64 MiB. A node
	// holding many journals (the cluster's, one a partition) gives each
	// a smaller one: a busy journal holds two of them in memory.
	MemTableBytes int
	// Replica, if set, is given every group before Pebble is, as the
	// Pebble batch's own encoding, and the group is written only once the
	// replica has it. In cluster mode it is the partition's replicated
	// log, which refuses a deposed owner's write: the journal then fails
	// and takes no more (fail-stop), and the partition's new owner
	// rebuilds the same state from the log with Restore.
	Replica Replica
	// Secret, if set (32 bytes), is the journal's key (Journal.Secret)
	// instead of one it makes and keeps: journals that stand for the same
	// state in turn — a partition's, owner after owner — share it, so that
	// what one signed (a page cursor) the next accepts.
	Secret []byte
}

// Replica receives the journal's groups before they are written (see
// Options.Replica). Append is called by the journal's one writer, one
// group at a time, in commit order; group is the journal's own buffer,
// not to be kept or used after Append returns. A group the replica took
// whose local write then failed is answered ErrFailed all the same: its
// outcome is unknown to the caller (a retry with the same order id is
// the way to learn it), and the partition's next owner restores it.
type Replica interface {
	Append(group []byte) error
}

// Journal is an open journal. Its methods are safe for concurrent use.
type Journal struct {
	db   *pebble.DB
	lock *pebble.Lock // dir's LOCK, held until Close
	dir  string
	log  *slog.Logger

	mu     sync.RWMutex // held shared to enqueue, exclusively to close
	closed bool
	queue  chan *request
	done   chan struct{} // closed when the writer has stopped

	secret   []byte // see Secret
	wo       *pebble.WriteOptions
	volatile bool    // no log: commits are not synced (Options.Volatile)
	replica  Replica // nil: this journal is the system of record
	failed   atomic.Pointer[error]
	// good is a snapshot of the database as the last successful write left
	// it. A write that fails may still have reached Pebble's memtable, so
	// once the journal has failed, reads are served from good: nothing is
	// ever read back that was not acknowledged as durable.
	good    atomic.Pointer[pebble.Snapshot]
	settled chan struct{} // closed by land once good is final after a failure
	events  *eventLog
	commits atomic.Int64
	groups  atomic.Int64
}

type request struct {
	b    *Batch
	done chan error
	snap chan snapshotted // a Snapshot's, with no batch
}

type snapshotted struct {
	s   *Snapshot
	err error
}

// Open opens the journal in dir, creating it if dir is missing, empty, or
// holds only what a first start cut short leaves (see datadir.go): nothing
// was ever acknowledged from such a directory. A directory that holds
// anything else, or one Pebble cannot read, is refused with ErrCorrupt and
// left as it is: never a fresh start over it. A directory another process
// has open is refused with ErrLocked.
func Open(dir string, o Options) (*Journal, error) {
	if o.FS == nil {
		o.FS = noPreallocFS{vfs.Default}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// Look before touching: a foreign directory gets no LOCK file.
	state, err := inspect(o.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("open journal in %s: %w: %v", dir, ErrCorrupt, err)
	}
	if state == dirMissing {
		if err := makeDir(o.FS, dir); err != nil {
			return nil, fmt.Errorf("open journal in %s: create directory: %w", dir, err)
		}
	}
	lock, err := lockDir(o.FS, dir)
	if err != nil {
		return nil, err
	}
	// Decide under the lock: another process may have started, or finished,
	// a first start in dir since the look above.
	if state, err = inspect(o.FS, dir); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("open journal in %s: %w: %v", dir, ErrCorrupt, err)
	}
	fresh := state != dirDatabase
	if fresh {
		if err := clearLeftovers(o.FS, dir); err != nil {
			_ = lock.Close()
			return nil, fmt.Errorf("open journal in %s: clear what a first start left: %w", dir, err)
		}
	}
	memTable := memTableBytes
	if o.MemTableBytes > 0 {
		memTable = o.MemTableBytes
	}
	opts := &pebble.Options{
		FS:               o.FS,
		Lock:             lock,
		Logger:           pebbleLogger{o.Logger.With("component", "pebble")},
		ErrorIfNotExists: !fresh,
		// An order is written when accepted and again when it ends, often
		// within milliseconds: a larger memtable lets the second write
		// replace the first before it is ever flushed, which halves what
		// compactions have to carry.
		MemTableSize: uint64(memTable),
		DisableWAL:   o.Volatile,
	}
	// Every new order id is looked up before it is accepted (an id from
	// last month must not allocate twice): a Bloom filter per table answers
	// most of those lookups without reading a block. Level 0 sets it for
	// every level below.
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(bloomBitsPerKey)
	cache := pebble.NewCache(int64(2*memTable + blockCacheBytes))
	defer cache.Unref() // the database keeps its own reference
	opts.Cache = cache
	db, err := pebble.Open(dir, opts)
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("open journal in %s: %w: %v", dir, ErrCorrupt, err)
	}
	// Every write is synced, unless there is no log to sync.
	wo := pebble.Sync
	if o.Volatile {
		wo = pebble.NoSync
	}
	if err := checkFormat(db, dir, fresh, wo); err != nil {
		_ = db.Close()
		_ = lock.Close()
		return nil, fmt.Errorf("open journal in %s: %w: %v", dir, ErrCorrupt, err)
	}
	if err := indexLots(db, wo); err != nil {
		_ = db.Close()
		_ = lock.Close()
		return nil, fmt.Errorf("open journal in %s: index lots: %w", dir, err)
	}
	secret, err := o.Secret, error(nil)
	switch {
	case len(secret) == secretBytes:
	case len(secret) != 0:
		err = fmt.Errorf("Options.Secret: %d bytes, want %d", len(secret), secretBytes)
	default:
		secret, err = loadSecret(db, wo)
	}
	if err != nil {
		_ = db.Close()
		_ = lock.Close()
		return nil, fmt.Errorf("open journal in %s: %w: %v", dir, ErrCorrupt, err)
	}
	kept := uint64(DefaultEventsKept)
	if o.EventsKept > 0 {
		kept = uint64(o.EventsKept)
	}
	events, err := loadEvents(db, kept)
	if err != nil {
		_ = db.Close()
		_ = lock.Close()
		return nil, fmt.Errorf("open journal in %s: %w: events: %v", dir, ErrCorrupt, err)
	}
	j := &Journal{db: db, lock: lock, dir: dir, log: o.Logger, queue: make(chan *request, queueCapacity), done: make(chan struct{}), settled: make(chan struct{}), secret: secret, wo: wo, volatile: o.Volatile, replica: o.Replica, events: events}
	go j.write()
	return j, nil
}

// checkFormat marks a new journal, migrates one of an earlier format, or
// checks that an existing database is one.
func checkFormat(db *pebble.DB, dir string, fresh bool, wo *pebble.WriteOptions) error {
	if fresh {
		return db.Set(formatKey, []byte(formatV2), wo)
	}
	v, closer, err := db.Get(formatKey)
	if errors.Is(err, pebble.ErrNotFound) {
		// A first start killed after Pebble created its database but
		// before the mark was synced leaves a database without it (steps
		// 3–6 in datadir.go): an empty database is still ours to claim.
		if empty, err := isEmpty(db); err != nil || !empty {
			return errors.Join(errors.New("a Pebble database, but not a Baconator journal"), err)
		}
		return db.Set(formatKey, []byte(formatV2), wo)
	}
	if err != nil {
		return err
	}
	format := string(v)
	closer.Close()
	switch format {
	case formatV2:
		return nil
	case formatV1:
		return migrateV1(db, dir)
	}
	return fmt.Errorf("journal format %q, want %q", format, formatV2)
}

func isEmpty(db *pebble.DB) (bool, error) {
	it, err := db.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, it.Close()
}

// indexLots builds the lot index of a journal written before it (every
// receipt read once, at its first open by a server that has it) and marks
// it built; new receipts are indexed as they are written.
func indexLots(db *pebble.DB, wo *pebble.WriteOptions) error {
	if _, closer, err := db.Get(lotsIndexedKey); err == nil {
		return closer.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindPallet}, UpperBound: []byte{kindPallet + 1}})
	if err != nil {
		return err
	}
	b := db.NewBatch()
	for ok := it.First(); ok; ok = it.Next() {
		spec, err := decodeSpec(it.Value())
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("pallet %s: %w: %v", it.Key()[1:], ErrCorrupt, err)
		}
		if spec.Lot != "" {
			if err := b.Set(byLotKey(spec), nil, nil); err != nil {
				_ = it.Close()
				return err
			}
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return err
	}
	if err := b.Set(lotsIndexedKey, nil, nil); err != nil {
		return err
	}
	return b.Commit(wo)
}

// secretKey holds a random key made when the journal is: what the server
// signs its page cursors with, so that it can tell a cursor it issued from
// anything else — and still knows its own after a restart.
var secretKey = []byte{kindMeta, 's', 'e', 'c', 'r', 'e', 't'}

const secretBytes = 32

func loadSecret(db *pebble.DB, wo *pebble.WriteOptions) ([]byte, error) {
	v, closer, err := db.Get(secretKey)
	if err == nil {
		defer closer.Close()
		if len(v) != secretBytes {
			return nil, fmt.Errorf("a secret of %d bytes", len(v))
		}
		return bytes.Clone(v), nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return nil, err
	}
	secret := make([]byte, secretBytes)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	return secret, db.Set(secretKey, secret, wo)
}

// Secret is the journal's own random key (32 bytes), made with it.
func (j *Journal) Secret() []byte { return j.secret }

// reader is what reads read: the database, or after a write failed, the
// database as the last successful write left it.
func (j *Journal) reader() pebble.Reader {
	if j.failed.Load() != nil {
		<-j.settled
		if s := j.good.Load(); s != nil {
			return s
		}
	}
	return j.db
}

// Dir is the journal's directory.
func (j *Journal) Dir() string { return j.dir }

// Commit writes b and returns once it is durable. Concurrent commits share
// one write and one sync. After a write error it fails with ErrFailed and
// writes nothing.
func (j *Journal) Commit(b *Batch) error {
	if b.Len() == 0 {
		return nil
	}
	if err := j.Err(); err != nil {
		return err
	}
	b.sealEvents() // here, not in the one writer: encoding is per batch
	r := &request{b: b, done: make(chan error, 1)}
	j.mu.RLock()
	if j.closed {
		j.mu.RUnlock()
		return ErrClosed
	}
	j.queue <- r // the writer drains the queue until it is closed
	j.mu.RUnlock()
	return <-r.done
}

// Restore writes groups another journal gave its Replica, in their order:
// how a partition's new owner rebuilds the state the old one committed.
// It must finish before the first Commit. It goes around the Replica (the
// groups came from it) and ends with the event log's ends read anew.
func (j *Journal) Restore(groups iter.Seq2[[]byte, error]) error {
	if err := j.restore(groups); err != nil {
		// Half a state must not take commits: its event ids, for one,
		// would be given twice.
		return j.fail(fmt.Errorf("restore: %w", err))
	}
	return j.events.reload(j.db)
}

func (j *Journal) restore(groups iter.Seq2[[]byte, error]) error {
	for g, err := range groups {
		if err != nil {
			return err
		}
		b := j.db.NewBatch()
		if err := b.SetRepr(bytes.Clone(g)); err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		err := b.Commit(pebble.NoSync)
		_ = b.Close()
		if err != nil {
			return err
		}
	}
	if j.volatile {
		return nil
	}
	return j.db.LogData(nil, pebble.Sync) // one sync for the whole restore
}

// Err is the write error that stopped the journal, or nil.
func (j *Journal) Err() error {
	if p := j.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats counts commits and the groups (writes and syncs) they shared.
func (j *Journal) Stats() (commits, groups int64) { return j.commits.Load(), j.groups.Load() }

// flightsMax bounds the groups written and waiting for their sync: Pebble's
// log writer syncs everything pending in one go, so a few are enough to
// keep the disk busy while the writer prepares the next.
const flightsMax = 4

// flight is one group written to Pebble and not yet answered.
type flight struct {
	group  []*request
	pb     *pebble.Batch    // nil when the write failed or was refused
	err    error            // why it failed or was refused
	before *pebble.Snapshot // the database before the group: see land
	newest uint64           // the group's newest event
}

// write is the one writer: it takes what is queued and writes it as one
// batch. It does not wait for the sync: the next group is written while
// this one syncs, and land answers each group, in order, once it is
// durable. A sync costs a disk round trip; overlapping it with the next
// group's work is most of what group commit can give.
func (j *Journal) write() {
	defer close(j.done)
	flights := make(chan *flight, flightsMax)
	landed := make(chan struct{})
	go j.land(flights, landed)
	defer func() { close(flights); <-landed }()
	for r := range j.queue {
		if r.snap != nil {
			r.snap <- j.snapshot()
			continue
		}
		group := append(make([]*request, 0, 8), r)
		var snap *request // a Snapshot asked for after the group's requests
	more:
		for len(group) < groupCommitsMax {
			select {
			case r, ok := <-j.queue:
				switch {
				case !ok:
					break more
				case r.snap != nil:
					snap = r
					break more
				}
				group = append(group, r)
			default:
				break more
			}
		}
		f := &flight{group: group, err: j.Err()}
		if f.err == nil {
			if err := j.apply(f); err != nil {
				// Refuse what follows at once: Pebble's commit pipeline
				// is not to be written to after a failed commit.
				f.err = j.fail(err)
			}
		}
		flights <- f
		if snap != nil {
			snap.snap <- j.snapshot()
		}
	}
}

// Snapshot is the journal's state between two of its writer's groups:
// every group written (and given to the Replica) before it, none after;
// Position is what the Replica's Position said at that moment (0 without
// one). Close it when done.
type Snapshot struct {
	db       *pebble.DB
	snap     *pebble.Snapshot
	Position uint64
}

// Positioner is a Replica that can say where its log stands: a Snapshot
// records it, to say from where a restore must replay.
type Positioner interface {
	Position() uint64
}

// Snapshot takes a Snapshot between the writer's groups.
func (j *Journal) Snapshot() (*Snapshot, error) {
	r := &request{snap: make(chan snapshotted, 1)}
	j.mu.RLock()
	if j.closed {
		j.mu.RUnlock()
		return nil, ErrClosed
	}
	j.queue <- r
	j.mu.RUnlock()
	got := <-r.snap
	return got.s, got.err
}

// snapshot is Snapshot on the writer's goroutine, between groups.
func (j *Journal) snapshot() snapshotted {
	if err := j.Err(); err != nil {
		return snapshotted{err: err}
	}
	s := &Snapshot{db: j.db, snap: j.db.NewSnapshot()}
	if p, ok := j.replica.(Positioner); ok {
		s.Position = p.Position()
	}
	return snapshotted{s: s}
}

// Export is the snapshot's every key as one group, in the form Restore
// takes: a restore from it and the groups after Position is the state.
func (s *Snapshot) Export() ([]byte, error) {
	it, err := s.snap.NewIter(nil)
	if err != nil {
		return nil, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := b.Set(it.Key(), it.Value(), nil); err != nil {
			_ = it.Close()
			return nil, err
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, err
	}
	return bytes.Clone(b.Repr()), nil
}

// Close releases the snapshot.
func (s *Snapshot) Close() error { return s.snap.Close() }

// apply writes f's group to Pebble without waiting for its sync. The
// snapshot taken first holds every group before it: what reads fall back
// to if this one fails (see land).
func (j *Journal) apply(f *flight) (err error) {
	f.before = j.db.NewSnapshot()
	pb := j.db.NewBatch()
	for _, r := range f.group {
		if err := r.b.addTo(pb); err != nil {
			return err
		}
	}
	if f.newest, err = j.events.addGroup(pb, f.group); err != nil {
		return err
	}
	if j.replica != nil {
		if err := j.replica.Append(pb.Repr()); err != nil {
			return fmt.Errorf("replicate: %w", err)
		}
	}
	// Pebble reports a failed commit through Logger.Fatalf, which our
	// logger turns into a panic so that it can be answered as an error.
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			err = fe
		}
	}()
	if j.volatile {
		err = pb.Commit(pebble.NoSync)
	} else {
		// Pebble's own warning on this call asks for care: the batch
		// is readable before it is durable (as it is with Commit, which
		// only waits longer), and must not be closed before SyncWait.
		err = j.db.ApplyNoSyncWait(pb, pebble.Sync)
	}
	if err != nil {
		return err
	}
	f.pb = pb
	return nil
}

// land answers the groups in the order they were written, each once its
// sync is done. A group is acknowledged when its own write and sync
// succeeded and every group before it was acknowledged — even if a later
// group has already failed the journal. Reads after a failure wait for
// settled and then use the snapshot taken before the first group not
// acknowledged: since groups land in order, every group before it was
// acknowledged and nothing from it on was.
func (j *Journal) land(flights <-chan *flight, landed chan<- struct{}) {
	defer close(landed)
	acked := true // every group landed so far was acknowledged
	for f := range flights {
		err := f.err
		if f.pb != nil && !j.volatile {
			// Waited for even when the answer is already known: Pebble may
			// still touch a batch until its sync is done.
			if serr := f.pb.SyncWait(); err == nil {
				err = serr
			}
		}
		if err == nil && !acked {
			err = j.Err() // an earlier group was refused
		}
		if acked {
			j.setGood(f.before)
		} else if f.before != nil {
			_ = f.before.Close()
		}
		if err != nil {
			err = j.fail(err)
			if acked {
				close(j.settled) // good, the state before f, is final
			}
		} else {
			j.events.committed(f.newest)
			j.commits.Add(int64(len(f.group)))
			j.groups.Add(1)
		}
		acked = acked && err == nil
		if f.pb != nil {
			_ = f.pb.Close()
		}
		for _, r := range f.group {
			r.done <- err
		}
	}
}

// setGood makes s what reads fall back to if the journal fails.
func (j *Journal) setGood(s *pebble.Snapshot) {
	if s == nil {
		return
	}
	if old := j.good.Swap(s); old != nil {
		_ = old.Close()
	}
}

func (j *Journal) fail(cause error) error {
	err := fmt.Errorf("%w in %s: %w", ErrFailed, j.dir, cause)
	if j.failed.CompareAndSwap(nil, &err) {
		j.log.Error(fmt.Sprintf("[ALERT] Journal write failed in %s: %v. Nothing after it was acknowledged; refusing every write until a restart recovers from what was persisted.", j.dir, cause))
	}
	return j.Err()
}

// Close stops the writer after the commits already queued and closes the
// database. After a write error it still closes what it can; what counts
// then is recovery at the next start.
func (j *Journal) Close() (err error) {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	close(j.queue)
	j.mu.Unlock()
	<-j.done
	if s := j.good.Swap(nil); s != nil {
		_ = s.Close() // before the database: Pebble refuses to close with a snapshot open
	}
	defer func() {
		if lerr := j.lock.Close(); lerr != nil && err == nil {
			err = fmt.Errorf("close journal in %s: unlock: %w", j.dir, lerr)
		}
	}()
	if j.Err() != nil {
		defer func() { _ = recover() }() // a failed Pebble may report its state by Fatalf
		_ = j.db.Close()
		return nil
	}
	// A clean stop writes the write buffer out, so the next start has no
	// log to replay: start-up then reads checkpoints, not the last 64 MiB
	// of history. (After a crash it replays at most that much.)
	if err := j.db.Flush(); err != nil {
		_ = j.db.Close()
		return fmt.Errorf("close journal in %s: flush: %w", j.dir, err)
	}
	if err := j.db.Close(); err != nil {
		return fmt.Errorf("close journal in %s: %w", j.dir, err)
	}
	return nil
}

// fatalError is Pebble's report of a failure it cannot go on from.
type fatalError struct{ msg string }

func (f fatalError) Error() string { return f.msg }

// pebbleLogger routes Pebble's log lines to slog. Pebble's Fatalf would
// exit the process; this one panics instead, and apply recovers it when it
// comes from a commit. Anywhere else it still ends the process.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }
func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
}
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg)
	panic(fatalError{msg})
}
