package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestEveryErrorIsAProblem sends requests that fail outside the JSON
// handlers (the Swagger UI's files, unknown routes and methods): each
// answer is problem+json, and nothing outside the embedded UI is served.
func TestEveryErrorIsAProblem(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		method, target string
		status         int
	}{
		{http.MethodGet, "/swagger/../../etc/passwd", http.StatusNotFound},
		{http.MethodGet, "/swagger/..%2f..%2fetc%2fpasswd", http.StatusNotFound},
		{http.MethodGet, "/swagger/%2e%2e/%2e%2e/etc/passwd", http.StatusNotFound},
		{http.MethodGet, "/swagger/%2fetc%2fpasswd", http.StatusNotFound},
		{http.MethodGet, "/swagger/..%5c..%5cwindows", http.StatusNotFound},
		{http.MethodGet, "/swagger/./index.css", http.StatusNotFound},
		{http.MethodGet, "/swagger//index.html", http.StatusNotFound},
		{http.MethodGet, "/swagger/nope.js", http.StatusNotFound},
		{http.MethodGet, "/swagger/swagger-ui.css/x", http.StatusNotFound},
		{http.MethodGet, "/no/such/route", http.StatusNotFound},
		{http.MethodGet, "/api/orders/a/b/c", http.StatusNotFound},
		{http.MethodDelete, "/api/orders", http.StatusMethodNotAllowed},
		{http.MethodPut, "/swagger/index.html", http.StatusMethodNotAllowed},
		{http.MethodPost, "/healthz", http.StatusMethodNotAllowed},
		{"BREW", "/api/inventory", http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
			reply{rec, t}.problemFields(tc.status)
		})
	}
	t.Run("the UI's files are served", func(t *testing.T) {
		for target, ct := range map[string]string{
			"/swagger/":                       "text/html; charset=utf-8",
			"/swagger/index.html":             "text/html; charset=utf-8",
			"/swagger/swagger-ui.css":         "text/css; charset=utf-8",
			"/swagger/swagger-ui-bundle.js":   "text/javascript; charset=utf-8",
			"/swagger/swagger-initializer.js": "text/javascript; charset=utf-8",
			"/swagger/favicon-32x32.png":      "image/png",
			"/swagger/VERSION":                "text/plain; charset=utf-8",
		} {
			r := f.in(t).do(http.MethodGet, target, "")
			assert.Equal(t, http.StatusOK, r.Code, target)
			assert.Equal(t, ct, r.Header().Get("Content-Type"), target)
			assert.Equal(t, "nosniff", r.Header().Get("X-Content-Type-Options"), target)
		}
	})
}
