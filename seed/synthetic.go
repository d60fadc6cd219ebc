package seed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/baconator/baconator/inventory"
)

// Synthetic is the original demo's warehouse: Count pallets of 1,000 lb of
// pork from suppliers Farm_1…Farm_99, received over the last two days and
// expiring 5–29 days after Now. The same Seed and Now give the same
// pallets.
type Synthetic struct {
	Count int
	Seed  uint64
	Now   time.Time
	// SKU is the pallets' SKU; empty is pork.
	SKU string
	// Tag, if set, goes into every pallet id and lot (P-<tag>-0001,
	// L-<tag>-20261126-001): warehouses seeded apart — a cluster's
	// partitions — then never share an id.
	Tag string
}

// Synthetic's fixed shape.
const (
	syntheticWeightLbs  = 1000
	syntheticSuppliers  = 99
	syntheticExpiryMinD = 5
	syntheticExpiryMaxD = 29
	syntheticCountMax   = 10_000_000
)

// Pallets returns the synthetic pallets.
func (s Synthetic) Pallets(ctx context.Context) ([]inventory.PalletSpec, error) {
	if s.Count < 0 || s.Count > syntheticCountMax {
		return nil, fmt.Errorf("synthetic seed: count %d: want 0..%d", s.Count, syntheticCountMax)
	}
	rng := rand.New(rand.NewPCG(s.Seed, 0x736565640a))
	now := s.Now.UTC().Truncate(time.Second)
	specs := make([]inventory.PalletSpec, s.Count)
	width := len(fmt.Sprint(s.Count))
	width = max(width, 4)
	sku, tag := inventory.DefaultSKU, ""
	if s.SKU != "" {
		sku = s.SKU
	}
	if s.Tag != "" {
		tag = s.Tag + "-"
	}
	for i := range specs {
		if i%10_000 == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("synthetic seed: %w", ctx.Err())
		}
		received := now.Add(-time.Duration(rng.IntN(48*60)) * time.Minute)
		expiresIn := time.Duration(syntheticExpiryMinD)*24*time.Hour +
			time.Duration(rng.Int64N(int64(syntheticExpiryMaxD-syntheticExpiryMinD)*24*int64(time.Hour)))
		specs[i] = inventory.PalletSpec{
			ID:       fmt.Sprintf("P-%s%0*d", tag, width, i+1),
			SKU:      sku,
			Lot:      fmt.Sprintf("L-%s%s-%03d", tag, received.Format("20060102"), 1+i%1000),
			Supplier: fmt.Sprintf("Farm_%d", 1+rng.IntN(syntheticSuppliers)),
			Weight:   inventory.Lbs(syntheticWeightLbs),
			Received: received,
			Expires:  now.Add(expiresIn).Truncate(time.Second),
		}
	}
	return specs, nil
}
