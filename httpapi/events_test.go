package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/journal"
)

// sse is one event of a stream as a client sees it.
type sse struct {
	event string
	id    uint64
	data  map[string]any
}

// stream is an open GET /api/events.
type stream struct {
	t      *testing.T
	r      *bufio.Reader
	cancel context.CancelFunc
}

// openStream opens the event stream at path with headers (name, value...)
// and checks it answered 200 text/event-stream. Every read is bounded by
// the stream's 10-second life.
func openStream(t *testing.T, srv *httptest.Server, path string, headers ...string) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	s := &stream{t: t, r: bufio.NewReader(resp.Body), cancel: func() { cancel(); resp.Body.Close() }}
	t.Cleanup(s.cancel)
	return s
}

// next reads the stream's next event (comments and retry lines skipped).
func (s *stream) next() sse {
	s.t.Helper()
	var ev sse
	for {
		line, err := s.r.ReadString('\n')
		require.NoError(s.t, err, "the stream ended before an event")
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && ev.event != "":
			return ev
		case strings.HasPrefix(line, "event: "):
			ev.event = line[len("event: "):]
		case strings.HasPrefix(line, "id: "):
			ev.id, err = strconv.ParseUint(line[len("id: "):], 10, 64)
			require.NoError(s.t, err)
		case strings.HasPrefix(line, "data: "):
			require.NoError(s.t, json.Unmarshal([]byte(line[len("data: "):]), &ev.data), line)
		}
	}
}

// until reads events until one satisfies ok, and returns all it read.
func (s *stream) until(ok func(sse) bool) []sse {
	s.t.Helper()
	var seen []sse
	for {
		ev := s.next()
		seen = append(seen, ev)
		if ok(ev) {
			return seen
		}
	}
}

func serve(t *testing.T, f *fixture) *httptest.Server {
	srv := httptest.NewServer(f.h)
	t.Cleanup(func() { f.api.Drain(); srv.Close() }) // streams end at a drain
	return srv
}

func (f *fixture) placeAndWait(id string, lbs int) {
	f.t.Helper()
	r := f.do(http.MethodPost, "/api/orders", fmt.Sprintf(`{"id":%q,"customer":"c","amountRequested":%d}`, id, lbs))
	require.Equal(f.t, http.StatusAccepted, r.Code, r.Body.String())
	f.waitTerminal(id)
}

func isOrder(id, status string) func(sse) bool {
	return func(ev sse) bool {
		return ev.event == "order" && ev.data["orderId"] == id && ev.data["status"] == status
	}
}

// A client that reconnects with the last id it saw gets every event after
// it, none twice; what the stream says matches the journal.
func TestTheEventStreamResumesWithNothingLostOrRepeated(t *testing.T) {
	f := newFixture(t)
	srv := serve(t, f)

	s := openStream(t, srv, "/api/events", "Last-Event-ID", "0")
	receipts := s.until(func(ev sse) bool { return ev.data["palletId"] == "P-3" })
	require.Len(t, receipts, 3)
	for i, ev := range receipts {
		assert.Equal(t, "pallet", ev.event)
		assert.Equal(t, uint64(i+1), ev.id)
		assert.Equal(t, "received", ev.data["kind"])
		assert.EqualValues(t, 1000, ev.data["weightLbs"])
		assert.Equal(t, "pork", ev.data["sku"])
		assert.Equal(t, "L-1", ev.data["lot"])
	}
	f.placeAndWait("A", 300)
	first := s.until(isOrder("A", "allocated"))
	require.Equal(t, "queued", first[0].data["status"])
	allocated := first[len(first)-2] // the ledger line, then the order in the same commit
	assert.Equal(t, "allocated", allocated.data["kind"])
	assert.Equal(t, "P-1", allocated.data["palletId"]) // FEFO: soonest expiry
	assert.EqualValues(t, -300, allocated.data["lbs"])
	assert.EqualValues(t, 700, allocated.data["weightLbs"])
	assert.Equal(t, "available", allocated.data["status"], "every pallet event says the pallet's status, not only a status change")
	assert.Equal(t, "A", allocated.data["orderId"])
	lastSeen := first[0].id // the client saw only A's acceptance before it dropped
	s.cancel()

	f.placeAndWait("B", 200)
	r := openStream(t, srv, "/api/events", "Last-Event-ID", strconv.FormatUint(lastSeen, 10))
	resumed := r.until(isOrder("B", "allocated"))
	ids := []uint64{}
	for _, ev := range append(receipts, first[0]) {
		ids = append(ids, ev.id)
	}
	for _, ev := range resumed {
		ids = append(ids, ev.id)
	}
	for i, id := range ids {
		require.Equal(t, uint64(i+1), id, "ids %v: every event once, in order", ids)
	}
	assert.True(t, isOrder("A", "allocated")(resumed[1]), "A's ledger line and end come first after the resume: %v", resumed)
}

