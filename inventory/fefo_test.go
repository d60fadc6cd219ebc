package inventory

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFEFOCompareTieBreaks(t *testing.T) {
	a := spec("B", 1, 5)
	b := spec("A", 1, 6)
	assert.Negative(t, FEFOCompare(&a, &b), "earlier expiration first")

	c := spec("Z", 1, 5)
	c.Received = t0.Add(-time.Hour)
	assert.Negative(t, FEFOCompare(&c, &a), "same expiration: earlier received first")

	d := spec("A", 1, 5)
	assert.Negative(t, FEFOCompare(&d, &a), "same expiration and receipt: lower id first")
	assert.Zero(t, FEFOCompare(&a, &a))
}

func viewOf(specs ...PalletSpec) *View {
	v := NewView()
	v.Insert(specs...)
	return v
}

func ids(v *View, parts []Part) []string {
	var out []string
	for _, p := range parts {
		out = append(out, v.At(p.Slot).Spec.ID)
	}
	return out
}

func TestPlan(t *testing.T) {
	now := t0
	tests := []struct {
		name       string
		amount     int64
		shelfDays  int
		wantIDs    []string
		wantLbs    []CentiLbs
		wantReason Reason
	}{
		{"earliest expiring first", 150, 0, []string{"early", "mid"}, []CentiLbs{Lbs(100), Lbs(50)}, ReasonNone},
		{"minimum shelf life skips short-dated pallets", 50, 7, []string{"mid"}, []CentiLbs{Lbs(50)}, ReasonNone},
		{"shelf life beyond every pallet", 1, 30, nil, nil, ReasonNoEligibleStock},
		{"more than all eligible stock", 301, 0, nil, nil, ReasonInsufficientStock},
		{"exactly all eligible stock", 300, 0, []string{"early", "mid", "late"}, []CentiLbs{Lbs(100), Lbs(100), Lbs(100)}, ReasonNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expired := spec("expired", 500, -1)
			v := viewOf(spec("late", 100, 20), spec("early", 100, 5), expired, spec("mid", 100, 10))
			parts, reason := v.Plan(Lbs(tc.amount), ShelfLifeCutoff(now, tc.shelfDays), nil)
			assert.Equal(t, tc.wantReason, reason)
			assert.Equal(t, tc.wantIDs, ids(v, parts))
			var lbs []CentiLbs
			for _, p := range parts {
				lbs = append(lbs, p.Lbs)
			}
			assert.Equal(t, tc.wantLbs, lbs)
		})
	}
}

func TestPlanBatchSeesEarlierTakes(t *testing.T) {
	v := viewOf(spec("a", 100, 5), spec("b", 100, 6), spec("c", 100, 7))
	first, reason := v.Plan(Lbs(150), t0, nil)
	require.Equal(t, ReasonNone, reason)
	assert.Equal(t, []string{"a", "b"}, ids(v, first))

	second, reason := v.Plan(Lbs(100), t0, nil)
	require.Equal(t, ReasonNone, reason)
	assert.Equal(t, []string{"b", "c"}, ids(v, second), "the second order starts where the first stopped")

	_, reason = v.Plan(Lbs(60), t0, nil)
	assert.Equal(t, ReasonInsufficientStock, reason, "only 50 lb left")

	v.ResetPlan()
	again, _ := v.Plan(Lbs(100), t0, nil)
	assert.Equal(t, []string{"a"}, ids(v, again), "reset forgets the batch's takes")
}

func TestViewUpdateKeepsNewestVersion(t *testing.T) {
	v := viewOf(spec("a", 100, 5), spec("b", 100, 6))
	parts, _ := v.Plan(Lbs(100), t0, nil)
	require.Equal(t, []string{"a"}, ids(v, parts))
	v.ResetPlan()
	require.True(t, v.Update("a", 0, 2))
	assert.False(t, v.Update("a", Lbs(100), 2), "an older or equal version is ignored")
	parts, _ = v.Plan(Lbs(10), t0, nil)
	assert.Equal(t, []string{"b"}, ids(v, parts))
	v.ResetPlan()
	require.True(t, v.Update("a", Lbs(5), 3))
	parts, _ = v.Plan(Lbs(10), t0, nil)
	assert.Equal(t, []string{"a", "b"}, ids(v, parts), "weight coming back to an earlier pallet is used first")
}

