package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// ErrUnreachable wraps a failure to reach the server before the run.
var ErrUnreachable = errors.New("cannot reach the server")

// auditTimeout bounds the reads after a run (counters and the audit).
const auditTimeout = 5 * time.Minute

// stats gathers a run's measurements from many goroutines.
type stats struct {
	start                                      time.Time
	accept, completion                         *recorder
	sent, accepted, throttled, failed          atomic.Int64
	allocated, rejected, cancelled, unfinished atomic.Int64
	lastSend                                   atomic.Int64 // unix nanoseconds: when the last request left (open loop)

	mu         sync.Mutex
	seconds    []*second
	sealed     int // seconds[:sealed] hold only their percentiles
	errors     []string
	orderIDs   []string
	rejectedBy map[string]int64
}

// Each second of the run keeps its own latency histograms for the charts
// and the load verdict. Two significant digits (1%) are plenty there and
// take a seventh of the memory of the run-wide three; and a second is
// sealed — reduced to its percentiles, its histograms freed — once it is
// sealAfter seconds behind the newest, so a soak of any length holds a
// handful of histograms, not one per second it has run.
const (
	secondSigFigs = 2
	sealAfter     = 10
)

// second is one second of the run, for the charts. Answers are counted in
// the second they arrive, which is always the newest or close behind it:
// only a reader of results running sealAfter seconds late would find its
// second sealed, and then the answer is counted without its latency.
type second struct {
	accepted, completed, throttled int64
	accept, completion             *hdrhistogram.Histogram // nil once sealed
	acceptP, completionP           Percentiles             // set when sealed
}

func newSecond() *second {
	return &second{
		accept:     hdrhistogram.New(latencyMinUs, latencyMaxUs, secondSigFigs),
		completion: hdrhistogram.New(latencyMinUs, latencyMaxUs, secondSigFigs),
	}
}

// record adds a latency to h unless the second is sealed (h is nil).
func record(h *hdrhistogram.Histogram, d time.Duration) {
	if h != nil {
		_ = h.RecordValue(micros(d))
	}
}

// seal keeps the second's percentiles and frees its histograms.
func (s *second) seal() {
	if s.accept == nil {
		return
	}
	s.acceptP, s.completionP = summarize(s.accept), summarize(s.completion)
	s.accept, s.completion = nil, nil
}

func newStats(start time.Time) *stats {
	return &stats{start: start, accept: newRecorder(), completion: newRecorder(), rejectedBy: map[string]int64{}}
}

// at is the second t falls in, made if need be; s.mu must be held.
func (s *stats) at(t time.Time) *second {
	i := max(int(t.Sub(s.start)/time.Second), 0)
	for len(s.seconds) <= i {
		s.seconds = append(s.seconds, newSecond())
	}
	for ; s.sealed < len(s.seconds)-sealAfter; s.sealed++ {
		s.seconds[s.sealed].seal()
	}
	return s.seconds[i]
}

const errorSamplesMax = 5

func (s *stats) fail(format string, args ...any) {
	s.failed.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errors) < errorSamplesMax {
		s.errors = append(s.errors, fmt.Sprintf(format, args...))
	}
}

// placed records a POST's answer.
func (s *stats) placed(id string, sent time.Time, latency time.Duration, code int, body []byte, err error) bool {
	s.sent.Add(1)
	switch {
	case err != nil:
		s.fail("POST order %s: %v", id, err)
		return false
	case code == http.StatusTooManyRequests:
		s.throttled.Add(1)
		s.mu.Lock()
		s.at(sent.Add(latency)).throttled++
		s.mu.Unlock()
		return false
	case code != http.StatusAccepted:
		s.fail("POST order %s: %d %s", id, code, body)
		return false
	}
	s.accepted.Add(1)
	s.accept.record(latency)
	s.mu.Lock()
	sec := s.at(sent.Add(latency)) // when the answer came, not when it was due
	sec.accepted++
	record(sec.accept, latency)
	s.orderIDs = append(s.orderIDs, id)
	s.mu.Unlock()
	return true
}

