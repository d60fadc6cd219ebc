package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/baconator/baconator/inventory"
)

// The event log: what each commit changed, in the order it was committed,
// for the live stream (GET /api/events) and the clients that resume it.
// Every order snapshot and every ledger line a batch writes is an event,
// numbered in commit order from 1. The events of one group commit are one
// key — 'e' + the group's first id (8 bytes, big-endian) → a count and the
// group's records — so the log costs one more key per group, not per
// order, and a record reuses the bytes already encoded for the order or
// the ledger line. The log keeps the newest EventsKept events; older ones
// are deleted with one range deletion now and then.

const kindEvents = 'e'

// DefaultEventsKept is how many events the log keeps unless told: at a
// few hundred bytes each, about a hundred megabytes on disk — hours of a
// busy warehouse's history for a client to resume from.
const DefaultEventsKept = 1 << 20

// Event record kinds inside a group.
const (
	recordOrder  = 'o'
	recordPallet = 'p'
)

// Event is one committed change: an order's new snapshot, or a line of a
// pallet's ledger with the pallet as that line left it. ID is the event's
// position in the log, strictly increasing.
type Event struct {
	ID     uint64
	Order  *inventory.Order
	Pallet *PalletEvent
}

// PalletEvent is a ledger line and the pallet after it.
type PalletEvent struct {
	PalletID, SKU, Lot string
	Entry              inventory.LedgerEntry
	OnHand             inventory.CentiLbs // after the line
	Status             inventory.PalletStatus
}

// pendingEvent is an event a batch will write: an order's or a ledger
// line's encoded bytes (shared with the key that stores them).
type pendingEvent struct {
	kind     byte
	value    []byte
	palletID string
	lbs      inventory.CentiLbs
	status   inventory.PalletStatus
	onHand   inventory.CentiLbs // after the line (set by palletWeights)
}

// sealEvents encodes the batch's events as group records, once, in the
// committer's goroutine: a pallet event takes the SKU, lot, weight and
// status from the checkpoint the same batch writes for it — its weight
// after each line is the checkpoint's less what the batch's later lines
// of that pallet did.
func (b *Batch) sealEvents() {
	b.records = b.records[:0]
	b.eventCount = len(b.events)
	b.palletWeights()
	for i := range b.events {
		ev := &b.events[i]
		b.records = append(b.records, ev.kind)
		if ev.kind == recordPallet {
			cp := b.checkpoints[ev.palletID]
			status := inventory.PalletStatus(cp.Status)
			if ev.status != "" {
				status = ev.status
			}
			e := encoder{b: b.records}
			e.str(ev.palletID)
			e.str(cp.Spec.SKU)
			e.str(cp.Spec.Lot)
			e.int(int64(ev.onHand))
			e.str(string(status))
			b.records = e.b
		}
		b.records = binary.AppendUvarint(b.records, uint64(len(ev.value)))
		b.records = append(b.records, ev.value...)
	}
}

// palletWeights sets each pallet event's weight after its line: the
// checkpoint's less what the batch's later lines of that pallet did. An
// intake batch (one order, no pallet) allocates nothing here.
func (b *Batch) palletWeights() {
	for i := len(b.events) - 1; i >= 0; i-- {
		ev := &b.events[i]
		if ev.kind != recordPallet {
			continue
		}
		if b.later == nil {
			b.later = make(map[string]inventory.CentiLbs)
		}
		ev.onHand = b.checkpoints[ev.palletID].OnHand - b.later[ev.palletID]
		b.later[ev.palletID] += ev.lbs
	}
	clear(b.later)
}

func eventsKey(first uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{kindEvents}, first)
}

// eventLog is the journal's side of the log: the newest id, the oldest
// the log may still hold, and who is waiting for the next.
type eventLog struct {
	kept uint64
	// written is the newest id given to a group written, committed or
	// not yet: the journal's one writer owns it (addGroup).
	written uint64

	mu      sync.Mutex
	last    uint64        // the newest event committed
	oldest  uint64        // no event before it is held (a lower bound after a prune)
	changed chan struct{} // closed when last moves
}

// loadEvents finds the log's ends in db.
func loadEvents(db pebble.Reader, kept uint64) (*eventLog, error) {
	l := &eventLog{kept: kept, changed: make(chan struct{})}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindEvents}, UpperBound: []byte{kindEvents + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if !it.Last() {
		return l, it.Error()
	}
	first, count, _, err := parseGroup(it.Key(), it.Value())
	if err != nil {
		return nil, err
	}
	l.last = first + count - 1
	l.written = l.last
	if it.First() {
		l.oldest, _, _, err = parseGroup(it.Key(), it.Value())
	}
	return l, errors.Join(err, it.Error())
}

