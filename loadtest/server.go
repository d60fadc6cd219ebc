package loadtest

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// sampleEvery is how often a run reads the server's /metrics for its
// memory and CPU: often enough to plot a soak, rarely enough to cost the
// server nothing it would notice (one ~15 KB answer a second, over a
// connection of its own).
const sampleEvery = time.Second

// scrapeTimeout bounds one read of /metrics: a server too busy to answer
// in time leaves a gap in the series, not a queue of reads.
const scrapeTimeout = 5 * time.Second

// serverSamplesMax bounds the series. A run that fills it keeps every other
// sample and samples half as often from then on, so a soak of any length
// keeps its whole course, at a coarser grain the longer it runs.
const serverSamplesMax = 3600

// gapDetailMax bounds the reason a gap keeps.
const gapDetailMax = 200

// ServerSample is the server's own account of itself at one moment of a
// run, read from its /metrics. A read that failed is a gap: Gap says why
// and the other values are zero.
type ServerSample struct {
	T           float64 `json:"t"`           // seconds since the run began
	RSSBytes    float64 `json:"rssBytes"`    // process_resident_memory_bytes
	HeapBytes   float64 `json:"heapBytes"`   // go_memstats_heap_inuse_bytes
	CPUSeconds  float64 `json:"cpuSeconds"`  // process_cpu_seconds_total, since the process began
	CPUCores    float64 `json:"cpuCores"`    // cores busy on average since the sample before (0 for the first)
	Goroutines  float64 `json:"goroutines"`  // go_goroutines
	IntakeDepth float64 `json:"intakeDepth"` // baconator_intake_depth: orders waiting for the engine
	Gap         string  `json:"gap,omitempty"`
}

const mib = 1 << 20

// scraper reads the server's /metrics through a client of its own: a load
// that fills the run's connection pool must not starve the samples, and
// the samples must not take a connection from the load.
type scraper struct {
	c      *client
	stride int // keep one tick in stride
	ticks  int
	kept   []reading
}

// reading is a sample and when it was taken: its T is known once the
// run's start is.
type reading struct {
	at time.Time
	x  ServerSample
}

// scrape reads one sample; ok is false if ctx ended during the read (the
// run is over: that is no gap in the server).
func (s *scraper) scrape(ctx context.Context) (r reading, ok bool) {
	readCtx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	m, err := s.c.metrics(readCtx)
	r.at = time.Now()
	switch {
	case ctx.Err() != nil:
		return r, false
	case err != nil:
		r.x.Gap = truncate(err.Error(), gapDetailMax)
		return r, true
	}
	r.x = ServerSample{
		RSSBytes: m.value("process_resident_memory_bytes"), HeapBytes: m.value("go_memstats_heap_inuse_bytes"),
		CPUSeconds: m.value("process_cpu_seconds_total"), Goroutines: m.value("go_goroutines"),
		IntakeDepth: m.value("baconator_intake_depth"),
	}
	return r, true
}

// due counts a tick and says whether to read /metrics on it: every tick
// until the series is full, then, thinned to every other reading, every
// other tick, and so on — a long soak reads less often, not only keeps less.
func (s *scraper) due() bool {
	tick := s.ticks
	s.ticks++
	if tick%s.stride != 0 {
		return false
	}
	if len(s.kept) >= serverSamplesMax {
		s.kept = thin(s.kept)
		s.stride *= 2
	}
	return tick%s.stride == 0
}

// thin keeps every other reading, the first included.
func thin(rs []reading) []reading {
	out := rs[:0]
	for i := 0; i < len(rs); i += 2 {
		out = append(out, rs[i])
	}
	return out
}

// samples are the readings as seconds since start (the first reading,
// taken just before the run began, counts as its start).
func (s *scraper) samples(start time.Time) []ServerSample {
	out := make([]ServerSample, len(s.kept))
	for i, r := range s.kept {
		out[i] = r.x
		out[i].T = max(0, r.at.Sub(start).Seconds())
	}
	return withCores(out)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// sampleServer reads the server's /metrics at once — the server as the run
// finds it, however short the run — then every sampleEvery until stop is
// called, and once more then. stop returns the readings as seconds since
// start. A failed read is a gap in the series, never a failure of the run:
// the run's own requests report an unreachable server.
func sampleServer(cfg Config) (stop func(start time.Time) []ServerSample) {
	s := &scraper{c: newClient(cfg, 1), stride: 1}
	ctx, cancel := context.WithCancel(context.Background())
	tick := func(ctx context.Context) {
		if !s.due() {
			return
		}
		if r, ok := s.scrape(ctx); ok {
			s.kept = append(s.kept, r)
		}
	}
	tick(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				tick(ctx)
			}
		}
	})
	return func(start time.Time) []ServerSample {
		cancel()
		wg.Wait()
		defer s.c.close()
		// The server as the run left it. Unthinned: the end is always kept.
		if r, ok := s.scrape(context.Background()); ok {
			s.kept = append(s.kept, r)
		}
		return s.samples(start)
	}
}