// finished records an accepted order's end, measured from when it was sent.
func (s *stats) finished(o Order, sent time.Time, err error) {
	if err != nil {
		s.unfinished.Add(1)
		s.fail("follow order %s: %v", o.ID, err)
		return
	}
	now := time.Now()
	d := now.Sub(sent)
	s.completion.record(d)
	switch o.Status {
	case "allocated":
		s.allocated.Add(1)
	case "rejected":
		s.rejected.Add(1)
	default:
		s.cancelled.Add(1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.Status == "rejected" {
		s.rejectedBy[reasonKey(s.rejectedBy, o.Reason)]++
	}
	sec := s.at(now)
	sec.completed++
	record(sec.completion, d)
}

// reasonsMax bounds the rejection reasons told apart: the server has a
// handful, and a server sending nonsense must not grow the report.
const reasonsMax = 16

// reasonKey is the key a rejection is counted under in seen.
func reasonKey(seen map[string]int64, reason string) string {
	if reason == "" {
		reason = "unspecified"
	}
	if _, ok := seen[reason]; !ok && len(seen) >= reasonsMax {
		return "other"
	}
	return reason
}

func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "lg-" + hex.EncodeToString(b[:])
}

// Run sends the load, follows every accepted order to its end, audits the
// server, and reports. An error means the run could not be made; a failed
// audit is in the report (Report.Audit.OK).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RunID == "" {
		cfg.RunID = newRunID()
	}
	c := newClient(cfg, cfg.Concurrency)
	defer c.close()
	if err := c.ready(ctx); err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrUnreachable, cfg.URL, err)
	}
	m, err := c.metrics(ctx)
	if err != nil {
		return nil, err
	}
	before, build, chaos := countersOf(m), buildOf(m), chaosIntervalOf(m)
	stock, err := c.stock(ctx, cfg.SKU)
	if err != nil {
		return nil, err
	}

	var fw follower = poller{c}
	if cfg.Follow != FollowPoll {
		sf, err := followOnStream(ctx, c, cfg.RunID)
		if err != nil {
			return nil, fmt.Errorf("follow orders on the event stream (-follow %s; -follow %s long-polls each order instead): %w", FollowEvents, FollowPoll, err)
		}
		fw = sf
	}
	defer fw.close()
	stopSampling := sampleServer(cfg)
	st := newStats(time.Now())
	settleCtx, cancelSettle := context.WithCancel(context.Background())
	defer cancelSettle()
	var followers sync.WaitGroup
	follow := func(id string, sent time.Time) {
		followers.Go(func() {
			o, err := fw.wait(settleCtx, id)
			o.ID = id
			st.finished(o, sent, err)
		})
	}
	stopProgress := progress(cfg, st)
	if cfg.Rate > 0 {
		openLoop(ctx, cfg, st, follow)
	} else {
		closedLoop(ctx, cfg, c, fw, st, settleCtx)
	}
	sendEnd := time.Now()
	settled := make(chan struct{})
	go func() { followers.Wait(); close(settled) }()
	select {
	case <-settled:
	case <-time.After(cfg.Settle):
		cancelSettle()
		<-settled
	}
	end := time.Now()
	stopProgress()
	server := stopSampling(st.start)

	// The run may have been interrupted (Ctrl-C): the report and the audit
	// still get their own bounded time.
	readCtx, cancelRead := context.WithTimeout(context.Background(), auditTimeout)
	defer cancelRead()
	after, err := c.counters(readCtx)
	if err != nil {
		return nil, err
	}
	snap, err := takeSnapshot(readCtx, c, cfg.RunID, st.orderIDs)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	snap.ChaosQuiet = after.Strikes == before.Strikes
	r := buildReport(cfg, st, sendEnd, end, before, after, Audit(snap))
	r.Server = server
	r.ServerBuild = build
	r.ChaosInterval = chaos
	r.StockBefore = stock
	return r, nil
}

