// Package inventory is Baconator's pure core: weights, pallets and their
// bookkeeping, orders, and the First-Expired-First-Out view and planner.
//
// Nothing here has a clock, randomness, goroutines or logging: callers pass
// the time in and act on what the functions return. The actor engine
// (package actors) wraps these types in messages; the tests of this package
// exercise every rule without an actor system.
package inventory
