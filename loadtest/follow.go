package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// How a run learns that an accepted order ended.
const (
	// FollowEvents reads the server's event stream (GET /api/events):
	// one connection for the whole run, a few hundred bytes an order.
	FollowEvents = "events"
	// FollowPoll long-polls each order (GET /api/orders/{id}?wait=25s):
	// a request per order, which on one machine costs the server and the
	// load generator about as much as the order itself.
	FollowPoll = "poll"
)

// Bounds of following on the event stream.
const (
	// followPatience is how long an order waits to hear of its end on the
	// stream before it asks the server itself (a long poll): an event
	// can be missed only if the stream was cut and could not resume.
	followPatience = 10 * time.Second
	// earlyMax bounds the ends heard before their POST's answer was read
	// (its order then waits out followPatience and polls).
	earlyMax = 1 << 20
	// reconnectsMax bounds reconnections in a row, none of which brought
	// an event; past it every order is long-polled.
	reconnectsMax = 20
	// eventLineMax bounds one line of the stream: a longer one cuts it.
	eventLineMax = 64 << 10
)

// follower follows accepted orders to their end.
type follower interface {
	// wait returns the order once it has ended, or ctx's error.
	wait(ctx context.Context, id string) (Order, error)
	// close stops what the follower runs.
	close()
}

// poller long-polls each order.
type poller struct{ c *client }

func (p poller) wait(ctx context.Context, id string) (Order, error) { return p.c.follow(ctx, id) }
func (poller) close()                                               {}

// streamFollower hears of orders' ends on one event stream, shared by the
// whole run. An order whose end it cannot vouch for — the stream lost
// events (a gap), or could not be resumed — is long-polled instead: the
// stream makes following cheap, never less exact.
type streamFollower struct {
	c      *client
	prefix string // this run's order ids start with it
	stop   context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	waiting map[string]chan Order // accepted, end not heard yet
	early   map[string]Order      // ended before anyone waited for them
	lost    chan struct{}         // closed when the stream can no longer vouch
	isLost  bool
}

// followOnStream opens the event stream and returns once the server has
// answered it, so that every order accepted after it is heard of.
func followOnStream(ctx context.Context, c *client, runID string) (*streamFollower, error) {
	ctx, stop := context.WithCancel(ctx)
	f := &streamFollower{c: c, prefix: runID + "-", stop: stop, done: make(chan struct{}),
		waiting: map[string]chan Order{}, early: map[string]Order{}, lost: make(chan struct{})}
	resp, err := f.open(ctx, "")
	if err != nil {
		stop()
		return nil, err
	}
	go f.run(ctx, resp)
	return f, nil
}

func (f *streamFollower) close() {
	f.stop()
	<-f.done
}

func (f *streamFollower) wait(ctx context.Context, id string) (Order, error) {
	f.mu.Lock()
	if o, ok := f.early[id]; ok {
		delete(f.early, id)
		f.mu.Unlock()
		return o, nil
	}
	ch := make(chan Order, 1)
	f.waiting[id] = ch
	f.mu.Unlock()
	patience := time.NewTimer(followPatience)
	defer patience.Stop()
	select {
	case o := <-ch:
		return o, nil
	case <-f.lost:
	case <-patience.C:
	case <-ctx.Done():
	}
	f.mu.Lock()
	delete(f.waiting, id)
	f.mu.Unlock()
	select {
	case o := <-ch: // heard just now
		return o, nil
	default:
	}
	if ctx.Err() != nil {
		return Order{}, ctx.Err()
	}
	return f.c.follow(ctx, id)
}

// open asks for the stream of order events, resuming after lastID if set.
func (f *streamFollower) open(ctx context.Context, lastID string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.c.base+"/api/events?types=order", nil)
	if err != nil {
		return nil, err
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	if f.c.key != "" {
		req.Header.Set("Authorization", "Bearer "+f.c.key)
	}
	resp, err := f.c.stream.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		_ = resp.Body.Close()
		return nil, fmt.Errorf("GET /api/events: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return resp, nil
}

// run reads the stream until ctx ends, resuming it when it is cut.
func (f *streamFollower) run(ctx context.Context, resp *http.Response) {
	defer close(f.done)
	lastID := ""
	for cuts := 0; ; {
		before := lastID
		var err error
		lastID, err = f.read(resp, lastID)
		_ = resp.Body.Close()
		if lastID != before {
			cuts = 0 // the stream was good for a while: a soak may be cut now and then
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil { // the stream lost events: nothing it says can vouch any more
			f.giveUp()
			return
		}
		for resp = nil; resp == nil; {
			if cuts++; cuts > reconnectsMax {
				f.giveUp()
				return
			}
			select {
			case <-time.After(time.Duration(cuts) * 50 * time.Millisecond):
			case <-ctx.Done():
				return
			}
			resp, _ = f.open(ctx, lastID)
		}
	}
}

// errGap: the server no longer holds events the stream needed.
var errGap = fmt.Errorf("the event stream lost events (gap)")

// read reads frames until the stream ends; it returns the last event id
// seen, and errGap if the server said events were lost.
func (f *streamFollower) read(resp *http.Response, lastID string) (string, error) {
	r := bufio.NewReaderSize(resp.Body, eventLineMax)
	var event, id string
	var data []byte
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return lastID, nil // cut (or a line too long): resume after lastID
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0: // the frame is complete
			switch event {
			case "gap":
				return lastID, errGap
			case "order":
				f.heard(data)
			}
			if id != "" {
				lastID = id
			}
			event, id, data = "", "", data[:0]
		case bytes.HasPrefix(line, []byte("event: ")):
			event = string(line[len("event: "):])
		case bytes.HasPrefix(line, []byte("id: ")):
			id = string(line[len("id: "):])
		case bytes.HasPrefix(line, []byte("data: ")):
			data = append(data, line[len("data: "):]...)
		}
	}
}

// heard handles an order event: an end of one of this run's orders goes
// to whoever waits for it, or is kept until someone does.
func (f *streamFollower) heard(data []byte) {
	// Most events are of orders still under way: pass them by without
	// decoding (the server writes compact JSON; anything else is decoded).
	if bytes.Contains(data, []byte(`"status":"queued"`)) || bytes.Contains(data, []byte(`"status":"allocating"`)) {
		return
	}
	var ev struct {
		OrderID     string       `json:"orderId"`
		Status      string       `json:"status"`
		Reason      string       `json:"reason"`
		Amount      json.Number  `json:"amountRequested"`
		Allocations []Allocation `json:"allocations"`
	}
	if json.Unmarshal(data, &ev) != nil || !terminal(ev.Status) || !strings.HasPrefix(ev.OrderID, f.prefix) {
		return
	}
	o := Order{ID: ev.OrderID, Status: ev.Status, Reason: ev.Reason, AmountRequested: ev.Amount, Allocations: ev.Allocations}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.waiting[o.ID]; ok {
		delete(f.waiting, o.ID)
		ch <- o
		return
	}
	if len(f.early) < earlyMax {
		f.early[o.ID] = o
	}
}

// giveUp hands every order, waiting or to come, to long polls.
func (f *streamFollower) giveUp() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.isLost {
		f.isLost = true
		close(f.lost)
	}
}