// A first connection starts with what happens next, not the history.
func TestANewStreamStartsWithNewEvents(t *testing.T) {
	f := newFixture(t)
	srv := serve(t, f)
	s := openStream(t, srv, "/api/events")
	f.placeAndWait("A", 10)
	ev := s.next()
	assert.True(t, isOrder("A", "queued")(ev), "%+v", ev)
	assert.Equal(t, uint64(4), ev.id) // after the three receipts
}

func TestTheEventStreamFilters(t *testing.T) {
	f := newFixture(t)
	srv := serve(t, f)
	orders := openStream(t, srv, "/api/events?types=order", "Last-Event-ID", "0")
	beef := openStream(t, srv, "/api/events?sku=beef", "Last-Event-ID", "0")
	adjusted := openStream(t, srv, "/api/events?types=pallet&kinds=adjusted,held", "Last-Event-ID", "0")
	floor := openStream(t, srv, "/api/events?types=floor")

	f.placeAndWait("A", 10)
	r := f.do(http.MethodPost, "/api/inventory/P-2/adjustments", `{"deltaLbs":-5,"reason":"damage"}`)
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	f.placeAndWait("B", 10)
	r = f.do(http.MethodPost, "/api/inventory", `{"id":"B-1","sku":"beef","lot":"LB","supplier":"S","weightLbs":50,"receivedDate":"2026-11-01T00:00:00Z","expirationDate":"2099-01-01T00:00:00Z"}`)
	require.Equal(t, http.StatusCreated, r.Code, r.Body.String())

	got := orders.until(isOrder("B", "allocated"))
	for _, ev := range got {
		assert.Equal(t, "order", ev.event)
	}
	assert.Len(t, got, 4)

	ev := beef.next()
	assert.Equal(t, "B-1", ev.data["palletId"], "the beef stream's first event is beef's first")

	ev = adjusted.next()
	assert.Equal(t, "adjusted", ev.data["kind"])
	assert.Equal(t, "damage", ev.data["reason"])
	assert.EqualValues(t, 995, ev.data["weightLbs"])

	ev = floor.next()
	require.Equal(t, "floor", ev.event)
	assert.Zero(t, ev.id, "a snapshot is not a journal event: no id to resume from")
	skus := ev.data["skus"].([]any)
	require.NotEmpty(t, skus)
	pork := skus[0].(map[string]any)
	assert.Equal(t, "pork", pork["sku"])
	head := pork["head"].([]any)
	require.Len(t, head, 3)
	assert.Equal(t, "P-1", head[0].(map[string]any)["id"], "the head is in FEFO order")
}

func TestBadEventStreamRequestsAreRefused(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		path, lastID, field string
	}{
		{"/api/events?type=order", "", "type"},
		{"/api/events?types=orders", "", "types"},
		{"/api/events?kinds=chaos", "", "kinds"},
		{"/api/events", "abc", "Last-Event-ID"},
		{"/api/events", "-1", "Last-Event-ID"},
		{"/api/events?types=order&types=bogus", "", "types"},
		{"/api/events?types=floor%zz", "", "query"},
		{"/api/orders?status=%zz", "", "query"},
		{"/api/events?types=floor;x", "", "query"},
	} {
		var h []string
		if c.lastID != "" {
			h = []string{"Last-Event-ID", c.lastID}
		}
		r := f.do(http.MethodGet, c.path, "", h...)
		assert.Equal(t, []string{c.field}, r.problemFields(http.StatusBadRequest), c.path)
	}
}

