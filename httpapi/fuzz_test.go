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
		if ct := r.Header().Get("Content-Type"); r.Code >= 400 && ct != "application/problem+json" {
			t.Fatalf("%s %s with %q: %d as %q, not problem+json", method, path, body, r.Code, ct)
		}
	})
}

func FuzzPlaceOrder(f *testing.F) {
	fuzzEndpoint(f, http.MethodPost, "/api/orders",
		`{"id":"o-1","customer":"Funky Customer #1","amountRequested":1500,"createdAt":"2026-11-26T09:00:00Z"}`,
		`{"customer":"c","amountRequested":0.01,"minShelfLifeDays":3,"sku":"beef"}`,
		`{"customer":"c","amountRequested":-1e309}`, `[]`, `{"customer":null}`, `{"amountRequested":1.005}`,
		`{"customer":"c","amountRequested":1,"minShelfLifeDays":-0}`, `{"customer":"c","amountRequested":1,"minShelfLifeDays":null}`,
		`{"customer":"c","amountRequested":-0}`, `{"customer":"c","amountRequested":-0.00}`, `{"customer":"c","amountRequested":null}`,
		`{"id":null,"sku":null,"createdAt":null,"customer":"c","amountRequested":1}`, `{"customer":"c","amountRequested":1,"minShelfLifeDays":-0.0}`,
		`{"customer":"c","amountRequested":0,"amountRequested":5}`, `{"customer":"c","amountRequested":5,"AmountRequested":5}`,
		`{"id":"..","customer":"c","amountRequested":1}`, `{"id":".","customer":"c","amountRequested":1}`)
}

func FuzzReceivePallet(f *testing.F) {
	fuzzEndpoint(f, http.MethodPost, "/api/inventory",
		`{"id":"P-9","supplier":"Farm_17","weightLbs":1000,"expirationDate":"2099-12-10T00:00:00Z"}`,
		`{"supplier":"F","weightLbs":12.5,"expirationDate":"2099-12-10T00:00:00Z","receivedDate":"2099-12-01T00:00:00Z","version":3}`,
		`{"supplier":"F","weightLbs":"12","expirationDate":1}`,
		`{"supplier":"F","weightLbs":-0,"expirationDate":"2099-12-10T00:00:00Z"}`,
		`{"id":null,"sku":null,"lot":null,"supplier":"F","weightLbs":1,"expirationDate":"2099-12-10T00:00:00Z","receivedDate":null,"version":null}`,
		`{"supplier":"F","weightLbs":1,"weightLbs":2,"expirationDate":"2099-12-10T00:00:00Z"}`,
		`{"supplier":"F","weightLbs":1,"expirationDate":"2099-12-10T00:00:00Z","version":{"a":1,"a":2}}`,
		`{"id":"...","supplier":"F","weightLbs":1,"expirationDate":"2099-12-10T00:00:00Z"}`)
}

func FuzzAdjustPallet(f *testing.F) {
	fuzzEndpoint(f, http.MethodPost, "/api/inventory/P-1/adjustments",
		`{"deltaLbs":-12.5,"reason":"scale_recalibration"}`, `{"deltaLbs":99999999,"reason":"other"}`,
		`{"deltaLbs":-0,"reason":"other"}`, `{"deltaLbs":null,"reason":null}`, `{"deltaLbs":1,"reason":"other","deltaLbs":-1}`)
}

func FuzzHoldPallet(f *testing.F) {
	fuzzEndpoint(f, http.MethodPost, "/api/inventory/P-1/hold",
		`{"status":"on_hold","reason":"lab test","note":"swab 17"}`,
		`{"status":"quarantined","reason":"x"}`,
		`{"status":"recalled","reason":"x"}`,
		`{"status":"on_hold","reason":"é","note":null}`)
}

func FuzzWriteOffPallet(f *testing.F) {
	fuzzEndpoint(f, http.MethodPost, "/api/inventory/P-3/write-off",
		`{"reason":"damaged"}`, `{"reason":"other","note":"dropped"}`, `{"reason":"because"}`)
}

// FuzzExpiryBuckets: any ?buckets= is a 200 with ascending buckets or a
// 400, never a panic or a 5xx.
func FuzzExpiryBuckets(f *testing.F) {
	for _, s := range []string{"0,3,7,14,30", "0", "5,1", "-1", "0,,3", "3650", " 1, 2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		b, err := parseBuckets(q)
		if err != nil {
			return
		}
		for i := 1; i < len(b); i++ {
			if b[i] <= b[i-1] {
				t.Fatalf("%q: buckets %v not ascending", q, b)
			}
		}
	})
}
