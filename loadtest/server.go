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
// server nothing it would notice.
const sampleEvery = time.Second

// ServerSample is the server's own account of itself at one moment of a
// run, read from its /metrics.
type ServerSample struct {
	T          float64 `json:"t"`          // seconds since the run began
	RSSBytes   float64 `json:"rssBytes"`   // process_resident_memory_bytes
	HeapBytes  float64 `json:"heapBytes"`  // go_memstats_heap_inuse_bytes
	CPUSeconds float64 `json:"cpuSeconds"` // process_cpu_seconds_total, since the process began
	Goroutines float64 `json:"goroutines"` // go_goroutines
}

const mib = 1 << 20

// sampleServer reads the server's /metrics every sampleEvery from start
// until stop is called, and returns what it read. A failed read is skipped:
// the run's own requests report an unreachable server.
func sampleServer(c *client, start time.Time) (stop func() []ServerSample) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		samples []ServerSample
		wg      sync.WaitGroup
	)
	read := func(ctx context.Context) {
		m, err := c.metrics(ctx)
		if err != nil {
			return
		}
		samples = append(samples, ServerSample{
			T: time.Since(start).Seconds(), RSSBytes: m.value("process_resident_memory_bytes"), HeapBytes: m.value("go_memstats_heap_inuse_bytes"),
			CPUSeconds: m.value("process_cpu_seconds_total"), Goroutines: m.value("go_goroutines"),
		})
	}
	wg.Go(func() {
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		read(ctx)
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				read(ctx)
			}
		}
	})
	return func() []ServerSample {
		cancel()
		wg.Wait()
		// One last read, so even a run shorter than a second ends with the
		// server as the run left it.
		final, cancelFinal := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelFinal()
		read(final)
		return samples
	}
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

func (r *Report) writeServerText(w io.Writer) {
	warm, end, ok := r.MemoryDrift()
	if !ok {
		return
	}
	peak := end
	for _, x := range r.Server {
		if x.RSSBytes > peak.RSSBytes {
			peak = x
		}
	}
	cores := 0.0
	if first := r.Server[0]; end.T > first.T {
		cores = (end.CPUSeconds - first.CPUSeconds) / (end.T - first.T)
	}
	fmt.Fprintf(w, "  server memory: RSS %.1f MiB at %.0fs, %.1f MiB at the end (%+.1f%%), peak %.1f MiB; heap in use %.1f → %.1f MiB; %.2f cores busy\n",
		warm.RSSBytes/mib, warm.T, end.RSSBytes/mib, 100*(end.RSSBytes-warm.RSSBytes)/warm.RSSBytes, peak.RSSBytes/mib,
		warm.HeapBytes/mib, end.HeapBytes/mib, cores)
}
