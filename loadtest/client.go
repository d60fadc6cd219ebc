package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/baconator/baconator/inventory"
)

// A read answered 503 is asked again unavailableTries times,
// unavailablePause apart (what the answer's Retry-After says).
const (
	unavailableTries = 60
	unavailablePause = time.Second
)

// client speaks the public API, nothing else.
type client struct {
	base       string
	key        string
	partitions int // a cluster's (Config.Partitions)
	http       *http.Client
	stream     *http.Client // for the event stream: no time limit on a response
}

func newClient(cfg Config, conns int) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Followers share a bounded pool: at high rates thousands of orders are
	// followed at once, and a connection each would churn sockets.
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = conns*2, conns*2, conns*2
	return &client{base: strings.TrimRight(cfg.URL, "/"), key: cfg.APIKey, partitions: cfg.Partitions,
		http: &http.Client{Transport: tr, Timeout: time.Minute}, stream: &http.Client{Transport: tr}}
}

func (c *client) close() { c.http.CloseIdleConnections() }

func (c *client) do(ctx context.Context, method, path string, body []byte) (int, []byte, http.Header, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, b, resp.Header, err
}

// getJSON reads path into dst. A 503 (a server still starting, a
// cluster's partition changing hands) is asked again after its
// Retry-After, unavailableTries times at most.
func (c *client) getJSON(ctx context.Context, path string, dst any) error {
	code, body, _, err := c.do(ctx, http.MethodGet, path, nil)
	for try := 0; err == nil && code == http.StatusServiceUnavailable && try < unavailableTries; try++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(unavailablePause):
		}
		code, body, _, err = c.do(ctx, http.MethodGet, path, nil)
	}
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, code, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, dst)
}

// ready checks that the server answers and has loaded its warehouse.
func (c *client) ready(ctx context.Context) error {
	code, body, _, err := c.do(ctx, http.MethodGet, "/readyz", nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("/readyz answered %d: %s", code, strings.TrimSpace(string(body)))
	}
	return nil
}

// Stock is what the floor holds of a SKU when a run starts.
type Stock struct {
	Pallets      int     `json:"pallets"`
	WeightLbs    float64 `json:"weightLbs"`
	AvailableLbs float64 `json:"availableLbs"`
}

// stock reads the floor's totals for the run's SKUs (the server's default
// if none): a run against a warehouse an earlier run sold out is told
// apart from a broken one.
func (c *client) stock(ctx context.Context, skus string) (Stock, error) {
	var st Stock
	for _, sku := range splitSKUs(skus) {
		var inv struct {
			TotalLbs     float64 `json:"totalLbs"`
			AvailableLbs float64 `json:"availableLbs"`
			BatchCount   int     `json:"batchCount"`
		}
		if err := c.getJSON(ctx, "/api/inventory?limit=1&sku="+url.QueryEscape(sku), &inv); err != nil {
			return Stock{}, err
		}
		st.Pallets += inv.BatchCount
		st.WeightLbs += inv.TotalLbs
		st.AvailableLbs += inv.AvailableLbs
	}
	return st, nil
}

// splitSKUs is a run's SKUs: Config.SKU split at commas, the server's
// default if empty.
func splitSKUs(skus string) []string {
	var out []string
	for s := range strings.SplitSeq(skus, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return []string{inventory.DefaultSKU}
	}
	return out
}

// orderBodies makes a run's order bodies: the same order each time but
// for its id, the run's id and a number (and its SKU, when the run orders
// several, in turn). The JSON around the number is encoded once, not per
// order (a load generator sharing the server's cores should spend them on
// requests, not on encoding).
type orderBodies struct {
	runID      string
	head, tail [][]byte // by SKU: the body before and after the id's number
}

func newOrderBodies(runID, skus string, lbs inventory.CentiLbs) orderBodies {
	const mark = "\x00"
	o := orderBodies{runID: runID}
	list := []string{""} // the server's default, not named
	if skus != "" {
		list = splitSKUs(skus)
	}
	for _, sku := range list {
		fields := map[string]any{"id": runID + "-" + mark, "customer": "loadgen", "amountRequested": json.Number(lbs.String())}
		if sku != "" {
			fields["sku"] = sku
		}
		b, _ := json.Marshal(fields)
		i := bytes.Index(b, []byte(`\u0000`))
		o.head, o.tail = append(o.head, b[:i]), append(o.tail, b[i+len(`\u0000`):])
	}
	return o
}

// next is order n's id and body.
func (o orderBodies) next(n int64) (string, []byte) {
	k := int(n % int64(len(o.head)))
	body := make([]byte, 0, len(o.head[k])+20+len(o.tail[k]))
	body = strconv.AppendInt(append(body, o.head[k]...), n, 10)
	return o.runID + "-" + strconv.FormatInt(n, 10), append(body, o.tail[k]...)
}

// Order is an order as the API shows it.
type Order struct {
	ID               string       `json:"id"`
	Status           string       `json:"status"`
	Reason           string       `json:"reason"`
	AmountRequested  json.Number  `json:"amountRequested"`
	MinShelfLifeDays int          `json:"minShelfLifeDays"`
	Allocations      []Allocation `json:"allocations"`
	Conflicts        int          `json:"conflicts"`
}

// Allocation is weight an order took from a pallet.
type Allocation struct {
	PalletID string      `json:"palletId"`
	Lbs      json.Number `json:"lbs"`
}

func terminal(status string) bool { return inventory.Status(status).Terminal() }

