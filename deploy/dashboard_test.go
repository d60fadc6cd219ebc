package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/httpapi"
	"github.com/baconator/baconator/internal/testkit"
	"github.com/baconator/baconator/inventory"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }

const (
	dashboardFile = "grafana/baconator.json"
	operationsDoc = "../docs/operations.md"
	dsUID         = "${DS_PROMETHEUS}"
)

// scrapeAdded are the labels Prometheus adds to every series it scrapes;
// scrapeSynthetic the series it makes itself for each target.
var (
	scrapeAdded     = []string{"job", "instance"}
	scrapeSynthetic = map[string][]string{"up": nil}
)

// exported serves the real API over a real engine (no journal, chaos off),
// places a few orders, waits for them to end, and reads /metrics: every
// series name the server exports, with its label names. A histogram is its
// _bucket (with le), _sum and _count series, a summary its own (with
// quantile), _sum and _count.
func exported(t *testing.T) map[string][]string {
	t.Helper()
	cfg := actors.DefaultConfig()
	cfg.Chaos.Interval = 0
	metrics := httpapi.NewMetrics()
	cfg.OnFinished = metrics.ObserveFinished
	eng, err := actors.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, eng.Close(ctx))
	})
	now := time.Now().UTC()
	for i, days := range []int{4, 10, 20} {
		_, err := eng.ReceivePallets([]inventory.PalletSpec{{ID: fmt.Sprintf("P-%d", i+1), Supplier: "Farm_1", Lot: "L-1",
			Weight: inventory.Lbs(1000), Received: now.Add(-time.Hour), Expires: now.Add(time.Duration(days) * 24 * time.Hour)}})
		require.NoError(t, err)
	}
	api := httpapi.New(httpapi.Config{Engine: eng, Metrics: metrics})
	api.SetReady()
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close) // before the engine closes: cleanups run last first
	client := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)

	get := func(path string) (int, []byte) {
		resp, err := client.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, body
	}
	for _, lbs := range []int{5, 7, 50000} { // the last one is rejected: more than the floor holds
		resp, err := client.Post(srv.URL+"/api/orders", "application/json",
			strings.NewReader(fmt.Sprintf(`{"customer":"dashboard test","amountRequested":%d}`, lbs)))
		require.NoError(t, err)
		var placed struct{ OrderID string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&placed))
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = eng.Wait(ctx, placed.OrderID)
		cancel()
		require.NoError(t, err)
		code, body := get("/api/orders/" + placed.OrderID)
		require.Equal(t, http.StatusOK, code, "%s", body)
	}
	code, _ := get("/no/such/route")
	require.Equal(t, http.StatusNotFound, code)
	code, body := get("/metrics")
	require.Equal(t, http.StatusOK, code)

	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	require.NoError(t, err)
	out := map[string][]string{}
	for name, mf := range families {
		var labels []string
		for _, m := range mf.Metric {
			for _, lp := range m.Label {
				if !slices.Contains(labels, lp.GetName()) {
					labels = append(labels, lp.GetName())
				}
			}
		}
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			out[name+"_bucket"] = append(slices.Clone(labels), "le")
			out[name+"_sum"], out[name+"_count"] = labels, labels
		case dto.MetricType_SUMMARY:
			out[name] = append(slices.Clone(labels), "quantile")
			out[name+"_sum"], out[name+"_count"] = labels, labels
		default:
			out[name] = labels
		}
	}
	// A sanity check on the scrape itself: the series the dashboard is
	// about are there, with the labels their panels group by.
	require.Contains(t, out, "baconator_orders_total")
	require.Contains(t, out, "baconator_http_request_duration_seconds_bucket")
	require.ElementsMatch(t, []string{"route", "method", "code"}, out["baconator_http_requests_total"])
	return out
}

// A PromQL expression, taken apart well enough to check its names: the
// metrics it selects, the label names each selector matches on, and the
// labels it groups or matches by. Not a PromQL parser; the dashboard's
// queries are simple, and the test fails on anything it cannot place.
type promQuery struct {
	metrics  map[string][]string // metric -> label names in its matchers
	grouping []string
}

