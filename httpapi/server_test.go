package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/internal/testkit"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/inventory"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }

type fixture struct {
	t   testing.TB
	eng *actors.Engine
	api *Server
	h   http.Handler
}

// newFixture serves a fresh engine (chaos off) with 3 pallets of pork.
func newFixture(t testing.TB, mutate ...func(*actors.Config, *Config)) *fixture {
	t.Helper()
	cfg := actors.DefaultConfig()
	cfg.Chaos.Interval = 0
	metrics := NewMetrics()
	cfg.OnFinished = metrics.ObserveFinished
	scfg := Config{Metrics: metrics}
	for _, m := range mutate {
		m(&cfg, &scfg)
	}
	eng, err := actors.New(cfg)
	require.NoError(t, err)
	if cfg.Journal != nil { // a journal of the test's own: recover from it first
		_, err := eng.Recover()
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, eng.Close(ctx))
		require.Zero(t, eng.Failures())
	})
	scfg.Engine = eng
	api := New(scfg)
	api.SetReady()
	f := &fixture{t: t, eng: eng, api: api, h: api.Handler()}
	now := time.Now().UTC().Truncate(time.Second)
	for i, days := range []int{5, 6, 7} {
		_, err := eng.ReceivePallets([]inventory.PalletSpec{{ID: fmt.Sprintf("P-%d", i+1), Supplier: "Farm_1", Lot: "L-1", Weight: inventory.Lbs(1000),
			Received: now.Add(-time.Hour), Expires: now.Add(time.Duration(days) * 24 * time.Hour)}})
		require.NoError(t, err)
	}
	return f
}

// in is the fixture reporting to t, so that a subtest's failures stop
// only that subtest.
func (f *fixture) in(t testing.TB) *fixture {
	c := *f
	c.t = t
	return &c
}

type reply struct {
	*httptest.ResponseRecorder
	t testing.TB
}

// do sends a request; body "" means none; JSON content type unless a
// header overrides it.
func (f *fixture) do(method, path, body string, headers ...string) reply {
	f.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return reply{rec, f.t}
}

func (r reply) json() map[string]any {
	r.t.Helper()
	var m map[string]any
	require.NoError(r.t, json.Unmarshal(r.Body.Bytes(), &m), r.Body.String())
	return m
}

// problemFields checks a problem+json answer and returns the fields it names.
func (r reply) problemFields(status int) []string {
	r.t.Helper()
	require.Equal(r.t, status, r.Code, r.Body.String())
	require.Equal(r.t, "application/problem+json", r.Header().Get("Content-Type"))
	m := r.json()
	assert.EqualValues(r.t, status, m["status"])
	assert.NotEmpty(r.t, m["type"])
	assert.NotEmpty(r.t, m["title"])
	var out []string
	if errs, ok := m["errors"].([]any); ok {
		for _, e := range errs {
			out = append(out, e.(map[string]any)["field"].(string))
		}
	}
	return out
}

// waitTerminal follows an order until it is terminal.
func (f *fixture) waitTerminal(id string) map[string]any {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := f.eng.Wait(ctx, id)
	require.NoError(f.t, err)
	r := f.do(http.MethodGet, "/api/orders/"+id, "")
	require.Equal(f.t, http.StatusOK, r.Code)
	return r.json()
}

