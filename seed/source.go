package seed

import (
	"context"

	"github.com/baconator/baconator/inventory"
)

// Source yields the pallets to receive into an empty warehouse. A Source
// returns every pallet or an error, never a part: a bad feed loads nothing.
type Source interface {
	Pallets(ctx context.Context) ([]inventory.PalletSpec, error)
}
