package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baconator/baconator/internal/testkit"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/httpapi"
	"github.com/baconator/baconator/inventory"
	"github.com/baconator/baconator/seed"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }

func TestPercentiles(t *testing.T) {
	r := newRecorder()
	for i := 1; i <= 1000; i++ {
		r.record(time.Duration(i) * time.Millisecond)
	}
	p := r.summary()
	assert.EqualValues(t, 1000, p.Count)
	assert.InDelta(t, 500, p.P50, 1)
	assert.InDelta(t, 900, p.P90, 1)
	assert.InDelta(t, 990, p.P99, 1)
	assert.InDelta(t, 999, p.P999, 1)
	assert.InDelta(t, 1000, p.Max, 1)
	assert.InDelta(t, 500.5, p.Mean, 1)
	assert.Equal(t, Percentiles{}, newRecorder().summary(), "no samples, no numbers")

	r = newRecorder()
	r.record(0)
	r.record(time.Hour)
	assert.InDelta(t, 0.001, r.summary().P50, 1e-9, "below the floor counts as 1 µs")
	assert.InDelta(t, 600_000, r.summary().Max, 600, "beyond the ceiling counts as 10 min")
}

func TestRates(t *testing.T) {
	assert.InDelta(t, 150, perSec(300, 2*time.Second), 1e-9)
	assert.Zero(t, perSec(300, 0))
}

// healthy is a consistent snapshot: two pallets, one order took 1,500 lb.
func healthy() Snapshot {
	return Snapshot{
		Pallets: []Pallet{
			{ID: "P1", SKU: "pork", WeightLbs: "0", AvailableLbs: "0", ReservedLbs: "0", Version: 2},
			{ID: "P2", SKU: "pork", WeightLbs: "500", AvailableLbs: "500", ReservedLbs: "0", Version: 2},
			{ID: "P3", SKU: "pork", WeightLbs: "1000", AvailableLbs: "1000", ReservedLbs: "0", Version: 1},
		},
		Ledgers: map[string][]LedgerEntry{
			"P1": {{Kind: "received", Lbs: "1000", Version: 1}, {Kind: "allocated", Lbs: "-1000", OrderID: "o1", Version: 2}},
			"P2": {{Kind: "received", Lbs: "1000", Version: 1}, {Kind: "allocated", Lbs: "-500", OrderID: "o1", Version: 2}},
			"P3": {{Kind: "received", Lbs: "1000", Version: 1}},
		},
		Orders: []Order{{ID: "o1", Status: "allocated", AmountRequested: "1500",
			Allocations: []Allocation{{PalletID: "P1", Lbs: "1000"}, {PalletID: "P2", Lbs: "500"}}}},
		ChaosQuiet: true,
	}
}

func failed(r AuditResult) []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c.Name)
		}
	}
	return out
}

