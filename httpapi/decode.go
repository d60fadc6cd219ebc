package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/baconator/baconator/inventory"
)

// bodyMaxBytes bounds every request body.
const bodyMaxBytes = 64 << 10

// decodeJSON reads a JSON object into dst strictly: JSON content type
// (415), at most bodyMaxBytes (413), well-formed (400), no unknown fields,
// no wrong types and no key twice in one object (400 naming the field),
// nothing after the object.
func decodeJSON(c echo.Context, dst any) error {
	req := c.Request()
	if !isJSON(req.Header.Get(echo.HeaderContentType)) {
		return problem(http.StatusUnsupportedMediaType, "unsupported-media-type", "send Content-Type: application/json")
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, bodyMaxBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return problem(http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("the body is over %d bytes", bodyMaxBytes))
		}
		return problem(http.StatusBadRequest, "unreadable-body", "read body: "+err.Error())
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return invalid(FieldError{Field: "body", Message: "required: a JSON object"})
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeProblem(err)
	}
	if len(bytes.TrimSpace(data[dec.InputOffset():])) > 0 {
		return problem(http.StatusBadRequest, "malformed-json", "unexpected data after the JSON object")
	}
	if key, ok := duplicateKey(data[:dec.InputOffset()]); ok {
		return invalid(FieldError{Field: key, Message: "duplicate key"})
	}
	return nil
}

// isJSON accepts application/json and +json media types; the exact common
// header is checked first without parsing.
func isJSON(ct string) bool {
	if ct == "application/json" || ct == "application/json; charset=utf-8" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func decodeProblem(err error) *Problem {
	var syn *json.SyntaxError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return problem(http.StatusBadRequest, "malformed-json", fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem(http.StatusBadRequest, "malformed-json", "malformed JSON: unexpected end")
	case errors.As(err, &ute):
		if ute.Field == "" {
			return invalid(FieldError{Field: "body", Message: "must be a JSON object"})
		}
		return invalid(FieldError{Field: ute.Field, Message: "must be a " + jsonKind(ute.Type.Kind().String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid(FieldError{Field: strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), Message: "unknown field"})
	}
	return problem(http.StatusBadRequest, "malformed-json", "malformed JSON: "+err.Error())
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string", "ptr":
		return "string"
	case "slice":
		return "number"
	}
	return goKind
}

// fields collects validation errors so that one answer names them all.
type fields []FieldError

func (f *fields) add(field, format string, args ...any) {
	*f = append(*f, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (f fields) err() error {
	if len(f) == 0 {
		return nil
	}
	return invalid(f...)
}

// lbs parses a weight: a JSON number (not a string) of pounds with at most
// two decimals, exactly. It reports whether the field was present.
func (f *fields) lbs(field string, raw json.RawMessage, required bool) (inventory.CentiLbs, bool) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || s == "null" {
		if required {
			f.add(field, "required")
		}
		return 0, false
	}
	if s[0] == '"' || s[0] == '{' || s[0] == '[' || s == "true" || s == "false" {
		f.add(field, "must be a number of pounds")
		return 0, false
	}
	w, err := inventory.ParseLbs(s)
	if err != nil {
		f.add(field, "must be pounds with at most two decimals, up to %s: got %s", inventory.WeightMaxCentiLbs, s)
		return 0, false
	}
	return w, true
}

// integer parses a whole JSON number within [lo, hi].
func (f *fields) integer(field string, raw json.RawMessage, lo, hi int) int {
	s := string(bytes.TrimSpace(raw))
	if s == "" || s == "null" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		f.add(field, "must be a whole number from %d to %d", lo, hi)
		return 0
	}
	return n
}

// text checks an optional string's length and that it is printable.
func (f *fields) text(field string, v *string, required bool, maxLen int) string {
	if v == nil || *v == "" {
		if required {
			f.add(field, "required")
		}
		return ""
	}
	if len(*v) > maxLen {
		f.add(field, "longer than %d characters", maxLen)
		return ""
	}
	for _, r := range *v {
		if r < 0x20 || r == 0x7f {
			f.add(field, "must not contain control characters")
			return ""
		}
	}
	return *v
}

// id checks an identifier that will appear in URLs: letters, digits and
// . _ - : ~ only, and not dots alone. "." and ".." are path segments that
// clients normalise away (/api/orders/.. is /api), so such an order could
// be created and never read; "..." would be reachable, but refusing every
// all-dots id keeps the rule short enough to state.
func (f *fields) id(field string, v string) string {
	if v == "" {
		return ""
	}
	if len(v) > inventory.IDLenMax {
		f.add(field, "longer than %d characters", inventory.IDLenMax)
		return ""
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-:~", c) >= 0) {
			f.add(field, "may hold only letters, digits and . _ - : ~")
			return ""
		}
	}
	if strings.Trim(v, ".") == "" {
		f.add(field, "must not be only dots")
		return ""
	}
	return v
}

// timestamp parses an optional RFC 3339 time, returned in UTC.
func (f *fields) timestamp(field string, v *string, required bool) time.Time {
	if v == nil || *v == "" {
		if required {
			f.add(field, "required")
		}
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, *v)
	if err != nil {
		f.add(field, "must be an RFC 3339 time like 2026-12-10T00:00:00Z")
		return time.Time{}
	}
	return t.UTC()
}
