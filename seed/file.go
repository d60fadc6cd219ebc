package seed

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/baconator/baconator/inventory"
)

// File loads pallets from an inventory export: a JSON array of pallets or
// a CSV file with a header row, chosen by the file's extension. Field
// names are the API's: id, sku, lot, supplier, weightLbs, expirationDate,
// receivedDate (supplier, weightLbs and expirationDate required).
type File struct {
	Path string
}

// fileSizeMax bounds an inventory file: 1 GiB is millions of pallets.
const fileSizeMax = 1 << 30

// Pallets reads and parses the file.
func (f File) Pallets(ctx context.Context) ([]inventory.PalletSpec, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("load inventory: %w", err)
	}
	defer fh.Close()
	r := io.LimitReader(fh, fileSizeMax+1)
	var specs []inventory.PalletSpec
	switch ext := strings.ToLower(filepath.Ext(f.Path)); ext {
	case ".json":
		specs, err = ParseJSON(r)
	case ".csv":
		specs, err = ParseCSV(r)
	default:
		return nil, fmt.Errorf("load inventory %s: unknown format %q: want .json or .csv", f.Path, ext)
	}
	if err != nil {
		return nil, fmt.Errorf("load inventory %s: %w", f.Path, err)
	}
	return specs, nil
}

// LineError says where in an inventory file a problem is.
type LineError struct {
	Line  int
	Field string
	Err   error
}

