package httpapi

import (
	"net/http"
	"testing"
)

// The decoders' fuzz targets run whole requests through the handlers: no
// input may panic or get a 5xx. Seed corpus: testdata/fuzz.

func fuzzEndpoint(f *testing.F, method, path string, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	fx := newFixture(f) // one engine for every input
	f.Fuzz(func(t *testing.T, body string) {
		fx.t = t
		r := fx.do(method, path, body)
		if r.Code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", method, path, body, r.Code, r.Body.String())
		}
	})
}

func FuzzPlaceOrder(f *testing.F) {
	fuzzEndpoint(f, http.MethodPost, "/api/orders",
		`{"id":"o-1","customer":"Funky Customer #1","amountRequested":1500,"createdAt":"2026-11-26T09:00:00Z"}`,
		`{"customer":"c","amountRequested":0.01,"minShelfLifeDays":3,"sku":"beef"}`,
		`{"customer":"c","amountRequested":-1e309}`, `[]`, `{"customer":null}`, `{"amountRequested":1.005}`)
}

func FuzzReceivePallet(f *testing.F) {
	fuzzEndpoint(f, http.MethodPost, "/api/inventory",
		`{"id":"P-9","supplier":"Farm_17","weightLbs":1000,"expirationDate":"2099-12-10T00:00:00Z"}`,
		`{"supplier":"F","weightLbs":12.5,"expirationDate":"2099-12-10T00:00:00Z","receivedDate":"2099-12-01T00:00:00Z","version":3}`,
		`{"supplier":"F","weightLbs":"12","expirationDate":1}`)
}

func FuzzAdjustPallet(f *testing.F) {
	fuzzEndpoint(f, http.MethodPost, "/api/inventory/P-1/adjustments",
		`{"deltaLbs":-12.5,"reason":"scale_recalibration"}`, `{"deltaLbs":99999999,"reason":"other"}`)
}