// Past what the log keeps, the stream says where it now starts, then goes
// on from there.
func TestAStreamResumedPastTheLogIsToldOfTheGap(t *testing.T) {
	j, err := journal.Open("events", journal.Options{FS: vfs.NewMem(), Volatile: true, EventsKept: 8})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, j.Close()) })
	f := newFixture(t, func(c *actors.Config, _ *Config) { c.Journal = j })
	srv := serve(t, f)
	for i := range 10 {
		f.placeAndWait(fmt.Sprint("o", i), 1)
	}
	s := openStream(t, srv, "/api/events", "Last-Event-ID", "1")
	gap := s.next()
	require.Equal(t, "gap", gap.event)
	oldest := uint64(gap.data["oldestId"].(float64))
	assert.Greater(t, oldest, uint64(2))
	assert.Equal(t, oldest, s.next().id)
}

// A drain ends every stream at once: one catching up on a long backlog and
// one blocked writing to a client that stopped reading alike (each used to
// hold the shutdown until its 30-second write deadline, or forever).
func TestADrainEndsStreamsThatDoNotRead(t *testing.T) {
	f := newFixture(t)
	var specs []inventory.PalletSpec
	now := time.Now().UTC()
	for i := range 30_000 { // ~7 MB of events: more than the sockets buffer
		specs = append(specs, inventory.PalletSpec{ID: fmt.Sprintf("B-%05d", i), SKU: "beef", Lot: "LB", Supplier: "S",
			Weight: inventory.Lbs(10), Received: now, Expires: now.Add(240 * time.Hour)})
	}
	_, err := f.eng.ReceivePallets(specs)
	require.NoError(t, err)
	srv := serve(t, f)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.(*net.TCPConn).SetReadBuffer(4096))
	_, err = fmt.Fprintf(conn, "GET /api/events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 0\r\n\r\n")
	require.NoError(t, err)
	first := make([]byte, 1024) // the stream has begun; now stop reading
	_, err = io.ReadFull(conn, first)
	require.NoError(t, err)
	require.Equal(t, 1, f.api.streams.open())

	f.api.Drain()
	require.Eventually(t, func() bool { return f.api.streams.open() == 0 }, 5*time.Second, time.Millisecond,
		"the stream outlived the drain")
}

// An id this journal never issued (a data directory replaced under a
// client) is a gap at once, even before the log has grown past it.
func TestAResumeFromAnIdNeverIssuedIsAGapAtOnce(t *testing.T) {
	f := newFixture(t) // three receipts: ids 1..3
	srv := serve(t, f)
	s := openStream(t, srv, "/api/events", "Last-Event-ID", "5")
	gap := s.next()
	require.Equal(t, "gap", gap.event)
	assert.EqualValues(t, 1, gap.data["oldestId"])
	for i := range 3 {
		assert.Equal(t, uint64(i+1), s.next().id)
	}
	f.placeAndWait("A", 1)
	ev := s.next()
	assert.Equal(t, uint64(4), ev.id, "the client missed nothing from the journal it is now reading")
}

// A stream alone reads within a millisecond of a commit (a client
// following its orders hears of their ends at once); many streams read
// less often each, so that together they wake about a thousand times a
// second, and never less often than every 20 ms.
func TestStreamsReadLessOftenTheMoreThereAre(t *testing.T) {
	for _, tc := range []struct {
		open int
		want time.Duration
	}{{0, time.Millisecond}, {1, time.Millisecond}, {10, 10 * time.Millisecond}, {20, 20 * time.Millisecond}, {eventStreamsMax, 20 * time.Millisecond}} {
		s := make(streamSlots, eventStreamsMax)
		for range tc.open {
			require.True(t, s.acquire())
		}
		assert.Equal(t, tc.want, s.coalesce(), "%d streams open", tc.open)
	}
}
