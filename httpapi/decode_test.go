package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
)

// reusableBody is a request body that can be read again after a reset, so
// a benchmark measures the decoder and not the request's construction.
type reusableBody struct{ *bytes.Reader }

func (reusableBody) Close() error { return nil }

// BenchmarkDecodeOrder measures POST /api/orders' hot path up to the
// engine: strict decoding of a typical body and its validation.
func BenchmarkDecodeOrder(b *testing.B) {
	body := []byte(`{"id":"order-000042","customer":"Funky Customer #1","sku":"pork","amountRequested":1500,"minShelfLifeDays":3}`)
	e := echo.New()
	req := httptest.NewRequest(http.MethodPost, "/api/orders", nil)
	req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	rd := bytes.NewReader(body)
	rec := httptest.NewRecorder()
	c := e.NewContext(req, rec)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		req.Body = reusableBody{rd}
		c.Reset(req, rec)
		var in orderRequestJSON
		if err := decodeJSON(c, &in); err != nil {
			b.Fatal(err)
		}
		if _, err := in.request(""); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDuplicateKeysAreRejected(t *testing.T) {
	f := newFixture(t)
	exp := future(4)
	tests := []struct {
		name, path, body, field string
	}{
		{"order: the last would win", "/api/orders", `{"customer":"c","amountRequested":0,"amountRequested":5}`, "amountRequested"},
		{"order: same value twice", "/api/orders", `{"customer":"c","customer":"c","amountRequested":5}`, "customer"},
		{"order: differing in case", "/api/orders", `{"customer":"c","amountRequested":1,"AMOUNTREQUESTED":5}`, "AMOUNTREQUESTED"},
		{"order: escaped", "/api/orders", `{"customer":"c","amountRequested":1,"amount\u0052equested":5}`, "amountRequested"},
		{"order: null does not hide a key", "/api/orders", `{"customer":"c","amountRequested":5,"sku":null,"sku":"beef"}`, "sku"},
		{"receipt", "/api/inventory", `{"supplier":"F","weightLbs":1,"weightLbs":2,"expirationDate":"` + exp + `"}`, "weightLbs"},
		{"receipt: nested in an ignored field", "/api/inventory", `{"supplier":"F","weightLbs":1,"expirationDate":"` + exp + `","version":{"a":1,"a":2}}`, "version.a"},
		{"receipt: nested in an array", "/api/inventory", `{"supplier":"F","weightLbs":1,"expirationDate":"` + exp + `","version":[{},{"b":1,"b":1}]}`, "version.b"},
		{"adjustment", "/api/inventory/P-1/adjustments", `{"deltaLbs":1,"reason":"other","deltaLbs":-1}`, "deltaLbs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.in(t).do(http.MethodPost, tc.path, tc.body)
			assert.Equal(t, []string{tc.field}, r.problemFields(http.StatusBadRequest))
			assert.Equal(t, "duplicate key", r.json()["errors"].([]any)[0].(map[string]any)["message"])
		})
	}
	t.Run("distinct keys in different objects are fine", func(t *testing.T) {
		r := f.in(t).do(http.MethodPost, "/api/inventory", `{"supplier":"F","weightLbs":1,"expirationDate":"`+exp+`","version":{"supplier":1,"x":{"supplier":2}}}`)
		assert.Equal(t, http.StatusCreated, r.Code, r.Body.String())
	})
	assert.Empty(t, allOrders(t, f.eng), "nothing with a repeated key reached the engine")
	assert.EqualValues(t, 1000, f.do(http.MethodGet, "/api/inventory/P-1", "").json()["weightLbs"])
}

// Ids made only of dots would be created and then be unreachable: clients
// normalise /api/orders/.. to /api.
func TestIdsOfDotsAreRejected(t *testing.T) {
	f := newFixture(t)
	exp := future(4)
	for _, id := range []string{".", "..", "...", "...................."} {
		t.Run(id, func(t *testing.T) {
			f := f.in(t)
			r := f.do(http.MethodPost, "/api/orders", `{"id":"`+id+`","customer":"c","amountRequested":1}`)
			assert.Equal(t, []string{"id"}, r.problemFields(http.StatusBadRequest))
			r = f.do(http.MethodPost, "/api/orders", `{"customer":"c","amountRequested":1}`, "Idempotency-Key", id)
			assert.Equal(t, []string{"Idempotency-Key"}, r.problemFields(http.StatusBadRequest))
			r = f.do(http.MethodPost, "/api/inventory", `{"id":"`+id+`","supplier":"F","weightLbs":1,"expirationDate":"`+exp+`"}`)
			assert.Equal(t, []string{"id"}, r.problemFields(http.StatusBadRequest))
		})
	}
	assert.Empty(t, allOrders(t, f.eng))
	assert.Len(t, f.eng.Inventory(""), 3)
	t.Run("dots among other characters are fine", func(t *testing.T) {
		f := f.in(t)
		for _, id := range []string{".a", "a..", "..a.", "v1.2"} {
			r := f.do(http.MethodPost, "/api/orders", `{"customer":"c","amountRequested":1}`, "Idempotency-Key", id)
			assert.Equal(t, http.StatusAccepted, r.Code, r.Body.String())
			assert.Equal(t, "/api/orders/"+id, r.Header().Get("Location"))
		}
	})
}
