package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// GET /api/events: Server-Sent Events of what the journal commits (order
// and pallet events, each with its journal position as id, resumable with
// Last-Event-ID), and on request a snapshot of the floor every second.
//
// Streams near the head share the newest events, read from the journal and
// encoded once (events_ring.go); a stream resuming from further back reads
// the journal itself until it catches up. Either way a stream reads at its
// own pace: a client that reads slowly falls behind, never makes the server
// buffer for it, and past what the log keeps is told so with a gap event.

// Bounds of the event streams.
const (
	// eventStreamsMax bounds the streams open at once; past it a new one is
	// a 503 with Retry-After.
	eventStreamsMax = 256
	// eventsPage is how many events a stream takes at once.
	eventsPage = 512
	// eventsWriteTimeout cuts a client that has taken nothing for this long
	// (each write renews it; a write is at most the stream's 16 KiB buffer).
	eventsWriteTimeout = 30 * time.Second
	// A stream reads at most once per eventsCoalescePerStream times the
	// streams open, within [eventsCoalesceMin, eventsCoalesceMax]: commits
	// come by the thousand a second under load, and waking every stream
	// for each would cost more than the events. So all streams together
	// wake about a thousand times a second at most (past twenty streams,
	// fifty a second each), and one stream alone — a client following
	// its orders to their end — hears of a commit within a millisecond.
	eventsCoalescePerStream = time.Millisecond
	eventsCoalesceMin       = time.Millisecond
	eventsCoalesceMax       = 20 * time.Millisecond
	// eventsHeartbeat keeps proxies from closing a quiet stream.
	eventsHeartbeat = 15 * time.Second
	// floorEvery is how often a floor snapshot is sent.
	floorEvery = time.Second
	// eventsRetryMillis is the reconnection delay the stream suggests.
	eventsRetryMillis = 2000
)

var eventsParams = []string{"types", "sku", "kinds"}

// Event types: order and pallet are journal events, floor a snapshot.
const (
	eventOrder  = "order"
	eventPallet = "pallet"
	eventFloor  = "floor"
)

var ledgerKinds = []inventory.LedgerKind{inventory.LedgerReceived, inventory.LedgerAdjusted, inventory.LedgerAllocated,
	inventory.LedgerReturned, inventory.LedgerHeld, inventory.LedgerReleased, inventory.LedgerRecalled, inventory.LedgerWrittenOff}

// errStreamEnded ends a stream whose client left, or at a drain.
var errStreamEnded = errors.New("event stream ended")

// eventFilter is what a stream sends.
type eventFilter struct {
	types map[string]bool
	sku   string
	kinds map[inventory.LedgerKind]bool // of pallet events; empty: all
}

func (f eventFilter) keeps(fr *eventFrame) bool {
	return f.types[fr.typ] && (f.sku == "" || fr.sku == f.sku) &&
		(fr.typ != eventPallet || len(f.kinds) == 0 || f.kinds[fr.kind])
}

// parseEvents reads a stream's filter and where it starts: after the id a
// reconnecting client last saw, or (resume false) at the newest event.
func parseEvents(c echo.Context) (f eventFilter, after uint64, resume bool, err error) {
	var fe fields
	for name, values := range c.QueryParams() {
		switch {
		case !slices.Contains(eventsParams, name):
			fe.add(name, "unknown query parameter; known: %s", strings.Join(eventsParams, ", "))
		case len(values) > 1:
			fe.add(name, "given more than once; give one comma-separated list")
		}
	}
	f.types = map[string]bool{eventOrder: true, eventPallet: true}
	if v := c.QueryParam("types"); v != "" {
		f.types = map[string]bool{}
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != eventOrder && t != eventPallet && t != eventFloor {
				fe.add("types", "must be a comma-separated list of order, pallet, floor")
				break
			}
			f.types[t] = true
		}
	}
	f.sku = c.QueryParam("sku")
	if v := c.QueryParam("kinds"); v != "" {
		f.kinds = map[inventory.LedgerKind]bool{}
		for _, k := range strings.Split(v, ",") {
			kind := inventory.LedgerKind(strings.TrimSpace(k))
			if !slices.Contains(ledgerKinds, kind) {
				fe.add("kinds", "must be a comma-separated list of ledger kinds: received, adjusted, allocated, returned, held, released, recalled, written_off")
				break
			}
			f.kinds[kind] = true
		}
	}
	if v := c.Request().Header.Get("Last-Event-ID"); v != "" {
		if after, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64); err != nil {
			fe.add("Last-Event-ID", "must be an event id this stream sent (a decimal number)")
		}
		resume = true
	}
	return f, after, resume, fe.err()
}