var (
	stringLit = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	selector  = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^{}]*)\}`)
	matcher   = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*""`)
	rangeSel  = regexp.MustCompile(`\[[^\]]*\]`)
	grouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	ident     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	labelVals = regexp.MustCompile(`^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)
	keywords  = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless", "inf", "nan"}
)

func parsePromQL(expr string) (promQuery, error) {
	q := promQuery{metrics: map[string][]string{}}
	if m := labelVals.FindStringSubmatch(expr); m != nil { // a Grafana variable's query
		expr = m[1]
		q.grouping = append(q.grouping, m[2])
	}
	e := stringLit.ReplaceAllString(expr, `""`)
	var err error
	e = selector.ReplaceAllStringFunc(e, func(s string) string {
		m := selector.FindStringSubmatch(s)
		if m[1] == "" {
			err = fmt.Errorf("selector %s names no metric", s)
			return " "
		}
		for _, lm := range matcher.FindAllStringSubmatch(m[2], -1) {
			q.metrics[m[1]] = append(q.metrics[m[1]], lm[1])
		}
		if got, want := len(matcher.FindAllString(m[2], -1)), strings.Count(m[2], `""`); got != want {
			err = fmt.Errorf("selector %s: cannot read its matchers", s)
		}
		return m[1] + " "
	})
	e = rangeSel.ReplaceAllString(e, " ")
	e = grouping.ReplaceAllStringFunc(e, func(s string) string {
		for l := range strings.SplitSeq(grouping.FindStringSubmatch(s)[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				q.grouping = append(q.grouping, l)
			}
		}
		return " "
	})
	for _, loc := range ident.FindAllStringIndex(e, -1) {
		word := e[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsRune("0123456789.$", rune(e[loc[0]-1])) {
			continue // a number's exponent, a duration's unit, a $variable
		}
		if rest := strings.TrimSpace(e[loc[1]:]); strings.HasPrefix(rest, "(") || slices.Contains(keywords, word) {
			continue // a function or an aggregation
		}
		if _, ok := q.metrics[word]; !ok {
			q.metrics[word] = nil
		}
	}
	if len(q.metrics) == 0 && err == nil {
		err = fmt.Errorf("no metric found")
	}
	return q, err
}

func TestParsePromQL(t *testing.T) {
	q, err := parsePromQL(`histogram_quantile(0.99, sum by (route, le) (rate(a_bucket{job=~"$job", code=~"5.."}[$__rate_interval]))) / on (route) b offset 5m > 1e3`)
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"a_bucket": {"job", "code"}, "b": nil}, q.metrics)
	assert.Equal(t, []string{"route", "le", "route"}, q.grouping)
	q, err = parsePromQL(`label_values(x{job="a,b"}, instance)`)
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"x": {"job"}}, q.metrics)
	assert.Equal(t, []string{"instance"}, q.grouping)
	_, err = parsePromQL(`sum({__name__=~"x.*"})`)
	assert.Error(t, err)
	_, err = parsePromQL(`time()`)
	assert.Error(t, err)
}

// dashboard is the part of the dashboard the tests read.
type dashboard struct {
	SchemaVersion int    `json:"schemaVersion"`
	UID           string `json:"uid"`
	Title         string `json:"title"`
	Inputs        []struct {
		Name, Type, PluginID string
	} `json:"__inputs"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		Expr       string `json:"expr"`
		RefID      string `json:"refId"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

func readDashboard(t *testing.T) (dashboard, []panel) {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(raw, &d), "%s is not JSON", dashboardFile)
	var all []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			all = append(all, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return d, all
}

// queries are every PromQL expression in the dashboard, named by where
// they are, and the names of those that belong to a panel or an annotation
// (and so must honour the $job and $instance variables).
func queries(t *testing.T, d dashboard, panels []panel) (exprs map[string]string, panelExprs []string) {
	t.Helper()
	exprs = map[string]string{}
	add := func(where, expr string) {
		require.NotContains(t, exprs, where, "two queries named alike")
		exprs[where] = expr
	}
	for _, p := range panels {
		for _, tg := range p.Targets {
			where := fmt.Sprintf("panel %d %q query %s", p.ID, p.Title, tg.RefID)
			add(where, tg.Expr)
			panelExprs = append(panelExprs, where)
		}
	}
	for i, a := range d.Annotations.List {
		where := fmt.Sprintf("annotation %d %q", i, a.Name)
		add(where, a.Expr)
		panelExprs = append(panelExprs, where)
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil { // or the older plain string
			require.NoError(t, json.Unmarshal(v.Query, &q.Query), "variable %s", v.Name)
		}
		add("variable "+v.Name, q.Query)
		assert.Equal(t, q.Query, v.Definition, "variable %s: its definition (what Grafana shows) is its query", v.Name)
	}
	return exprs, panelExprs
}

// TestDashboardUsesOnlyExportedMetrics fails if any query of the dashboard
// (panels, annotations, variables) names a metric the server does not
// export, or a label it does not have.
func TestDashboardUsesOnlyExportedMetrics(t *testing.T) {
	series := exported(t)
	d, panels := readDashboard(t)
	exprs, panelExprs := queries(t, d, panels)
	require.NotEmpty(t, exprs)
	checkQueries(t, series, exprs)
	for _, where := range panelExprs {
		q, err := parsePromQL(exprs[where])
		require.NoError(t, err, where)
		for metric, labels := range q.metrics {
			for _, v := range scrapeAdded {
				assert.Contains(t, labels, v, "%s: %s ignores $%s: %s", where, metric, v, exprs[where])
			}
		}
	}

	// Not a failure, but worth seeing: what the dashboard leaves out.
	used := map[string]bool{}
	for _, e := range exprs {
		q, _ := parsePromQL(e)
		for m := range q.metrics {
			used[m] = true
		}
	}
	var unused []string
	for name := range series {
		family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if strings.HasPrefix(name, "baconator_") && !used[name] && !used[family+"_bucket"] && !used[family] {
			unused = append(unused, name)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Logf("baconator series no panel shows: %v", unused)
	}
}

// checkQueries checks each named PromQL expression against the exported
// series.
func checkQueries(t *testing.T, series map[string][]string, exprs map[string]string) {
	t.Helper()
	for where, expr := range exprs {
		q, err := parsePromQL(expr)
		if !assert.NoError(t, err, "%s: %s", where, expr) {
			continue
		}
		var known []string // every label of every metric the query names
		for metric, matched := range q.metrics {
			labels, ok := series[metric]
			if _, synthetic := scrapeSynthetic[metric]; synthetic {
				labels, ok = scrapeSynthetic[metric], true
			}
			if !assert.True(t, ok, "%s: metric %s is not exported by the server: %s", where, metric, expr) {
				continue
			}
			labels = append(slices.Clone(labels), scrapeAdded...)
			known = append(known, labels...)
			for _, l := range matched {
				assert.Contains(t, labels, l, "%s: %s has no label %s: %s", where, metric, l, expr)
			}
		}
		for _, l := range q.grouping {
			assert.Contains(t, known, l, "%s: no metric it names has the label %s: %s", where, l, expr)
		}
	}
}

// TestDashboardShape checks what Grafana needs to import the dashboard
// into any Grafana with any Prometheus: one datasource input, used by every
// panel and query, no datasource uid written in, panels titled and laid
// out without overlap.
func TestDashboardShape(t *testing.T) {
	d, panels := readDashboard(t)
	assert.GreaterOrEqual(t, d.SchemaVersion, 36)
	assert.NotEmpty(t, d.UID)
	assert.NotEmpty(t, d.Title)
	require.Len(t, d.Inputs, 1)
	assert.Equal(t, "DS_PROMETHEUS", d.Inputs[0].Name)
	assert.Equal(t, "datasource", d.Inputs[0].Type)
	assert.Equal(t, "prometheus", d.Inputs[0].PluginID)
	var dsVar bool
	for _, v := range d.Templating.List {
		dsVar = dsVar || v.Name == "DS_PROMETHEUS" && v.Type == "datasource" && string(v.Query) == `"prometheus"`
	}
	assert.True(t, dsVar, "a datasource variable DS_PROMETHEUS, so that a provisioned copy (no import step) works too")

	require.NotEmpty(t, panels)
	ids := map[int]bool{}
	cells := map[[2]int]string{}
	for _, p := range panels {
		assert.NotEmpty(t, p.Title, "panel %d has no title", p.ID)
		assert.False(t, ids[p.ID], "panel id %d repeats", p.ID)
		ids[p.ID] = true
		if assert.NotNil(t, p.Datasource, "panel %q has no datasource", p.Title) {
			assert.Equal(t, dsUID, p.Datasource.UID, "panel %q", p.Title)
			assert.Equal(t, "prometheus", p.Datasource.Type, "panel %q", p.Title)
		}
		if p.Type != "row" {
			assert.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			assert.NotEmpty(t, tg.Expr, "panel %q query %s", p.Title, tg.RefID)
			if tg.Datasource != nil {
				assert.Equal(t, dsUID, tg.Datasource.UID, "panel %q query %s", p.Title, tg.RefID)
			}
		}
		g := p.GridPos
		assert.True(t, g.X >= 0 && g.W > 0 && g.H > 0 && g.X+g.W <= 24, "panel %q: gridPos %+v", p.Title, g)
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, taken := cells[[2]int{x, y}]; taken {
					t.Errorf("panels %q and %q overlap at %d,%d", other, p.Title, x, y)
				}
				cells[[2]int{x, y}] = p.Title
			}
		}
	}

	// Anywhere in the document: a datasource is ${DS_PROMETHEUS}, and no
	// uid but the dashboard's own is written in.
	raw, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var doc any
	require.NoError(t, json.Unmarshal(raw, &doc))
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				p := path + "." + k
				switch {
				case k == "datasource":
					if s, ok := c.(string); ok {
						assert.Equal(t, dsUID, s, p)
					} else if m, ok := c.(map[string]any); ok {
						assert.Equal(t, dsUID, m["uid"], p)
					} else {
						t.Errorf("%s: datasource %v", p, c)
					}
				case k == "uid" && path != "":
					assert.Equal(t, dsUID, c, p)
				}
				walk(p, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), c)
			}
		}
	}
	walk("", doc)
}

// promRule is an alerting rule's expression in the operations guide: a
// line `expr: ...` inside its rules block.
var promRule = regexp.MustCompile(`(?m)^\s*expr:\s*(.+?)\s*$`)

// TestOperationsAlertsUseExportedMetrics holds the example alerts in
// docs/operations.md to the same standard as the dashboard.
func TestOperationsAlertsUseExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(operationsDoc)
	require.NoError(t, err)
	exprs := map[string]string{}
	for i, m := range promRule.FindAllStringSubmatch(string(raw), -1) {
		exprs[fmt.Sprintf("%s alert %d", operationsDoc, i+1)] = strings.Trim(m[1], `'`)
	}
	require.GreaterOrEqual(t, len(exprs), 3, "the guide's example alerts")
	checkQueries(t, exported(t), exprs)
}
