package httpapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNullIsAbsentAndMinusZeroIsZero pins the rules README's "Choices the
// contract left open" states: null for a field is the field omitted; -0 is
// zero, so a whole number field takes it as 0 and a weight that must be
// positive or non-zero refuses it.
func TestNullIsAbsentAndMinusZeroIsZero(t *testing.T) {
	f := newFixture(t)
	exp := future(4)

	t.Run("an order with nulls and -0 is the order without them", func(t *testing.T) {
		f := f.in(t)
		first := f.do(http.MethodPost, "/api/orders", `{"id":"plain","customer":"c","amountRequested":1}`)
		require.Equal(t, http.StatusAccepted, first.Code, first.Body.String())
		for _, body := range []string{
			`{"id":"plain","customer":"c","amountRequested":1,"sku":null,"minShelfLifeDays":null,"createdAt":null}`,
			`{"id":"plain","customer":"c","amountRequested":1,"minShelfLifeDays":-0}`,
			`{"id":"plain","customer":"c","amountRequested":1,"minShelfLifeDays":0,"sku":"pork"}`,
		} {
			r := f.do(http.MethodPost, "/api/orders", body)
			assert.Equal(t, http.StatusOK, r.Code, "%s: a repeat of the same order, not a conflict: %s", body, r.Body.String())
		}
		r := f.do(http.MethodPost, "/api/orders", `{"id":null,"customer":"c","amountRequested":1}`)
		require.Equal(t, http.StatusAccepted, r.Code, r.Body.String())
		assert.NotEqual(t, "null", r.json()["orderId"], "a null id is no id: the server makes one")
	})

	t.Run("a receipt with nulls is the receipt without them", func(t *testing.T) {
		f := f.in(t)
		r := f.do(http.MethodPost, "/api/inventory", `{"id":null,"sku":null,"lot":null,"supplier":"F","weightLbs":2,"expirationDate":"`+exp+`","receivedDate":null,"version":null}`)
		require.Equal(t, http.StatusCreated, r.Code, r.Body.String())
		p := r.json()
		assert.Equal(t, "pork", p["sku"])
		assert.Equal(t, "", p["lot"])
		assert.NotEqual(t, "null", p["id"])
		assert.NotNil(t, p["receivedDate"], "absent: received now")
	})

	tests := []struct {
		name, path, body, field, message string
	}{
		{"null customer is missing", "/api/orders", `{"customer":null,"amountRequested":1}`, "customer", "required"},
		{"null amount is missing", "/api/orders", `{"customer":"c","amountRequested":null}`, "amountRequested", "required"},
		{"-0 lb is not positive", "/api/orders", `{"customer":"c","amountRequested":-0}`, "amountRequested", "must be positive"},
		{"-0.00 lb is not positive", "/api/orders", `{"customer":"c","amountRequested":-0.00}`, "amountRequested", "must be positive"},
		{"-0.0 days is not a whole number", "/api/orders", `{"customer":"c","amountRequested":1,"minShelfLifeDays":-0.0}`, "minShelfLifeDays", "must be a whole number from 0 to 3650"},
		{"1.0 days is not a whole number", "/api/orders", `{"customer":"c","amountRequested":1,"minShelfLifeDays":1.0}`, "minShelfLifeDays", "must be a whole number from 0 to 3650"},
		{"1e0 days is not a whole number", "/api/orders", `{"customer":"c","amountRequested":1,"minShelfLifeDays":1e0}`, "minShelfLifeDays", "must be a whole number from 0 to 3650"},
		{"null supplier is missing", "/api/inventory", `{"supplier":null,"weightLbs":1,"expirationDate":"` + exp + `"}`, "supplier", "required"},
		{"null weight is missing", "/api/inventory", `{"supplier":"F","weightLbs":null,"expirationDate":"` + exp + `"}`, "weightLbs", "required"},
		{"-0 weight is not positive", "/api/inventory", `{"supplier":"F","weightLbs":-0,"expirationDate":"` + exp + `"}`, "weightLbs", "must be positive"},
		{"null expiration is missing", "/api/inventory", `{"supplier":"F","weightLbs":1,"expirationDate":null}`, "expirationDate", "required"},
		{"null delta is missing", "/api/inventory/P-1/adjustments", `{"deltaLbs":null,"reason":"other"}`, "deltaLbs", "required"},
		{"-0 delta is zero", "/api/inventory/P-1/adjustments", `{"deltaLbs":-0,"reason":"other"}`, "deltaLbs", "must not be zero"},
		{"null reason is missing", "/api/inventory/P-1/adjustments", `{"deltaLbs":1,"reason":null}`, "reason", "required"},
		{"no reason is missing", "/api/inventory/P-1/adjustments", `{"deltaLbs":1}`, "reason", "required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.in(t).do(http.MethodPost, tc.path, tc.body)
			assert.Equal(t, []string{tc.field}, r.problemFields(http.StatusBadRequest))
			assert.Equal(t, tc.message, r.json()["errors"].([]any)[0].(map[string]any)["message"])
		})
	}
	for _, e := range f.do(http.MethodGet, "/api/inventory/P-1/ledger", "").json()["entries"].([]any) {
		assert.NotEqual(t, "adjusted", e.(map[string]any)["kind"], "no adjustment went through")
	}
}