func (s *Server) streamEvents(c echo.Context) error {
	f, after, resume, err := parseEvents(c)
	if err != nil {
		return err
	}
	if !s.streams.acquire() {
		return problem(http.StatusServiceUnavailable, "too-many-streams", fmt.Sprintf("%d event streams are open, the most this server serves; retry later", eventStreamsMax))
	}
	defer s.streams.release()
	head, _ := s.eng.EventsHead()
	if !resume {
		after = head
	}
	st := newEventStream(c.Response(), s.drained)
	defer st.close()
	h := c.Response().Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	c.Response().WriteHeader(http.StatusOK)
	fmt.Fprintf(st.w, "retry: %d\n\n", eventsRetryMillis)
	if after > head { // an id this journal never issued: say so now, not once the log has caught up with it
		oldest, err := s.oldestEvent(head)
		if err != nil {
			s.log.Warn("event stream ended: reading the journal's events failed", "err", err)
			return nil
		}
		st.gap(oldest)
		after = oldest - 1
	}
	err = s.serveEvents(c.Request().Context(), st, f, after)
	switch {
	case errors.Is(err, errStreamEnded):
	case err != nil && st.failed != nil:
		s.log.Debug("event stream ended: the client left or stopped reading", "err", err)
	case err != nil:
		s.log.Warn("event stream ended: reading the journal's events failed", "err", err)
	}
	return nil
}

// oldestEvent is the oldest id the log holds, or the next it will issue
// when it holds none.
func (s *Server) oldestEvent(head uint64) (uint64, error) {
	evs, gap, err := s.eng.Events(0, 1)
	switch {
	case err != nil:
		return 0, err
	case gap != 0:
		return gap, nil
	case len(evs) > 0:
		return evs[0].ID, nil
	}
	return head + 1, nil
}

// serveEvents sends what is committed after after, then waits for more,
// until the client leaves, the server drains, or a write fails.
func (s *Server) serveEvents(ctx context.Context, st *eventStream, f eventFilter, after uint64) error {
	beat := time.NewTicker(eventsHeartbeat)
	defer beat.Stop()
	var floor <-chan time.Time
	if f.types[eventFloor] {
		t := time.NewTicker(floorEvery)
		defer t.Stop()
		floor = t.C
		st.send(eventFloor, 0, s.floorSnapshot())
	}
	journaled := f.types[eventOrder] || f.types[eventPallet]
	var read time.Time // when the stream last read the journal's events
	for {
		var changed <-chan struct{}
		if journaled {
			var err error
			read = time.Now()
			if after, changed, err = s.sendEvents(ctx, st, f, after); err != nil {
				return err
			}
		}
		if err := st.flush(); err != nil {
			return err
		}
		select {
		case <-changed:
			if !pause(ctx, s.drained, time.Until(read.Add(s.streams.coalesce()))) {
				return errStreamEnded
			}
		case <-floor:
			st.send(eventFloor, 0, s.floorSnapshot())
		case <-beat.C:
			fmt.Fprint(st.w, ": keep-alive\n\n")
		case <-ctx.Done():
			return errStreamEnded
		case <-s.drained.Done():
			return errStreamEnded
		}
	}
}

// pause waits d unless the client leaves or the server drains first.
func pause(ctx, drained context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil && drained.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-drained.Done():
	}
	return false
}

// sendEvents writes every event after after that the filter keeps — from
// the shared ring when it holds them, else from the journal — and returns
// the last id read and a channel closed when there are newer.
func (s *Server) sendEvents(ctx context.Context, st *eventStream, f eventFilter, after uint64) (uint64, <-chan struct{}, error) {
	for {
		if ctx.Err() != nil || s.drained.Err() != nil {
			return after, nil, errStreamEnded
		}
		head, changed := s.eng.EventsHead()
		if err := s.ring.fill(s.eng); err != nil {
			return after, nil, err
		}
		frames, ok := s.ring.after(after, eventsPage)
		if !ok { // behind the ring: read the journal
			evs, gap, err := s.eng.Events(after, eventsPage)
			if err != nil {
				return after, nil, err
			}
			if gap != 0 {
				st.gap(gap)
			}
			frames = encodeFrames(evs)
		}
		for i := range frames {
			after = frames[i].id
			if f.keeps(&frames[i]) {
				_, _ = st.w.Write(frames[i].wire)
			}
		}
		if len(frames) < eventsPage && after >= head {
			return after, changed, nil
		}
		if err := st.flush(); err != nil {
			return after, nil, err
		}
	}
}

// eventStream writes SSE frames to a response through a buffer whose every
// write renews the connection's write deadline — so a client that reads,
// however slowly, is never cut, and one that stops is cut after
// eventsWriteTimeout. A drain cuts every stream's writes at once, even one
// blocked on a client that stopped reading.
type eventStream struct {
	w       *bufio.Writer
	rc      *http.ResponseController
	drained context.Context
	stop    func() bool
	failed  error // the first write error
}

