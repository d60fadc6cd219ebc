package httpapi

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHoldsLotsAndTraces walks a recall the way an operator would: orders
// ship from lot L-1, the lot is held (nothing more ships from it), released,
// recalled, traced forward as JSON and CSV with totals that reconcile with
// the ledgers, an order traced back, the recalled weight written off; and
// bad requests change nothing.
func TestHoldsLotsAndTraces(t *testing.T) {
	f := newFixture(t) // P-1, P-2, P-3 of lot L-1, 1,000 lb each
	for _, id := range []string{"a", "b"} {
		r := f.do(http.MethodPost, "/api/orders", `{"id":"`+id+`","customer":"Funky Customer #1","amountRequested":600}`)
		require.Equal(t, http.StatusAccepted, r.Code, r.Body.String())
		f.waitTerminal(id)
	}
	r := f.do(http.MethodPost, "/api/orders/b/cancel", "")
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())

	t.Run("bad holds change nothing", func(t *testing.T) {
		f := f.in(t)
		for body, field := range map[string]string{
			`{"reason":"lab"}`:                                                 "status",
			`{"status":"recalled","reason":"lab"}`:                             "status",
			`{"status":"on_hold"}`:                                             "reason",
			`{"status":"on_hold","reason":""}`:                                 "reason",
			`{"status":"on_hold","reason":null}`:                               "reason",
			`{"status":"on_hold","reason":"` + strings.Repeat("é", 257) + `"}`: "reason",
			`{"status":"on_hold","reason":"x","colour":1}`:                     "colour",
		} {
			assert.Equal(t, []string{field}, f.do(http.MethodPost, "/api/inventory/P-1/hold", body).problemFields(http.StatusBadRequest), body)
		}
		f.do(http.MethodPost, "/api/inventory/nope/hold", `{"status":"on_hold","reason":"x"}`).problemFields(http.StatusNotFound)
		f.do(http.MethodPost, "/api/lots/nope/hold", `{"status":"on_hold","reason":"x"}`).problemFields(http.StatusNotFound)
		f.do(http.MethodPost, "/api/inventory/P-1/write-off", `{"reason":"because"}`).problemFields(http.StatusBadRequest)
		f.do(http.MethodGet, "/api/inventory/expiry?buckets=3,1", "").problemFields(http.StatusBadRequest)
		assert.Equal(t, "available", f.do(http.MethodGet, "/api/lots/L-1", "").json()["status"])
	})

	r = f.do(http.MethodPost, "/api/lots/L-1/hold", `{"status":"quarantined","reason":"lab test","note":"swab 17"}`)
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	lot := r.json()
	assert.Equal(t, "quarantined", lot["status"])
	assert.EqualValues(t, 2400, lot["weightLbs"])
	assert.EqualValues(t, 0, lot["availableLbs"])
	assert.EqualValues(t, 2400, lot["onHoldLbs"])

	r = f.do(http.MethodPost, "/api/orders", `{"id":"c","customer":"Other","amountRequested":1}`)
	require.Equal(t, http.StatusAccepted, r.Code)
	c := f.waitTerminal("c")
	assert.Equal(t, "rejected", c["status"], "nothing else is on the floor")
	assert.Equal(t, "insufficient_stock", c["reason"])

	assert.Equal(t, "available", f.do(http.MethodPost, "/api/lots/L-1/release", "").json()["status"], "a release needs no body")
	p := f.do(http.MethodPost, "/api/inventory/P-2/hold", `{"status":"on_hold","reason":"dropped"}`).json()
	assert.Equal(t, "on_hold", p["status"])
	assert.EqualValues(t, 0, p["availableLbs"])
	assert.Equal(t, "mixed", f.do(http.MethodGet, "/api/lots/L-1", "").json()["status"])

	r = f.do(http.MethodPost, "/api/lots/L-1/recall", `{"reason":"supplier recall","note":"FSIS notice"}`)
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	tr := r.json()
	assert.Equal(t, "L-1", tr["lot"])
	shipments := tr["shipments"].([]any)
	require.Len(t, shipments, 3, "a's 600 lb (P-1), b's 400 + 200 lb (P-1, P-2)")
	byOrder := map[string]float64{}
	returned := map[string]float64{}
	for _, s := range shipments {
		s := s.(map[string]any)
		byOrder[s["orderId"].(string)] += s["lbs"].(float64)
		returned[s["orderId"].(string)] += s["returnedLbs"].(float64)
		assert.Equal(t, "Funky Customer #1", s["customer"])
	}
	assert.Equal(t, map[string]float64{"a": 600, "b": 600}, byOrder)
	assert.Equal(t, map[string]float64{"a": 0, "b": 600}, returned, "b's cancel gave its weight back")
	totals := tr["totals"].(map[string]any)
	assert.EqualValues(t, 3000, totals["receivedLbs"])
	assert.EqualValues(t, 1200, totals["allocatedLbs"])
	assert.EqualValues(t, 600, totals["returnedLbs"])
	assert.EqualValues(t, 2400, totals["onHandLbs"])
	for _, pl := range tr["pallets"].([]any) {
		assert.Equal(t, "recalled", pl.(map[string]any)["status"])
	}
	f.do(http.MethodPost, "/api/inventory/P-1/release", "").problemFields(http.StatusConflict)

	r = f.do(http.MethodGet, "/api/lots/L-1/trace?format=csv", "")
	require.Equal(t, http.StatusOK, r.Code)
	assert.Equal(t, "text/csv; charset=utf-8", r.Header().Get("Content-Type"))
	rows, err := csv.NewReader(strings.NewReader(r.Body.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 4)
	assert.Equal(t, csvHeader, rows[0])
	assert.Equal(t, []string{"L-1", "pork", "P-1", "Farm_1"}, rows[1][:4])
	assert.Equal(t, "a", rows[1][6])
	assert.Equal(t, "600.00", rows[1][8])
	assert.Equal(t, r.Body.String(), f.do(http.MethodGet, "/api/lots/L-1/trace", "", "Accept", "text/csv").Body.String())

	back := f.do(http.MethodGet, "/api/orders/a/trace", "").json()
	assert.Equal(t, "allocated", back["status"])
	allocs := back["allocations"].([]any)
	require.Len(t, allocs, 1)
	assert.Equal(t, "L-1", allocs[0].(map[string]any)["lot"])
	assert.NotEmpty(t, allocs[0].(map[string]any)["receivedDate"])

	exp := f.do(http.MethodGet, "/api/inventory/expiry", "").json()
	buckets := exp["buckets"].([]any)
	require.Len(t, buckets, 5)
	var sum float64
	for _, b := range buckets {
		sum += b.(map[string]any)["weightLbs"].(float64)
		assert.EqualValues(t, 0, b.(map[string]any)["availableLbs"], "recalled weight is not available")
	}
	assert.EqualValues(t, 2400, sum)
	assert.Nil(t, buckets[4].(map[string]any)["toDays"])

	w := f.do(http.MethodPost, "/api/inventory/P-1/write-off", `{"reason":"recalled"}`).json()
	assert.Equal(t, "written_off", w["status"])
	assert.EqualValues(t, 0, w["weightLbs"])
	ledger := f.do(http.MethodGet, "/api/inventory/P-1/ledger", "").json()["entries"].([]any)
	last := ledger[len(ledger)-1].(map[string]any)
	assert.Equal(t, "written_off", last["kind"])
	assert.EqualValues(t, -400, last["lbs"])
	assert.Equal(t, "recalled", last["reason"])
	f.do(http.MethodPost, "/api/inventory/P-1/hold", `{"status":"on_hold","reason":"x"}`).problemFields(http.StatusConflict)
	totals = f.do(http.MethodGet, "/api/lots/L-1/trace", "").json()["totals"].(map[string]any)
	assert.EqualValues(t, -400, totals["writtenOffLbs"])
	assert.EqualValues(t, 2000, totals["onHandLbs"], "received + adjusted - allocated + returned + written off")
}

