package loadtest

import (
	"fmt"
	"html/template"
	"math"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/go-echarts/go-echarts/v2/render"
	"github.com/go-echarts/go-echarts/v2/types"
)

// chartPointsMax bounds the points of a chart's series. A run of up to 12
// minutes (a 10-minute soak and its tail) is drawn second by second; a
// longer one in buckets of several seconds, so a day's soak makes a page
// no bigger than 12 minutes do.
const chartPointsMax = 720

// chartHeight is each chart's height; the width follows the page.
const chartHeight = "300px"

// chartView is a chart as the page places it: a heading and a caption in
// HTML (searchable, and never overlapping the plot) over ECharts' element
// and the script that draws into it.
type chartView struct {
	ID, Title, Caption string
	Element, Script    template.HTML
}

// view renders c for the page. id names the chart's variables in the
// page's script, so it must be a JavaScript identifier: no dashes.
func view(id, title, caption string, c render.Renderer) chartView {
	s := c.RenderSnippet()
	return chartView{ID: id, Title: title, Caption: caption, Element: template.HTML(s.Element), Script: template.HTML(s.Script)}
}

// charts draws the run's course — throughput, outcomes, accept and
// completion latency — and the server's — memory, CPU and queue.
func (r *Report) charts() []chartView {
	step := chartStep(len(r.Timeline))
	tl := bucketTimeline(r.Timeline, step, r.WallSeconds)
	srv := bucketServer(r.Server, chartStep(len(r.Server)))
	x := xAxis(r)
	grain := "per second"
	if step > 1 {
		grain = fmt.Sprintf("per %d s (mean rates; p50 averaged, p99 the worst second)", step)
	}
	return []chartView{
		view("throughput", "Orders per second", "answers by the second they arrived, "+grain+r.offeredNote(), throughputChart(x, r, tl)),
		view("outcomes", "Outcomes", fmt.Sprintf("%s sent; %s", thousands(float64(r.Sent), 0), auditLine(r)), outcomesChart(r)),
		view("acceptLatency", "Accept latency", "order sent (or due, open loop) to 202, by the second of the answer, "+grain+"; log scale"+r.noAcceptNote(),
			latencyChart(x, "acceptLatency", tl, func(b bucket) (float64, float64) { return b.acceptP50, b.acceptP99 })),
		view("completionLatency", "Completion latency", "order sent (or due) to terminal, by the second it ended, "+grain+"; log scale",
			latencyChart(x, "completionLatency", tl, func(b bucket) (float64, float64) { return b.completionP50, b.completionP99 })),
		view("serverMemory", "Server memory", r.memoryCaption(), memoryChart(x, srv)),
		view("serverCPU", "Server CPU and queue", "cores busy between reads of /metrics; goroutines and orders waiting in the intake on the right", cpuChart(x, srv)),
	}
}

// noAcceptNote explains an empty accept-latency chart: reports written
// before the timeline kept accept latencies have none to draw.
func (r *Report) noAcceptNote() string {
	for _, s := range r.Timeline {
		if s.AcceptP99Ms > 0 {
			return ""
		}
	}
	return " (none in this report)"
}

// offeredNote is an open loop's rates and load verdict, on the first chart
// as well as in the summary.
func (r *Report) offeredNote() string {
	if r.TargetRate <= 0 {
		return ""
	}
	verdict := "kept up"
	if r.Saturated {
		verdict = "SATURATED"
	}
	return fmt.Sprintf("; %.0f/s offered, %.0f/s sent: %s", r.TargetRate, r.AchievedRate, verdict)
}

func auditLine(r *Report) string {
	if r.OK() {
		return "audit: every invariant holds"
	}
	return "audit: FAILED"
}

func (r *Report) memoryCaption() string {
	if warm, end, ok := r.MemoryDrift(); ok {
		return rssDrift(warm, end) + "; a soak should level off, not climb"
	}
	return "read from the server's /metrics every second (no resident memory exported: no procfs?)"
}

// chartStep is how many entries each point of a chart covers.
func chartStep(n int) int { return max(1, (n+chartPointsMax-1)/chartPointsMax) }

// bucket is step seconds of the timeline as one point: mean rates, the
// count-weighted mean of the p50s and the worst p99 (a spike stays in
// sight). A latency of 0 means the bucket saw no answer.
type bucket struct {
	t, span                        float64 // start and seconds covered
	mid                            float64 // where it is drawn
	accepted, completed, throttled float64 // per second
	acceptP50, acceptP99           float64
	completionP50, completionP99   float64
}

// sliverMin is the shortest stretch a rate is worked out over: the run's
// last second is cut short where the run ended, and a few answers in its
// first milliseconds are no rate.
const sliverMin = 0.5

