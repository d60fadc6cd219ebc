package httpapi

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/inventory"
)

// Metrics is the server's Prometheus registry. Counters are read from the
// engine at scrape time; the latency histogram is fed by ObserveFinished,
// which the engine calls as each order finishes.
type Metrics struct {
	reg     *prometheus.Registry
	latency prometheus.Histogram
	once    sync.Once

	// Every request's route, method, status and time.
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// routes keeps each route's counter and histogram once looked up
	// (routeKey → routeMetrics): finding them by label values hashes and
	// checks the labels on every request, which cost more than the
	// health check's own handler.
	routes  sync.Map
	nRoutes atomic.Int32

	// The connection cap's counts (conns.go).
	connsOpen    prometheus.Gauge
	connsShed    prometheus.Counter
	connsRefused prometheus.Counter
}

// NewMetrics makes a registry with Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "baconator_allocation_latency_seconds",
		Help:    "Time from an order's acceptance to its first terminal state.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18), // 100 µs .. 13 s
	})
	m.connsOpen = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "baconator_http_connections",
		Help: "HTTP connections open, counted against the connection cap.",
	})
	m.connsShed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "baconator_http_connections_shed_total",
		Help: "Idle keep-alive connections closed at the connection cap to make room for a new one.",
	})
	m.connsRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "baconator_http_connections_refused_total",
		Help: "New connections refused (503) at the connection cap because none was idle.",
	})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "baconator_http_requests_total",
		Help: "HTTP requests answered, by route (the route's pattern, or unmatched), method and status code.",
	}, []string{"route", "method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "baconator_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route and method (a long-poll's wait included).",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 20), // 50 µs .. 26 s
	}, []string{"route", "method"})
	m.reg.MustRegister(m.latency, m.connsOpen, m.connsShed, m.connsRefused, m.requests, m.duration, buildInfo(),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// version and revision, when set at link time (-ldflags "-X
// github.com/baconator/baconator/httpapi.version=v1.2.0 -X
// github.com/baconator/baconator/httpapi.revision=abc123"), name the build
// where Go cannot read them from the module or VCS: a container build has
// no .git.
var version, revision string

// buildInfo is baconator_build_info: 1, labelled with the module's version,
// the VCS revision it was built from (if known) and the Go version.
func buildInfo() prometheus.Collector {
	v, rev := buildOf(debug.ReadBuildInfo())
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "baconator_build_info",
		Help:        "The running build: always 1, labelled with version, revision and Go version.",
		ConstLabels: prometheus.Labels{"version": v, "revision": rev, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

// buildOf names the build: what the linker was told, else what Go
// recorded of the module and its VCS, else "(devel)" and "unknown".
func buildOf(bi *debug.BuildInfo, ok bool) (v, rev string) {
	v, rev = "(devel)", "unknown"
	if ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" {
				rev = kv.Value
			}
		}
	}
	if version != "" {
		v = version
	}
	if revision != "" {
		rev = revision
	}
	return v, rev
}

// instrument counts and times every request by its route's pattern (never
// its path: ids would make a series each).
func (m *Metrics) instrument(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		began := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // written now, so the status is known
		}
		route := c.Path()
		if route == "" || c.Response().Status == http.StatusNotFound && route == "/*" {
			route = "unmatched"
		}
		rm := m.route(routeKey{route, c.Request().Method, c.Response().Status})
		rm.requests.Inc()
		rm.duration.Observe(time.Since(began).Seconds())
		return nil
	}
}

// routesMax bounds the route metrics kept (routes × methods × codes seen);
// past it they are looked up each time.
const routesMax = 1024

type routeKey struct {
	route, method string
	code          int
}

type routeMetrics struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func (m *Metrics) route(k routeKey) routeMetrics {
	if v, ok := m.routes.Load(k); ok {
		return v.(routeMetrics)
	}
	rm := routeMetrics{m.requests.WithLabelValues(k.route, k.method, strconv.Itoa(k.code)), m.duration.WithLabelValues(k.route, k.method)}
	if m.nRoutes.Add(1) <= routesMax {
		m.routes.Store(k, rm)
	}
	return rm
}

// ObserveFinished records an order's allocation latency. Pass it as the
// engine's Config.OnFinished.
func (m *Metrics) ObserveFinished(o inventory.Order) {
	m.latency.Observe(o.CompletedAt.Sub(o.AcceptedAt).Seconds())
}