func TestInsertOneKeepsOrderIndexAndHead(t *testing.T) {
	v := viewOf(spec("b", 100, 6), spec("d", 100, 8))
	parts, _ := v.Plan(Lbs(100), t0, nil) // empties b
	v.ResetPlan()
	require.True(t, v.Update(ids(v, parts)[0], 0, 2))
	_, _ = v.Plan(Lbs(1), t0, nil) // moves the head past the emptied b
	v.ResetPlan()

	for _, s := range []PalletSpec{spec("e", 100, 9), spec("a", 100, 5), spec("c", 100, 7)} {
		v.Insert(s)
	}
	var order []string
	for i := range v.Len() {
		order = append(order, v.At(i).Spec.ID)
		j, ok := v.Index(v.At(i).Spec.ID)
		require.True(t, ok)
		require.Equal(t, i, j, "index of %s", v.At(i).Spec.ID)
	}
	assert.Equal(t, []string{"a", "b", "c", "d", "e"}, order)
	parts, reason := v.Plan(Lbs(150), t0, nil)
	require.Equal(t, ReasonNone, reason)
	assert.Equal(t, []string{"a", "c"}, ids(v, parts), "a receipt earlier than the head is planned first")
}

// TestRemoveKeepsIndexAndPlans removes pallets at the head, in the middle
// and at the end, past the point where the view compacts, with receipts in
// between, and checks after every step that each pallet still on the floor
// is indexed at its slot, none removed is, and a plan takes exactly the
// pallets left, in FEFO order.
func TestRemoveKeepsIndexAndPlans(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var specs []PalletSpec
	for i := range 300 {
		specs = append(specs, spec(fmt.Sprintf("p%03d", i), 10, 1+i))
	}
	v := viewOf(specs...)
	live := map[string]bool{}
	for _, s := range specs {
		live[s.ID] = true
	}
	check := func() {
		t.Helper()
		var want []string
		for i := range v.Len() {
			s := v.At(i)
			j, ok := v.Index(s.Spec.ID)
			require.Equal(t, live[s.Spec.ID], ok, "%s indexed", s.Spec.ID)
			if ok {
				require.Equal(t, i, j, "index of %s", s.Spec.ID)
				want = append(want, s.Spec.ID)
			}
		}
		require.Len(t, want, len(live))
		parts, reason := v.Plan(Lbs(10*int64(len(live))), t0, nil)
		v.ResetPlan()
		if len(live) > 0 {
			require.Equal(t, ReasonNone, reason)
		}
		require.Equal(t, want, ids(v, parts), "a plan takes every pallet left, FEFO")
	}
	next := 300
	for round := range 60 {
		left := slices.Sorted(maps.Keys(live))
		var drop []string
		for range 1 + rng.IntN(8) {
			if len(left) > 0 {
				drop = append(drop, left[rng.IntN(len(left))])
			}
		}
		if round%3 == 0 { // the head, as retirements usually are
			if i, ok := firstLive(v); ok {
				drop = append(drop, v.At(i).Spec.ID)
			}
		}
		v.Remove(drop...)
		v.Remove(drop...) // twice is once
		for _, id := range drop {
			delete(live, id)
		}
		check()
		if round%5 == 0 {
			s := spec(fmt.Sprintf("q%03d", next), 10, 1+rng.IntN(400))
			next++
			v.Insert(s)
			live[s.ID] = true
			check()
		}
	}
	assert.Less(t, v.Len(), 2*len(live)+compactAfter+10, "removed slots are compacted away")
}

func firstLive(v *View) (int, bool) {
	for i := range v.Len() {
		if _, ok := v.Index(v.At(i).Spec.ID); ok {
			return i, true
		}
	}
	return 0, false
}
