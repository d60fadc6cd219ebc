package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/actors"
)

func future(days int) string {
	return time.Now().UTC().Add(time.Duration(days) * 24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
}

func TestReceiveAndReadPallets(t *testing.T) {
	f := newFixture(t)
	body := fmt.Sprintf(`{"id":"P-9","sku":"pork","lot":"L-9","supplier":"Farm_17","weightLbs":12.5,"expirationDate":%q,"version":42}`, future(4))
	r := f.do(http.MethodPost, "/api/inventory", body)
	require.Equal(t, http.StatusCreated, r.Code, r.Body.String())
	assert.Equal(t, "/api/inventory/P-9", r.Header().Get("Location"))
	p := r.json()
	assert.EqualValues(t, 12.5, p["weightLbs"])
	assert.EqualValues(t, 12.5, p["availableLbs"])
	assert.EqualValues(t, 0, p["reservedLbs"])
	assert.EqualValues(t, 1, p["version"], "the client's version is accepted and ignored")
	assert.Equal(t, false, p["expired"])

	f.do(http.MethodPost, "/api/inventory", body).problemFields(http.StatusConflict)

	t.Run("listing is FEFO with totals over the whole filter", func(t *testing.T) {
		m := f.do(http.MethodGet, "/api/inventory?limit=2", "").json()
		assert.EqualValues(t, 4, m["batchCount"])
		assert.EqualValues(t, 3012.5, m["totalLbs"])
		assert.EqualValues(t, 3012.5, m["totalPorkLbs"])
		assert.EqualValues(t, 3012.5, m["availableLbs"])
		batches := m["batches"].([]any)
		require.Len(t, batches, 2)
		assert.Equal(t, "P-9", batches[0].(map[string]any)["id"], "it expires first")
		next := m["nextCursor"].(string)
		m = f.do(http.MethodGet, "/api/inventory?limit=2&cursor="+next, "").json()
		batches = m["batches"].([]any)
		assert.Equal(t, "P-2", batches[0].(map[string]any)["id"])
		assert.Nil(t, m["nextCursor"])
		assert.EqualValues(t, 0, f.do(http.MethodGet, "/api/inventory?sku=beef", "").json()["batchCount"])
		for _, q := range []string{"limit=0", "limit=abc", "limit=10001", "cursor=bm9wZQ"} {
			f.do(http.MethodGet, "/api/inventory?"+q, "").problemFields(http.StatusBadRequest)
		}
	})
	f.do(http.MethodGet, "/api/inventory/nope", "").problemFields(http.StatusNotFound)
}

func TestReceiveValidation(t *testing.T) {
	f := newFixture(t)
	exp := future(4)
	tests := []struct {
		name, body string
		status     int
		fields     []string
	}{
		{"missing supplier", `{"weightLbs":1,"expirationDate":"` + exp + `"}`, 400, []string{"supplier"}},
		{"missing weight", `{"supplier":"F","expirationDate":"` + exp + `"}`, 400, []string{"weightLbs"}},
		{"zero weight", `{"supplier":"F","weightLbs":0,"expirationDate":"` + exp + `"}`, 400, []string{"weightLbs"}},
		{"three decimals", `{"supplier":"F","weightLbs":0.001,"expirationDate":"` + exp + `"}`, 400, []string{"weightLbs"}},
		{"missing expiration", `{"supplier":"F","weightLbs":1}`, 400, []string{"expirationDate"}},
		{"expires before received", `{"supplier":"F","weightLbs":1,"expirationDate":"` + exp + `","receivedDate":"2099-01-01T00:00:00Z"}`, 400, []string{"expirationDate"}},
		{"already expired", `{"supplier":"F","weightLbs":1,"expirationDate":"2020-01-01T00:00:00Z","receivedDate":"2019-12-01T00:00:00Z"}`, 422, nil},
		{"unknown field", `{"supplier":"F","weightLbs":1,"expirationDate":"` + exp + `","colour":"pink"}`, 400, []string{"colour"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields := f.do(http.MethodPost, "/api/inventory", tc.body).problemFields(tc.status)
			if tc.fields != nil {
				assert.Equal(t, tc.fields, fields)
			}
		})
	}
	assert.Len(t, f.eng.Inventory(""), 3, "nothing bad was received")
}

func TestAdjustmentsAndLedger(t *testing.T) {
	f := newFixture(t)
	r := f.do(http.MethodPost, "/api/inventory/P-1/adjustments", `{"deltaLbs":-12.5,"reason":"scale_recalibration"}`)
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	p := r.json()
	assert.EqualValues(t, 987.5, p["weightLbs"])
	assert.EqualValues(t, 2, p["version"])

	f.do(http.MethodPost, "/api/inventory/P-1/adjustments", `{"deltaLbs":-5000,"reason":"damage"}`).problemFields(http.StatusUnprocessableEntity)
	assert.Equal(t, []string{"deltaLbs"}, f.do(http.MethodPost, "/api/inventory/P-1/adjustments", `{"deltaLbs":0,"reason":"damage"}`).problemFields(400))
	assert.Equal(t, []string{"reason"}, f.do(http.MethodPost, "/api/inventory/P-1/adjustments", `{"deltaLbs":1,"reason":"magic"}`).problemFields(400))
	f.do(http.MethodPost, "/api/inventory/nope/adjustments", `{"deltaLbs":1,"reason":"other"}`).problemFields(http.StatusNotFound)

	r = f.do(http.MethodPost, "/api/orders", `{"id":"o","customer":"c","amountRequested":100}`)
	require.Equal(t, http.StatusAccepted, r.Code)
	f.waitTerminal("o")

	m := f.do(http.MethodGet, "/api/inventory/P-1/ledger", "").json()
	assert.Equal(t, "P-1", m["palletId"])
	var kinds []string
	var sum float64
	for _, e := range m["entries"].([]any) {
		en := e.(map[string]any)
		kinds = append(kinds, en["kind"].(string))
		sum += en["lbs"].(float64)
	}
	assert.Equal(t, []string{"received", "adjusted", "allocated"}, kinds)
	assert.InDelta(t, 887.5, sum, 1e-9, "the ledger sums to the pallet's weight")
	assert.EqualValues(t, 887.5, f.do(http.MethodGet, "/api/inventory/P-1", "").json()["weightLbs"])
	f.do(http.MethodGet, "/api/inventory/nope/ledger", "").problemFields(http.StatusNotFound)
}

func TestAuthRoles(t *testing.T) {
	keys, err := ParseKeys("viewer-key-0123456789:viewer,sales-key-01234567890:sales\noperator-key-0123456789:operator")
	require.NoError(t, err)
	f := newFixture(t, func(_ *actors.Config, c *Config) { c.Keys = keys })
	order := `{"customer":"c","amountRequested":1}`
	pallet := `{"supplier":"F","weightLbs":1,"expirationDate":"` + future(3) + `"}`
	bearer := func(k string) []string { return []string{"Authorization", "Bearer " + k} }

	r := f.do(http.MethodGet, "/api/inventory", "")
	r.problemFields(http.StatusUnauthorized)
	assert.Contains(t, r.Header().Get("WWW-Authenticate"), "Bearer")
	f.do(http.MethodGet, "/api/inventory", "", bearer("wrong-key-0123456789")...).problemFields(http.StatusUnauthorized)

	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, "/api/inventory", "", bearer("viewer-key-0123456789")...).Code)
	f.do(http.MethodPost, "/api/orders", order, bearer("viewer-key-0123456789")...).problemFields(http.StatusForbidden)
	assert.Equal(t, http.StatusAccepted, f.do(http.MethodPost, "/api/orders", order, bearer("sales-key-01234567890")...).Code)
	f.do(http.MethodPost, "/api/inventory", pallet, bearer("sales-key-01234567890")...).problemFields(http.StatusForbidden)
	assert.Equal(t, http.StatusCreated, f.do(http.MethodPost, "/api/inventory", pallet, bearer("operator-key-0123456789")...).Code)
	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, "/healthz", "").Code, "operations endpoints need no key")

	hold := `{"status":"on_hold","reason":"lab"}`
	for _, k := range []string{"viewer-key-0123456789", "sales-key-01234567890"} {
		f.do(http.MethodPost, "/api/inventory/P-1/hold", hold, bearer(k)...).problemFields(http.StatusForbidden)
		f.do(http.MethodPost, "/api/lots/L-1/recall", `{"reason":"r"}`, bearer(k)...).problemFields(http.StatusForbidden)
		f.do(http.MethodPost, "/api/inventory/P-1/write-off", `{"reason":"damaged"}`, bearer(k)...).problemFields(http.StatusForbidden)
	}
	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, "/api/lots/L-1/trace", "", bearer("viewer-key-0123456789")...).Code, "a viewer reads traces")
	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, "/api/inventory/expiry", "", bearer("viewer-key-0123456789")...).Code)
	assert.Equal(t, http.StatusOK, f.do(http.MethodPost, "/api/lots/L-1/hold", hold, bearer("operator-key-0123456789")...).Code, "an operator holds")

	for _, bad := range []string{"k:viewer", "long-enough-key-123:admin", "no-role-here-at-all"} {
		_, err := ParseKeys(bad)
		assert.Error(t, err, bad)
	}
}

