package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/internal/browser"
)

// The floor page in a real (headless) browser: it loads without an error,
// its numbers move while orders flow, its heat strip shows the FEFO head,
// and a pallet event reaches its feed. Its screenshot: browser.Page.Keep.
func TestTheFloorPageShowsTheFloorLive(t *testing.T) {
	f := newFixture(t, func(c *actors.Config, _ *Config) { c.Chaos.Interval = 50 * time.Millisecond })
	srv := serve(t, f)
	p := browser.Open(t, 90*time.Second)
	p.Navigate(srv.URL + "/")

	p.WaitTrue(`window.floor && window.floor.snapshots >= 2`, 15*time.Second)
	assert.Equal(t, "live", browser.Eval[string](p, `document.getElementById("conn").dataset.state`))
	assert.Equal(t, 3, browser.Eval[int](p, `document.querySelectorAll("#skus .sku[data-sku=pork] .cell").length`), "the heat strip holds the three pallets")
	tile := func(k string) string {
		return browser.Eval[string](p, fmt.Sprintf(`document.querySelector('[data-k=%q]').textContent`, k))
	}
	require.Equal(t, "0", tile("accepted"))

	for i := range 40 {
		r := f.do(http.MethodPost, "/api/orders", fmt.Sprintf(`{"id":"o%d","customer":"c","amountRequested":1}`, i))
		require.Equal(t, http.StatusAccepted, r.Code, r.Body.String())
	}
	p.WaitTrue(`document.querySelector('[data-k=accepted]').textContent === "40"`, 10*time.Second)
	p.WaitTrue(`Number(document.querySelector('[data-k=acceptedRate]').textContent) > 0 || window.floor.snapshots > 4`, 10*time.Second)
	r := f.do(http.MethodPost, "/api/inventory/P-2/hold", `{"status":"on_hold","reason":"lab test"}`)
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	p.WaitTrue(`[...document.querySelectorAll("#feed li")].some(li => li.textContent.includes("P-2") && li.textContent.includes("held"))`, 10*time.Second)
	p.WaitTrue(`document.querySelectorAll("#skus .cell.held").length === 1`, 10*time.Second)
	p.WaitTrue(`document.querySelectorAll("#chart-orders canvas").length > 0`, 10*time.Second)
	// One snapshot's tiles, read at once: the held pallet's weight moved
	// from available to on hold, and the parts add up to what is on the
	// floor.
	texts := browser.Eval[map[string]string](p, `Object.fromEntries(["onHandLbs","availableLbs","reservedLbs","onHoldLbs","expiredLbs"].map(k => [k, document.querySelector('[data-k='+k+']').textContent]))`)
	lbs := map[string]float64{}
	for k, v := range texts {
		n, err := strconv.ParseFloat(strings.ReplaceAll(v, ",", ""), 64)
		require.NoError(t, err, k)
		lbs[k] = n
	}
	assert.Greater(t, lbs["onHoldLbs"], 500.0)
	assert.InDelta(t, lbs["onHandLbs"], lbs["availableLbs"]+lbs["reservedLbs"]+lbs["onHoldLbs"]+lbs["expiredLbs"], 2)

	p.Keep("floor.png")
	assert.Empty(t, p.Errors(), "the page logged errors")
}
