package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/baconator/baconator/inventory"
)

// The journal's values are a compact binary encoding, not JSON: an order
// is encoded on every acceptance and every end, and JSON (reflection, and
// times as text) cost a quarter of the durable intake's CPU. Each value
// starts with a codec version so the format can evolve; strings are
// length-prefixed, numbers varints, times nanoseconds since 1970 in UTC.
const (
	codecV1 = 1
	codecV2 = 2 // an order's allocations carry their pallet's receipt time
)

var errTruncated = errors.New("truncated value")

type encoder struct{ b []byte }

func (e *encoder) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) int(v int64) { e.b = binary.AppendVarint(e.b, v) }

// time keeps the zero time zero: its nanoseconds do not fit an int64.
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.b = append(e.b, 0)
		return
	}
	e.b = append(e.b, 1)
	e.int(t.Unix())
	e.int(int64(t.Nanosecond()))
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) uvarint() uint64 { return next(d, binary.Uvarint) }
func (d *decoder) int() int64      { return next(d, binary.Varint) }

// next reads one varint with read, or records that the value ran out.
func next[T uint64 | int64](d *decoder, read func([]byte) (T, int)) T {
	if d.err != nil {
		return 0
	}
	v, n := read(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail(errTruncated)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) time() time.Time {
	if d.err != nil || len(d.b) == 0 {
		d.fail(errTruncated)
		return time.Time{}
	}
	set := d.b[0]
	d.b = d.b[1:]
	switch set {
	case 0:
		return time.Time{}
	case 1:
		sec, nsec := d.int(), d.int()
		if nsec < 0 || nsec >= int64(time.Second) {
			d.fail(fmt.Errorf("bad nanoseconds %d", nsec))
			return time.Time{}
		}
		return time.Unix(sec, nsec).UTC()
	}
	d.fail(fmt.Errorf("bad time marker %d", set))
	return time.Time{}
}

// start checks the codec version against those accepted (codecV1 if
// none are named) and returns it.
func (d *decoder) start(accepted ...byte) byte {
	if len(accepted) == 0 {
		accepted = []byte{codecV1}
	}
	if len(d.b) == 0 || !slices.Contains(accepted, d.b[0]) {
		d.fail(errors.New("unknown codec version"))
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// end reports the first error, or bytes left over.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d bytes left over", len(d.b))
	}
	return d.err
}

func encodeOrder(o inventory.Order) []byte {
	e := encoder{b: make([]byte, 0, 128+56*len(o.Allocations))}
	e.b = append(e.b, codecV2)
	r := o.Request
	e.str(r.ID)
	e.str(r.Customer)
	e.str(r.SKU)
	e.int(int64(r.Amount))
	e.int(int64(r.MinShelfLifeDays))
	e.time(r.CreatedAt)
	e.str(string(o.Status))
	e.str(string(o.Reason))
	e.b = binary.AppendUvarint(e.b, uint64(len(o.Allocations)))
	for _, a := range o.Allocations {
		e.str(a.PalletID)
		e.str(a.Lot)
		e.str(a.Supplier)
		e.int(int64(a.Lbs))
		e.time(a.Expires)
		e.time(a.Received)
	}
	e.int(int64(o.Attempts))
	e.int(int64(o.Conflicts))
	e.time(o.AcceptedAt)
	e.time(o.CompletedAt)
	return e.b
}

func decodeOrder(b []byte) (inventory.Order, error) {
	d := decoder{b: b}
	v := d.start(codecV1, codecV2)
	var o inventory.Order
	r := &o.Request
	r.ID, r.Customer, r.SKU = d.str(), d.str(), d.str()
	r.Amount, r.MinShelfLifeDays = inventory.CentiLbs(d.int()), int(d.int())
	r.CreatedAt = d.time()
	o.Status, o.Reason = inventory.Status(d.str()), inventory.Reason(d.str())
	// Each allocation takes at least 6 bytes: a count beyond that is a lie.
	if n := d.uvarint(); n > uint64(len(d.b))/6 {
		d.fail(errTruncated)
	} else if n > 0 {
		o.Allocations = make([]inventory.Allocation, n)
		for i := range o.Allocations {
			a := &o.Allocations[i]
			a.PalletID, a.Lot, a.Supplier = d.str(), d.str(), d.str()
			a.Lbs, a.Expires = inventory.CentiLbs(d.int()), d.time()
			if v >= codecV2 {
				a.Received = d.time()
			}
		}
	}
	o.Attempts, o.Conflicts = int(d.int()), int(d.int())
	o.AcceptedAt, o.CompletedAt = d.time(), d.time()
	return o, d.end()
}

func encodeSpec(s inventory.PalletSpec) []byte {
	e := encoder{b: make([]byte, 0, 96)}
	e.b = append(e.b, codecV1)
	e.str(s.ID)
	e.str(s.SKU)
	e.str(s.Lot)
	e.str(s.Supplier)
	e.int(int64(s.Weight))
	e.time(s.Received)
	e.time(s.Expires)
	return e.b
}

func decodeSpec(b []byte) (inventory.PalletSpec, error) {
	d := decoder{b: b}
	d.start()
	var s inventory.PalletSpec
	s.ID, s.SKU, s.Lot, s.Supplier = d.str(), d.str(), d.str(), d.str()
	s.Weight = inventory.CentiLbs(d.int())
	s.Received, s.Expires = d.time(), d.time()
	return s, d.end()
}

// encodeEntry writes a ledger entry; one with a status or a note (a
// status change, a write-off) in the second codec version, which carries
// both after the first's fields, so that the common entries stay as small
// as they were.
func encodeEntry(le inventory.LedgerEntry) []byte {
	e := encoder{b: make([]byte, 0, 64)}
	v2 := le.Status != "" || le.Note != ""
	if v2 {
		e.b = append(e.b, codecV2)
	} else {
		e.b = append(e.b, codecV1)
	}
	e.time(le.At)
	e.str(string(le.Kind))
	e.int(int64(le.Lbs))
	e.str(le.OrderID)
	e.str(le.Reason)
	e.int(le.Version)
	if v2 {
		e.str(string(le.Status))
		e.str(le.Note)
	}
	return e.b
}

func decodeEntry(b []byte) (inventory.LedgerEntry, error) {
	d := decoder{b: b}
	v := d.start(codecV1, codecV2)
	var le inventory.LedgerEntry
	le.At = d.time()
	le.Kind = inventory.LedgerKind(d.str())
	le.Lbs = inventory.CentiLbs(d.int())
	le.OrderID, le.Reason = d.str(), d.str()
	le.Version = d.int()
	if v >= codecV2 {
		le.Status, le.Note = inventory.PalletStatus(d.str()), d.str()
	}
	return le, d.end()
}

// Checkpoint is a pallet's state as the journal keeps it, with its
// receipt: what recovery needs and all a read of a retired pallet shows.
type Checkpoint struct {
	Spec    inventory.PalletSpec
	OnHand  inventory.CentiLbs
	Version int64
	Status  string // the pallet's status (empty: available)
}

// State is the checkpoint as a pallet state.
func (c Checkpoint) State() inventory.PalletState {
	s := inventory.PalletState{Spec: c.Spec, OnHand: c.OnHand, Version: c.Version, Status: inventory.PalletStatus(c.Status)}
	s.Status = s.StatusOr() // checkpoints from before statuses have none
	return s
}

func encodeCheckpoint(c Checkpoint) []byte {
	e := encoder{b: make([]byte, 0, 128)}
	e.b = append(e.b, encodeSpec(c.Spec)...)
	e.int(int64(c.OnHand))
	e.int(c.Version)
	e.str(c.Status)
	return e.b
}

func decodeCheckpoint(b []byte) (Checkpoint, error) {
	d := decoder{b: b}
	d.start()
	var c Checkpoint
	s := &c.Spec
	s.ID, s.SKU, s.Lot, s.Supplier = d.str(), d.str(), d.str(), d.str()
	s.Weight = inventory.CentiLbs(d.int())
	s.Received, s.Expires = d.time(), d.time()
	c.OnHand, c.Version = inventory.CentiLbs(d.int()), d.int()
	c.Status = d.str()
	return c, d.end()
}
