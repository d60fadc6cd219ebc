package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/baconator/baconator/inventory"
)

// Cluster is the cluster as a node's gateway sees it: where a SKU lives,
// the replicated intake, and a way to a partition's owner. Package
// cluster implements it; the gateway holds no engine of its own.
type Cluster interface {
	// Partitions is how many partitions there are, numbered from 0.
	Partitions() int
	// PartitionOf is the partition a SKU's orders and pallets live in.
	PartitionOf(sku string) int
	// Accept appends an order to its partition's replicated intake and
	// returns once a majority of replicas has it, with its place in the
	// intake. duplicate says the id was appended before (recently);
	// ErrBacklog that the partition's owner is too far behind to take
	// more now.
	Accept(ctx context.Context, p int, req inventory.OrderRequest) (seq uint64, duplicate bool, err error)
	// Forward sends a request to partition p's owner and returns its
	// answer; ErrNoOwner when the partition has none this moment.
	Forward(ctx context.Context, p int, r *http.Request, body []byte) (*http.Response, error)
	// Ready is nil while the node can serve: connected to a cluster that
	// has its majority.
	Ready() error
	// Collector is the cluster's metrics: partitions owned, takeovers,
	// intake backlog, replication lag.
	Collector() prometheus.Collector
}

// CatchUpHeader, on a forwarded request for an order, asks the partition's
// owner not to answer 404 before it has taken every order of its intake up
// to the sequence the header gives (the order's own, when the gateway
// accepted it), or "last": every order the intake held when asked. An
// order accepted (202) but not yet taken is not missing.
const CatchUpHeader = "Baconator-Catch-Up"

var (
	// ErrNoOwner: the partition has no owner this moment (a takeover is
	// under way); the request can be sent again in a second.
	ErrNoOwner = errors.New("the partition has no owner at the moment")
	// ErrBacklog: the partition's owner has so many accepted orders yet to
	// take that the intake refuses more for now (429).
	ErrBacklog = errors.New("the partition's intake is full")
)

// GatewayConfig configures a cluster node's HTTP API.
type GatewayConfig struct {
	Cluster Cluster
	Keys    Keys
	Metrics *Metrics
	Logger  *slog.Logger
}

// Bounds of forwarding.
const (
	// forwardTimeout bounds a forwarded request; one with ?wait= gets its
	// wait on top.
	forwardTimeout = 10 * time.Second
	// locatedMax bounds the ids whose partition a gateway remembers.
	locatedMax = 1 << 17
	// A partition with no owner (being handed on) is asked again
	// noOwnerTries times, noOwnerPause apart.
	noOwnerTries = 20
	noOwnerPause = 100 * time.Millisecond
)

