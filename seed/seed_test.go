package seed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/inventory"
)

var now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func TestSyntheticMatchesTheOriginalDemo(t *testing.T) {
	specs, err := Synthetic{Count: 2000, Seed: 42, Now: now}.Pallets(context.Background())
	require.NoError(t, err)
	require.Len(t, specs, 2000)
	ids := map[string]bool{}
	suppliers := map[string]bool{}
	for _, s := range specs {
		require.NoError(t, s.Validate())
		assert.Equal(t, inventory.Lbs(1000), s.Weight)
		assert.Equal(t, "pork", s.SKU)
		days := s.Expires.Sub(now).Hours() / 24
		assert.True(t, days >= 5 && days <= 29, "%s expires %.1f days out", s.ID, days)
		assert.False(t, s.Received.After(now))
		assert.False(t, ids[s.ID], "duplicate id %s", s.ID)
		ids[s.ID] = true
		suppliers[s.Supplier] = true
	}
	assert.Greater(t, len(suppliers), 90, "suppliers spread over Farm_1…Farm_99")
	assert.True(t, suppliers["Farm_1"] || suppliers["Farm_99"])

	again, err := Synthetic{Count: 2000, Seed: 42, Now: now}.Pallets(context.Background())
	require.NoError(t, err)
	assert.Equal(t, specs, again, "the same seed gives the same warehouse")
	other, err := Synthetic{Count: 2000, Seed: 43, Now: now}.Pallets(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, specs, other)

	tagged, err := Synthetic{Count: 3, Seed: 42, Now: now, SKU: "beef", Tag: "p07"}.Pallets(context.Background())
	require.NoError(t, err)
	for i, s := range tagged {
		require.NoError(t, s.Validate())
		assert.Equal(t, "beef", s.SKU)
		assert.Equal(t, fmt.Sprintf("P-p07-%04d", i+1), s.ID, "a tag keeps ids apart from another warehouse's")
		assert.Regexp(t, `^L-p07-\d{8}-\d{3}$`, s.Lot)
	}
}

const goodJSON = `[
  {"id":"P-1","supplier":"Farm_17","weightLbs":1000,"expirationDate":"2026-12-10T00:00:00Z"},
  {"id":"P-2","sku":"beef","lot":"L-1","supplier":"Farm_3","weightLbs":12.5,
   "expirationDate":"2026-12-11T00:00:00Z","receivedDate":"2026-11-25T08:00:00Z","version":7}
]`

const goodCSV = `id,sku,lot,supplier,weightLbs,expirationDate,receivedDate
P-1,,,Farm_17,1000,2026-12-10T00:00:00Z,
P-2,beef,L-1,Farm_3,12.5,2026-12-11T00:00:00Z,2026-11-25T08:00:00Z
`

func TestParseGoodFiles(t *testing.T) {
	for name, parse := range map[string]func() ([]inventory.PalletSpec, error){
		"json": func() ([]inventory.PalletSpec, error) { return ParseJSON(strings.NewReader(goodJSON)) },
		"csv":  func() ([]inventory.PalletSpec, error) { return ParseCSV(strings.NewReader(goodCSV)) },
	} {
		t.Run(name, func(t *testing.T) {
			specs, err := parse()
			require.NoError(t, err)
			require.Len(t, specs, 2)
			assert.Equal(t, "pork", specs[0].SKU, "sku defaults to pork")
			assert.Equal(t, inventory.Lbs(1000), specs[0].Weight)
			assert.Equal(t, inventory.CentiLbs(1250), specs[1].Weight, "weights are exact")
			assert.Equal(t, "beef", specs[1].SKU)
			assert.Equal(t, time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC), specs[1].Received)
		})
	}
}