func TestPlaceAndTrackAnOrder(t *testing.T) {
	f := newFixture(t)
	r := f.do(http.MethodPost, "/api/orders", `{"id":"o-1","customer":"Funky Customer #1","amountRequested":1500,"createdAt":"2026-11-26T09:00:00Z"}`)
	require.Equal(t, http.StatusAccepted, r.Code, r.Body.String())
	assert.Equal(t, "/api/orders/o-1", r.Header().Get("Location"))
	assert.Equal(t, map[string]any{"orderId": "o-1", "status": "queued"}, r.json())

	o := f.waitTerminal("o-1")
	assert.Equal(t, "allocated", o["status"])
	assert.Equal(t, "", o["reason"])
	assert.EqualValues(t, 1500, o["amountRequested"])
	assert.Equal(t, "pork", o["sku"])
	assert.Equal(t, "2026-11-26T09:00:00Z", o["createdAt"])
	allocs := o["allocations"].([]any)
	require.Len(t, allocs, 2)
	assert.Equal(t, "P-1", allocs[0].(map[string]any)["palletId"])
	assert.EqualValues(t, 1000, allocs[0].(map[string]any)["lbs"])
	assert.EqualValues(t, 500, allocs[1].(map[string]any)["lbs"])
	assert.EqualValues(t, 1, o["attempts"])
	assert.NotNil(t, o["completedAt"])

	t.Run("the same id and body again is the same order", func(t *testing.T) {
		r := f.do(http.MethodPost, "/api/orders", `{"id":"o-1","customer":"Funky Customer #1","amountRequested":1500,"createdAt":"2026-11-26T09:00:00Z"}`)
		require.Equal(t, http.StatusOK, r.Code)
		m := r.json()
		assert.Equal(t, "o-1", m["orderId"])
		assert.Equal(t, "allocated", m["status"])
		assert.Len(t, m["allocations"], 2)
	})
	t.Run("the same id with a different body is a conflict", func(t *testing.T) {
		r := f.do(http.MethodPost, "/api/orders", `{"id":"o-1","customer":"Funky Customer #1","amountRequested":1501}`)
		r.problemFields(http.StatusConflict)
	})
	t.Run("the Idempotency-Key header carries the id", func(t *testing.T) {
		r := f.do(http.MethodPost, "/api/orders", `{"customer":"c","amountRequested":1}`, "Idempotency-Key", "key-7")
		require.Equal(t, http.StatusAccepted, r.Code)
		assert.Equal(t, "/api/orders/key-7", r.Header().Get("Location"))
		f.waitTerminal("key-7")
		r = f.do(http.MethodPost, "/api/orders", `{"id":"other","customer":"c","amountRequested":1}`, "Idempotency-Key", "key-8")
		assert.Equal(t, []string{"id"}, r.problemFields(http.StatusBadRequest))
	})
	t.Run("long-poll answers at once for a terminal order", func(t *testing.T) {
		r := f.do(http.MethodGet, "/api/orders/o-1?wait=5s", "")
		require.Equal(t, http.StatusOK, r.Code)
		assert.Equal(t, "allocated", r.json()["status"])
		assert.Equal(t, []string{"wait"}, f.do(http.MethodGet, "/api/orders/o-1?wait=forever", "").problemFields(http.StatusBadRequest))
		f.do(http.MethodGet, "/api/orders/nope?wait=1ms", "").problemFields(http.StatusNotFound)
	})
	t.Run("unknown order", func(t *testing.T) {
		f.do(http.MethodGet, "/api/orders/nope", "").problemFields(http.StatusNotFound)
		f.do(http.MethodPost, "/api/orders/nope/cancel", "").problemFields(http.StatusNotFound)
	})
	t.Run("cancel returns the weight", func(t *testing.T) {
		r := f.do(http.MethodPost, "/api/orders/o-1/cancel", "")
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		assert.Equal(t, "cancelled", r.json()["status"])
		p := f.do(http.MethodGet, "/api/inventory/P-1", "").json()
		assert.EqualValues(t, 1000, p["weightLbs"])
		f.do(http.MethodPost, "/api/orders/o-1/cancel", "").problemFields(http.StatusConflict)
	})
}

func TestOrderValidation(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("x", 65)
	tests := []struct {
		name, body string
		fields     []string
		status     int
	}{
		{"missing customer", `{"amountRequested":10}`, []string{"customer"}, 400},
		{"missing amount", `{"customer":"c"}`, []string{"amountRequested"}, 400},
		{"zero", `{"customer":"c","amountRequested":0}`, []string{"amountRequested"}, 400},
		{"negative", `{"customer":"c","amountRequested":-5}`, []string{"amountRequested"}, 400},
		{"three decimals", `{"customer":"c","amountRequested":1.234}`, []string{"amountRequested"}, 400},
		{"exponent", `{"customer":"c","amountRequested":1e3}`, []string{"amountRequested"}, 400},
		{"absurd", `{"customer":"c","amountRequested":100000000000}`, []string{"amountRequested"}, 400},
		{"amount as string", `{"customer":"c","amountRequested":"10"}`, []string{"amountRequested"}, 400},
		{"NaN-like string", `{"customer":"c","amountRequested":"NaN"}`, []string{"amountRequested"}, 400},
		{"customer as number", `{"customer":7,"amountRequested":10}`, []string{"customer"}, 400},
		{"unknown field", `{"customer":"c","amountRequested":10,"price":3}`, []string{"price"}, 400},
		{"long id", `{"id":"` + long + `","customer":"c","amountRequested":10}`, []string{"id"}, 400},
		{"id with slash", `{"id":"a/b","customer":"c","amountRequested":10}`, []string{"id"}, 400},
		{"long sku", `{"sku":"` + long + `","customer":"c","amountRequested":10}`, []string{"sku"}, 400},
		{"negative shelf life", `{"customer":"c","amountRequested":10,"minShelfLifeDays":-1}`, []string{"minShelfLifeDays"}, 400},
		{"fractional shelf life", `{"customer":"c","amountRequested":10,"minShelfLifeDays":1.5}`, []string{"minShelfLifeDays"}, 400},
		{"bad createdAt", `{"customer":"c","amountRequested":10,"createdAt":"yesterday"}`, []string{"createdAt"}, 400},
		{"several at once", `{"amountRequested":0}`, []string{"customer", "amountRequested"}, 400},
		{"an array", `[1,2]`, []string{"body"}, 400},
		{"malformed", `{"customer":`, nil, 400},
		{"trailing data", `{"customer":"c","amountRequested":10} {}`, nil, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(http.MethodPost, "/api/orders", tc.body)
			fields := r.problemFields(tc.status)
			if tc.fields != nil {
				assert.Equal(t, tc.fields, fields)
			}
		})
	}
	t.Run("wrong content type", func(t *testing.T) {
		f.do(http.MethodPost, "/api/orders", `{"customer":"c","amountRequested":10}`, "Content-Type", "text/plain").problemFields(http.StatusUnsupportedMediaType)
	})
	t.Run("body over 64 KiB", func(t *testing.T) {
		big := `{"customer":"` + strings.Repeat("c", 70<<10) + `","amountRequested":10}`
		f.do(http.MethodPost, "/api/orders", big).problemFields(http.StatusRequestEntityTooLarge)
	})
	t.Run("nothing bad reached the engine", func(t *testing.T) {
		assert.Empty(t, allOrders(t, f.eng))
	})
}