func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("line %d: %s: %v", e.Line, e.Field, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// record is one pallet as the file spells it.
type record struct {
	ID, SKU, Lot, Supplier, Weight, Expires, Received string
	hasWeight                                         bool
}

// spec converts a record, naming the field of the first problem.
func (r record) spec(line int) (inventory.PalletSpec, error) {
	s := inventory.PalletSpec{ID: r.ID, SKU: r.SKU, Lot: r.Lot, Supplier: r.Supplier}
	if s.SKU == "" {
		s.SKU = inventory.DefaultSKU
	}
	if !r.hasWeight {
		return s, &LineError{line, "weightLbs", errors.New("required")}
	}
	w, err := inventory.ParseLbs(r.Weight)
	if err != nil {
		return s, &LineError{line, "weightLbs", err}
	}
	s.Weight = w
	if s.Expires, err = parseTime(r.Expires, true); err != nil {
		return s, &LineError{line, "expirationDate", err}
	}
	if s.Received, err = parseTime(r.Received, false); err != nil {
		return s, &LineError{line, "receivedDate", err}
	}
	if s.Received.IsZero() {
		// A file without receipt times was received in file order: keep
		// ties in FEFO order deterministic by the line they come from.
		s.Received = time.Unix(0, 0).UTC().Add(time.Duration(line) * time.Second)
	}
	if err := s.Validate(); err != nil {
		field, _, _ := strings.Cut(err.Error(), ":")
		return s, &LineError{line, field, err}
	}
	return s, nil
}

func parseTime(v string, required bool) (time.Time, error) {
	if v == "" {
		if required {
			return time.Time{}, errors.New("required")
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time like 2026-12-10T00:00:00Z, got %q", v)
	}
	return t.UTC(), nil
}

// collect converts records and rejects duplicate ids; it returns every
// pallet or the first error.
func collect(recs []record, lines []int) ([]inventory.PalletSpec, error) {
	seen := make(map[string]int, len(recs))
	specs := make([]inventory.PalletSpec, 0, len(recs))
	for i, r := range recs {
		s, err := r.spec(lines[i])
		if err != nil {
			return nil, err
		}
		if first, dup := seen[s.ID]; dup {
			return nil, &LineError{lines[i], "id", fmt.Errorf("%q already on line %d", s.ID, first)}
		}
		seen[s.ID] = lines[i]
		specs = append(specs, s)
	}
	return specs, nil
}

// jsonPallet is a pallet as JSON spells it. The weight stays the raw
// literal so that it is parsed exactly, never through a float.
type jsonPallet struct {
	ID             string          `json:"id"`
	SKU            string          `json:"sku"`
	Lot            string          `json:"lot"`
	Supplier       string          `json:"supplier"`
	WeightLbs      json.RawMessage `json:"weightLbs"`
	ExpirationDate string          `json:"expirationDate"`
	ReceivedDate   string          `json:"receivedDate"`
	Version        json.Number     `json:"version"` // accepted and ignored, as by the API
}

// ParseJSON parses a JSON array of pallets.
func ParseJSON(r io.Reader) ([]inventory.PalletSpec, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(data) > fileSizeMax {
		return nil, fmt.Errorf("larger than %d bytes", fileSizeMax)
	}
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n")) }
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, &LineError{Line: 1, Err: errors.New("want a JSON array of pallets")}
	}
	var (
		recs  []record
		lines []int
	)
	for dec.More() {
		start := dec.InputOffset()
		for start < int64(len(data)) && strings.ContainsRune(" \t\r\n,", rune(data[start])) {
			start++
		}
		line := lineAt(start)
		var p jsonPallet
		if err := dec.Decode(&p); err != nil {
			return nil, &LineError{Line: line, Field: jsonField(err), Err: err}
		}
		w := string(p.WeightLbs)
		if w == "null" {
			w = ""
		}
		if w != "" && (w[0] == '"' || w[0] == '{' || w[0] == '[' || w == "true" || w == "false") {
			return nil, &LineError{Line: line, Field: "weightLbs", Err: fmt.Errorf("want a number of pounds, got %s", w)}
		}
		recs = append(recs, record{ID: p.ID, SKU: p.SKU, Lot: p.Lot, Supplier: p.Supplier,
			Weight: w, hasWeight: w != "", Expires: p.ExpirationDate, Received: p.ReceivedDate})
		lines = append(lines, line)
	}
	if _, err := dec.Token(); err != nil {
		return nil, &LineError{Line: lineAt(dec.InputOffset()), Err: err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &LineError{Line: lineAt(dec.InputOffset()), Err: errors.New("trailing data after the array")}
	}
	return collect(recs, lines)
}

func jsonField(err error) string {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return ute.Field
	}
	if s := err.Error(); strings.HasPrefix(s, "json: unknown field ") {
		return strings.Trim(strings.TrimPrefix(s, "json: unknown field "), `"`)
	}
	return ""
}

// csvColumns are the columns a CSV export may have.
var csvColumns = map[string]bool{"id": true, "sku": true, "lot": true, "supplier": true, "weightLbs": true, "expirationDate": true, "receivedDate": true, "version": true}

// ParseCSV parses a CSV file whose first row names the columns.
func ParseCSV(r io.Reader) ([]inventory.PalletSpec, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, &LineError{Line: 1, Err: fmt.Errorf("read header: %w", err)}
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !csvColumns[h] {
			return nil, &LineError{Line: 1, Field: h, Err: errors.New("unknown column")}
		}
		if _, dup := col[h]; dup {
			return nil, &LineError{Line: 1, Field: h, Err: errors.New("column named twice")}
		}
		col[h] = i
	}
	for _, req := range []string{"supplier", "weightLbs", "expirationDate"} {
		if _, ok := col[req]; !ok {
			return nil, &LineError{Line: 1, Field: req, Err: errors.New("required column missing")}
		}
	}
	var (
		recs  []record
		lines []int
	)
	for {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line, err = pe.Line, pe.Err
			}
			return nil, &LineError{Line: line, Err: err}
		}
		line, _ := cr.FieldPos(0)
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		recs = append(recs, record{ID: get("id"), SKU: get("sku"), Lot: get("lot"), Supplier: get("supplier"),
			Weight: get("weightLbs"), hasWeight: get("weightLbs") != "", Expires: get("expirationDate"), Received: get("receivedDate")})
		lines = append(lines, line)
	}
	return collect(recs, lines)
}
