package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/baconator/baconator/httpapi"
)

// A request for a partition reaches its owner over NATS request-reply on
// the partition's own subject, as HTTP/1.1 bytes both ways: the owner
// serves it with the same API a single node serves, around the
// partition's engine. Only the owner subscribes (in a queue group, so
// that a moment of two owners still answers each request once), and
// nobody subscribed is an answer too: the partition has no owner now.
func forwardSubject(p int) string { return fmt.Sprintf("baconator.p%02d.http", p) }

const forwardQueue = "owner"

// Bounds of a partition's answering.
const (
	// forwardSlots bounds the forwarded requests an owner serves at once
	// per partition (a long-poll holds one for up to 30 s); past it, 503.
	forwardSlots = 512
	// forwardServeMax bounds one forwarded request on the owner.
	forwardServeMax = 45 * time.Second
	// caughtUpMax bounds how long an owner asked for an order it does
	// not have waits for its intake to catch up.
	caughtUpMax  = 5 * time.Second
	ackFloorPoll = 20 * time.Millisecond
)

// serve starts answering the partition's forwarded requests on nc.
func (pt *Partition) serve(nc *nats.Conn) error {
	pt.payloadMax = nc.MaxPayload() // before the first request
	sub, err := nc.QueueSubscribe(forwardSubject(pt.ID), forwardQueue, pt.answer)
	if err != nil {
		return fmt.Errorf("partition %d: serve: %w", pt.ID, err)
	}
	pt.mu.Lock()
	pt.sub = sub
	pt.mu.Unlock()
	return nil
}

// stopServing stops taking forwarded requests and waits for those under
// way (long-polls answer at once: the API is drained).
func (pt *Partition) stopServing() {
	pt.mu.Lock()
	sub := pt.sub
	pt.sub = nil
	pt.mu.Unlock()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
	pt.api.Drain()
	pt.serving.Wait()
}

// answer serves one forwarded request on a goroutine of its own (the
// subscription's handler must not wait on a long-poll).
func (pt *Partition) answer(m *nats.Msg) {
	select {
	case pt.slots <- struct{}{}:
	default:
		_ = m.Respond(problemResponse(http.StatusServiceUnavailable, "busy", "the partition's owner is serving as many requests as it can; retry in a second"))
		return
	}
	pt.serving.Go(func() {
		defer func() { <-pt.slots }()
		answer := pt.respond(m.Data)
		if int64(len(answer)) > pt.payloadMax {
			answer = problemResponse(http.StatusBadRequest, "answer-too-large", "the answer is too large to forward within the cluster; ask for a smaller page (?limit=)")
		}
		_ = m.Respond(answer)
	})
}

// respond serves a forwarded request's bytes and encodes the answer. An
// order the engine does not have may be in the intake still, accepted and
// not yet taken: when the request asks for it (httpapi.CatchUpHeader), it
// is served again once the owner has taken everything the intake held
// when it was asked, so that a 202 is never followed by a 404.
func (pt *Partition) respond(data []byte) []byte {
	if time.Now().UnixNano() > pt.validUntil.Load() {
		return notOwnerResponse
	}
	ctx, cancel := context.WithTimeout(context.Background(), forwardServeMax)
	defer cancel()
	rec := pt.serveOnce(ctx, data)
	if rec == nil {
		return problemResponse(http.StatusBadRequest, "bad-forward", "the forwarded request could not be read")
	}
	// First by the owner's own count of what it took (no request to the
	// server); if the order is still missing, by the consumer's ack floor
	// on the server, which an order delivered out of turn (offered again
	// after a lost delivery) cannot fool.
	for _, server := range []bool{false, true} {
		if rec.status != http.StatusNotFound || rec.catchUp == "" {
			break
		}
		if ok, err := pt.caughtUp(ctx, rec.catchUp, server); err != nil || !ok {
			return problemResponse(http.StatusServiceUnavailable, "catching-up", "the partition's owner is still taking accepted orders; retry in a second")
		}
		rec = pt.serveOnce(ctx, data)
	}
	return rec.encode()
}

func (pt *Partition) serveOnce(ctx context.Context, data []byte) *recorder {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		return nil
	}
	rec := &recorder{header: http.Header{}}
	if strings.HasPrefix(req.URL.Path, "/api/orders/") {
		rec.catchUp = req.Header.Get(httpapi.CatchUpHeader)
	}
	pt.api.Handler().ServeHTTP(rec, req.WithContext(ctx))
	return rec
}