// NewGateway builds a cluster node's API: the same routes and answers as a
// single node's, each served by the partition that holds what it names.
// An order is validated here and appended to its partition's replicated
// intake, and its 202 sent once a majority holds it. Anything else goes to
// the partition's owner: an order, pallet or lot by id to the partition
// that has it (asked of all, once, then remembered: an id never changes
// partition), a receipt by its SKU, a list by its sku or partition
// parameter. The event stream is a single node's only.
func NewGateway(cfg GatewayConfig) *Server {
	s := &Server{cfg: Config{Keys: cfg.Keys, Metrics: cfg.Metrics}, cluster: cfg.Cluster, now: time.Now,
		located: located{ids: map[string]place{}}}
	s.drained, s.drain = context.WithCancel(context.Background())
	s.log = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	if s.cfg.Metrics == nil {
		s.cfg.Metrics = NewMetrics()
	}
	s.cfg.Metrics.reg.MustRegister(cfg.Cluster.Collector())
	e := s.newEcho()
	api := e.Group("/api")
	viewer, sales, operator := s.require(RoleViewer), s.require(RoleSales), s.require(RoleOperator)
	write := s.refuseWrites
	order, pallet, lot := s.forwardTo("order", "id"), s.forwardTo("pallet", "id"), s.forwardTo("lot", "lot")
	api.POST("/orders", s.acceptOrder, sales, write)
	api.GET("/orders", s.forwardList, viewer)
	api.GET("/orders/:id", order, viewer)
	api.POST("/orders/:id/cancel", order, sales, write)
	api.GET("/orders/:id/trace", order, viewer)
	api.POST("/inventory", s.forwardReceipt, operator, write)
	api.GET("/inventory", s.forwardList, viewer)
	api.GET("/inventory/expiry", s.forwardList, viewer)
	api.GET("/inventory/:id", pallet, viewer)
	api.POST("/inventory/:id/adjustments", pallet, operator, write)
	api.GET("/inventory/:id/ledger", pallet, viewer)
	api.POST("/inventory/:id/hold", pallet, operator, write)
	api.POST("/inventory/:id/release", pallet, operator, write)
	api.POST("/inventory/:id/write-off", pallet, operator, write)
	api.GET("/lots/:lot", lot, viewer)
	api.POST("/lots/:lot/hold", lot, operator, write)
	api.POST("/lots/:lot/release", lot, operator, write)
	api.POST("/lots/:lot/recall", lot, operator, write)
	api.GET("/lots/:lot/trace", lot, viewer)
	api.GET("/events", func(echo.Context) error {
		return problem(http.StatusBadRequest, "not-in-a-cluster",
			"the event stream is a single node's; in a cluster follow an order with GET /api/orders/{id}?wait=30s")
	}, viewer)
	s.echo = e
	return s
}

// acceptOrder validates an order as a single node does, gives it an id if
// it has none, and appends it to its partition's intake: 202 once a
// majority of replicas holds it. An id appended before is answered as a
// single node answers a repeat (200 with the order, or 409 if the request
// differs): see repeat.
func (s *Server) acceptOrder(c echo.Context) error {
	req, err := decodeOrder(c)
	if err != nil {
		return err
	}
	if req.ID == "" {
		req.ID = mintID()
	}
	req.SKU = cmp.Or(req.SKU, inventory.DefaultSKU)
	req.CreatedAt = req.CreatedAt.UTC()
	if err := req.Validate(); err != nil {
		return err
	}
	p := s.cluster.PartitionOf(req.SKU)
	seq, duplicate, err := s.cluster.Accept(c.Request().Context(), p, req)
	switch {
	case errors.Is(err, ErrBacklog):
		return problem(http.StatusTooManyRequests, "intake-full", "the partition's owner has too many orders still to take; retry in a second")
	case err != nil:
		s.log.Warn("order not appended to the intake", "order", req.ID, "partition", p, "err", err)
		return problem(http.StatusServiceUnavailable, "unavailable",
			"the order could not be appended to the replicated intake; send it again with the same id (a repeat is never a second order)")
	case duplicate:
		return s.repeat(c, p, seq, req)
	}
	s.located.remember("order", req.ID, place{p, seq})
	c.Response().Header().Set(echo.HeaderLocation, "/api/orders/"+req.ID)
	return c.Blob(http.StatusAccepted, echo.MIMEApplicationJSON, []byte(`{"orderId":"`+req.ID+`","status":"`+string(inventory.StatusQueued)+`"}`))
}