func TestAudit(t *testing.T) {
	r := Audit(healthy())
	require.True(t, r.OK, "%+v", r)

	tests := []struct {
		name   string
		break_ func(*Snapshot)
		fails  []string
	}{
		{"a ledger that does not sum to the weight", func(s *Snapshot) { s.Pallets[2].WeightLbs = "1000.01" }, []string{"ledgers_sum_to_weight"}},
		{"negative weight", func(s *Snapshot) {
			s.Pallets[0].WeightLbs = "-5"
			s.Ledgers["P1"] = append(s.Ledgers["P1"], LedgerEntry{Kind: "adjusted", Lbs: "-5", Version: 3})
		}, []string{"no_negative_weight"}},
		{"an allocation short of the request", func(s *Snapshot) { s.Orders[0].AmountRequested = "1600" }, []string{"allocations_sum_to_request"}},
		{"an allocation the ledger does not show", func(s *Snapshot) { s.Orders[0].Allocations[1].Lbs = "400" }, []string{"allocations_sum_to_request", "allocations_match_ledgers"}},
		{"a ledger entry the order does not list", func(s *Snapshot) {
			s.Orders[0].Allocations = s.Orders[0].Allocations[:1]
			s.Orders[0].AmountRequested = "1000"
		}, []string{"allocations_match_ledgers"}},
		{"a rejected order still holding weight", func(s *Snapshot) { s.Orders[0].Status = "rejected" }, []string{"allocations_sum_to_request"}},
		{"an order never finished", func(s *Snapshot) { s.Orders[0].Status = "allocating" }, []string{"every_order_terminal", "allocations_sum_to_request"}},
		{"a hold left behind", func(s *Snapshot) { s.Pallets[2].ReservedLbs, s.Pallets[2].AvailableLbs = "10", "990" }, []string{"no_hold_left"}},
		{"a ledger entry for an order the client never saw accepted", func(s *Snapshot) {
			s.RunID = "lg-x"
			s.Pallets[2].WeightLbs, s.Pallets[2].AvailableLbs, s.Pallets[2].Version = "990", "990", 2
			s.Ledgers["P3"] = append(s.Ledgers["P3"], LedgerEntry{Kind: "allocated", Lbs: "-10", OrderID: "lg-x-77", Version: 2})
		}, []string{"allocations_match_ledgers"}},
		{"a FEFO hole", func(s *Snapshot) {
			// o1 took P1 and P3, skipping P2 which still has weight.
			s.Pallets[1].WeightLbs, s.Pallets[1].AvailableLbs = "1000", "1000"
			s.Ledgers["P2"] = s.Ledgers["P2"][:1]
			s.Pallets[2].WeightLbs, s.Pallets[2].AvailableLbs, s.Pallets[2].Version = "500", "500", 2
			s.Ledgers["P3"] = append(s.Ledgers["P3"], LedgerEntry{Kind: "allocated", Lbs: "-500", OrderID: "o1", Version: 2})
			s.Orders[0].Allocations[1].PalletID = "P3"
		}, []string{"no_fefo_holes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := healthy()
			tc.break_(&s)
			r := Audit(s)
			assert.False(t, r.OK)
			assert.Equal(t, tc.fails, failed(r))
		})
	}
	t.Run("holes are not judged while chaos strikes", func(t *testing.T) {
		s := healthy()
		s.ChaosQuiet = false
		s.Pallets[1].AvailableLbs = "500"
		assert.True(t, Audit(s).OK)
	})
}

