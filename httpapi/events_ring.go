package httpapi

import (
	"slices"
	"sync"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// eventFrame is a journal event encoded for the wire once, with what the
// filters look at.
type eventFrame struct {
	id   uint64
	typ  string // eventOrder or eventPallet
	sku  string
	kind inventory.LedgerKind // of a pallet event
	wire []byte               // the SSE frame
}

func encodeFrames(evs []journal.Event) []eventFrame {
	frames := make([]eventFrame, len(evs))
	for i, ev := range evs {
		fr := &frames[i]
		fr.id = ev.ID
		if ev.Order != nil {
			fr.typ, fr.sku = eventOrder, ev.Order.Request.SKU
			fr.wire = frameBytes(eventOrder, ev.ID, newOrderEventView(*ev.Order))
			continue
		}
		fr.typ, fr.sku, fr.kind = eventPallet, ev.Pallet.SKU, ev.Pallet.Entry.Kind
		fr.wire = frameBytes(eventPallet, ev.ID, newPalletEventView(*ev.Pallet))
	}
	return frames
}

// ringMax is how many of the newest events the ring keeps encoded: a few
// seconds of a busy warehouse, a few megabytes.
const ringMax = 8192

// eventRing holds the newest events, read from the journal and encoded
// once for every stream that keeps up. There is no goroutine behind it:
// the first stream to wake after a commit fills it (under fillMu), the
// others find it filled. It starts at the head when first filled; a stream
// asking for anything older reads the journal itself.
type eventRing struct {
	fillMu sync.Mutex // one filler at a time

	mu      sync.RWMutex
	started bool
	last    uint64       // the newest id filled
	frames  []eventFrame // ids contiguous, the newest last
}

// fill brings the ring up to the journal's newest event, at most ringMax
// events of it.
func (r *eventRing) fill(eng *actors.Engine) error {
	r.fillMu.Lock()
	defer r.fillMu.Unlock()
	head, _ := eng.EventsHead()
	r.mu.RLock()
	last, started := r.last, r.started
	r.mu.RUnlock()
	switch {
	case !started: // start at the head: older events are a journal read away
		r.reset(head)
		last = head
	case head-last > ringMax: // keep the newest only
		r.reset(head - ringMax)
		last = head - ringMax
	}
	for last < head {
		evs, gap, err := eng.Events(last, eventsPage)
		if err != nil || len(evs) == 0 {
			return err
		}
		if gap != 0 {
			r.reset(gap - 1)
		}
		r.append(encodeFrames(evs))
		last = evs[len(evs)-1].ID
	}
	return nil
}

// reset empties the ring to start after id last.
func (r *eventRing) reset(last uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started, r.last = true, last
	clear(r.frames)
	r.frames = r.frames[:0]
}

func (r *eventRing) append(frames []eventFrame) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, frames...)
	r.last = frames[len(frames)-1].id
	if len(r.frames) > 2*ringMax { // drop the oldest, a ringMax at a time
		n := copy(r.frames, r.frames[len(r.frames)-ringMax:])
		clear(r.frames[n:])
		r.frames = r.frames[:n]
	}
}

// after returns up to max frames after id after, and whether the ring
// could answer (it holds after's successor, or after is its newest).
func (r *eventRing) after(after uint64, max int) ([]eventFrame, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.started || after > r.last {
		return nil, false
	}
	first := r.last + 1 - uint64(len(r.frames))
	if after+1 < first {
		return nil, false
	}
	i := int(after + 1 - first)
	return slices.Clone(r.frames[i:min(len(r.frames), i+max)]), true
}