func TestListOrders(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		body := fmt.Sprintf(`{"id":"o-%d","customer":"c%d","sku":"pork","amountRequested":10}`, i, i%2)
		r := f.do(http.MethodPost, "/api/orders", body)
		require.Equal(t, http.StatusAccepted, r.Code)
		f.waitTerminal(fmt.Sprintf("o-%d", i))
	}
	pages := func(query string) []string {
		t.Helper()
		var seen []string
		cursor := ""
		for range 100 {
			r := f.do(http.MethodGet, "/api/orders?"+query+"&limit=2&cursor="+cursor, "")
			require.Equal(t, http.StatusOK, r.Code, r.Body.String())
			m := r.json()
			for _, o := range m["orders"].([]any) {
				seen = append(seen, o.(map[string]any)["id"].(string))
			}
			next, _ := m["nextCursor"].(string)
			if next == "" {
				return seen
			}
			cursor = next
		}
		t.Fatal("pages never end")
		return nil
	}
	assert.Equal(t, []string{"o-4", "o-3", "o-2", "o-1", "o-0"}, pages("status=allocated"), "newest first by default, nothing twice")
	assert.Equal(t, []string{"o-0", "o-1", "o-2", "o-3", "o-4"}, pages("order=asc"), "oldest first when asked")
	assert.Equal(t, []string{"o-1", "o-3"}, pages("order=asc&customer=c1"))
	assert.Equal(t, []string{"o-0", "o-1", "o-2", "o-3", "o-4"}, pages("order=asc&sku=pork"))
	assert.Empty(t, pages("sku=beef"))
	assert.Empty(t, f.do(http.MethodGet, "/api/orders?status=rejected", "").json()["orders"])
	o2 := f.do(http.MethodGet, "/api/orders/o-2", "").json()
	at := o2["acceptedAt"].(string)
	assert.Equal(t, []string{"o-2", "o-3", "o-4"}, pages("order=asc&since="+url.QueryEscape(at)), "since is inclusive")
	assert.Equal(t, []string{"o-0", "o-1"}, pages("order=asc&until="+url.QueryEscape(at)), "until is exclusive")
	for _, q := range []string{"status=done", "limit=0", "limit=x", "limit=1001", "cursor=bm9wZQ", "cursor=***", "order=up", "since=yesterday", "colour=red"} {
		f.do(http.MethodGet, "/api/orders?"+q, "").problemFields(http.StatusBadRequest)
	}
	// A cursor is for the listing that issued it.
	r := f.do(http.MethodGet, "/api/inventory/P-1/ledger?limit=1", "").json()
	f.do(http.MethodGet, "/api/orders?cursor="+r["nextCursor"].(string), "").problemFields(http.StatusBadRequest)
}

// allOrders pages through every order the engine has.
func allOrders(t testing.TB, e *actors.Engine) []inventory.Order {
	t.Helper()
	var out []inventory.Order
	q := actors.OrderQuery{Limit: 1000}
	for {
		page, next, err := e.ListOrders(q)
		require.NoError(t, err)
		out = append(out, page...)
		if next == nil {
			return out
		}
		q.After = next
	}
}

// GET /healthz: its body and headers, counted in the HTTP metrics like
// every route; other methods and a malformed query are refused.
func TestHealthz(t *testing.T) {
	f := newFixture(t)
	r := f.do(http.MethodGet, "/healthz", "")
	require.Equal(t, http.StatusOK, r.Code)
	assert.JSONEq(t, `{"status":"ok"}`, r.Body.String())
	assert.Equal(t, "application/json", r.Header().Get("Content-Type"))
	assert.Equal(t, "nosniff", r.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, "no-store", r.Header().Get("Cache-Control"))
	f.do(http.MethodGet, "/healthz", "")
	metrics := f.do(http.MethodGet, "/metrics", "").Body.String()
	assert.Contains(t, metrics, `baconator_http_requests_total{code="200",method="GET",route="/healthz"} 2`)
	assert.Contains(t, metrics, `baconator_http_request_duration_seconds_count{method="GET",route="/healthz"} 2`)

	assert.Equal(t, http.StatusMethodNotAllowed, f.do(http.MethodPost, "/healthz", "").Code)
	assert.Equal(t, []string{"query"}, f.do(http.MethodGet, "/healthz?x=%zz", "").problemFields(http.StatusBadRequest))
}