func (m *Metrics) watch(e *actors.Engine) {
	m.once.Do(func() { m.reg.MustRegister(engineCollector{e}) })
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// engineCollector turns the engine's counters into metrics at scrape time.
type engineCollector struct{ e *actors.Engine }

var (
	descOrders    = prometheus.NewDesc("baconator_orders_total", "Orders by outcome: accepted, throttled (429), allocated, rejected_*, cancelled.", []string{"outcome"}, nil)
	descConflicts = prometheus.NewDesc("baconator_conflicts_total", "Reserve or confirm refusals that aborted an attempt.", nil, nil)
	descRetries   = prometheus.NewDesc("baconator_retries_total", "Order retries after a conflict.", nil, nil)
	descStrikes   = prometheus.NewDesc("baconator_chaos_strikes_total", "Chaos strikes that changed a pallet.", nil, nil)
	descIntake    = prometheus.NewDesc("baconator_intake_depth", "Orders accepted and waiting in the intake.", nil, nil)
	descInFlight  = prometheus.NewDesc("baconator_orders_in_flight", "Orders handed to coordinators and not yet terminal.", nil, nil)
	descFailures  = prometheus.NewDesc("baconator_actor_failures_total", "Actor panics seen by supervisors (each one is a bug).", nil, nil)
	descCommits   = prometheus.NewDesc("baconator_journal_commits_total", "Durable journal commits (each synced before it was acknowledged).", nil, nil)
	descSyncs     = prometheus.NewDesc("baconator_journal_syncs_total", "Journal writes and syncs; commits/syncs is the group-commit factor.", nil, nil)
	descJFailed   = prometheus.NewDesc("baconator_journal_failed", "1 once a journal write failed: writes are refused until a restart.", nil, nil)
	descExpiring  = prometheus.NewDesc("baconator_expiring_lbs", "Pounds on the floor by SKU and days to expiry (the bucket's lower end; buckets 0, 3, 7, 14, 30 days), held weight included.", []string{"sku", "from_days"}, nil)
	descExpired   = prometheus.NewDesc("baconator_expired_lbs", "Pounds on the floor already past their expiration, not yet written off.", nil, nil)
	descChaos     = prometheus.NewDesc("baconator_chaos_interval_seconds", "How often the chaos actor strikes the oldest pallets; 0 when chaos is off.", nil, nil)
)

func (engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOrders, descConflicts, descRetries, descStrikes, descIntake, descInFlight, descFailures, descCommits, descSyncs, descJFailed, descExpiring, descExpired, descChaos} {
		ch <- d
	}
}

func (c engineCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.e.Stats()
	for outcome, v := range map[string]int64{
		"accepted": s.Accepted, "throttled": s.Throttled, "allocated": s.Allocated, "cancelled": s.Cancelled,
		"cancelled_after_allocation":  s.CancelledAfterAllocation,
		"rejected_insufficient_stock": s.RejectedInsufficient, "rejected_no_eligible_stock": s.RejectedNoEligible,
		"rejected_contention": s.RejectedContention,
	} {
		ch <- prometheus.MustNewConstMetric(descOrders, prometheus.CounterValue, float64(v), outcome)
	}
	ch <- prometheus.MustNewConstMetric(descConflicts, prometheus.CounterValue, float64(s.Conflicts))
	ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(s.Retries))
	ch <- prometheus.MustNewConstMetric(descStrikes, prometheus.CounterValue, float64(s.Strikes))
	ch <- prometheus.MustNewConstMetric(descIntake, prometheus.GaugeValue, float64(s.IntakeDepth))
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(s.InFlight))
	ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(c.e.Failures()))
	ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(s.JournalCommits))
	ch <- prometheus.MustNewConstMetric(descSyncs, prometheus.CounterValue, float64(s.JournalSyncs))
	failed := 0.0
	if s.JournalFailed {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(descJFailed, prometheus.GaugeValue, failed)
	buckets, expired := c.e.Expiry("", defaultExpiryBuckets, time.Now())
	for _, b := range buckets {
		ch <- prometheus.MustNewConstMetric(descExpiring, prometheus.GaugeValue, b.Weight.Pounds(), b.SKU, strconv.Itoa(b.From))
	}
	ch <- prometheus.MustNewConstMetric(descExpired, prometheus.GaugeValue, expired.Pounds())
	ch <- prometheus.MustNewConstMetric(descChaos, prometheus.GaugeValue, c.e.ChaosInterval().Seconds())
}