func TestOperations(t *testing.T) {
	f := newFixture(t)
	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, "/healthz", "").Code)
	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, "/readyz", "").Code)

	r := f.do(http.MethodPost, "/api/orders", `{"id":"m","customer":"c","amountRequested":1}`)
	require.Equal(t, http.StatusAccepted, r.Code)
	f.waitTerminal("m")
	metrics := f.do(http.MethodGet, "/metrics", "").Body.String()
	for _, want := range []string{
		`baconator_orders_total{outcome="allocated"} 1`, `baconator_orders_total{outcome="accepted"} 1`,
		"baconator_conflicts_total", "baconator_retries_total", "baconator_intake_depth",
		"baconator_allocation_latency_seconds_count 1", "go_goroutines",
	} {
		assert.Contains(t, metrics, want)
	}

	r = f.do(http.MethodGet, "/swagger/", "")
	require.Equal(t, http.StatusOK, r.Code)
	assert.Contains(t, r.Body.String(), "swagger-ui")
	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, "/swagger/swagger-ui-bundle.js", "").Code)
	assert.Equal(t, http.StatusMovedPermanently, f.do(http.MethodGet, "/swagger", "").Code)

	f.do(http.MethodGet, "/no/such/route", "").problemFields(http.StatusNotFound)
	f.do(http.MethodDelete, "/api/orders", "").problemFields(http.StatusMethodNotAllowed)

	f.api.Drain()
	f.do(http.MethodGet, "/readyz", "").problemFields(http.StatusServiceUnavailable)
	r = f.do(http.MethodPost, "/api/orders", `{"customer":"c","amountRequested":1}`)
	r.problemFields(http.StatusServiceUnavailable)
	assert.Equal(t, "1", r.Header().Get("Retry-After"))
	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, "/api/orders/m", "").Code, "reads go on while draining")
}

