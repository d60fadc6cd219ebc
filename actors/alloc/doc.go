// Package alloc is Baconator's allocation protocol as pure state machines:
// a Coordinator per SKU and a PalletNode per pallet. They keep no clock,
// start no goroutine, log nothing and draw randomness only from a seeded
// source, so the same inputs always give the same outputs. The actor
// engine (package actors) puts them on protoactor-go; the deterministic
// simulator in this package's tests runs them on one goroutine.
//
// # Step and Ready
//
// Like etcd's raft, a coordinator takes one input at a time with the time
// passed in, and hands back a Ready saying what must happen:
//
//	rd := c.Step(now, input)
//	// 1. journal rd.Ledger and the rd.Orders marked Journal, as one batch
//	// 2. once durable: publish rd.Pallets and rd.Orders, answer rd.Replies
//	// 3. send rd.Messages, stop rd.Stopped and arm rd.Timers
//	// 4. log rd.Notes, record rd.Events, add rd.Counters
//	// 5. if rd.Halt != nil: stop, and recover from the journal
//
// Inputs are what happens to a coordinator: an order arrives
// (OrderArrived), a client cancels (CancelRequested), pallets arrive
// (PalletsArrived), a pallet answers or reports (ReserveReply,
// ConfirmChain coming back, ReturnReply, PalletChanged), a timer fires
// (TimerFired), someone waits for quiet (FlushRequested). A pallet is
// simpler: PalletNode.Step takes a message and returns the envelopes to
// send, the answer for its sender, and whether its state changed.
//
// Nothing the Ready asks may be shown before it is journaled: that is how
// a crash only ever loses work nobody saw. The journal then holds a prefix
// of each SKU's history in every pallet's version order, which is a state
// the engine really was in, and Rebuild turns it back into pallets and
// orders to drive again.
//
// # The protocol
//
// A coordinator plans a batch of orders, earliest-expiring first, on its
// FEFO view (inventory.View) and reserves on each pallet at the version it
// planned with (phase 1). It confirms the longest prefix of the batch
// whose holds were all granted, as one ConfirmChain that visits pallets in
// FEFO order and stops at the first refusal (phase 2). Any physical change
// to a pallet revokes its holds, so a strike between the phases is
// refused, never deducted: what commits is always a FEFO prefix of the
// plan. An order cut by a refusal keeps what it committed and plans only
// the rest; one that cannot find the rest gives back what it took
// (compensation) and ends rejected. Only an order whose own reservation
// was refused is charged a conflict; it is then planned alone. Replies
// that do not come count as refusals; a decided chain or a return is sent
// again, a bounded number of times, and then the coordinator halts.
// docs/protocol.md tells the whole story and why.
//
// # Tests
//
// testdata/*.txt are the hand-written scenarios, one message at a time.
// TestSimulation runs thousands of seeded histories with chaos, operators,
// a lossy network and crashes against the sequential FEFO oracle (package
// oracle); a failing seed prints its trace and a one-line replay:
//
//	go test ./actors/alloc -run TestSimulation -sim.seed 1234 -v
package alloc
