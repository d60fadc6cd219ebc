package loadtest

import (
	_ "embed"
	"fmt"
	"io"

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
	throughput.SetGlobalOptions(charts.WithTitleOpts(opts.Title{Title: "Orders per second", Subtitle: fmt.Sprintf("%s, %d clients", r.Mode, r.Concurrency)}),
		tooltip, legend, charts.WithYAxisOpts(opts.YAxis{Name: "orders/s"}))
	throughput.SetXAxis(secs).
		AddSeries("accepted", accepted).AddSeries("completed", completed).AddSeries("throttled (429)", throttled)

	latency := charts.NewLine()
	latency.SetGlobalOptions(charts.WithTitleOpts(opts.Title{Title: "Completion latency", Subtitle: "sent to terminal, per second of completion"}),
		tooltip, legend, charts.WithYAxisOpts(opts.YAxis{Name: "ms"}))
	latency.SetXAxis(secs).AddSeries("p50", p50).AddSeries("p99", p99)

	outcomes := charts.NewBar()
	outcomes.SetGlobalOptions(charts.WithTitleOpts(opts.Title{Title: "Outcomes", Subtitle: auditLine(r)}), tooltip)
	outcomes.SetXAxis([]string{"allocated", "rejected", "cancelled", "throttled", "failed", "unfinished"}).
		AddSeries("orders", []opts.BarData{{Value: r.Allocated}, {Value: r.Rejected}, {Value: r.Cancelled}, {Value: r.Throttled}, {Value: r.Failed}, {Value: r.Unfinished}})

	page := components.NewPage()
	page.PageTitle = "Baconator load run"
	page.AddCharts(throughput, latency, outcomes)
	page.ClearPresetJSAssets() // after AddCharts, which merges each chart's CDN tag in
	page.AddCustomizedHeaders("<script>" + echartsJS + "</script>")
	return page.Render(w)
}

func auditLine(r *Report) string {
	if r.OK() {
		return "audit: every invariant holds"
	}
	return "audit: FAILED"
}
