package naive_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/internal/naive"
	"github.com/baconator/baconator/inventory"
)

type answer struct {
	Status      string `json:"status"`
	Reason      string `json:"reason"`
	Allocations []struct {
		PalletID string  `json:"palletId"`
		Lbs      float64 `json:"lbs"`
	} `json:"allocations"`
}

func post(t *testing.T, h http.Handler, body string) answer {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/orders", strings.NewReader(body)))
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	var a answer
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &a))
	return a
}

func warehouse() []inventory.PalletSpec {
	now := time.Now()
	var specs []inventory.PalletSpec
	for i, days := range []int{9, 3, 6} {
		specs = append(specs, inventory.PalletSpec{ID: fmt.Sprint("P", i), SKU: "pork", Weight: inventory.Lbs(100), Expires: now.AddDate(0, 0, days)})
	}
	return specs
}

// The reference must allocate as ours does, or the comparison is unfair.
func TestTheReferenceAllocatesFEFOAllOrNothing(t *testing.T) {
	h := naive.New(warehouse()).Handler()
	a := post(t, h, `{"customer":"c","amountRequested":150}`)
	require.Equal(t, "allocated", a.Status)
	require.Len(t, a.Allocations, 2)
	assert.Equal(t, "P1", a.Allocations[0].PalletID) // 3 days, then 6
	assert.Equal(t, "P2", a.Allocations[1].PalletID)
	assert.Equal(t, 50.0, a.Allocations[1].Lbs)

	a = post(t, h, `{"customer":"c","amountRequested":151}`) // 150 left
	assert.Equal(t, "rejected", a.Status)
	assert.Equal(t, "insufficient_stock", a.Reason)

	a = post(t, h, `{"customer":"c","amountRequested":60,"minShelfLifeDays":7}`) // only P0 qualifies
	require.Equal(t, "allocated", a.Status)
	assert.Equal(t, "P0", a.Allocations[0].PalletID)
}

func TestTheReferenceNeverOversellsUnderConcurrency(t *testing.T) {
	s := naive.New(warehouse())
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	var mu sync.Mutex
	var allocated float64
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range 10 {
				resp, err := srv.Client().Post(srv.URL+"/api/orders", "application/json", strings.NewReader(`{"customer":"c","amountRequested":2.5}`))
				if err != nil {
					t.Error(err)
					return
				}
				var a answer
				_ = json.NewDecoder(resp.Body).Decode(&a)
				resp.Body.Close()
				mu.Lock()
				for _, x := range a.Allocations {
					allocated += x.Lbs
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 300.0, allocated+float64(s.OnHand("pork"))/100) // conservation
	assert.Equal(t, 300.0-100*2.5, float64(s.OnHand("pork"))/100)
}
