package inventory

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseLbs(t *testing.T) {
	good := map[string]CentiLbs{
		"1500": 150000, "12.5": 1250, "0.01": 1, "-12.5": -1250, "+3": 300, "0": 0,
		"10000000": WeightMaxCentiLbs, "7.00": 700,
	}
	for in, want := range good {
		got, err := ParseLbs(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-", ".5", "5.", "1.234", "1e3", "NaN", "Infinity", "0x10", "1,5", " 1", "10000000.01", "99999999999", "--1"} {
		_, err := ParseLbs(in)
		assert.True(t, errors.Is(err, ErrBadWeight), "%q: %v", in, err)
	}
}

func TestCentiLbsString(t *testing.T) {
	assert.Equal(t, "1500.00", Lbs(1500).String())
	assert.Equal(t, "-0.05", CentiLbs(-5).String())
	assert.Equal(t, "12.50", CentiLbs(1250).String())
}

func FuzzParseLbs(f *testing.F) {
	for _, s := range []string{"1500", "12.5", "-0.01", "1.234", "NaN", "1e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseLbs(s)
		if err != nil {
			return
		}
		if w > WeightMaxCentiLbs || w < -WeightMaxCentiLbs {
			t.Fatalf("%q parsed to %d, beyond the bound", s, w)
		}
		back, err := ParseLbs(w.String())
		if err != nil || back != w {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, w, w.String(), back, err)
		}
	})
}
