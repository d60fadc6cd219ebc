package inventory

import (
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
