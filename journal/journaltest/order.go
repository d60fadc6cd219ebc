package journaltest

import (
	"time"

	"github.com/baconator/baconator/inventory"
)

// QueuedOrder is an order of 10 lb of pork, accepted at at and not yet
// ended: what a test writes to a journal when only its id matters.
func QueuedOrder(id string, at time.Time) inventory.Order {
	return inventory.Order{Request: inventory.OrderRequest{ID: id, Customer: "c", SKU: "pork", Amount: inventory.Lbs(10), CreatedAt: at},
		Status: inventory.StatusQueued, AcceptedAt: at}
}