// repeat answers an order whose id the intake already holds (appended at
// seq, within the dedup window), as a single node answers a repeat: once
// the owner has taken the intake up to the first append, the order under
// the id, 200 if it is this request and 409 if not. Nothing is placed
// here: the first append is the order, and its 202 stands.
func (s *Server) repeat(c echo.Context, p int, seq uint64, req inventory.OrderRequest) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), forwardTimeout)
	defer cancel()
	get, err := http.NewRequestWithContext(ctx, http.MethodGet, "/api/orders/"+url.PathEscape(req.ID), nil)
	if err != nil {
		return err
	}
	get.Header.Set(CatchUpHeader, "last")
	if seq > 0 {
		get.Header.Set(CatchUpHeader, strconv.FormatUint(seq, 10))
	}
	r, err := s.ask(ctx, p, get, nil)
	if err != nil {
		return s.unreachable(err)
	}
	defer r.Body.Close()
	if r.StatusCode != http.StatusOK {
		return relay(c, r)
	}
	view, err := io.ReadAll(io.LimitReader(r.Body, bodyMaxBytes))
	if err != nil {
		return s.unreachable(err)
	}
	var first struct {
		Customer         string      `json:"customer"`
		SKU              string      `json:"sku"`
		AmountRequested  json.Number `json:"amountRequested"`
		MinShelfLifeDays int         `json:"minShelfLifeDays"`
		CreatedAt        *time.Time  `json:"createdAt"`
	}
	if err := json.Unmarshal(view, &first); err != nil {
		return s.unreachable(fmt.Errorf("order %s: the owner's answer: %w", req.ID, err))
	}
	amount, err := inventory.ParseLbs(first.AmountRequested.String())
	var created time.Time
	if first.CreatedAt != nil {
		created = *first.CreatedAt
	}
	if err != nil || !req.SameAs(inventory.OrderRequest{ID: req.ID, Customer: first.Customer, SKU: first.SKU, Amount: amount,
		MinShelfLifeDays: first.MinShelfLifeDays, CreatedAt: created}) {
		return problem(http.StatusConflict, "order-id-reused", fmt.Sprintf("place order %s: order id already used for a different request", req.ID))
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/orders/"+req.ID)
	return c.JSONBlob(http.StatusOK, append([]byte(`{"orderId":"`+req.ID+`",`), bytes.TrimPrefix(bytes.TrimSpace(view), []byte("{"))...))
}

// forwardReceipt sends a pallet receipt to the partition of its SKU. A
// pallet id and a lot are the warehouse's, not a partition's: one that
// another partition holds already is refused here, as a single node
// refuses it (409 for the id, 400 for a lot of another SKU). Two receipts
// of one new id or lot at the same moment through different SKUs are not
// caught (docs/cluster.md).
func (s *Server) forwardReceipt(c echo.Context) error {
	body, err := bufferBody(c)
	if err != nil {
		return err
	}
	var in struct {
		ID  any     `json:"id"`
		SKU *string `json:"sku"`
		Lot any     `json:"lot"`
	}
	var f fields
	if err := json.Unmarshal(body, &in); err != nil {
		f.add("body", "not a JSON object: %v", err)
		return f.err()
	}
	sku := f.text("sku", in.SKU, false, inventory.SKULenMax)
	if err := f.err(); err != nil {
		return err
	}
	p := s.cluster.PartitionOf(cmp.Or(sku, inventory.DefaultSKU))
	id, _ := in.ID.(string)
	lot, _ := in.Lot.(string)
	ctx, cancel := s.forwardContext(c)
	defer cancel()
	for _, held := range []struct{ path, what string }{{"/api/inventory/", "pallet " + id}, {"/api/lots/", "lot " + lot}} {
		name := strings.TrimPrefix(strings.TrimPrefix(held.what, "pallet "), "lot ")
		if name == "" {
			continue
		}
		get, err := http.NewRequestWithContext(ctx, http.MethodGet, held.path+url.PathEscape(name), nil)
		if err != nil {
			return err
		}
		holder, r, err := s.find(ctx, get, nil)
		if err != nil {
			return s.unreachable(err)
		}
		if r != nil {
			_ = r.Body.Close()
		}
		switch {
		case holder < 0, holder == p:
		case held.path == "/api/inventory/":
			return problem(http.StatusConflict, "duplicate-pallet", fmt.Sprintf("receive pallet %s: %s exists already (a pallet of another SKU)", id, held.what))
		default:
			return invalid(FieldError{Field: "lot", Message: fmt.Sprintf("%s holds pallets of another SKU", held.what)})
		}
	}
	return s.forward(c, p, body)
}

