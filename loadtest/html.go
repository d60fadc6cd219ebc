package loadtest

import (
	_ "embed"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/components"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// echartsJS is Apache ECharts, inlined so the report opens offline
// (assets/VERSION says which release).
//
//go:embed assets/echarts.min.js
var echartsJS string

// WriteHTML writes a self-contained page with the run's throughput and
// latency over time and its outcomes.
func (r *Report) WriteHTML(w io.Writer) error {
	secs := make([]string, len(r.Timeline))
	accepted := make([]opts.LineData, len(r.Timeline))
	completed := make([]opts.LineData, len(r.Timeline))
	throttled := make([]opts.LineData, len(r.Timeline))
	p50 := make([]opts.LineData, len(r.Timeline))
	p99 := make([]opts.LineData, len(r.Timeline))
	for i, s := range r.Timeline {
		secs[i] = fmt.Sprintf("%ds", s.T)
		accepted[i], completed[i], throttled[i] = opts.LineData{Value: s.Accepted}, opts.LineData{Value: s.Completed}, opts.LineData{Value: s.Throttled}
		p50[i], p99[i] = opts.LineData{Value: s.CompletionP50Ms}, opts.LineData{Value: s.CompletionP99Ms}
	}
	tooltip := charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"})
	legend := charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "bottom"})

	throughput := charts.NewLine()
	throughput.SetGlobalOptions(charts.WithTitleOpts(opts.Title{Title: "Orders per second", Subtitle: fmt.Sprintf("%s, %d clients%s", r.Mode, r.Concurrency, loadLine(r))}),
		tooltip, legend, charts.WithYAxisOpts(opts.YAxis{Name: "orders/s"}))
	throughput.SetXAxis(secs).
		AddSeries("accepted", accepted).AddSeries("completed", completed).AddSeries("throttled (429)", throttled)

	latency := charts.NewLine()
	latency.SetGlobalOptions(charts.WithTitleOpts(opts.Title{Title: "Completion latency", Subtitle: "sent to terminal, per second of completion"}),
		tooltip, legend, charts.WithYAxisOpts(opts.YAxis{Name: "ms"}))
	latency.SetXAxis(secs).AddSeries("p50", p50).AddSeries("p99", p99)

	outcomes := charts.NewBar()
	outcomes.SetGlobalOptions(charts.WithTitleOpts(opts.Title{Title: "Outcomes", Subtitle: fmt.Sprintf("%s; stock at the start: %d pallets, %.0f lb available", auditLine(r), r.StockBefore.Pallets, r.StockBefore.AvailableLbs)}), tooltip)
	outcomes.SetXAxis([]string{"allocated", "rejected", "cancelled", "throttled", "failed", "unfinished"}).
		AddSeries("orders", []opts.BarData{{Value: r.Allocated}, {Value: r.Rejected}, {Value: r.Cancelled}, {Value: r.Throttled}, {Value: r.Failed}, {Value: r.Unfinished}})

	page := components.NewPage()
	page.PageTitle = "Baconator load run"
	page.AddCharts(throughput, latency, serverChart(r, tooltip, legend), outcomes)
	page.ClearPresetJSAssets() // after AddCharts, which merges each chart's CDN tag in
	page.AddCustomizedHeaders("<script>" + echartsJS + "</script>")
	return page.Render(w)
}

// loadLine is the load verdict for a chart's subtitle.
func loadLine(r *Report) string {
	switch {
	case r.TargetRate <= 0:
		return ""
	case r.Saturated:
		return fmt.Sprintf("; SATURATED: %.0f/s offered, %.0f/s sent (%s)", r.TargetRate, r.AchievedRate, strings.Join(r.SaturationReasons, "; "))
	}
	return fmt.Sprintf("; kept up: %.0f/s offered, %.0f/s sent", r.TargetRate, r.AchievedRate)
}

func auditLine(r *Report) string {
	if r.OK() {
		return "audit: every invariant holds"
	}
	return "audit: FAILED"
}

// serverChart plots the server's resident memory and Go heap over the run
// (what a soak is for: both should level off, not climb) and the cores it
// kept busy, on a second axis.
func serverChart(r *Report, global ...charts.GlobalOpts) *charts.Line {
	t := make([]string, len(r.Server))
	rss := make([]opts.LineData, len(r.Server))
	heap := make([]opts.LineData, len(r.Server))
	cores := make([]opts.LineData, len(r.Server))
	for i, s := range r.Server {
		t[i] = fmt.Sprintf("%.0fs", s.T)
		rss[i], heap[i] = opts.LineData{Value: round1(s.RSSBytes / mib)}, opts.LineData{Value: round1(s.HeapBytes / mib)}
		if i > 0 && s.T > r.Server[i-1].T {
			cores[i] = opts.LineData{Value: round1((s.CPUSeconds - r.Server[i-1].CPUSeconds) / (s.T - r.Server[i-1].T))}
		}
	}
	subtitle := "read from the server's /metrics every second"
	if warm, end, ok := r.MemoryDrift(); ok {
		subtitle = fmt.Sprintf("RSS %.1f MiB at %.0fs, %.1f MiB at the end (%+.1f%%)", warm.RSSBytes/mib, warm.T, end.RSSBytes/mib, 100*(end.RSSBytes-warm.RSSBytes)/warm.RSSBytes)
	}
	line := charts.NewLine()
	line.SetGlobalOptions(append(global,
		charts.WithTitleOpts(opts.Title{Title: "Server memory and CPU", Subtitle: subtitle}),
		charts.WithYAxisOpts(opts.YAxis{Name: "MiB"}))...)
	line.ExtendYAxis(opts.YAxis{Name: "cores", Position: "right"})
	line.SetXAxis(t).
		AddSeries("resident (RSS)", rss).AddSeries("Go heap in use", heap).
		AddSeries("CPU (cores)", cores, charts.WithLineChartOpts(opts.LineChart{YAxisIndex: 1}))
	return line
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
