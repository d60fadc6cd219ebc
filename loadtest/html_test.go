package loadtest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTimelineBuckets: a bucket of several seconds is drawn with their
// mean rates, their p50s weighted by the answers behind each and their
// worst p99; the run's last second, cut short, is a rate over the part of
// it the run lasted.
func TestTimelineBuckets(t *testing.T) {
	xs := []Second{
		{T: 0, Accepted: 100, Completed: 90, AcceptP50Ms: 1, AcceptP99Ms: 5, CompletionP50Ms: 2, CompletionP99Ms: 8},
		{T: 1, Accepted: 300, Completed: 310, AcceptP50Ms: 3, AcceptP99Ms: 4, CompletionP50Ms: 4, CompletionP99Ms: 30},
		{T: 2, Accepted: 2, AcceptP50Ms: 1, AcceptP99Ms: 1}, // the run ended 0.1 s into this second
	}
	one := bucketTimeline(xs, 1, 2.1)
	require.Len(t, one, 3)
	assert.InDelta(t, 100, one[0].accepted, 1e-9)
	assert.InDelta(t, 0.5, one[0].mid, 1e-9, "a second is drawn at its middle")
	assert.InDelta(t, 0.1, one[2].span, 1e-9)
	assert.Less(t, one[2].span, sliverMin, "too short for a rate on the chart")

	two := bucketTimeline(xs, 2, 2.1)
	require.Len(t, two, 2)
	assert.InDelta(t, 200, two[0].accepted, 1e-9, "a mean rate")
	assert.InDelta(t, 200, two[0].completed, 1e-9)
	assert.InDelta(t, (1*100+3*300)/400.0, two[0].acceptP50, 1e-9, "p50s weighted by their answers")
	assert.InDelta(t, (2*90+4*310)/400.0, two[0].completionP50, 1e-9)
	assert.Equal(t, 5.0, two[0].acceptP99, "the worst p99")
	assert.Equal(t, 30.0, two[0].completionP99)
	assert.Zero(t, two[1].completionP99, "no completion, no latency: a hole in the line")
}

// TestServerBuckets: merged reads keep the most memory any of them saw and
// the CPU used across them; a bucket of failed reads stays a gap.
func TestServerBuckets(t *testing.T) {
	xs := withCores([]ServerSample{
		{T: 0, RSSBytes: 10, CPUSeconds: 0}, {T: 1, RSSBytes: 30, CPUSeconds: 1},
		{T: 2, Gap: "timeout"}, {T: 3, Gap: "timeout"},
		{T: 4, RSSBytes: 20, CPUSeconds: 1.5}, {T: 5, RSSBytes: 20, CPUSeconds: 2},
	})
	b := bucketServer(xs, 2)
	require.Len(t, b, 3)
	assert.Equal(t, 30.0, b[0].RSSBytes)
	assert.NotEmpty(t, b[1].Gap)
	assert.Equal(t, 5.0, b[2].T)
	assert.InDelta(t, 0.25, b[2].CPUCores, 1e-9, "1 s of CPU over the 4 s since the last read before the gap")
	assert.Equal(t, xs, bucketServer(xs, 1))
}

// TestAReportOfADaysSoakStaysSmall: ECharts is most of the page; the run's
// data are bounded however long it ran.
func TestAReportOfADaysSoakStaysSmall(t *testing.T) {
	size := func(seconds int) int {
		r := &Report{Mode: "open loop", TargetRate: 3200, AchievedRate: 3200, WallSeconds: float64(seconds)}
		for i := range seconds {
			r.Timeline = append(r.Timeline, Second{T: i, Accepted: 3200, Completed: 3199, Throttled: 1,
				AcceptP50Ms: 0.923, AcceptP99Ms: 8.917, CompletionP50Ms: 1.567, CompletionP99Ms: 16.879})
		}
		n := min(seconds, serverSamplesMax)
		for i := range n {
			r.Server = append(r.Server, ServerSample{T: float64(i * seconds / n), RSSBytes: 183.7 * mib, HeapBytes: 17.3 * mib,
				CPUSeconds: float64(i) * 0.853, Goroutines: 407, IntakeDepth: 3})
		}
		r.Server = withCores(r.Server)
		var page bytes.Buffer
		require.NoError(t, r.WriteHTML(&page))
		return page.Len() - len(echartsJS)
	}
	tenMinutes, aDay := size(600), size(86_400)
	t.Logf("beyond ECharts: %d bytes for 10 minutes, %d for a day", tenMinutes, aDay)
	assert.Less(t, tenMinutes, 150_000)
	assert.Less(t, aDay, 150_000)
}

func TestThreeFigures(t *testing.T) {
	assert.Equal(t, "1.07s", threeFigures(1071900*time.Microsecond).String())
	assert.Equal(t, "2.4ms", threeFigures(2400*time.Microsecond).String())
	assert.Equal(t, "150ms", threeFigures(150_234*time.Microsecond).String())
}

func TestThousands(t *testing.T) {
	for x, want := range map[float64]string{0: "0.00", 999.5: "999.50", 1000: "1,000.00", 1_999_899.25: "1,999,899.25", -12345.6: "-12,345.60"} {
		assert.Equal(t, want, thousands(x, 2))
	}
	assert.Equal(t, "200", thousands(200, 0))
}

// TestSummaryOfAnOldReport: a report written before the summary's fields
// existed still renders, saying what it does not know.
func TestSummaryOfAnOldReport(t *testing.T) {
	r := &Report{URL: "http://127.0.0.1:8080", Mode: "closed loop", Concurrency: 300, Lbs: 1500, Sent: 300, Accepted: 300, Allocated: 300,
		Audit: AuditResult{OK: true, Checks: []Check{{Name: "ledgers_sum_to_weight", OK: true}}}}
	var page bytes.Buffer
	require.NoError(t, r.WriteHTML(&page))
	for _, want := range []string{"version unknown", "started</th><td>unknown", "none in this report", "LOAD: closed loop"} {
		pageShows(t, page.String(), want)
	}
	r.Started = time.Date(2026, 12, 1, 3, 4, 5, 0, time.UTC)
	r.ServerBuild = BuildInfo{Version: "v1.2.3", Revision: "abc123", GoVersion: "go1.26.8"}
	page.Reset()
	require.NoError(t, r.WriteHTML(&page))
	pageShows(t, page.String(), "2026-12-01 03:04:05 UTC")
	pageShows(t, page.String(), "version v1.2.3, revision abc123, go1.26.8")
}

// pageShows is assert.Contains for a page a megabyte long, which a
// failure should not print.
func pageShows(t *testing.T, page, want string) {
	t.Helper()
	assert.True(t, strings.Contains(page, want), "the page shows %q", want)
}
