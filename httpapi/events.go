package httpapi

import (
	"bufio"
	"encoding/json"
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
// A stream reads the journal's event log at its own pace: a client that
// reads slowly falls behind, never makes the server buffer for it, and
// past what the log keeps is told so with a gap event.

// Bounds of the event streams.
const (
	// eventStreamsMax bounds the streams open at once; past it a new one is
	// a 503 with Retry-After.
	eventStreamsMax = 256
	// eventsPage is how many events a stream reads from the journal at once.
	eventsPage = 512
	// eventsWriteTimeout cuts a client that has not taken what was sent
	// for this long.
	eventsWriteTimeout = 30 * time.Second
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

// eventFilter is what a stream sends.
type eventFilter struct {
	types map[string]bool
	sku   string
	kinds map[inventory.LedgerKind]bool // of pallet events; empty: all
}

func (f eventFilter) keeps(ev journal.Event) bool {
	switch {
	case ev.Order != nil:
		return f.types[eventOrder] && (f.sku == "" || ev.Order.Request.SKU == f.sku)
	case ev.Pallet != nil:
		return f.types[eventPallet] && (f.sku == "" || ev.Pallet.SKU == f.sku) &&
			(len(f.kinds) == 0 || f.kinds[ev.Pallet.Entry.Kind])
	}
	return false
}

// parseEvents reads a stream's filter and where it starts: after the id a
// reconnecting client last saw, or (resume false) at the newest event.
func parseEvents(c echo.Context) (f eventFilter, after uint64, resume bool, err error) {
	var fe fields
	for name := range c.QueryParams() {
		if !slices.Contains(eventsParams, name) {
			fe.add(name, "unknown query parameter; known: %s", strings.Join(eventsParams, ", "))
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
	if !resume {
		after, _ = s.eng.EventsHead()
	}
	st := newEventStream(c.Response())
	// The server's read and write timeouts are for requests, not streams:
	// a stream has its own write deadline, renewed with every write.
	_ = st.rc.SetReadDeadline(time.Time{})
	h := c.Response().Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	c.Response().WriteHeader(http.StatusOK)
	fmt.Fprintf(st.w, "retry: %d\n\n", eventsRetryMillis)
	if err := st.flush(); err != nil {
		return nil
	}
	return s.serveEvents(c, st, f, after)
}

// serveEvents sends what is committed after after, then waits for more,
// until the client leaves, the server drains, or a write fails.
func (s *Server) serveEvents(c echo.Context, st *eventStream, f eventFilter, after uint64) error {
	ctx := c.Request().Context()
	beat := time.NewTicker(eventsHeartbeat)
	defer beat.Stop()
	var floor <-chan time.Time
	if f.types[eventFloor] {
		t := time.NewTicker(floorEvery)
		defer t.Stop()
		floor = t.C
		st.floor(s.floorSnapshot())
	}
	journaled := f.types[eventOrder] || f.types[eventPallet]
	for {
		var changed <-chan struct{}
		if journaled {
			var err error
			if after, changed, err = s.sendEvents(st, f, after); err != nil {
				s.log.Warn("event stream ended: " + err.Error())
				return nil
			}
		}
		if err := st.flush(); err != nil {
			return nil // the client left or stopped reading
		}
		select {
		case <-changed:
		case <-floor:
			st.floor(s.floorSnapshot())
		case <-beat.C:
			fmt.Fprint(st.w, ": keep-alive\n\n")
		case <-ctx.Done():
			return nil
		case <-s.drained.Done():
			return nil
		}
	}
}

// sendEvents writes every event after after that the filter keeps, and
// returns the last id read and a channel closed when there are newer.
func (s *Server) sendEvents(st *eventStream, f eventFilter, after uint64) (uint64, <-chan struct{}, error) {
	for {
		head, changed := s.eng.EventsHead()
		evs, gap, err := s.eng.Events(after, eventsPage)
		if err != nil {
			return after, nil, err
		}
		if gap != 0 {
			st.gap(gap)
		}
		for _, ev := range evs {
			after = ev.ID
			if f.keeps(ev) {
				st.event(ev)
			}
		}
		if len(evs) < eventsPage && after >= head {
			return after, changed, nil
		}
		if err := st.flush(); err != nil {
			return after, nil, err
		}
	}
}

// eventStream writes SSE frames to a response.
type eventStream struct {
	w  *bufio.Writer
	rc *http.ResponseController
}

func newEventStream(r *echo.Response) *eventStream {
	return &eventStream{w: bufio.NewWriterSize(r, 16<<10), rc: http.NewResponseController(r)}
}

func (st *eventStream) flush() error {
	_ = st.rc.SetWriteDeadline(time.Now().Add(eventsWriteTimeout))
	if err := st.w.Flush(); err != nil {
		return err
	}
	return st.rc.Flush()
}

func (st *eventStream) send(event string, id uint64, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		panic(err) // our own views always marshal
	}
	fmt.Fprintf(st.w, "event: %s\n", event)
	if id != 0 {
		fmt.Fprintf(st.w, "id: %d\n", id)
	}
	st.w.WriteString("data: ")
	st.w.Write(b)
	st.w.WriteString("\n\n")
}

func (st *eventStream) event(ev journal.Event) {
	if ev.Order != nil {
		st.send(eventOrder, ev.ID, newOrderEventView(*ev.Order))
		return
	}
	st.send(eventPallet, ev.ID, newPalletEventView(*ev.Pallet))
}

// gap says the events the client asked for are gone: the stream goes on
// from oldestId. It carries no id, so a client that reconnects before the
// next event still names what it last saw.
func (st *eventStream) gap(oldest uint64) {
	st.send("gap", 0, map[string]uint64{"oldestId": oldest})
}

func (st *eventStream) floor(v floorView) { st.send(eventFloor, 0, v) }

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

type palletEventView struct {
	PalletID  string   `json:"palletId"`
	SKU       string   `json:"sku"`
	Lot       string   `json:"lot"`
	Kind      string   `json:"kind"`
	Lbs       lbsJSON  `json:"lbs"`
	WeightLbs lbsJSON  `json:"weightLbs"`
	Version   int64    `json:"version"`
	Status    string   `json:"status"`
	OrderID   string   `json:"orderId,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	Note      string   `json:"note,omitempty"`
	At        timeJSON `json:"at"`
}

func newPalletEventView(p journal.PalletEvent) palletEventView {
	status := p.Status
	if status == "" {
		status = inventory.StatusAvailable
	}
	e := p.Entry
	return palletEventView{PalletID: p.PalletID, SKU: p.SKU, Lot: p.Lot, Kind: string(e.Kind), Lbs: lbsJSON(e.Lbs),
		WeightLbs: lbsJSON(p.OnHand), Version: e.Version, Status: string(status),
		OrderID: e.OrderID, Reason: e.Reason, Note: e.Note, At: timeJSON(e.At)}
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
