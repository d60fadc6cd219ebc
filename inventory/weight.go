package inventory

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CentiLbs is a weight in hundredths of a pound. Weights are integers so
// that sums are exact: the conservation invariant is checked to the cent.
type CentiLbs int64

// CentiLbsPerLb is the number of CentiLbs in one pound.
const CentiLbsPerLb = 100

// WeightMaxCentiLbs bounds any single weight (a pallet, an order, an
// adjustment): ten million pounds. Larger inputs are operator mistakes.
const WeightMaxCentiLbs CentiLbs = 10_000_000 * CentiLbsPerLb

// Lbs returns whole pounds as CentiLbs.
func Lbs(whole int64) CentiLbs { return CentiLbs(whole * CentiLbsPerLb) }

// Pounds returns w as a float for presentation at an edge (JSON output).
// Never accumulate the result: sums belong in CentiLbs.
func (w CentiLbs) Pounds() float64 { return float64(w) / CentiLbsPerLb }

// String formats w as pounds with two decimals, e.g. "-12.50".
func (w CentiLbs) String() string {
	sign := ""
	v := int64(w)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/CentiLbsPerLb, v%CentiLbsPerLb)
}

// ErrBadWeight reports a weight that is not a decimal with at most two
// fractional digits within WeightMaxCentiLbs.
var ErrBadWeight = errors.New("bad weight")

// ParseLbs parses a decimal number of pounds ("1500", "-12.5", "0.01")
// exactly. More than two decimals, exponents, NaN and sizes beyond
// WeightMaxCentiLbs are errors, never rounded.
func ParseLbs(s string) (CentiLbs, error) {
	orig := s
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) || (hasDot && (frac == "" || !allDigits(frac))) {
		return 0, fmt.Errorf("parse %q: %w: want a decimal number of pounds", orig, ErrBadWeight)
	}
	if len(frac) > 2 {
		return 0, fmt.Errorf("parse %q: %w: more than two decimals", orig, ErrBadWeight)
	}
	if len(whole) > 9 {
		return 0, fmt.Errorf("parse %q: %w: larger than %s lbs", orig, ErrBadWeight, WeightMaxCentiLbs)
	}
	w, _ := strconv.ParseInt(whole, 10, 64) // at most 9 digits: cannot fail
	cents := int64(0)
	if frac != "" {
		for len(frac) < 2 {
			frac += "0"
		}
		cents, _ = strconv.ParseInt(frac, 10, 64)
	}
	v := CentiLbs(w*CentiLbsPerLb + cents)
	if v > WeightMaxCentiLbs {
		return 0, fmt.Errorf("parse %q: %w: larger than %s lbs", orig, ErrBadWeight, WeightMaxCentiLbs)
	}
	if neg {
		v = -v
	}
	return v, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