func TestNotReadyUntilLoaded(t *testing.T) {
	f := newFixture(t)
	api := New(Config{Engine: f.eng}) // a second API over the engine, never marked ready
	r := (&fixture{t: t, eng: f.eng, api: api, h: api.Handler()}).do(http.MethodGet, "/readyz", "")
	assert.Equal(t, http.StatusServiceUnavailable, r.Code)
	assert.True(t, strings.Contains(r.Body.String(), "loading"))
	r = (&fixture{t: t, eng: f.eng, api: api, h: api.Handler()}).do(http.MethodPost, "/api/orders", `{"customer":"c","amountRequested":1}`)
	assert.Equal(t, http.StatusServiceUnavailable, r.Code, "no order is taken before the warehouse is loaded")
}

func TestLedgersArePaged(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		r := f.do(http.MethodPost, "/api/inventory/P-2/adjustments", fmt.Sprintf(`{"deltaLbs":%d,"reason":"count_correction"}`, i+1))
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	}
	var versions []float64
	cursor := ""
	for range 10 {
		m := f.do(http.MethodGet, "/api/inventory/P-2/ledger?limit=2&cursor="+cursor, "").json()
		for _, e := range m["entries"].([]any) {
			versions = append(versions, e.(map[string]any)["version"].(float64))
		}
		next, _ := m["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Equal(t, []float64{1, 2, 3, 4, 5, 6}, versions, "the receipt and five adjustments, oldest first, each once")
	for _, q := range []string{"limit=0", "limit=10001", "cursor=abc"} {
		f.do(http.MethodGet, "/api/inventory/P-2/ledger?"+q, "").problemFields(http.StatusBadRequest)
	}
	f.do(http.MethodGet, "/api/inventory/nope/ledger", "").problemFields(http.StatusNotFound)
}

// An emptied pallet leaves the floor (it retires) but not the books: it is
// listed among the empty ones and still read by id, with its ledger.
func TestInventoryStates(t *testing.T) {
	f := newFixture(t)
	r := f.do(http.MethodPost, "/api/orders", `{"id":"all-of-P1","customer":"c","amountRequested":1000}`)
	require.Equal(t, http.StatusAccepted, r.Code)
	f.waitTerminal("all-of-P1")
	ids := func(query string) []string {
		t.Helper()
		var out []string
		for _, b := range f.do(http.MethodGet, "/api/inventory?"+query, "").json()["batches"].([]any) {
			out = append(out, b.(map[string]any)["id"].(string))
		}
		return out
	}
	require.Eventually(t, func() bool { return f.eng.RetiredCount("") == 1 }, 10*time.Second, time.Millisecond, "the emptied pallet retires")
	assert.Equal(t, []string{"P-2", "P-3"}, ids(""), "by default, what is on the floor")
	assert.Equal(t, []string{"P-1"}, ids("state=empty"))
	assert.Equal(t, []string{"P-1", "P-2", "P-3"}, ids("state=all"))
	assert.Equal(t, []string{"P-1", "P-2", "P-3"}, ids("state=active,empty"))
	m := f.do(http.MethodGet, "/api/inventory?state=all&limit=1", "").json()
	assert.EqualValues(t, 3, m["batchCount"], "totals cover the whole filtered inventory")
	assert.EqualValues(t, 2000, m["totalLbs"])
	next := m["nextCursor"].(string)
	m = f.do(http.MethodGet, "/api/inventory?state=all&limit=1&cursor="+next, "").json()
	assert.Equal(t, "P-2", m["batches"].([]any)[0].(map[string]any)["id"], "a page starts after the last, across the floor and the retired")
	p := f.do(http.MethodGet, "/api/inventory/P-1", "").json()
	assert.EqualValues(t, 0, p["weightLbs"])
	assert.Len(t, f.do(http.MethodGet, "/api/inventory/P-1/ledger", "").json()["entries"], 2, "received, allocated")
	for _, q := range []string{"state=gone", "state=active,", "cursor=zzz"} {
		f.do(http.MethodGet, "/api/inventory?"+q, "").problemFields(http.StatusBadRequest)
	}
}
