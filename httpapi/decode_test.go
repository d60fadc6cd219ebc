package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
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