func newEventStream(r *echo.Response, drained context.Context) *eventStream {
	st := &eventStream{rc: http.NewResponseController(r), drained: drained}
	// The server's read timeout is for requests, not streams.
	_ = st.rc.SetReadDeadline(time.Time{})
	st.w = bufio.NewWriterSize(deadlineWriter{st, r}, 16<<10)
	st.stop = context.AfterFunc(drained, func() { _ = st.rc.SetWriteDeadline(time.Now()) })
	return st
}

func (st *eventStream) close() { st.stop() }

type deadlineWriter struct {
	st *eventStream
	r  *echo.Response
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	st := d.st
	if st.failed != nil {
		return 0, st.failed
	}
	_ = st.rc.SetWriteDeadline(time.Now().Add(eventsWriteTimeout))
	// After setting it: a drain that came before this line is seen here,
	// one after it resets the deadline after this did.
	if st.drained.Err() != nil {
		st.failed = errStreamEnded
		return 0, st.failed
	}
	n, err := d.r.Write(p)
	if err != nil {
		st.failed = err
	}
	return n, err
}

func (st *eventStream) flush() error {
	if err := st.w.Flush(); err != nil {
		return err
	}
	if err := st.rc.Flush(); err != nil {
		st.failed = err
		return err
	}
	return st.failed
}

func (st *eventStream) send(event string, id uint64, data any) {
	_, _ = st.w.Write(frameBytes(event, id, data))
}

// gap says the events the client asked for are gone: the stream goes on
// from oldestId. It carries no id, so a client that reconnects before the
// next event still names what it last saw.
func (st *eventStream) gap(oldest uint64) {
	st.send("gap", 0, map[string]uint64{"oldestId": oldest})
}

// frameBytes is one SSE frame: event, id (unless 0), one data line.
func frameBytes(event string, id uint64, data any) []byte {
	b, err := json.Marshal(data)
	if err != nil {
		panic(err) // our own views always marshal
	}
	out := make([]byte, 0, len(b)+48)
	out = append(out, "event: "...)
	out = append(out, event...)
	if id != 0 {
		out = append(out, "\nid: "...)
		out = strconv.AppendUint(out, id, 10)
	}
	out = append(out, "\ndata: "...)
	out = append(out, b...)
	return append(out, "\n\n"...)
}

type orderEventView struct {
	OrderID     string           `json:"orderId"`
	Customer    string           `json:"customer"`
	SKU         string           `json:"sku"`
	AmountLbs   lbsJSON          `json:"amountRequested"`
	Status      inventory.Status `json:"status"`
	Reason      inventory.Reason `json:"reason"`
	Allocations []allocationView `json:"allocations"`
	At          timeJSON         `json:"at"`
}

func newOrderEventView(o inventory.Order) orderEventView {
	v := newOrderView(o)
	at := o.CompletedAt
	if at.IsZero() {
		at = o.AcceptedAt
	}
	return orderEventView{OrderID: v.ID, Customer: v.Customer, SKU: v.SKU, AmountLbs: v.AmountRequested,
		Status: v.Status, Reason: v.Reason, Allocations: v.Allocations, At: timeJSON(at)}
}

// palletEventView is a ledger line as the ledger shows it, with the
// pallet it belongs to and the pallet's weight and status after it.
type palletEventView struct {
	PalletID  string  `json:"palletId"`
	SKU       string  `json:"sku"`
	Lot       string  `json:"lot"`
	WeightLbs lbsJSON `json:"weightLbs"`
	// Status is always there (the ledger line's own is only on a status
	// change): it shadows the line's.
	Status string `json:"status"`
	ledgerEntryView
}

func newPalletEventView(p journal.PalletEvent) palletEventView {
	status := p.Status
	if status == "" {
		status = inventory.StatusAvailable
	}
	return palletEventView{PalletID: p.PalletID, SKU: p.SKU, Lot: p.Lot, WeightLbs: lbsJSON(p.OnHand),
		Status: string(status), ledgerEntryView: newLedgerEntryView(p.Entry)}
}

// streamSlots counts the open event streams against eventStreamsMax.
type streamSlots chan struct{}

func (s streamSlots) acquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s streamSlots) release() { <-s }

// open is how many streams are open.
func (s streamSlots) open() int { return len(s) }

// coalesce is the least time between one stream's reads with as many
// streams open as now.
func (s streamSlots) coalesce() time.Duration {
	return min(max(time.Duration(s.open())*eventsCoalescePerStream, eventsCoalesceMin), eventsCoalesceMax)
}
