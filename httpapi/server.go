package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/baconator/baconator/actors"
)

// Config configures a Server.
type Config struct {
	Engine  *actors.Engine
	Keys    Keys // API keys and their roles; empty means dev mode (no auth)
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time // the clock for expiry flags; time.Now if nil
}

// Server is Baconator's HTTP API.
type Server struct {
	cfg      Config
	eng      *actors.Engine
	log      *slog.Logger
	now      func() time.Time
	echo     *echo.Echo
	ready    atomic.Bool
	draining atomic.Bool
	drained  context.Context // cancelled by Drain: long-polls answer at once
	drain    context.CancelFunc
	cursors  cursors
	streams  streamSlots // the open event streams
	floor    floorShared // the last floor snapshot
	ring     eventRing   // the newest events, encoded once for every stream

	cluster Cluster // a cluster node's gateway (NewGateway): no engine of its own
	located located // where the gateway found each order, pallet and lot
}

// New builds the API's routes.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, eng: cfg.Engine, log: cfg.Logger, now: cfg.Now, cursors: cursors{key: cfg.Engine.Secret()}, streams: make(streamSlots, eventStreamsMax)}
	s.drained, s.drain = context.WithCancel(context.Background())
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cfg.Metrics == nil {
		s.cfg.Metrics = NewMetrics()
	}
	s.cfg.Metrics.watch(cfg.Engine)
	e := s.newEcho()
	api := e.Group("/api")
	viewer, sales, operator := s.require(RoleViewer), s.require(RoleSales), s.require(RoleOperator)
	write := s.refuseWrites // every POST: 503 before the warehouse is loaded and while draining
	api.POST("/orders", s.placeOrder, sales, write)
	api.GET("/orders", s.listOrders, viewer)
	api.GET("/orders/:id", s.getOrder, viewer)
	api.POST("/orders/:id/cancel", s.cancelOrder, sales, write)
	api.POST("/inventory", s.receivePallet, operator, write)
	api.GET("/inventory", s.listInventory, viewer)
	api.GET("/inventory/expiry", s.expiry, viewer)
	api.GET("/inventory/:id", s.getPallet, viewer)
	api.POST("/inventory/:id/adjustments", s.adjustPallet, operator, write)
	api.GET("/inventory/:id/ledger", s.getLedger, viewer)
	api.POST("/inventory/:id/hold", s.holdPallet, operator, write)
	api.POST("/inventory/:id/release", s.releasePallet, operator, write)
	api.POST("/inventory/:id/write-off", s.writeOffPallet, operator, write)
	api.GET("/lots/:lot", s.getLot, viewer)
	api.POST("/lots/:lot/hold", s.holdLot, operator, write)
	api.POST("/lots/:lot/release", s.releaseLot, operator, write)
	api.POST("/lots/:lot/recall", s.recallLot, operator, write)
	api.GET("/lots/:lot/trace", s.lotTrace, viewer)
	api.GET("/orders/:id/trace", s.orderTrace, viewer)
	api.GET("/events", s.streamEvents, viewer)

	e.GET("/", serveFloor)
	e.GET("/floor/*", serveFloor)
	s.echo = e
	return s
}

// newEcho is what a node's API and a cluster gateway share: the error
// handler, the middleware, health, metrics and the OpenAPI pages.
func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(s.cfg.Metrics.instrument, middleware.Recover(), securityHeaders, wellFormedQuery)
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(s.cfg.Metrics.handler()))
	e.GET("/openapi.json", serveOpenAPI)
	e.GET("/swagger", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/swagger/") })
	e.GET("/swagger/*", serveSwagger)
	return e
}

// Handler is the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Routes lists every method and path the API serves.
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }

// SetReady marks the warehouse loaded (and recovered): /readyz answers 200.
func (s *Server) SetReady() { s.ready.Store(true) }

// Drain starts shutting down: /readyz answers 503 and new orders and
// receipts are refused with 503, while reads and in-flight work go on.
func (s *Server) Drain() {
	s.draining.Store(true)
	s.drain()
}

// The health answers, encoded once: a probe may come thousands of times a
// second, and is the measure of what the server costs per request.
var (
	healthzBody = []byte(`{"status":"ok"}` + "\n")
	readyzBody  = []byte(`{"status":"ready"}` + "\n")
)

func (s *Server) healthz(c echo.Context) error {
	return c.JSONBlob(http.StatusOK, healthzBody)
}

func (s *Server) readyz(c echo.Context) error {
	switch {
	case s.draining.Load():
		return problem(http.StatusServiceUnavailable, "shutting-down", "the server is shutting down")
	case !s.ready.Load():
		return problem(http.StatusServiceUnavailable, "not-ready", "the warehouse is still loading or recovering")
	case s.eng != nil && s.eng.Err() != nil:
		return problem(http.StatusServiceUnavailable, "unavailable", "the server cannot persist writes; see its log")
	case s.cluster != nil:
		if err := s.cluster.Ready(); err != nil {
			return problem(http.StatusServiceUnavailable, "not-ready", "the node is not in a cluster that can take writes: "+err.Error())
		}
	}
	return c.JSONBlob(http.StatusOK, readyzBody)
}

// refuseWrites answers 503 to writes before the warehouse is loaded and
// once shutdown began.
func (s *Server) refuseWrites(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch {
		case s.draining.Load():
			return problem(http.StatusServiceUnavailable, "shutting-down", "the server is shutting down; retry against another instance")
		case !s.ready.Load():
			return problem(http.StatusServiceUnavailable, "not-ready", "the warehouse is still loading")
		}
		return next(c)
	}
}

// wellFormedQuery refuses a query string that does not parse (a bad %
// escape, a semicolon): Go's parser drops such a pair silently, and a
// filter dropped silently would list everything.
func wellFormedQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if raw := c.Request().URL.RawQuery; raw == "" {
			return next(c) // most requests: nothing to parse
		} else if _, err := url.ParseQuery(raw); err != nil {
			return invalid(FieldError{Field: "query", Message: "malformed query string: " + err.Error()})
		}
		return next(c)
	}
}

var (
	nosniff = []string{"nosniff"}
	noStore = []string{"no-store"}
)

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		// Assigned, not Set: the keys are canonical already and the
		// values are shared (a later Set or Add replaces them, never
		// writes into them).
		h["X-Content-Type-Options"] = nosniff
		h["Cache-Control"] = noStore
		return next(c)
	}
}
