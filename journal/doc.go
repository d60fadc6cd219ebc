// Package journal is Baconator's durable store: an embedded Pebble database
// holding the warehouse's state as keys, written in synced batches with
// group commit.
//
// It stores state, not a log of events: one key per order (its latest
// snapshot), one per pallet receipt and one per ledger entry. An order's
// life overwrites its one key, and Pebble's compactions drop what was
// overwritten, so recovery reads what is live — every order and every
// ledger line the API serves — and never replays history that no longer
// matters. A pallet's weight and version are not stored; they are its
// ledger's sum and last version, so the two can never disagree.
//
// Every Commit is durable when it returns (pebble.Sync). Concurrent commits
// share one write and one sync: one writer goroutine takes whatever is
// queued, writes it as one Pebble batch and syncs once. The first write
// error stops the journal for good (Pebble's own commit pipeline cannot go
// on after one either): every later Commit fails with ErrFailed, so nothing
// is ever acknowledged that was not persisted, and a restart recovers from
// what was.
package journal
