package loadtest

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are kept in microseconds from 1 µs to 10 min, 3 significant
// digits: exact enough for p99.9 and small enough to keep per second.
const (
	latencyMinUs   = 1
	latencyMaxUs   = int64(10 * time.Minute / time.Microsecond)
	latencySigFigs = 3
)

// recorder is a concurrency-safe latency histogram.
type recorder struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func newRecorder() *recorder {
	return &recorder{h: hdrhistogram.New(latencyMinUs, latencyMaxUs, latencySigFigs)}
}

func (r *recorder) record(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.h.RecordValue(micros(d))
}

// micros is d in whole microseconds, within what the histograms hold.
func micros(d time.Duration) int64 {
	return min(max(int64(d/time.Microsecond), latencyMinUs), latencyMaxUs)
}

// Percentiles summarizes a latency distribution in milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

func (r *recorder) summary() Percentiles {
	r.mu.Lock()
	defer r.mu.Unlock()
	return summarize(r.h)
}

func summarize(h *hdrhistogram.Histogram) Percentiles {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Count: h.TotalCount(),
		P50:   ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)),
		Max: ms(h.Max()), Mean: h.Mean() / 1000,
	}
}