// TestRequestMetrics: every request is counted and timed by its route's
// pattern (never the path, so ids make no series), method and status, and
// the build is in baconator_build_info.
func TestRequestMetrics(t *testing.T) {
	f := newFixture(t)
	f.do(http.MethodGet, "/api/inventory/P-1", "")
	f.do(http.MethodGet, "/api/inventory/P-2", "")
	f.do(http.MethodGet, "/api/inventory/nope", "")
	f.do(http.MethodGet, "/no/such/page", "")
	body := f.do(http.MethodGet, "/metrics", "").Body.String()
	assert.Contains(t, body, `baconator_http_requests_total{code="200",method="GET",route="/api/inventory/:id"} 2`)
	assert.Contains(t, body, `baconator_http_requests_total{code="404",method="GET",route="/api/inventory/:id"} 1`)
	assert.Contains(t, body, `baconator_http_requests_total{code="404",method="GET",route="unmatched"} 1`)
	assert.Contains(t, body, `baconator_http_request_duration_seconds_count{method="GET",route="/api/inventory/:id"} 3`)
	assert.NotContains(t, body, "P-1", "no series per id")
	assert.Regexp(t, `baconator_build_info\{goversion="go[^"]+",revision="[^"]*",version="[^"]+"\} 1`, body)
}