// TestRunAgainstTheRealServer runs the load generator against the real
// server in-process: a small closed-loop run with chaos off (so the FEFO
// check runs), then an open-loop run with chaos at 2 ms.
func TestRunAgainstTheRealServer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		chaos time.Duration
		cfg   func(*Config)
	}{
		{"closed loop, chaos off", 0, func(c *Config) { c.Orders, c.Concurrency = 120, 30 }},
		{"open loop, chaos at 2ms", 2 * time.Millisecond, func(c *Config) { c.Orders, c.Concurrency, c.Rate = 120, 50, 1000 }},
		{"open loop, chaos at 2ms, a long poll per order", 2 * time.Millisecond, func(c *Config) {
			c.Orders, c.Concurrency, c.Rate, c.Follow = 120, 50, 1000, FollowPoll
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := startServer(t, tc.chaos)
			cfg := DefaultConfig()
			cfg.URL = url
			tc.cfg(&cfg)
			r, err := Run(context.Background(), cfg)
			require.NoError(t, err)
			var text bytes.Buffer
			r.WriteText(&text)
			require.True(t, r.OK(), text.String())
			assert.EqualValues(t, cfg.Orders, r.Accepted)
			assert.EqualValues(t, cfg.Orders, r.Allocated, "200 pallets cover these orders")
			assert.Positive(t, r.CompletionLatencyMs.P50)
			assert.Contains(t, text.String(), "PASS")
			assert.Contains(t, text.String(), "ends heard by "+map[string]string{FollowEvents: "the event stream", FollowPoll: "a long poll per order"}[cfg.Follow])
			assert.Equal(t, 200, r.StockBefore.Pallets, "the report shows the stock the run started from")
			assert.InDelta(t, 200_000, r.StockBefore.AvailableLbs, 1_000, "200 pallets of 1,000 lb, give or take chaos")
			assert.Contains(t, text.String(), "stock before the run: 200 pallets of pork")
			if tc.chaos == 0 {
				assert.True(t, r.Audit.Checks[len(r.Audit.Checks)-1].OK)
				assert.NotContains(t, r.Audit.Checks[len(r.Audit.Checks)-1].Detail, "skipped", "with chaos off the FEFO check runs")
			}

			var js bytes.Buffer
			require.NoError(t, r.WriteJSON(&js))
			var m map[string]any
			require.NoError(t, json.Unmarshal(js.Bytes(), &m))
			for _, k := range []string{"accepted", "throttled", "failed", "allocated", "rejected", "acceptPerSec", "completedPerSec", "acceptLatencyMs", "completionLatencyMs", "audit"} {
				assert.Contains(t, m, k)
			}
			assert.Contains(t, m["completionLatencyMs"], "p999")
			assert.Equal(t, runtime.Version(), r.ServerBuild.GoVersion, "the server's build, from its /metrics")
			require.NotNil(t, r.ChaosInterval, "the server's chaos setting, from its /metrics")
			assert.Equal(t, tc.chaos.Seconds(), *r.ChaosInterval)
			assert.WithinDuration(t, time.Now(), r.Started, time.Minute)
			assert.Contains(t, text.String(), "started "+r.Started.Format(time.RFC3339)+"; server version ")
			var accepts int
			for _, s := range r.Timeline {
				if s.AcceptP99Ms > 0 {
					accepts++
				}
			}
			assert.Positive(t, accepts, "accept latencies by the second")
			for _, k := range []string{"t", "cpuCores", "rssBytes", "goroutines", "intakeDepth"} {
				assert.Contains(t, m["server"].([]any)[0], k)
			}
			var page bytes.Buffer
			require.NoError(t, r.WriteHTML(&page))
			assert.False(t, strings.Contains(page.String(), "<script src="), "the page is self-contained")
			for _, want := range []string{"Orders per second", "Accept latency", "Server memory", "Server CPU and queue", "Stock before the run"} {
				pageShows(t, page.String(), want)
			}

			// The server is sampled through the run and once at its end,
			// from its own /metrics (this one is in this process).
			require.NotEmpty(t, r.Server)
			last := r.Server[len(r.Server)-1]
			assert.GreaterOrEqual(t, last.T, r.WallSeconds, "the last sample is taken once the run has ended")
			assert.Positive(t, last.HeapBytes)
			assert.Positive(t, last.Goroutines)
			if runtime.GOOS == "linux" { // process metrics come from procfs
				_, end, ok := r.MemoryDrift()
				require.True(t, ok)
				assert.Positive(t, end.RSSBytes)
				assert.Contains(t, text.String(), "server memory: RSS")
				assert.Contains(t, text.String(), "cores busy on average")
			}
		})
	}
	t.Run("open loop against a full intake counts 429s as throttled, not failed", func(t *testing.T) {
		url := startServer(t, 0, func(c *actors.Config) {
			c.IntakeCapacity, c.OrdersInFlightMax, c.ProcessDelay = 4, 1, 5*time.Millisecond
		})
		cfg := DefaultConfig()
		cfg.URL, cfg.Orders, cfg.Concurrency, cfg.Rate, cfg.Lbs = url, 200, 50, 2000, inventory.Lbs(1)
		r, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		assert.Positive(t, r.Throttled)
		assert.Zero(t, r.Failed, "%v", r.Errors)
		assert.EqualValues(t, cfg.Orders, r.Accepted+r.Throttled)
		assert.EqualValues(t, r.Accepted, r.Allocated)
		assert.True(t, r.OK())
	})
	t.Run("a server driven past its capacity is saturated, though every invariant holds", func(t *testing.T) {
		// One order at a time, 20 ms each: 50 orders/s, offered 500/s.
		url := startServer(t, 0, func(c *actors.Config) {
			c.OrdersInFlightMax, c.ProcessDelay = 1, 20*time.Millisecond
		})
		cfg := DefaultConfig()
		cfg.URL, cfg.Orders, cfg.Concurrency, cfg.Rate, cfg.Lbs = url, 150, 50, 500, inventory.Lbs(1)
		r, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		var text bytes.Buffer
		r.WriteText(&text)
		require.True(t, r.OK(), text.String())
		assert.True(t, r.Saturated, text.String())
		assert.Contains(t, strings.Join(r.SaturationReasons, "\n"), "after the last was sent", "a backlog drained after sending")
		assert.Contains(t, text.String(), "PASS: every invariant holds", "the audit's verdict stands apart")
		assert.Contains(t, text.String(), "LOAD: SATURATED")
		var js bytes.Buffer
		require.NoError(t, r.WriteJSON(&js))
		var m map[string]any
		require.NoError(t, json.Unmarshal(js.Bytes(), &m))
		assert.Equal(t, true, m["saturated"])
		assert.EqualValues(t, 500, m["targetRate"])
		assert.Contains(t, m, "achievedRate")
		var page bytes.Buffer
		require.NoError(t, r.WriteHTML(&page))
		pageShows(t, page.String(), "LOAD: SATURATED")
		for _, why := range r.SaturationReasons {
			pageShows(t, page.String(), why)
		}
	})
	t.Run("a gentle open loop keeps up", func(t *testing.T) {
		url := startServer(t, 0)
		cfg := DefaultConfig()
		cfg.URL, cfg.Orders, cfg.Concurrency, cfg.Rate, cfg.Lbs = url, 60, 20, 100, inventory.Lbs(1)
		r, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		var text bytes.Buffer
		r.WriteText(&text)
		assert.False(t, r.Saturated, text.String())
		assert.InDelta(t, 100, r.AchievedRate, 5, "60 orders 10 ms apart")
		assert.Contains(t, text.String(), "LOAD: kept up")
	})
	t.Run("an unreachable server is reported plainly", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.URL = "http://127.0.0.1:1"
		_, err := Run(context.Background(), cfg)
		assert.ErrorIs(t, err, ErrUnreachable)
	})
}

