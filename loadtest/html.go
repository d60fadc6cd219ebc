package loadtest

import (
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// echartsJS is Apache ECharts, inlined so the report opens offline
// (assets/VERSION says which release). At ~1 MB it is most of the page:
// the run's own data is bounded by chartPointsMax points a series.
//
//go:embed assets/echarts.min.js
var echartsJS string

//go:embed page.html.tmpl
var pageSource string

var pageTemplate = template.Must(template.New("report").Parse(pageSource))

// htmlPage is what the page template shows.
type htmlPage struct {
	R       *Report
	ECharts template.JS
	Title   string
	Badges  []badge
	Cards   []card
	Latency []latencyRow
	Charts  []chartView
}

// badge is a verdict at the top of the page.
type badge struct{ Text, Class string }

// card is one box of the summary: a titled table of named values.
type card struct {
	Title string
	Rows  []row
}

// row is one line of a card. ID lets a check (or a person's script) find a
// value; Class colours it: "pass", "fail" or "warn".
type row struct{ ID, Name, Value, Class string }

type latencyRow struct {
	Name string
	P    Percentiles
}

// WriteHTML writes a self-contained page: what an engineer opens a report
// for — when and against what it ran, the settings, the stock it started
// from, the load and audit verdicts with each check, the outcomes and
// latencies — over charts of the run's course and the server's.
func (r *Report) WriteHTML(w io.Writer) error {
	return pageTemplate.Execute(w, htmlPage{
		R: r, ECharts: template.JS(echartsJS), Title: r.pageTitle(), Badges: r.badges(),
		Cards:   []card{r.runCard(), r.settingsCard(), r.stockCard(), r.loadCard(), r.outcomesCard(), r.serverCard()},
		Latency: []latencyRow{{"accept", r.AcceptLatencyMs}, {"completion", r.CompletionLatencyMs}},
		Charts:  r.charts(),
	})
}

func (r *Report) pageTitle() string {
	if r.Started.IsZero() {
		return "Baconator load run"
	}
	return "Baconator load run, " + r.Started.Format("2006-01-02 15:04 MST")
}

// badges are the two verdicts, kept apart: the audit's (were the
// invariants kept) and the load's (did the server keep up).
func (r *Report) badges() []badge {
	audit := badge{"AUDIT: PASS, every invariant holds", "pass"}
	if !r.OK() {
		audit = badge{"AUDIT: FAIL", "fail"}
	}
	load := badge{"LOAD: closed loop, no rate offered", ""}
	switch {
	case r.TargetRate > 0 && r.Saturated:
		load = badge{"LOAD: SATURATED", "fail"}
	case r.TargetRate > 0:
		load = badge{"LOAD: kept up", "pass"}
	}
	return []badge{audit, load}
}

func (r *Report) runCard() card {
	started := "unknown"
	if !r.Started.IsZero() {
		started = r.Started.Format("2006-01-02 15:04:05 MST")
	}
	return card{Title: "Run", Rows: []row{
		{Name: "started", Value: started},
		{Name: "server", Value: r.URL},
		{ID: "server-version", Name: "server version", Value: r.ServerBuild.String()},
		{Name: "run id", Value: cmp.Or(r.RunID, "unknown")},
		{Name: "sending", Value: fmt.Sprintf("%.2f s", r.SendSeconds)},
		{Name: "first order to last terminal", Value: fmt.Sprintf("%.2f s", r.WallSeconds)},
	}}
}

func (r *Report) settingsCard() card {
	clients := fmt.Sprintf("%d, one order in flight each", r.Concurrency)
	if r.TargetRate > 0 {
		clients = fmt.Sprintf("at most %d requests in flight", r.Concurrency)
	}
	orders := "as many as the duration allows"
	if r.Orders > 0 {
		orders = thousands(float64(r.Orders), 0)
	}
	rows := []row{{Name: "mode", Value: r.Mode}, {Name: "clients", Value: clients}}
	if r.TargetRate > 0 {
		rows = append(rows, row{Name: "rate offered", Value: fmt.Sprintf("%g orders/s", r.TargetRate)})
	}
	rows = append(rows, row{Name: "orders", Value: orders})
	if r.DurationSeconds > 0 {
		rows = append(rows, row{Name: "duration", Value: (time.Duration(r.DurationSeconds * float64(time.Second))).String()})
	}
	return card{Title: "Settings", Rows: append(rows,
		row{Name: "each order", Value: fmt.Sprintf("%s lb of %s", thousands(r.Lbs, 2), cmp.Or(r.SKU, "the default SKU"))},
		row{Name: "settle", Value: fmt.Sprintf("%g s for accepted orders to end", r.SettleSeconds)},
		row{Name: "ends heard by", Value: r.followedBy()},
	)}
}

// stockCard is the stock the run started from: a run against a floor an
// earlier run sold out rejects orders, and that is no fault.
func (r *Report) stockCard() card {
	s := r.StockBefore
	asked := row{Name: "this run asked for", Value: thousands(r.askedLbs(), 2) + " lb"}
	if r.askedLbs() > s.AvailableLbs {
		asked.Value += ", more than was available: expect rejections"
		asked.Class = "warn"
	}
	return card{Title: "Stock before the run", Rows: []row{
		{ID: "stock-pallets", Name: "pallets", Value: thousands(float64(s.Pallets), 0)},
		{Name: "on hand", Value: thousands(s.WeightLbs, 2) + " lb"},
		{ID: "stock-available", Name: "available", Value: thousands(s.AvailableLbs, 2) + " lb"},
		asked,
	}}
}

func (r *Report) loadCard() card {
	b := r.badges()[1]
	rows := []row{{ID: "load-verdict", Name: "verdict", Value: strings.TrimPrefix(b.Text, "LOAD: "), Class: b.Class}}
	if r.TargetRate > 0 {
		achieved := row{ID: "achieved-rate", Name: "sent (achieved)", Value: fmt.Sprintf("%.0f orders/s", r.AchievedRate), Class: "pass"}
		if r.AchievedRate < achievedRateMin*r.TargetRate {
			achieved.Class = "fail"
		}
		rows = append(rows, row{ID: "target-rate", Name: "offered", Value: fmt.Sprintf("%.0f orders/s", r.TargetRate)}, achieved)
	}
	rows = append(rows,
		row{Name: "accepted", Value: fmt.Sprintf("%.0f orders/s", r.AcceptPerSec)},
		row{Name: "completed", Value: fmt.Sprintf("%.0f orders/s", r.CompletedPerSec)})
	for _, why := range r.SaturationReasons {
		rows = append(rows, row{Name: "saturated", Value: why, Class: "fail"})
	}
	return card{Title: "Load", Rows: rows}
}

func (r *Report) outcomesCard() card {
	n := func(x int64) string { return thousands(float64(x), 0) }
	bad := func(x int64) string {
		if x > 0 {
			return "fail"
		}
		return ""
	}
	rows := []row{
		{Name: "sent", Value: n(r.Sent)},
		{ID: "accepted", Name: "accepted", Value: n(r.Accepted)},
		{Name: "allocated", Value: n(r.Allocated)},
		{Name: "rejected", Value: n(r.Rejected)},
	}
	for _, rc := range r.rejectionReasons() {
		rows = append(rows, row{Name: "rejected: " + rc.reason, Value: n(rc.n)})
	}
	return card{Title: "Outcomes", Rows: append(rows,
		row{Name: "cancelled", Value: n(r.Cancelled)},
		row{Name: "throttled (429)", Value: n(r.Throttled)},
		row{Name: "failed (errors)", Value: n(r.Failed), Class: bad(r.Failed)},
		row{Name: "unfinished", Value: n(r.Unfinished), Class: bad(r.Unfinished)},
	)}
}

// serverCard is the server's side of the run: chaos, conflicts and what
// it cost in memory and CPU.
func (r *Report) serverCard() card {
	sum := r.ServerSummary()
	rows := []row{
		{ID: "chaos", Name: "chaos", Value: r.chaosLine()},
		{Name: "conflicts / retries", Value: fmt.Sprintf("%.0f / %.0f", r.Conflicts, r.Retries)},
	}
	if warm, end, ok := r.MemoryDrift(); ok {
		rows = append(rows,
			row{ID: "peak-rss", Name: "peak RSS", Value: fmt.Sprintf("%.1f MiB", sum.PeakRSSBytes/mib)},
			row{Name: "memory", Value: rssDrift(warm, end)},
			row{ID: "mean-cpu", Name: "CPU", Value: fmt.Sprintf("%.2f cores busy on average", sum.MeanCores)})
	}
	if sum.Samples-sum.Gaps > 0 {
		rows = append(rows, row{Name: "most goroutines", Value: fmt.Sprintf("%.0f", sum.MaxGoroutines)},
			row{Name: "most orders in the intake", Value: fmt.Sprintf("%.0f", sum.MaxIntake)})
	}
	metrics := fmt.Sprintf("%d reads", sum.Samples)
	var class string
	if sum.Gaps > 0 {
		metrics, class = fmt.Sprintf("%d of %d reads failed (gaps in the charts)", sum.Gaps, sum.Samples), "warn"
	}
	return card{Title: "Server", Rows: append(rows, row{Name: "/metrics", Value: metrics, Class: class})}
}

// chaosLine is the server's chaos setting, when it exports it, and how
// often chaos struck during the run.
func (r *Report) chaosLine() string {
	setting := "its interval is not exported"
	if r.ChaosInterval != nil {
		if *r.ChaosInterval == 0 {
			return "off"
		}
		setting = "set to every " + threeFigures(time.Duration(*r.ChaosInterval*float64(time.Second))).String()
	}
	if r.ChaosStrikes <= 0 {
		return "no strike during the run (" + setting + ")"
	}
	return fmt.Sprintf("%s strikes during the run, about one every %s (%s)",
		thousands(r.ChaosStrikes, 0), threeFigures(time.Duration(r.WallSeconds/r.ChaosStrikes*float64(time.Second))), setting)
}

// threeFigures rounds d to three significant figures: 2.4ms, 1.07s.
func threeFigures(d time.Duration) time.Duration {
	unit := time.Duration(1)
	for d/unit >= 1000 {
		unit *= 10
	}
	return d.Round(unit)
}
