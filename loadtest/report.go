package loadtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/baconator/baconator/inventory"
)

// Report is a run's outcome. Its JSON form is the contract's: accepted,
// throttled, failed, allocated, rejected, acceptPerSec, completedPerSec,
// acceptLatencyMs and completionLatencyMs, and audit.
type Report struct {
	URL string `json:"url"`
	// Started is when sending began; RunID prefixes this run's order ids
	// on the server.
	Started     time.Time `json:"started"`
	RunID       string    `json:"runId"`
	ServerBuild BuildInfo `json:"serverBuild"`
	// The run's settings: Orders planned (0: as many as Duration allows),
	// the sending time asked for, the SKU ordered and how long accepted
	// orders were given to end.
	Mode            string  `json:"mode"` // "closed loop" or "open loop"
	Concurrency     int     `json:"concurrency"`
	Orders          int     `json:"orders"`
	DurationSeconds float64 `json:"durationSeconds,omitempty"`
	SKU             string  `json:"sku"`
	SettleSeconds   float64 `json:"settleSeconds"`
	Follow          string  `json:"follow"` // how orders were followed to their end: "events" or "poll"
	// The load verdict, apart from the audit's (open loop only): the rate
	// offered and the rate sent, and whether the server kept up.
	TargetRate        float64  `json:"targetRate,omitempty"`
	AchievedRate      float64  `json:"achievedRate,omitempty"`
	Saturated         bool     `json:"saturated"`
	SaturationReasons []string `json:"saturationReasons,omitempty"`
	Lbs               float64  `json:"lbs"`
	// StockBefore is the SKU's stock on the floor when the run began.
	StockBefore Stock `json:"stockBefore"`
	Sent        int64 `json:"sent"`
	Accepted    int64 `json:"accepted"`
	Throttled   int64 `json:"throttled"`
	Failed      int64 `json:"failed"`
	Allocated   int64 `json:"allocated"`
	Rejected    int64 `json:"rejected"`
	// RejectedByReason splits Rejected by the reason the server gave.
	RejectedByReason    map[string]int64 `json:"rejectedByReason,omitempty"`
	Cancelled           int64            `json:"cancelled"`
	Unfinished          int64            `json:"unfinished"`
	SendSeconds         float64          `json:"sendSeconds"`
	WallSeconds         float64          `json:"wallSeconds"` // first order sent to last order terminal
	AcceptPerSec        float64          `json:"acceptPerSec"`
	CompletedPerSec     float64          `json:"completedPerSec"`
	AcceptLatencyMs     Percentiles      `json:"acceptLatencyMs"`
	CompletionLatencyMs Percentiles      `json:"completionLatencyMs"`
	Conflicts           float64          `json:"conflicts"` // the server's, during the run
	Retries             float64          `json:"retries"`
	ChaosStrikes        float64          `json:"chaosStrikes"`
	// ChaosInterval is the server's chaos setting in seconds (0: off), from
	// baconator_chaos_interval_seconds; nil for a server that does not
	// export it.
	ChaosInterval *float64    `json:"chaosIntervalSeconds,omitempty"`
	Errors        []string    `json:"errors,omitempty"`
	Audit         AuditResult `json:"audit"`
	Timeline      []Second    `json:"timeline"`
	// Server is the server's memory and CPU, read from its /metrics every
	// second of the run (more coarsely past serverSamplesMax samples) and
	// once at its end.
	Server []ServerSample `json:"server"`
}

// Second is one second of the run: the answers that arrived in it and
// their latencies.
type Second struct {
	T               int     `json:"t"`
	Accepted        int64   `json:"accepted"`
	Completed       int64   `json:"completed"`
	Throttled       int64   `json:"throttled"`
	AcceptP50Ms     float64 `json:"acceptP50Ms"`
	AcceptP99Ms     float64 `json:"acceptP99Ms"`
	CompletionP50Ms float64 `json:"completionP50Ms"`
	CompletionP99Ms float64 `json:"completionP99Ms"`
}

// OK reports whether the run was clean: every check passed, nothing failed.
// It is the audit's verdict; whether the server kept up with the load is
// Saturated's.
func (r *Report) OK() bool { return r.Audit.OK && r.Failed == 0 && r.Unfinished == 0 }

func perSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func buildReport(cfg Config, st *stats, sendEnd, end time.Time, before, after serverCounters, audit AuditResult) *Report {
	r := &Report{
		URL: cfg.URL, Started: st.start, RunID: cfg.RunID,
		Mode: "closed loop", Concurrency: cfg.Concurrency, Orders: cfg.Orders, DurationSeconds: cfg.Duration.Seconds(),
		SKU: cmp.Or(cfg.SKU, inventory.DefaultSKU), SettleSeconds: cfg.Settle.Seconds(),
		Follow: cmp.Or(cfg.Follow, FollowEvents), TargetRate: cfg.Rate, Lbs: cfg.Lbs.Pounds(),
		Sent: st.sent.Load(), Accepted: st.accepted.Load(), Throttled: st.throttled.Load(), Failed: st.failed.Load(),
		Allocated: st.allocated.Load(), Rejected: st.rejected.Load(), Cancelled: st.cancelled.Load(), Unfinished: st.unfinished.Load(),
		SendSeconds: sendEnd.Sub(st.start).Seconds(), WallSeconds: end.Sub(st.start).Seconds(),
		AcceptLatencyMs: st.accept.summary(), CompletionLatencyMs: st.completion.summary(),
		Conflicts: after.Conflicts - before.Conflicts, Retries: after.Retries - before.Retries, ChaosStrikes: after.Strikes - before.Strikes,
		Errors: st.errors, Audit: audit,
	}
	if cfg.Rate > 0 {
		r.Mode = "open loop"
	}
	if len(st.rejectedBy) > 0 {
		r.RejectedByReason = st.rejectedBy
	}
	r.AcceptPerSec = perSec(r.Accepted, sendEnd.Sub(st.start))
	r.CompletedPerSec = perSec(r.Allocated+r.Rejected+r.Cancelled, end.Sub(st.start))
	r.Timeline = timeline(st.seconds)
	var span float64 // the start (the first send is due then) to the last send
	if last := st.lastSend.Load(); last > 0 {
		span = time.Unix(0, last).Sub(st.start).Seconds()
	}
	r.judgeLoad(span)
	return r
}

// timeline seals every second (the run is over) and lists them.
func timeline(seconds []*second) []Second {
	out := make([]Second, len(seconds))
	for i, s := range seconds {
		s.seal()
		out[i] = Second{T: i, Accepted: s.accepted, Completed: s.completed, Throttled: s.throttled,
			AcceptP50Ms: s.acceptP.P50, AcceptP99Ms: s.acceptP.P99,
			CompletionP50Ms: s.completionP.P50, CompletionP99Ms: s.completionP.P99}
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// followedBy says how the run heard of orders' ends.
func (r *Report) followedBy() string {
	if r.Follow == FollowPoll {
		return "a long poll per order"
	}
	return "the event stream"
}

// WriteText writes the human summary.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Baconator load run against %s: %s, %d clients", r.URL, r.Mode, r.Concurrency)
	if r.TargetRate > 0 {
		fmt.Fprintf(w, ", %g orders/s", r.TargetRate)
	}
	fmt.Fprintf(w, ", %g lb per order, ends heard by %s\n", r.Lbs, r.followedBy())
	fmt.Fprintf(w, "  started %s; server %s\n\n", r.Started.Format(time.RFC3339), r.ServerBuild)
	fmt.Fprintf(w, "  stock before the run: %s\n", r.stockLine())
	fmt.Fprintf(w, "  sent %d in %.2fs; first order to last terminal: %.2fs\n", r.Sent, r.SendSeconds, r.WallSeconds)
	if r.TargetRate > 0 {
		fmt.Fprintf(w, "  rate: %.0f orders/s offered, %.0f/s sent\n", r.TargetRate, r.AchievedRate)
	}
	fmt.Fprintf(w, "  accepted %d (%.0f/s)   throttled (429) %d   failed %d   unfinished %d\n", r.Accepted, r.AcceptPerSec, r.Throttled, r.Failed, r.Unfinished)
	fmt.Fprintf(w, "  allocated %d   rejected %d%s   cancelled %d   completed %.0f/s\n", r.Allocated, r.Rejected, r.rejectionLine(), r.Cancelled, r.CompletedPerSec)
	fmt.Fprintf(w, "  server: %.0f conflicts, %.0f retries, %.0f chaos strikes during the run\n", r.Conflicts, r.Retries, r.ChaosStrikes)
	r.writeServerText(w)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  latency (ms)     p50      p90      p99    p99.9      max\n")
	for _, l := range []struct {
		name string
		p    Percentiles
	}{{"accept", r.AcceptLatencyMs}, {"completion", r.CompletionLatencyMs}} {
		fmt.Fprintf(w, "  %-10s %8.2f %8.2f %8.2f %8.2f %8.2f\n", l.name, l.p.P50, l.p.P90, l.p.P99, l.p.P999, l.p.Max)
	}
	fmt.Fprintf(w, "\n  audit:\n")
	for _, c := range r.Audit.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "    %s %-28s %s\n", mark, c.Name, c.Detail)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
	if r.OK() {
		fmt.Fprintln(w, "\n  PASS: every invariant holds")
	} else {
		fmt.Fprintln(w, "\n  FAIL: see above")
	}
	r.writeLoadVerdict(w)
}

