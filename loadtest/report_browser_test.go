package loadtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/internal/browser"
	"github.com/baconator/baconator/inventory"
)

// chartState is what the page shows of one chart.
type chartState struct {
	ID     string   `json:"id"`
	Width  float64  `json:"width"`
	Height float64  `json:"height"`
	Inked  float64  `json:"inked"`  // share of the canvas's pixels drawn on
	Series int      `json:"series"` // series that hold at least one number
	Empty  []string `json:"empty"`  // series that hold none
}

// chartsJS reads every chart of the page: its canvas's size, how much of
// it is drawn on, and which series hold data.
const chartsJS = `[...document.querySelectorAll("figure.chart")].map((f) => {
  const canvas = f.querySelector("canvas");
  const chart = echarts.getInstanceByDom(f.querySelector("[_echarts_instance_]"));
  const series = chart ? chart.getOption().series : [];
  const hasNumber = (s) => s.data.some((d) => {
    const v = Array.isArray(d) ? d[1] : d.value; // [x, y] of a line, {value} of a bar
    return typeof v === "number";
  });
  let inked = 0;
  if (canvas && canvas.width > 0 && canvas.height > 0) {
    const px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
    inked = n / (canvas.width * canvas.height);
  }
  return {
    id: f.dataset.chart,
    width: canvas ? canvas.getBoundingClientRect().width : 0,
    height: canvas ? canvas.getBoundingClientRect().height : 0,
    inked,
    series: series.filter(hasNumber).length,
    empty: series.filter((s) => !hasNumber(s)).map((s) => s.name),
  };
})`

// TestTheHTMLReportInABrowser runs a short open-loop load with chaos
// against the real server, writes the HTML report and opens it in headless
// Chromium the way an engineer would: the page runs without an error,
// every chart is drawn with data in each of its series, and the summary
// holds the rates, the stock, the server and each audit check. The
// screenshot outlives the test only in BACONATOR_SCREENSHOTS (a
// directory), when that is set, for a person to look at.
func TestTheHTMLReportInABrowser(t *testing.T) {
	p := browser.Open(t, 2*time.Minute) // first: without Chromium, skip before the load
	cfg := DefaultConfig()
	cfg.URL = startServer(t, 2*time.Millisecond)
	cfg.Orders, cfg.Duration, cfg.Concurrency, cfg.Rate, cfg.Lbs = 0, 3*time.Second, 50, 200, inventory.Lbs(1)
	r, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.True(t, r.OK(), "%+v", r.Audit)

	dir := t.TempDir()
	page := filepath.Join(dir, "load-report.html")
	f, err := os.Create(page)
	require.NoError(t, err)
	require.NoError(t, r.WriteHTML(f))
	require.NoError(t, f.Close())

	p.Navigate("file://" + page)
	p.WaitTrue(`document.querySelectorAll("figure.chart canvas").length === document.querySelectorAll("figure.chart").length`, 20*time.Second)
	assert.Empty(t, p.Errors(), "the page runs without an error")

	states := browser.Eval[[]chartState](p, chartsJS)
	var ids []string
	for _, c := range states {
		ids = append(ids, c.ID)
		assert.Positive(t, c.Width, "%s: a canvas with a width", c.ID)
		assert.Positive(t, c.Height, "%s: a canvas with a height", c.ID)
		assert.Greater(t, c.Inked, 0.01, "%s: something is drawn", c.ID)
		assert.Positive(t, c.Series, "%s: series with data", c.ID)
		assert.Empty(t, c.Empty, "%s: no series without data", c.ID)
	}
	assert.Equal(t, []string{"throughput", "outcomes", "acceptLatency", "completionLatency", "serverMemory", "serverCPU"}, ids)

	text := func(id string) string {
		return browser.Eval[string](p, fmt.Sprintf(`document.getElementById(%q)?.textContent ?? ""`, id))
	}
	assert.Contains(t, text("achieved-rate"), fmt.Sprintf("%.0f orders/s", r.AchievedRate))
	assert.Contains(t, text("target-rate"), "200 orders/s")
	assert.Contains(t, text("load-verdict"), "kept up")
	assert.Contains(t, text("stock-pallets"), "200")
	assert.Contains(t, text("server-version"), runtime.Version(), "the server in this process is built with this Go")
	assert.Contains(t, text("chaos"), "strikes during the run")
	assert.Contains(t, text("latency-accept"), fmt.Sprintf("%.2f", r.AcceptLatencyMs.P99))
	if runtime.GOOS == "linux" { // process metrics come from procfs
		assert.Contains(t, text("peak-rss"), "MiB")
		assert.Contains(t, text("mean-cpu"), "cores")
	}

	rows := browser.Eval[[]string](p, `[...document.querySelectorAll("#audit tr.check")].map((tr) => tr.dataset.check + " " + tr.dataset.ok)`)
	var want []string
	for _, c := range r.Audit.Checks {
		want = append(want, fmt.Sprintf("%s %t", c.Name, c.OK))
	}
	assert.Equal(t, want, rows, "each audit check on a row of its own")

	p.Keep("load-report.jpg")
}