// reload reads the log's ends again, after groups were restored into db
// (Journal.Restore) and before any Commit; waiters are woken.
func (l *eventLog) reload(db pebble.Reader) error {
	fresh, err := loadEvents(db, l.kept)
	if err != nil {
		return err
	}
	l.written = fresh.written
	l.mu.Lock()
	defer l.mu.Unlock()
	l.oldest = fresh.oldest
	if fresh.last != l.last {
		l.last = fresh.last
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return nil
}

// parseGroup reads a group key's first id and its value's count.
func parseGroup(k, v []byte) (first, count uint64, records []byte, err error) {
	if len(k) != 9 {
		return 0, 0, nil, fmt.Errorf("%w: malformed event key %q", ErrCorrupt, k)
	}
	count, n := binary.Uvarint(v)
	if n <= 0 || count == 0 {
		return 0, 0, nil, fmt.Errorf("%w: malformed event group %q", ErrCorrupt, k)
	}
	return binary.BigEndian.Uint64(k[1:]), count, v[n:], nil
}

// addGroup writes the group's events to pb as one key, and prunes the log
// when it has grown an eighth past what it keeps. It returns the newest id
// the group makes.
func (l *eventLog) addGroup(pb *pebble.Batch, group []*request) (uint64, error) {
	var count, size int
	for _, r := range group {
		count += r.b.eventCount
		size += len(r.b.records)
	}
	last := l.written
	l.mu.Lock()
	oldest := l.oldest
	l.mu.Unlock()
	if count == 0 {
		return last, nil
	}
	first := last + 1
	head := binary.AppendUvarint(nil, uint64(count))
	op := pb.SetDeferred(9, len(head)+size)
	copy(op.Key, eventsKey(first))
	v := append(op.Value[:0], head...)
	for _, r := range group {
		v = append(v, r.b.records...)
	}
	if err := op.Finish(); err != nil {
		return last, err
	}
	newest := last + uint64(count)
	if oldest == 0 {
		oldest = first
	}
	if held := newest - oldest + 1; held > l.kept+l.kept/8 {
		// Never the group being written: one group may hold more than kept.
		cut := min(newest-l.kept+1, first)
		if err := pb.DeleteRange(eventsKey(0), eventsKey(cut), nil); err != nil {
			return last, err
		}
		oldest = cut
	}
	l.mu.Lock()
	l.oldest = oldest
	l.mu.Unlock()
	l.written = newest
	return newest, nil
}

// committed makes ids up to newest visible to readers and wakes waiters.
func (l *eventLog) committed(newest uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if newest == l.last {
		return
	}
	l.last = newest
	close(l.changed)
	l.changed = make(chan struct{})
}

// EventsHead returns the newest committed event's id (0 before the first)
// and a channel closed when a newer one is committed.
func (j *Journal) EventsHead() (uint64, <-chan struct{}) {
	j.events.mu.Lock()
	defer j.events.mu.Unlock()
	return j.events.last, j.events.changed
}

// Events returns up to max events after the id after, oldest first. When
// the event after it is no longer held (pruned, or never issued by this
// journal: an id past the newest), gap is the oldest id held and the events
// start there; gap is 0 otherwise.
func (j *Journal) Events(after uint64, max int) (events []Event, gap uint64, err error) {
	newest, _ := j.EventsHead()
	if newest == 0 || after == newest || max <= 0 {
		return nil, 0, nil
	}
	it, err := j.reader().NewIter(&pebble.IterOptions{LowerBound: []byte{kindEvents}, UpperBound: eventsKey(newest + 1)})
	if err != nil {
		return nil, 0, fmt.Errorf("read events: %w", err)
	}
	defer it.Close()
	from := after + 1
	ok := after < newest && it.SeekLT(eventsKey(from+1)) // the group holding from
	if ok {
		first, count, _, perr := parseGroup(it.Key(), it.Value())
		if perr != nil {
			return nil, 0, perr
		}
		ok = first+count > from
	}
	if !ok { // from is not held: start at the oldest group
		if !it.First() {
			return nil, 0, it.Error()
		}
		first, _, _, perr := parseGroup(it.Key(), it.Value())
		if perr != nil {
			return nil, 0, perr
		}
		if from != first || after >= newest {
			gap = first
		}
		from = first
	}
	for valid := true; valid && len(events) < max; valid = it.Next() {
		first, _, records, perr := parseGroup(it.Key(), it.Value())
		if perr != nil {
			return nil, 0, perr
		}
		if events, err = decodeGroup(events, first, from, records, max); err != nil {
			return nil, 0, fmt.Errorf("read events from %d: %w: %v", first, ErrCorrupt, err)
		}
	}
	return events, gap, it.Error()
}

// decodeGroup appends the group's events from id from on, up to max in all.
func decodeGroup(events []Event, first, from uint64, records []byte, max int) ([]Event, error) {
	d := decoder{b: records}
	for id := first; len(d.b) > 0 && len(events) < max; id++ {
		kind := d.b[0]
		d.b = d.b[1:]
		var pe PalletEvent
		if kind == recordPallet {
			pe.PalletID, pe.SKU, pe.Lot = d.str(), d.str(), d.str()
			pe.OnHand = inventory.CentiLbs(d.int())
			pe.Status = inventory.PalletStatus(d.str())
		}
		n := d.uvarint()
		if d.err != nil || uint64(len(d.b)) < n {
			return events, errors.Join(d.err, errTruncated)
		}
		value := d.b[:n]
		d.b = d.b[n:]
		if id < from {
			continue
		}
		ev := Event{ID: id}
		switch kind {
		case recordOrder:
			o, err := decodeOrder(value)
			if err != nil {
				return events, err
			}
			ev.Order = &o
		case recordPallet:
			e, err := decodeEntry(value)
			if err != nil {
				return events, err
			}
			pe.Entry = e
			ev.Pallet = &pe
		default:
			return events, fmt.Errorf("event record kind %q", kind)
		}
		events = append(events, ev)
	}
	return events, nil
}