// stockLine is the stock the run started from, and a warning when the
// run asked for more than it: rejections are then the floor running out,
// not a fault.
func (r *Report) stockLine() string {
	line := fmt.Sprintf("%s pallets of %s, %s lb on hand, %s lb available", thousands(float64(r.StockBefore.Pallets), 0), cmp.Or(r.SKU, "the default SKU"),
		thousands(r.StockBefore.WeightLbs, 2), thousands(r.StockBefore.AvailableLbs, 2))
	if need := r.askedLbs(); need > r.StockBefore.AvailableLbs {
		line += fmt.Sprintf(" (less than the %s lb this run asked for: expect rejections)", thousands(need, 2))
	}
	return line
}

// reasonCount is how many orders were rejected for one reason.
type reasonCount struct {
	reason string
	n      int64
}

// rejectionReasons lists the rejections by reason, most first.
func (r *Report) rejectionReasons() []reasonCount {
	out := make([]reasonCount, 0, len(r.RejectedByReason))
	for reason, n := range r.RejectedByReason {
		out = append(out, reasonCount{reason, n})
	}
	slices.SortFunc(out, func(a, b reasonCount) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.reason, b.reason)) })
	return out
}

// rejectionLine is the rejections by reason for the text report.
func (r *Report) rejectionLine() string {
	var parts []string
	for _, rc := range r.rejectionReasons() {
		parts = append(parts, fmt.Sprintf("%s %d", rc.reason, rc.n))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// askedLbs is the weight the run's orders asked for.
func (r *Report) askedLbs() float64 { return r.Lbs * float64(r.Sent) }

// String is the build for a reader: version, revision and Go, or
// "version unknown" for a server that does not say.
func (b BuildInfo) String() string {
	if b == (BuildInfo{}) {
		return "version unknown"
	}
	return fmt.Sprintf("version %s, revision %s, %s", cmp.Or(b.Version, "?"), cmp.Or(b.Revision, "?"), cmp.Or(b.GoVersion, "Go ?"))
}

// thousands formats x with the given decimals and commas between
// thousands: stock runs to millions of pounds.
func thousands(x float64, decimals int) string {
	s := strconv.FormatFloat(math.Abs(x), 'f', decimals, 64)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if x < 0 {
		b.WriteByte('-')
	}
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

// writeLoadVerdict says whether the server kept up with an open loop's
// offered rate: the audit's PASS says nothing about that.
func (r *Report) writeLoadVerdict(w io.Writer) {
	if r.TargetRate <= 0 {
		return
	}
	if !r.Saturated {
		fmt.Fprintf(w, "  LOAD: kept up: %.0f orders/s offered, %.0f/s sent\n", r.TargetRate, r.AchievedRate)
		return
	}
	fmt.Fprintf(w, "  LOAD: SATURATED: %.0f orders/s offered, %.0f/s sent; latencies measure the queue, not the server:\n", r.TargetRate, r.AchievedRate)
	for _, why := range r.SaturationReasons {
		fmt.Fprintf(w, "    - %s\n", why)
	}
}

// progress prints a live line to cfg.Progress while the run goes on.
func progress(cfg Config, st *stats) (stop func()) {
	if cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	line := func() {
		done := st.allocated.Load() + st.rejected.Load() + st.cancelled.Load()
		fmt.Fprintf(cfg.Progress, "\r%6.1fs  sent %d  accepted %d  done %d  429s %d  errors %d   ",
			time.Since(st.start).Seconds(), st.sent.Load(), st.accepted.Load(), done, st.throttled.Load(), st.failed.Load())
	}
	wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				line()
				fmt.Fprintln(cfg.Progress)
				return
			case <-t.C:
				line()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// IsTerminal reports whether f is a character device (a terminal), where
// a live progress line makes sense.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