// follow long-polls an order until it is terminal or ctx ends.
func (c *client) follow(ctx context.Context, id string) (Order, error) {
	for {
		var o Order
		if err := c.getJSON(ctx, "/api/orders/"+url.PathEscape(id)+"?wait=25s", &o); err != nil {
			return o, err
		}
		if terminal(o.Status) {
			return o, nil
		}
		if ctx.Err() != nil {
			return o, ctx.Err()
		}
	}
}

// Pallet is a pallet as the API shows it.
type Pallet struct {
	ID             string      `json:"id"`
	SKU            string      `json:"sku"`
	WeightLbs      json.Number `json:"weightLbs"`
	ReservedLbs    json.Number `json:"reservedLbs"`
	AvailableLbs   json.Number `json:"availableLbs"`
	ExpirationDate time.Time   `json:"expirationDate"`
	Version        int64       `json:"version"`
	Expired        bool        `json:"expired"`
}

// LedgerEntry is one line of a pallet's ledger.
type LedgerEntry struct {
	Kind    string      `json:"kind"`
	Lbs     json.Number `json:"lbs"`
	OrderID string      `json:"orderId"`
	Version int64       `json:"version"`
}

// inventory lists every pallet ever received — on the floor, expired and
// emptied — in FEFO order, page by page.
// A cluster's lists are each one partition's: each is listed in turn.
func (c *client) inventory(ctx context.Context) ([]Pallet, error) {
	scopes := []string{""}
	if n := c.partitions; n > 0 {
		scopes = make([]string, n)
		for p := range n {
			scopes[p] = "&partition=" + strconv.Itoa(p)
		}
	}
	var all []Pallet
	for _, scope := range scopes {
		cursor := ""
		for {
			var page struct {
				Batches    []Pallet `json:"batches"`
				NextCursor string   `json:"nextCursor"`
			}
			if err := c.getJSON(ctx, "/api/inventory?state=all"+scope+"&cursor="+url.QueryEscape(cursor), &page); err != nil {
				return nil, err
			}
			all = append(all, page.Batches...)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
	}
	return all, nil
}

// ledger reads a pallet's whole ledger, page by page.
func (c *client) ledger(ctx context.Context, id string) ([]LedgerEntry, error) {
	var all []LedgerEntry
	cursor := ""
	for {
		var page struct {
			Entries    []LedgerEntry `json:"entries"`
			NextCursor string        `json:"nextCursor"`
		}
		if err := c.getJSON(ctx, "/api/inventory/"+url.PathEscape(id)+"/ledger?limit=10000&cursor="+url.QueryEscape(cursor), &page); err != nil {
			return nil, err
		}
		all = append(all, page.Entries...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

func (c *client) pallet(ctx context.Context, id string) (Pallet, error) {
	var p Pallet
	err := c.getJSON(ctx, "/api/inventory/"+url.PathEscape(id), &p)
	return p, err
}

// serverCounters are the server's own counters the report quotes.
type serverCounters struct {
	Conflicts, Retries, Strikes float64
}

func (c *client) counters(ctx context.Context) (serverCounters, error) {
	m, err := c.metrics(ctx)
	if err != nil {
		return serverCounters{}, err
	}
	return countersOf(m), nil
}

// countersOf reads the counters from a scrape: the run's start takes one
// scrape for these and the server's build.
func countersOf(m metricFamilies) serverCounters {
	return serverCounters{Conflicts: m.value("baconator_conflicts_total"), Retries: m.value("baconator_retries_total"), Strikes: m.value("baconator_chaos_strikes_total")}
}

// BuildInfo is the server's build, from its baconator_build_info labels:
// which code a report measured.
type BuildInfo struct {
	Version   string `json:"version,omitempty"`
	Revision  string `json:"revision,omitempty"`
	GoVersion string `json:"goVersion,omitempty"`
}

// buildOf reads the build labels; a server that exports none (an older
// one) leaves them empty, and the report says "unknown".
func buildOf(m metricFamilies) BuildInfo {
	f, ok := m["baconator_build_info"]
	if !ok || len(f.Metric) == 0 {
		return BuildInfo{}
	}
	var b BuildInfo
	for _, l := range f.Metric[0].Label {
		switch l.GetName() {
		case "version":
			b.Version = l.GetValue()
		case "revision":
			b.Revision = l.GetValue()
		case "goversion":
			b.GoVersion = l.GetValue()
		}
	}
	return b
}

// metricFamilies is a scrape of the server's /metrics.
type metricFamilies map[string]*dto.MetricFamily

// chaosIntervalOf is the server's chaos setting in seconds, or nil when it
// does not say.
func chaosIntervalOf(m metricFamilies) *float64 {
	if _, ok := m["baconator_chaos_interval_seconds"]; !ok {
		return nil
	}
	v := m.value("baconator_chaos_interval_seconds")
	return &v
}

// value is the first sample of a counter or gauge, or 0 if the server
// does not export it (process metrics exist only where procfs does).
func (m metricFamilies) value(name string) float64 {
	f, ok := m[name]
	if !ok || len(f.Metric) == 0 {
		return 0
	}
	switch x := f.Metric[0]; {
	case x.Counter != nil:
		return x.Counter.GetValue()
	case x.Gauge != nil:
		return x.Gauge.GetValue()
	}
	return 0
}

func (c *client) metrics(ctx context.Context) (metricFamilies, error) {
	code, body, _, err := c.do(ctx, http.MethodGet, "/metrics", nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("/metrics answered %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	return families, nil
}
