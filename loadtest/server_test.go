package loadtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const exposition = `# TYPE baconator_build_info gauge
baconator_build_info{goversion="go1.26.8",revision="abc123",version="v1.2.3"} 1
# TYPE baconator_intake_depth gauge
baconator_intake_depth 17
# TYPE go_goroutines gauge
go_goroutines 42
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 1.048576e+07
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 5.24288e+07
`

// metricsServer serves exposition on /metrics, or 503 while down is set.
func metricsServer(t *testing.T, down *atomic.Bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, exposition)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestScrape: a read of /metrics keeps the process's memory and CPU, the
// goroutines and the intake's depth; a failed one is a gap that says why;
// one cut short by the end of the run is nothing at all.
func TestScrape(t *testing.T) {
	var down atomic.Bool
	s := &scraper{c: newClient(Config{URL: metricsServer(t, &down)}, 1), stride: 1}
	defer s.c.close()

	r, ok := s.scrape(context.Background())
	require.True(t, ok)
	assert.Equal(t, ServerSample{RSSBytes: 50 * mib, HeapBytes: 10 * mib, CPUSeconds: 12.5, Goroutines: 42, IntakeDepth: 17}, r.x)
	assert.WithinDuration(t, time.Now(), r.at, time.Minute)

	m, err := s.c.metrics(context.Background())
	require.NoError(t, err)
	assert.Equal(t, BuildInfo{Version: "v1.2.3", Revision: "abc123", GoVersion: "go1.26.8"}, buildOf(m))
	assert.Equal(t, BuildInfo{}, buildOf(metricFamilies{}), "an older server says nothing")

	down.Store(true)
	r, ok = s.scrape(context.Background())
	require.True(t, ok)
	assert.Contains(t, r.x.Gap, "503")
	assert.Zero(t, r.x.RSSBytes)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, ok = s.scrape(ctx)
	assert.False(t, ok, "the run is over: no gap")
}

// TestSampleServer: the sampler reads at once, and once more when stopped,
// so even the shortest run has the server's start and end, in seconds from
// the run's start; an unreachable /metrics leaves gaps and no error. stop
// ends its goroutine (the package's leak check would see it).
func TestSampleServer(t *testing.T) {
	var down atomic.Bool
	url := metricsServer(t, &down)
	stop := sampleServer(Config{URL: url})
	start := time.Now()
	xs := stop(start)
	require.GreaterOrEqual(t, len(xs), 2)
	assert.Empty(t, xs[0].Gap)
	assert.Zero(t, xs[0].T, "read just before the start: counts as the start")
	assert.LessOrEqual(t, xs[len(xs)-1].T, time.Since(start).Seconds())
	assert.Equal(t, 42.0, xs[len(xs)-1].Goroutines)

	down.Store(true)
	xs = sampleServer(Config{URL: url})(time.Now())
	require.NotEmpty(t, xs)
	r := &Report{Server: xs}
	sum := r.ServerSummary()
	assert.Equal(t, len(xs), sum.Gaps)
	var text strings.Builder
	r.writeServerText(&text)
	assert.Contains(t, text.String(), fmt.Sprintf("%d of %d reads failed", len(xs), len(xs)))
}

// TestServerSamplesThinNotStop: a soak longer than the series holds keeps
// its whole course, evenly spaced, at a coarser grain — and reads the
// server less often as it goes, not only keeps less.
func TestServerSamplesThinNotStop(t *testing.T) {
	s := &scraper{stride: 1}
	start := time.Now()
	n := 5*serverSamplesMax + 7
	reads := 0
	for i := range n {
		if s.due() {
			reads++
			s.kept = append(s.kept, reading{at: start.Add(time.Duration(i) * time.Second)})
		}
	}
	assert.Less(t, reads, n/2, "past the first hour, reads thin out too")
	xs := s.samples(start)
	require.LessOrEqual(t, len(xs), serverSamplesMax)
	assert.Greater(t, len(xs), serverSamplesMax/2)
	assert.Equal(t, 8, s.stride)
	assert.Zero(t, xs[0].T, "the start stays")
	for i := 1; i < len(xs); i++ {
		require.Equal(t, float64(s.stride), xs[i].T-xs[i-1].T, "evenly spaced")
	}
	assert.Greater(t, xs[len(xs)-1].T, float64(n-s.stride-1), "to the end")
}

// TestWithCores: cores are CPU time over wall time since the last read
// that was no gap; a counter that went back (a restarted server) gives 0.
func TestWithCores(t *testing.T) {
	xs := withCores([]ServerSample{{T: 0, CPUSeconds: 10}, {T: 1, Gap: "timeout"}, {T: 2, CPUSeconds: 11}, {T: 3, CPUSeconds: 11.5}, {T: 4, CPUSeconds: 1}})
	var cores []float64
	for _, x := range xs {
		cores = append(cores, x.CPUCores)
	}
	assert.Equal(t, []float64{0, 0, 0.5, 0.5, 0}, cores)
	r := &Report{Server: xs[:4]}
	assert.InDelta(t, 0.5, r.ServerSummary().MeanCores, 1e-9, "1.5 s of CPU over 3 s")
}

// TestSecondsAreSealedBehindTheNewest: a long run holds the histograms of
// its last few seconds only; the rest keep their percentiles. An answer
// for a sealed second still counts.
func TestSecondsAreSealedBehindTheNewest(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	st := newStats(start)
	for i := range 100 {
		st.placed(fmt.Sprint(i), start.Add(time.Duration(i)*time.Second), 2*time.Millisecond, http.StatusAccepted, nil, nil)
	}
	open := 0
	for _, s := range st.seconds {
		if s.accept != nil {
			open++
		}
	}
	assert.LessOrEqual(t, open, sealAfter+1)
	st.placed("late", start, 3*time.Millisecond, http.StatusAccepted, nil, nil)
	tl := timeline(st.seconds)
	require.Len(t, tl, 100)
	assert.EqualValues(t, 2, tl[0].Accepted, "counted, though its second was sealed")
	for _, s := range tl {
		require.InDelta(t, 2, s.AcceptP50Ms, 0.02, "second %d: 2 ms, to two significant digits", s.T)
	}
}

// TestRejectionReasons: rejections are split by the server's reason, a
// bounded number of them.
func TestRejectionReasons(t *testing.T) {
	st := newStats(time.Now())
	for i := range reasonsMax + 5 {
		st.finished(Order{ID: fmt.Sprint(i), Status: "rejected", Reason: fmt.Sprint("reason-", i)}, time.Now(), nil)
	}
	st.finished(Order{ID: "x", Status: "rejected", Reason: "reason-0"}, time.Now(), nil)
	assert.Len(t, st.rejectedBy, reasonsMax+1, "the first reasons, and other")
	assert.EqualValues(t, 5, st.rejectedBy["other"])
	r := &Report{RejectedByReason: map[string]int64{"insufficient_stock": 3, "contention": 1}}
	assert.Equal(t, " (insufficient_stock 3, contention 1)", r.rejectionLine())
}