// bucketTimeline merges the timeline, which ends at end seconds, into
// buckets of step seconds.
func bucketTimeline(xs []Second, step int, end float64) []bucket {
	var out []bucket
	for i := 0; i < len(xs); i += step {
		part := xs[i:min(i+step, len(xs))]
		b := bucket{t: float64(part[0].T)}
		b.span = min(float64(len(part)), end-b.t)
		b.mid = b.t + max(b.span, 0)/2
		var accepted, completed float64
		for _, s := range part {
			accepted, completed = accepted+float64(s.Accepted), completed+float64(s.Completed)
			b.throttled += float64(s.Throttled)
			b.acceptP50 += s.AcceptP50Ms * float64(s.Accepted)
			b.completionP50 += s.CompletionP50Ms * float64(s.Completed)
			b.acceptP99, b.completionP99 = max(b.acceptP99, s.AcceptP99Ms), max(b.completionP99, s.CompletionP99Ms)
		}
		if accepted > 0 {
			b.acceptP50 /= accepted
		}
		if completed > 0 {
			b.completionP50 /= completed
		}
		if b.span > 0 {
			b.accepted, b.completed, b.throttled = accepted/b.span, completed/b.span, b.throttled/b.span
		}
		out = append(out, b)
	}
	return out
}

// bucketServer merges step samples into one: the last read's time and CPU
// counter, the most memory, goroutines and queue any read saw; a bucket of
// gaps is a gap. Cores are worked out again over the merged samples.
func bucketServer(xs []ServerSample, step int) []ServerSample {
	if step == 1 {
		return xs
	}
	var out []ServerSample
	for i := 0; i < len(xs); i += step {
		m := ServerSample{Gap: "no read"}
		for _, x := range xs[i:min(i+step, len(xs))] {
			m.T = x.T
			if x.Gap != "" {
				continue
			}
			m.Gap, m.CPUSeconds = "", x.CPUSeconds
			m.RSSBytes, m.HeapBytes = max(m.RSSBytes, x.RSSBytes), max(m.HeapBytes, x.HeapBytes)
			m.Goroutines, m.IntakeDepth = max(m.Goroutines, x.Goroutines), max(m.IntakeDepth, x.IntakeDepth)
		}
		out = append(out, m)
	}
	return withCores(out)
}

// xy is one point of a line on a value axis: [x, y], or [x, "-"] for a
// hole in the line. Plain pairs, not go-echarts' {"value": [x, y]}: half
// the bytes, and the data are most of the page after ECharts itself.
type xy = [2]any

func point(x, y float64) xy { return xy{round3(x), round3(y)} }
func noPoint(x float64) xy  { return xy{round3(x), "-"} }

// chartOpts are what every chart shares: its id (for the page and its
// checks), the page's width, no animation (a report is read, not watched,
// and a screenshot must show the finished chart), a tooltip and a legend.
func chartOpts(id string) []charts.GlobalOpts {
	return []charts.GlobalOpts{
		charts.WithInitializationOpts(opts.Initialization{ChartID: id, Width: "100%", Height: chartHeight}),
		charts.WithAnimation(false),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0"}),
		charts.WithGridOpts(opts.Grid{Left: "12", Right: "12", Top: "40", Bottom: "28", ContainLabel: opts.Bool(true)}),
	}
}

// series is one line of a chart, on the left axis (0) or the right (1);
// a dashed one is a reference (the rate offered), not a measurement.
type series struct {
	name   string
	data   []xy
	yAxis  int
	dashed bool
}

// xAxis is the seconds of the run, the same on every chart so that they
// line up: to the last answer or the last read of /metrics.
func xAxis(r *Report) opts.XAxis {
	end := r.WallSeconds
	if n := len(r.Server); n > 0 {
		end = max(end, r.Server[n-1].T)
	}
	if n := len(r.Timeline); n > 0 {
		end = max(end, float64(r.Timeline[n-1].T))
	}
	// The axis ends where the run did, between ticks: its label there would
	// crowd the last tick's.
	return opts.XAxis{Type: "value", Name: "seconds into the run", NameLocation: "middle", NameGap: 24, Min: 0, Max: math.Ceil(end*10) / 10,
		AxisLabel: &opts.AxisLabel{ShowMaxLabel: opts.Bool(false)}}
}

// lineChart draws series over the seconds of the run, on a left axis and
// optionally a right one.
func lineChart(x opts.XAxis, id string, axes []opts.YAxis, lines ...series) *charts.Line {
	c := charts.NewLine()
	c.SetGlobalOptions(append(chartOpts(id), charts.WithXAxisOpts(x), charts.WithYAxisOpts(axes[0]))...)
	for _, a := range axes[1:] {
		c.ExtendYAxis(a)
	}
	c.SetXAxis(nil)
	for _, l := range lines {
		o := []charts.SeriesOpts{charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false), YAxisIndex: l.yAxis})}
		if l.dashed {
			o = append(o, charts.WithLineStyleOpts(opts.LineStyle{Type: "dashed", Color: "#8c959f"}), charts.WithItemStyleOpts(opts.ItemStyle{Color: "#8c959f"}))
		}
		c.MultiSeries = append(c.MultiSeries, lineSeries(c, l.name, l.data, o...))
	}
	return c
}

