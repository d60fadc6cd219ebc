package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scriptedEvents serves GET /api/events one script per connection, in
// order, and records the Last-Event-ID each connection asked for; each
// script's frames are written and then the connection is cut, except the
// last script's, which stays open until the client leaves.
type scriptedEvents struct {
	scripts [][]string
	conns   atomic.Int32
	resumed []chan string // resumed[i] gets connection i's Last-Event-ID
	polls   atomic.Int32
}

func newScriptedEvents(scripts ...[]string) *scriptedEvents {
	s := &scriptedEvents{scripts: scripts}
	for range scripts {
		s.resumed = append(s.resumed, make(chan string, 1))
	}
	return s
}

func (s *scriptedEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/events" { // a long poll of one order: it ended, rejected
		s.polls.Add(1)
		id := r.URL.Path[len("/api/orders/"):]
		fmt.Fprintf(w, `{"id":%q,"status":"rejected","reason":"insufficient-stock"}`, id)
		return
	}
	i := int(s.conns.Add(1)) - 1
	if i >= len(s.scripts) {
		http.Error(w, "no more scripts", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	for _, f := range s.scripts[i] {
		fmt.Fprint(w, f)
	}
	w.(http.Flusher).Flush()
	s.resumed[i] <- r.Header.Get("Last-Event-ID")
	if i == len(s.scripts)-1 {
		<-r.Context().Done()
	}
}

func orderFrame(id uint64, orderID, status string) string {
	return fmt.Sprintf("event: order\nid: %d\ndata: {\"orderId\":%q,\"status\":%q,\"amountRequested\":1,\"allocations\":[{\"palletId\":\"P1\",\"lbs\":1}]}\n\n", id, orderID, status)
}

func followAgainst(t *testing.T, s *scriptedEvents) (*streamFollower, *client) {
	t.Helper()
	srv := httptest.NewServer(s)
	c := newClient(Config{URL: srv.URL}, 4)
	f, err := followOnStream(context.Background(), c, "run")
	require.NoError(t, err)
	t.Cleanup(func() {
		f.close()
		c.close()
		srv.Close()
	})
	return f, c
}

// A cut stream resumes after the last event it read, and an end heard
// before anyone waited for it is kept for the waiter.
func TestTheStreamFollowerResumesWhereItWasCut(t *testing.T) {
	s := newScriptedEvents(
		[]string{"retry: 2000\n\n", orderFrame(1, "run-1", "allocated"), orderFrame(2, "run-2", "queued"), orderFrame(3, "other-9", "allocated")},
		[]string{orderFrame(4, "run-2", "allocated")},
	)
	f, _ := followAgainst(t, s)
	require.Empty(t, <-s.resumed[0], "the first connection starts at the head")
	require.Equal(t, "3", <-s.resumed[1], "the second resumes after the last id read")

	o, err := f.wait(context.Background(), "run-1") // heard before it was waited for
	require.NoError(t, err)
	assert.Equal(t, "allocated", o.Status)
	assert.Equal(t, []Allocation{{PalletID: "P1", Lbs: "1"}}, o.Allocations)
	o, err = f.wait(context.Background(), "run-2")
	require.NoError(t, err)
	assert.Equal(t, "allocated", o.Status, "its end, not its queued event")
	assert.Zero(t, s.polls.Load(), "nothing was polled")
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Empty(t, f.early, "another run's orders are not kept")
}

// A gap means events were lost: every order is then asked for by a long
// poll, never assumed.
func TestAGapHandsEveryOrderToLongPolls(t *testing.T) {
	s := newScriptedEvents(
		[]string{orderFrame(1, "run-1", "allocated")},
		[]string{"event: gap\ndata: {\"oldestId\":90}\n\n"},
	)
	f, _ := followAgainst(t, s)
	<-s.resumed[1]
	<-f.done // the follower gave up on the stream
	assert.EqualValues(t, 2, s.conns.Load(), "at the gap, not after retrying")
	o, err := f.wait(context.Background(), "run-5")
	require.NoError(t, err)
	assert.Equal(t, "rejected", o.Status)
	assert.EqualValues(t, 1, s.polls.Load())
	o, err = f.wait(context.Background(), "run-1")
	require.NoError(t, err)
	assert.Equal(t, "allocated", o.Status, "what was heard before the gap still stands")
}

// A waiter whose context ends stops waiting with its error.
func TestAWaiterLeavesWithItsContext(t *testing.T) {
	f, _ := followAgainst(t, newScriptedEvents([]string{}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.wait(ctx, "run-7")
	require.ErrorIs(t, err, context.Canceled)
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Empty(t, f.waiting)
}

// Order bodies are the JSON the server expects, with ids of the run,
// whatever the run's id or SKU holds.
func TestOrderBodies(t *testing.T) {
	for _, sku := range []string{"", "pork", `beef "prime" \ <cut>`} {
		b := newOrderBodies(`lg-"x"`, sku, 150)
		id, body := b.next(42)
		assert.Equal(t, `lg-"x"-42`, id)
		var got map[string]any
		require.NoError(t, json.Unmarshal(body, &got), "%s", body)
		want := map[string]any{"id": `lg-"x"-42`, "customer": "loadgen", "amountRequested": 1.5}
		if sku != "" {
			want["sku"] = sku
		}
		assert.Equal(t, want, got)
	}
}

// A long run may be cut many times: only cuts in a row that bring no
// event count against the bound, so a stream that keeps delivering is
// never given up for long polls.
func TestAStreamCutOftenButDeliveringIsKept(t *testing.T) {
	var scripts [][]string
	for i := range reconnectsMax + 5 {
		scripts = append(scripts, []string{orderFrame(uint64(i+1), fmt.Sprintf("run-%d", i+1), "allocated")})
	}
	s := newScriptedEvents(scripts...)
	f, _ := followAgainst(t, s)
	last := fmt.Sprintf("run-%d", len(scripts))
	// Heard on the stream, not polled: looked for among the ends kept for
	// their waiters, so a slow machine cannot turn it into a poll by
	// outlasting a waiter's patience.
	require.Eventually(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		_, ok := f.early[last]
		return ok || f.isLost
	}, time.Minute, 5*time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.False(t, f.isLost, "the follower gave the stream up")
	assert.Contains(t, f.early, last)
	assert.Zero(t, s.polls.Load())
}