// withCores sets each sample's CPUCores from the CPU time the server used
// since the sample before it that was no gap. A counter that went back
// (the server restarted) says nothing about the interval: 0.
func withCores(xs []ServerSample) []ServerSample {
	prev := -1
	for i := range xs {
		if xs[i].Gap != "" {
			continue
		}
		if prev >= 0 {
			dt, dcpu := xs[i].T-xs[prev].T, xs[i].CPUSeconds-xs[prev].CPUSeconds
			if dt > 0 && dcpu >= 0 {
				xs[i].CPUCores = dcpu / dt
			}
		}
		prev = i
	}
	return xs
}

// ServerSummary is the server's course over a run in a few numbers.
type ServerSummary struct {
	Samples, Gaps int
	PeakRSSBytes  float64
	MeanCores     float64 // CPU time used over the time between the first and the last sample
	MaxGoroutines float64
	MaxIntake     float64
}

// ServerSummary sums up the samples that are no gaps.
func (r *Report) ServerSummary() ServerSummary {
	var sum ServerSummary
	var first, last *ServerSample
	for i := range r.Server {
		x := &r.Server[i]
		sum.Samples++
		if x.Gap != "" {
			sum.Gaps++
			continue
		}
		if first == nil {
			first = x
		}
		last = x
		sum.PeakRSSBytes = max(sum.PeakRSSBytes, x.RSSBytes)
		sum.MaxGoroutines = max(sum.MaxGoroutines, x.Goroutines)
		sum.MaxIntake = max(sum.MaxIntake, x.IntakeDepth)
	}
	if first != nil && last.T > first.T {
		sum.MeanCores = (last.CPUSeconds - first.CPUSeconds) / (last.T - first.T)
	}
	return sum
}

// MemoryDrift compares the server's resident memory once it has warmed up
// (a minute in, or at the first sample of a shorter run) with the end of
// the run: what a soak is for. ok is false without two samples that carry
// it (a server without procfs exports none).
func (r *Report) MemoryDrift() (warm, end ServerSample, ok bool) {
	var s []ServerSample
	for _, x := range r.Server {
		if x.RSSBytes > 0 {
			s = append(s, x)
		}
	}
	if len(s) < 2 {
		return ServerSample{}, ServerSample{}, false
	}
	warm = s[0]
	for _, x := range s {
		if x.T >= 60 {
			warm = x
			break
		}
	}
	return warm, s[len(s)-1], true
}

// rssDrift says how resident memory moved from the warm sample to the end.
func rssDrift(warm, end ServerSample) string {
	return fmt.Sprintf("RSS %.1f MiB at %.0fs, %.1f MiB at the end (%+.1f%%)",
		warm.RSSBytes/mib, warm.T, end.RSSBytes/mib, 100*(end.RSSBytes-warm.RSSBytes)/warm.RSSBytes)
}

// writeServerText is the server's memory and CPU over the run: the drift a
// soak looks for, the peak and the mean cores busy.
func (r *Report) writeServerText(w io.Writer) {
	sum := r.ServerSummary()
	if sum.Gaps > 0 {
		fmt.Fprintf(w, "  server /metrics: %d of %d reads failed (gaps in the series)\n", sum.Gaps, sum.Samples)
	}
	warm, end, ok := r.MemoryDrift()
	if !ok {
		return
	}
	fmt.Fprintf(w, "  server memory: %s, peak %.1f MiB; heap in use %.1f → %.1f MiB\n",
		rssDrift(warm, end), sum.PeakRSSBytes/mib, warm.HeapBytes/mib, end.HeapBytes/mib)
	fmt.Fprintf(w, "  server CPU: %.2f cores busy on average; goroutines at most %.0f, intake queue at most %.0f\n",
		sum.MeanCores, sum.MaxGoroutines, sum.MaxIntake)
}