// lineSeries is what Line.AddSeries makes, with data in pairs.
func lineSeries(c *charts.Line, name string, data []xy, o ...charts.SeriesOpts) charts.SingleSeries {
	s := charts.SingleSeries{Name: name, Type: types.ChartLine, Data: data}
	s.InitSeriesDefaultOpts(c.BaseConfiguration)
	s.ConfigureSeriesOpts(o...)
	return s
}

// throughputChart plots the answers per second and, for an open loop, the
// rate offered. A final sliver of a second has no rate.
func throughputChart(x opts.XAxis, r *Report, tl []bucket) *charts.Line {
	var accepted, completed, throttled, offered []xy
	for _, b := range tl {
		if b.span < sliverMin {
			continue
		}
		accepted, completed, throttled = append(accepted, point(b.mid, b.accepted)), append(completed, point(b.mid, b.completed)), append(throttled, point(b.mid, b.throttled))
	}
	if n := len(accepted); n > 0 { // a level line: its ends are enough
		offered = []xy{{accepted[0][0], r.TargetRate}, {accepted[n-1][0], r.TargetRate}}
	}
	lines := []series{{name: "accepted", data: accepted}, {name: "completed", data: completed}, {name: "throttled (429)", data: throttled}}
	if r.TargetRate > 0 {
		lines = append(lines, series{name: "offered", data: offered, dashed: true})
	}
	return lineChart(x, "throughput", []opts.YAxis{{Name: "orders/s"}}, lines...)
}

// latencyChart plots the p50 and p99 that pick reads from each bucket, on
// a log scale: a start-up spike a hundred times the steady state must not
// flatten the rest of the run into the axis. A bucket without answers is a
// hole in the lines.
func latencyChart(x opts.XAxis, id string, tl []bucket, pick func(bucket) (p50, p99 float64)) *charts.Line {
	var p50s, p99s []xy
	for _, b := range tl {
		p50, p99 := pick(b)
		if p99 <= 0 {
			p50s, p99s = append(p50s, noPoint(b.mid)), append(p99s, noPoint(b.mid))
			continue
		}
		p50s, p99s = append(p50s, point(b.mid, p50)), append(p99s, point(b.mid, p99))
	}
	return lineChart(x, id, []opts.YAxis{{Name: "ms", Type: "log"}}, series{name: "p50", data: p50s}, series{name: "p99", data: p99s})
}

// memoryChart plots the server's resident memory and Go heap.
func memoryChart(x opts.XAxis, srv []ServerSample) *charts.Line {
	var rss, heap []xy
	for _, s := range srv {
		if s.Gap != "" || s.RSSBytes == 0 && s.HeapBytes == 0 {
			rss, heap = append(rss, noPoint(s.T)), append(heap, noPoint(s.T))
			continue
		}
		rss, heap = append(rss, point(s.T, s.RSSBytes/mib)), append(heap, point(s.T, s.HeapBytes/mib))
	}
	return lineChart(x, "serverMemory", []opts.YAxis{{Name: "MiB"}}, series{name: "resident (RSS)", data: rss}, series{name: "Go heap in use", data: heap})
}

// cpuChart plots the cores busy on the left and the goroutines and the
// intake's queue on the right. The first read has no interval before it:
// no cores.
func cpuChart(x opts.XAxis, srv []ServerSample) *charts.Line {
	var cores, goroutines, intake []xy
	first := true
	for _, s := range srv {
		if s.Gap != "" {
			cores, goroutines, intake = append(cores, noPoint(s.T)), append(goroutines, noPoint(s.T)), append(intake, noPoint(s.T))
			continue
		}
		if first {
			cores, first = append(cores, noPoint(s.T)), false
		} else {
			cores = append(cores, point(s.T, s.CPUCores))
		}
		goroutines, intake = append(goroutines, point(s.T, s.Goroutines)), append(intake, point(s.T, s.IntakeDepth))
	}
	return lineChart(x, "serverCPU", []opts.YAxis{{Name: "cores"}, {Name: "count", Position: "right"}},
		series{name: "CPU (cores)", data: cores}, series{name: "goroutines", data: goroutines, yAxis: 1},
		series{name: "intake queue", data: intake, yAxis: 1})
}

// outcomesChart is how each sent order ended, as bars with their counts.
func outcomesChart(r *Report) *charts.Bar {
	c := charts.NewBar()
	c.SetGlobalOptions(append(chartOpts("outcomes"), charts.WithLegendOpts(opts.Legend{Show: opts.Bool(false)}))...)
	names := []string{"allocated", "rejected", "cancelled", "throttled", "failed", "unfinished"}
	values := []int64{r.Allocated, r.Rejected, r.Cancelled, r.Throttled, r.Failed, r.Unfinished}
	data := make([]opts.BarData, len(values))
	for i, v := range values {
		data[i] = opts.BarData{Value: v}
	}
	c.SetXAxis(names).AddSeries("orders", data, charts.WithLabelOpts(opts.Label{Show: opts.Bool(true), Position: "top"}))
	return c
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