func TestBadFilesNameLineAndFieldAndLoadNothing(t *testing.T) {
	tests := []struct {
		name, json, csv string
		line            int
		field           string
	}{
		{
			name:  "more than two decimals",
			json:  "[\n{\"id\":\"a\",\"supplier\":\"F\",\"weightLbs\":1,\"expirationDate\":\"2026-12-10T00:00:00Z\"},\n{\"id\":\"b\",\"supplier\":\"F\",\"weightLbs\":1.234,\"expirationDate\":\"2026-12-10T00:00:00Z\"}]",
			csv:   "id,supplier,weightLbs,expirationDate\na,F,1,2026-12-10T00:00:00Z\nb,F,1.234,2026-12-10T00:00:00Z\n",
			line:  3,
			field: "weightLbs",
		},
		{
			name:  "negative weight",
			json:  "[\n\n{\"id\":\"a\",\"supplier\":\"F\",\"weightLbs\":-5,\"expirationDate\":\"2026-12-10T00:00:00Z\"}]",
			csv:   "id,supplier,weightLbs,expirationDate\n\na,F,-5,2026-12-10T00:00:00Z\n",
			line:  3,
			field: "weightLbs",
		},
		{
			name:  "bad date",
			json:  "[{\"id\":\"a\",\"supplier\":\"F\",\"weightLbs\":5,\"expirationDate\":\"next tuesday\"}]",
			csv:   "id,supplier,weightLbs,expirationDate\na,F,5,next tuesday\n",
			field: "expirationDate",
		},
		{
			name:  "missing supplier",
			json:  "[{\"id\":\"a\",\"weightLbs\":5,\"expirationDate\":\"2026-12-10T00:00:00Z\"}]",
			csv:   "id,supplier,weightLbs,expirationDate\na,,5,2026-12-10T00:00:00Z\n",
			field: "supplier",
		},
		{
			name:  "duplicate id",
			json:  "[{\"id\":\"a\",\"supplier\":\"F\",\"weightLbs\":5,\"expirationDate\":\"2026-12-10T00:00:00Z\"},\n{\"id\":\"a\",\"supplier\":\"F\",\"weightLbs\":5,\"expirationDate\":\"2026-12-10T00:00:00Z\"}]",
			csv:   "id,supplier,weightLbs,expirationDate\na,F,5,2026-12-10T00:00:00Z\na,F,5,2026-12-10T00:00:00Z\n",
			field: "id",
		},
		{
			name:  "unknown field",
			json:  "[{\"id\":\"a\",\"colour\":\"pink\",\"supplier\":\"F\",\"weightLbs\":5,\"expirationDate\":\"2026-12-10T00:00:00Z\"}]",
			csv:   "id,colour,supplier,weightLbs,expirationDate\na,pink,F,5,2026-12-10T00:00:00Z\n",
			field: "colour",
		},
		{
			name:  "weight as a string",
			json:  "[{\"id\":\"a\",\"supplier\":\"F\",\"weightLbs\":\"5\",\"expirationDate\":\"2026-12-10T00:00:00Z\"}]",
			csv:   "id,supplier,weightLbs,expirationDate\na,F,five,2026-12-10T00:00:00Z\n",
			field: "weightLbs",
		},
	}
	for _, tc := range tests {
		for format, parse := range map[string]func(string) ([]inventory.PalletSpec, error){
			"json": func(s string) ([]inventory.PalletSpec, error) { return ParseJSON(strings.NewReader(s)) },
			"csv":  func(s string) ([]inventory.PalletSpec, error) { return ParseCSV(strings.NewReader(s)) },
		} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				in := tc.json
				if format == "csv" {
					in = tc.csv
				}
				specs, err := parse(in)
				require.Error(t, err)
				assert.Nil(t, specs, "a bad file loads nothing")
				var le *LineError
				require.True(t, errors.As(err, &le), "%v", err)
				assert.Equal(t, tc.field, le.Field, "%v", err)
				if tc.line != 0 {
					assert.Equal(t, tc.line, le.Line, "%v", err)
				}
			})
		}
	}
}

func TestFileChoosesFormatByExtension(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"inv.json": goodJSON, "inv.CSV": goodCSV} {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
		specs, err := File{Path: path}.Pallets(context.Background())
		require.NoError(t, err)
		assert.Len(t, specs, 2)
	}
	_, err := File{Path: filepath.Join(dir, "inv.xlsx")}.Pallets(context.Background())
	assert.Error(t, err)
	_, err = File{Path: filepath.Join(dir, "missing.json")}.Pallets(context.Background())
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// The fuzzers check that no input panics and that whatever parses is a
// valid set of pallets with distinct ids.
func checkParsed(t *testing.T, specs []inventory.PalletSpec, err error) {
	if err != nil {
		if specs != nil {
			t.Fatalf("error %v with %d pallets: a bad file must load nothing", err, len(specs))
		}
		return
	}
	ids := map[string]bool{}
	for _, s := range specs {
		if verr := s.Validate(); verr != nil {
			t.Fatalf("parsed an invalid pallet: %v", verr)
		}
		if ids[s.ID] {
			t.Fatalf("duplicate id %s parsed", s.ID)
		}
		ids[s.ID] = true
	}
}

func FuzzParseJSON(f *testing.F) {
	f.Add(goodJSON)
	f.Add(`[{"id":"a","supplier":"F","weightLbs":1e400,"expirationDate":"2026-12-10T00:00:00Z"}]`)
	f.Add(`[`)
	f.Fuzz(func(t *testing.T, in string) {
		specs, err := ParseJSON(strings.NewReader(in))
		checkParsed(t, specs, err)
	})
}

func FuzzParseCSV(f *testing.F) {
	f.Add(goodCSV)
	f.Add("supplier,weightLbs,expirationDate\n\"F\",1.5,2026-12-10T00:00:00Z\n")
	f.Fuzz(func(t *testing.T, in string) {
		specs, err := ParseCSV(strings.NewReader(in))
		checkParsed(t, specs, err)
	})
}
