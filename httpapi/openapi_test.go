package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenAPIMatchesRoutes keeps /openapi.json true: every route Echo
// serves is documented, and nothing documented is missing.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := newFixture(t)
	r := f.do(http.MethodGet, "/openapi.json", "")
	require.Equal(t, http.StatusOK, r.Code)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(r.Body.Bytes(), &doc))
	assert.True(t, strings.HasPrefix(doc.OpenAPI, "3."), "an OpenAPI 3 document")

	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if slices.Contains([]string{"get", "post", "put", "patch", "delete"}, method) {
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	param := regexp.MustCompile(`:(\w+)`)
	var served []string
	for _, rt := range f.api.Routes() {
		if strings.HasPrefix(rt.Path, "/swagger") || strings.HasPrefix(rt.Path, "/floor/") {
			continue // the UIs' files, not part of the API
		}
		served = append(served, rt.Method+" "+param.ReplaceAllString(rt.Path, "{$1}"))
	}
	slices.Sort(documented)
	slices.Sort(served)
	assert.Equal(t, served, documented)
}