// closedLoop runs Concurrency clients, each placing an order and
// following it to its end before the next.
func closedLoop(ctx context.Context, cfg Config, c *client, fw follower, st *stats, settleCtx context.Context) {
	bodies := newOrderBodies(cfg.RunID, cfg.SKU, cfg.Lbs)
	var next atomic.Int64
	deadline := time.Time{}
	if cfg.Duration > 0 {
		deadline = st.start.Add(cfg.Duration)
	}
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1)
				if (cfg.Orders > 0 && i > int64(cfg.Orders)) || (!deadline.IsZero() && time.Now().After(deadline)) {
					return
				}
				id, order := bodies.next(i)
				sent := time.Now()
				code, body, _, err := c.do(ctx, http.MethodPost, "/api/orders", order)
				if !st.placed(id, sent, time.Since(sent), code, body, err) {
					continue
				}
				followCtx, cancel := context.WithTimeout(settleCtx, cfg.Settle)
				o, err := fw.wait(followCtx, id)
				cancel()
				o.ID = id
				st.finished(o, sent, err)
			}
		})
	}
	wg.Wait()
}

// openLoop sends orders at a fixed rate with vegeta's attacker, which
// keeps to the schedule by adding workers when answers are slow: latency
// is measured from when each order was due, so a stalled server cannot
// hide behind coordinated omission.
func openLoop(ctx context.Context, cfg Config, st *stats, follow func(string, time.Time)) {
	bodies := newOrderBodies(cfg.RunID, cfg.SKU, cfg.Lbs)
	var next atomic.Int64
	targeter := func(t *vegeta.Target) error {
		i := next.Add(1)
		if cfg.Orders > 0 && i > int64(cfg.Orders) {
			return vegeta.ErrNoTargets
		}
		_, body := bodies.next(i)
		t.Method, t.URL, t.Body = http.MethodPost, cfg.URL+"/api/orders", body
		t.Header = http.Header{"Content-Type": {"application/json"}}
		if cfg.APIKey != "" {
			t.Header.Set("Authorization", "Bearer "+cfg.APIKey)
		}
		return nil
	}
	per := time.Second
	freq := cfg.Rate
	for freq < 1000 && freq != math.Trunc(freq) { // fractional rates: widen the window
		freq, per = freq*10, per*10
	}
	attacker := vegeta.NewAttacker(
		vegeta.Workers(uint64(min(cfg.Concurrency, 64))),
		vegeta.MaxWorkers(uint64(cfg.Concurrency)),
		vegeta.KeepAlive(true),
		vegeta.Connections(cfg.Concurrency),
		vegeta.Timeout(30*time.Second),
	)
	interval := per / time.Duration(max(int(freq), 1))
	began := time.Now()
	results := attacker.Attack(targeter, vegeta.ConstantPacer{Freq: int(freq), Per: per}, cfg.Duration, "orders")
	for {
		select {
		case <-ctx.Done():
			attacker.Stop()
			for range results {
			}
			return
		case res, ok := <-results:
			if !ok {
				return
			}
			if res.Error == vegeta.ErrNoTargets.Error() {
				continue // the targeter ran dry: the planned orders are all sent
			}
			var accepted struct {
				OrderID string `json:"orderId"`
			}
			_ = json.Unmarshal(res.Body, &accepted)
			// vegeta sets Error for any status >= 400: only a request with
			// no status at all failed to get an answer.
			var err error
			if res.Code == 0 && res.Error != "" {
				err = errors.New(res.Error)
			}
			// Measure from when the order was due, not when a worker got
			// to it: a backed-up pacer must not hide the wait.
			due := began.Add(time.Duration(res.Seq) * interval)
			latency := res.Timestamp.Add(res.Latency).Sub(due)
			if t := res.Timestamp.UnixNano(); t > st.lastSend.Load() { // one reader of results: no race between load and store
				st.lastSend.Store(t)
			}
			if st.placed(accepted.OrderID, due, latency, int(res.Code), res.Body, err) {
				follow(accepted.OrderID, due)
			}
		}
	}
}