func startServer(t *testing.T, chaos time.Duration, mutate ...func(*actors.Config)) string {
	t.Helper()
	cfg := actors.DefaultConfig()
	cfg.Chaos.Interval = chaos
	for _, m := range mutate {
		m(&cfg)
	}
	eng, err := actors.New(cfg)
	require.NoError(t, err)
	specs, err := seed.Synthetic{Count: 200, Seed: 1, Now: time.Now()}.Pallets(context.Background())
	require.NoError(t, err)
	_, err = eng.ReceivePallets(specs)
	require.NoError(t, err)
	api := httpapi.New(httpapi.Config{Engine: eng})
	api.SetReady()
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, eng.Close(context.Background()))
		require.Zero(t, eng.Failures())
	})
	return srv.URL
}

// TestMemoryDriftComparesTheWarmServerWithItsEnd: a soak judges memory
// from a minute in (start-up allocations are not growth) to the end.
func TestMemoryDriftComparesTheWarmServerWithItsEnd(t *testing.T) {
	r := &Report{}
	_, _, ok := r.MemoryDrift()
	assert.False(t, ok, "no samples")
	r.Server = []ServerSample{{T: 0, RSSBytes: 10 * mib}, {T: 1}} // a server without procfs
	_, _, ok = r.MemoryDrift()
	assert.False(t, ok)

	r.Server = []ServerSample{{T: 0, RSSBytes: 10 * mib}, {T: 30, RSSBytes: 40 * mib}, {T: 61, RSSBytes: 50 * mib}, {T: 600, RSSBytes: 52 * mib}}
	warm, end, ok := r.MemoryDrift()
	require.True(t, ok)
	assert.Equal(t, 61.0, warm.T)
	assert.Equal(t, 600.0, end.T)
	var text bytes.Buffer
	r.writeServerText(&text)
	assert.Contains(t, text.String(), "RSS 50.0 MiB at 61s, 52.0 MiB at the end (+4.0%)")

	r.Server = r.Server[:2] // shorter than a minute: from the first sample
	warm, _, _ = r.MemoryDrift()
	assert.Zero(t, warm.T)
}

// TestLoadVerdict: each sign of saturation on its own — a rate not sent,
// a backlog drained after sending, latency that grew through the run —
// and none of them for a closed loop, which has no target.
func TestLoadVerdict(t *testing.T) {
	steady := func(p50s ...float64) []Second {
		var out []Second
		for i, p := range p50s {
			out = append(out, Second{T: i, Completed: 100, CompletionP50Ms: p})
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		r         Report
		span      float64
		saturated string // a reason's words, or "" for none
	}{
		{"kept up", Report{TargetRate: 100, Sent: 1001, SendSeconds: 10.2, WallSeconds: 10.3, Timeline: steady(2, 2, 3, 2, 2, 3, 2, 2)}, 10, ""},
		{"rate missed", Report{TargetRate: 5000, Sent: 78374, SendSeconds: 30, WallSeconds: 30.5}, 30, "of the 5000/s offered"},
		{"backlog", Report{TargetRate: 100, Sent: 101, SendSeconds: 1.1, WallSeconds: 4}, 1, "after the last was sent"},
		{"latency grew", Report{TargetRate: 100, Sent: 801, SendSeconds: 8, WallSeconds: 8.1, Timeline: steady(2, 3, 20, 80, 200, 400, 800, 900)}, 8, "completion p50 grew"},
		{"closed loop", Report{Sent: 10, SendSeconds: 1, WallSeconds: 9}, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			r.judgeLoad(tc.span)
			if tc.saturated == "" {
				assert.False(t, r.Saturated, "%v", r.SaturationReasons)
				return
			}
			require.True(t, r.Saturated)
			assert.Contains(t, strings.Join(r.SaturationReasons, "\n"), tc.saturated)
		})
	}
}