// caughtUp waits (within caughtUpMax) until the owner has taken every
// order of the intake up to what the request's CatchUpHeader names: an
// intake sequence, or "last", the intake's newest order when asked. By its
// own count, or (server) by its consumer's ack floor. ok is false if it
// has not.
func (pt *Partition) caughtUp(ctx context.Context, upTo string, server bool) (ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, caughtUpMax)
	defer cancel()
	seq, err := strconv.ParseUint(upTo, 10, 64)
	if err != nil {
		if seq, err = pt.log.lastIntake(ctx); err != nil {
			return false, err
		}
	}
	if !server {
		return pt.progress.wait(ctx, seq), nil
	}
	for {
		info, err := pt.cons.Info(ctx)
		if err != nil {
			return false, err
		}
		if info.AckFloor.Stream >= seq {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, nil
		case <-time.After(ackFloorPoll):
		}
	}
}

// lastIntake is the stream sequence of the intake's newest order (0 if
// none).
func (l *Log) lastIntake(ctx context.Context) (uint64, error) {
	s, err := l.js.Stream(ctx, l.stream)
	if err != nil {
		return 0, err
	}
	m, err := s.GetLastMsgForSubject(ctx, l.intake)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}

// recorder is an http.ResponseWriter that keeps the answer, to be sent
// back whole.
type recorder struct {
	header  http.Header
	status  int
	body    bytes.Buffer
	catchUp string // the request's CatchUpHeader, if it names an order
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

func (r *recorder) encode() []byte {
	resp := http.Response{StatusCode: r.status, ProtoMajor: 1, ProtoMinor: 1, Header: r.header,
		Body: io.NopCloser(&r.body), ContentLength: int64(r.body.Len())}
	var out bytes.Buffer
	_ = resp.Write(&out)
	return out.Bytes()
}

// problemResponse is an encoded problem+json answer made by the cluster
// itself, not the API.
func problemResponse(status int, slug, detail string) []byte {
	rec := &recorder{header: http.Header{"Content-Type": {"application/problem+json"}}}
	if status == http.StatusServiceUnavailable {
		rec.header.Set("Retry-After", "1")
	}
	rec.WriteHeader(status)
	fmt.Fprintf(&rec.body, `{"type":"/problems/%s","title":%q,"status":%d,"detail":%q}`, slug, http.StatusText(status), status, detail)
	return rec.encode()
}

// notOwnerHeader marks the answer of a node whose lease on the partition
// is not fresh (it may have been taken over while the node was paused):
// the asking node takes it as no owner at all.
const notOwnerHeader = "Baconator-Not-Owner"

var notOwnerResponse = func() []byte {
	rec := &recorder{header: http.Header{notOwnerHeader: {"1"}}}
	rec.WriteHeader(http.StatusServiceUnavailable)
	return rec.encode()
}()

// forward sends a request to partition p's owner and reads its answer.
func forward(ctx context.Context, nc *nats.Conn, p int, r *http.Request, body []byte) (*http.Response, error) {
	out, err := http.NewRequestWithContext(ctx, r.Method, r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out.Header = r.Header.Clone()
	out.Host = "partition"
	var buf bytes.Buffer
	if err := out.Write(&buf); err != nil {
		return nil, err
	}
	msg := nats.NewMsg(forwardSubject(p))
	msg.Data = buf.Bytes()
	reply, err := nc.RequestMsgWithContext(ctx, msg)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("partition %d: %w", p, httpapi.ErrNoOwner)
	}
	if err != nil {
		return nil, fmt.Errorf("partition %d: forward: %w", p, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(reply.Data)), r)
	if err == nil && resp.Header.Get(notOwnerHeader) != "" {
		return nil, fmt.Errorf("partition %d: its owner's lease is not fresh: %w", p, httpapi.ErrNoOwner)
	}
	return resp, err
}

// leaseUntil lets the partition answer requests until t: its owner's
// lease is known to last that long.
func (pt *Partition) leaseUntil(t time.Time) { pt.validUntil.Store(t.UnixNano()) }

// servingState is what a Partition needs to answer forwarded requests.
type servingState struct {
	// validUntil (Unix ns) is how long the owner's lease is known to
	// last: past it, the partition answers no request (a paused node,
	// resumed, must not serve what another node now owns).
	validUntil atomic.Int64
	api        *httpapi.Server
	cons       jetstream.Consumer // the intake's, for its ack floor
	sub        *nats.Subscription // guarded by Partition.mu
	// payloadMax is the largest answer NATS carries.
	payloadMax int64
	slots      chan struct{}
	serving    sync.WaitGroup
}