// forwardList sends a list to one partition: the one its sku names, or
// the one its partition parameter (a cluster's own) names. A list of the
// whole cluster would have to merge pages and totals of every partition.
func (s *Server) forwardList(c echo.Context) error {
	q := c.Request().URL.Query()
	var p int
	switch part, sku := q.Get("partition"), q.Get("sku"); {
	case len(q["partition"]) > 1:
		return invalid(FieldError{Field: "partition", Message: "given more than once"})
	case part != "":
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || n >= s.cluster.Partitions() {
			return invalid(FieldError{Field: "partition", Message: fmt.Sprintf("must be a partition number from 0 to %d", s.cluster.Partitions()-1)})
		}
		p = n
		q.Del("partition")
		c.Request().URL.RawQuery = q.Encode()
	case sku != "":
		p = s.cluster.PartitionOf(sku)
	default:
		return invalid(FieldError{Field: "partition", Message: fmt.Sprintf(
			"in a cluster a list is one partition's: name it with ?partition= (0 to %d), or name a ?sku= (inventory)", s.cluster.Partitions()-1)})
	}
	return s.forward(c, p, nil)
}

// forwardTo sends a request naming an order, pallet or lot (by the path
// parameter param) to the partition that holds it: the one remembered, or
// else every partition at once, of which only the holder answers other
// than 404 — an order, pallet or lot is in exactly one. If none has it,
// every partition is asked again, each once it has taken every order its
// intake held: an order accepted a moment ago is found, not missed.
func (s *Server) forwardTo(kind, param string) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := bufferBody(c)
		if err != nil {
			return err
		}
		id := c.Param(param)
		h := c.Request().Header
		h.Del(CatchUpHeader) // the gateway's to set
		if at, ok := s.located.lookup(kind, id); ok {
			if kind == "order" {
				h.Set(CatchUpHeader, strconv.FormatUint(at.seq, 10))
			}
			return s.forward(c, at.partition, body)
		}
		ctx, cancel := s.forwardContext(c)
		defer cancel()
		p, r, err := s.find(ctx, c.Request(), body)
		if r == nil && err == nil && kind == "order" {
			h.Set(CatchUpHeader, "last")
			p, r, err = s.find(ctx, c.Request(), body)
		}
		switch {
		case r != nil:
			defer r.Body.Close()
			if p >= 0 { // the one partition that has it
				s.located.remember(kind, id, place{p, 0})
			}
			return relay(c, r)
		case err != nil:
			return s.unreachable(err)
		}
		return problem(http.StatusNotFound, "not-found", fmt.Sprintf("%s %s: not found", kind, id))
	}
}

