package loadtest

import (
	"fmt"
	"slices"
)

// Thresholds of the load verdict. An open-loop run is saturated when the
// server did not keep up with what was offered: the load generator could
// not send at the target rate, orders kept completing long after the last
// was sent (a backlog drained), or completion latency grew through the run
// instead of holding steady. Any of these makes the run's latencies a
// measure of the queue, not of the server, whatever the audit says.
const (
	achievedRateMin    = 0.95 // of the target
	backlogSecondsMin  = 2.0  // completions after sending ended, at least …
	backlogShareMin    = 0.25 // … and this share of the sending time
	latencyGrowthMax   = 4.0  // last quarter's completion p50 over the first's …
	latencyGrowthMsMin = 100  // … once it is past this
)

// judgeLoad sets the load verdict: the achieved rate — orders sent over
// the span from the run's start, when the first is due, to the last send
// (sent orders are 1/rate apart,
// so n of them span n-1 intervals) — and whether, and why, the run was
// saturated. A closed loop has no target: it is never saturated, it
// measures what the server does.
func (r *Report) judgeLoad(span float64) {
	if r.TargetRate <= 0 {
		return
	}
	switch {
	case r.Sent > 1 && span > 0:
		r.AchievedRate = float64(r.Sent-1) / span
	case r.Sent > 0:
		r.AchievedRate = r.TargetRate // one order: no rate to miss
	}
	if r.AchievedRate < achievedRateMin*r.TargetRate {
		r.SaturationReasons = append(r.SaturationReasons, fmt.Sprintf("sent %.0f orders/s of the %.0f/s offered", r.AchievedRate, r.TargetRate))
	}
	if tail := r.WallSeconds - r.SendSeconds; tail > backlogSecondsMin && tail > backlogShareMin*r.SendSeconds {
		r.SaturationReasons = append(r.SaturationReasons, fmt.Sprintf("orders kept completing %.1fs after the last was sent (a backlog drained)", tail))
	}
	if first, last, ok := r.latencyQuarters(); ok && last > latencyGrowthMsMin && last > latencyGrowthMax*first {
		r.SaturationReasons = append(r.SaturationReasons, fmt.Sprintf("completion p50 grew from %.1f ms in the first quarter of the run to %.1f ms in the last", first, last))
	}
	r.Saturated = len(r.SaturationReasons) > 0
}

// latencyQuarters is the median of the per-second completion p50s in the
// first and the last quarter of the seconds that saw completions.
func (r *Report) latencyQuarters() (first, last float64, ok bool) {
	var p50s []float64
	for _, s := range r.Timeline {
		if s.Completed > 0 {
			p50s = append(p50s, s.CompletionP50Ms)
		}
	}
	if len(p50s) < 4 {
		return 0, 0, false
	}
	q := len(p50s) / 4
	return median(p50s[:q]), median(p50s[len(p50s)-q:]), true
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