// find asks every partition at once. It returns the answer of the one
// that has what the request names — the one partition answering other
// than 404 and 503 — or, when several do (a request every partition
// refuses alike: a body that does not parse), the first of theirs, with
// holder -1; or else a 503 answer or error of one that could not say (what
// is asked for may be there); or else nothing: no partition has it.
func (s *Server) find(ctx context.Context, r *http.Request, body []byte) (holder int, resp *http.Response, err error) {
	n := s.cluster.Partitions()
	answers := make([]*http.Response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for p := range n {
		wg.Go(func() { answers[p], errs[p] = s.ask(ctx, p, r, body) })
	}
	wg.Wait()
	found, unsure, answered := -1, -1, 0
	for p, a := range answers {
		switch {
		case errs[p] != nil || a.StatusCode == http.StatusServiceUnavailable:
			unsure = max(unsure, p)
		case a.StatusCode != http.StatusNotFound:
			answered++
			if found < 0 {
				found = p
			}
		}
	}
	keep := cmp.Or(found+1, unsure+1) - 1 // the answer given: the rest are closed
	for p, a := range answers {
		if a != nil && p != keep {
			_ = a.Body.Close()
		}
	}
	switch {
	case keep < 0:
		return -1, nil, nil
	case errs[keep] != nil:
		return -1, nil, errs[keep]
	case keep != found || answered > 1:
		return -1, answers[keep], nil
	}
	return keep, answers[keep], nil
}

// forward sends the request to partition p's owner and relays its answer.
func (s *Server) forward(c echo.Context, p int, body []byte) error {
	ctx, cancel := s.forwardContext(c)
	defer cancel()
	r, err := s.ask(ctx, p, c.Request(), body)
	if err != nil {
		return s.unreachable(err)
	}
	defer r.Body.Close()
	return relay(c, r)
}

// ask forwards a request to partition p's owner. A partition being handed
// from node to node has no owner for a moment: it is asked again, a
// little while, before the request is answered 503 for its sake.
func (s *Server) ask(ctx context.Context, p int, r *http.Request, body []byte) (*http.Response, error) {
	for try := 0; ; try++ {
		resp, err := s.cluster.Forward(ctx, p, r, body)
		if !errors.Is(err, ErrNoOwner) || try == noOwnerTries {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(noOwnerPause):
		}
	}
}

// forwardContext bounds a forwarded request: forwardTimeout, plus the wait
// of a long-poll.
func (s *Server) forwardContext(c echo.Context) (context.Context, context.CancelFunc) {
	d := forwardTimeout
	if w, err := time.ParseDuration(c.QueryParam("wait")); err == nil && w > 0 && w <= orderWaitMax {
		d += w
	}
	return context.WithTimeout(c.Request().Context(), d)
}

// unreachable answers a request no owner answered.
func (s *Server) unreachable(err error) error {
	if errors.Is(err, ErrNoOwner) {
		return problem(http.StatusServiceUnavailable, "partition-moving", "the partition is being taken over by another node; retry in a second")
	}
	s.log.Warn("forwarded request not answered", "err", err)
	return problem(http.StatusServiceUnavailable, "owner-unreachable", "the partition's owner did not answer in time; a write may or may not have been applied: read before sending it again")
}

// relayedHeaders are the owner's answer's headers a gateway passes on;
// its own middleware sets the rest.
var relayedHeaders = []string{echo.HeaderContentType, echo.HeaderLocation, echo.HeaderRetryAfter, echo.HeaderWWWAuthenticate, "Content-Disposition"}

// relay answers with the owner's answer.
func relay(c echo.Context, r *http.Response) error {
	h := c.Response().Header()
	for _, k := range relayedHeaders {
		if v := r.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	c.Response().WriteHeader(r.StatusCode)
	_, err := io.Copy(c.Response(), r.Body)
	return err
}

// bufferBody reads the request's body (at most bodyMaxBytes) and puts it
// back, so that it can be decoded here and forwarded too.
func bufferBody(c echo.Context) ([]byte, error) {
	req := c.Request()
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, bodyMaxBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, problem(http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("the body is over %d bytes", bodyMaxBytes))
		}
		return nil, problem(http.StatusBadRequest, "unreadable-body", "read body: "+err.Error())
	}
	req.Body = io.NopCloser(bytes.NewReader(data))
	return data, nil
}

// mintID is a new order id, as an engine mints one: 128 random bits.
func mintID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// located remembers which partition an order, pallet or lot is in (and an
// order's place in its intake, when this gateway accepted it), up to
// locatedMax ids; then it forgets them all and learns again: an id never
// changes partition, so what it remembers is never wrong, only missing.
type located struct {
	mu  sync.Mutex
	ids map[string]place
}

// place is where an id is: its partition, and for an order this gateway
// accepted, its sequence in the partition's intake (else 0).
type place struct {
	partition int
	seq       uint64
}

func (l *located) remember(kind, id string, at place) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ids) >= locatedMax {
		clear(l.ids)
	}
	l.ids[kind+"\x00"+id] = at
}

func (l *located) lookup(kind, id string) (place, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.ids[kind+"\x00"+id]
	return at, ok
}
