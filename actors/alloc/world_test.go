package alloc_test

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/actors/alloc/oracle"
	"github.com/baconator/baconator/inventory"
)

// world runs coordinators and pallets — the real state machines — on one
// goroutine, as a deterministic stand-in for the actor system: every
// address has a FIFO mailbox, and a seeded scheduler picks which one is
// served next, when a timer fires, when time moves, and what the outside
// world does (orders, cancels, receipts, adjustments, chaos strikes,
// crashes). Its network may drop, duplicate and delay the messages the
// protocol guards with timeouts and idempotency. A journal model keeps
// what each Ready journaled; a crash throws everything else away and
// recovers from it with the engine's own alloc.Rebuild. Checked against
// the sequential oracle as it goes, and against every invariant at the end.
type world struct {
	rng    *rand.Rand
	now    time.Time
	cfg    alloc.Config
	faults faults
	seq    int // for ids and tie-breaks

	coords  map[string]*alloc.Coordinator // by SKU ("" is the unstocked one)
	pallets map[string]*simPallet
	mail    map[string][]letter // by address: "c:<sku>" or "p:<pallet>"
	net     []delayed           // letters the network holds back
	timers  []simTimer

	store   store                      // the journal
	oracle  *oracle.Model              // fed every journaled event
	shown   map[string]inventory.Order // the latest order state clients saw
	seen    map[string]inventory.Order // terminal states clients saw
	pending map[string][]int64         // adjustments applied, not yet durable
	acked   map[string][]int64         // adjustments acknowledged (durable)
	durable map[string]inventory.PalletState
	skus    []string

	crashes, halts, steps int
	log                   []string // the last lines of what happened, for a failure report
	failure               error
	observer              observer // told of every step (the scenarios print them)
	handLost              bool     // a scenario lost messages by hand: a halt may be right
}

// observer is told what the world does, step by step.
type observer interface {
	coordinatorStepped(sku string, in alloc.Input, rd *alloc.Ready)
	palletStepped(id string, m alloc.Message, out []alloc.Envelope, reply alloc.Message)
	crashed(n int)
}

// faults are the world's fault rates, per message that may suffer them.
type faults struct {
	drop, duplicate, delay float64
	crash                  float64 // per scheduler step
	crashMidReady          float64 // per coordinator step: crash before its Ready is journaled
}

type simPallet struct {
	node   alloc.PalletNode
	sku    string
	listed bool // its coordinator has taken it in: chaos and operators see it
}

// letter is a mailbox entry: an input for a coordinator (with a reply
// token when a client waits), or a message for a pallet.
type letter struct {
	in     alloc.Input
	msg    alloc.Message
	cancel string // a cancel, built from what clients see when served
	client bool   // a pallet message from a client: its reply goes back to it
	route  string // in the intake: the coordinator the order goes on to
	revive string // to a coordinator: bring this pallet back if retired, then hand it msg
	tries  int    // of an operator's adjustment that met a pallet on its way out
}

type delayed struct {
	at time.Time
	to string
	l  letter
}

type simTimer struct {
	at  time.Time
	sku string
	id  uint64
}

// clientToken is a Reply.To that the world answers to the client itself.
type clientToken struct{ what string }

var simStart = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func newWorld(seed uint64, f faults) *world {
	w := &world{
		rng:     rand.New(rand.NewPCG(seed, 0x5151)),
		now:     simStart,
		faults:  f,
		coords:  map[string]*alloc.Coordinator{},
		pallets: map[string]*simPallet{},
		mail:    map[string][]letter{},
		store:   newStore(),
		oracle:  oracle.New(map[string]inventory.OrderRequest{}),
		shown:   map[string]inventory.Order{},
		seen:    map[string]inventory.Order{},
		pending: map[string][]int64{},
		acked:   map[string][]int64{},
		durable: map[string]inventory.PalletState{},
		skus:    []string{"pork", "beef"},
	}
	w.cfg = alloc.Config{
		BatchOrdersMax: 1 + w.rng.IntN(16), RetryAttemptsMax: 8,
		RetryBackoffBase: time.Millisecond, RetryBackoffMax: 50 * time.Millisecond,
		HoldTimeout: 5 * time.Second, ReplyTimeout: 2 * time.Second, ResendsMax: alloc.DefaultResendsMax,
	}
	w.coordinator("") // the unstocked coordinator always exists
	return w
}

func (w *world) coordinator(sku string) *alloc.Coordinator {
	if c, ok := w.coords[sku]; ok {
		return c
	}
	cfg := w.cfg
	cfg.SKU, cfg.Seed = sku, uint64(len(w.coords)+1)*7919+uint64(w.crashes)
	c := alloc.NewCoordinator(cfg)
	w.coords[sku] = c
	return c
}

func (w *world) trace(format string, args ...any) {
	keep := 60
	if *simSeed != 0 {
		keep = *simTrace
	}
	if len(w.log) == keep {
		w.log = w.log[1:]
	}
	w.log = append(w.log, fmt.Sprintf("#%d %s ", w.steps, w.now.Format("15:04:05.000"))+fmt.Sprintf(format, args...))
}

func (w *world) fail(format string, args ...any) {
	if w.failure == nil {
		w.failure = fmt.Errorf(format, args...)
	}
}

// --- the network ---------------------------------------------------------

// post puts a letter in a mailbox; lossy letters meet the network's faults.
func (w *world) post(to string, l letter, lossy bool) {
	if lossy && w.faults.drop > 0 && w.rng.Float64() < w.faults.drop {
		w.trace("drop %s %T", to, l.msg)
		return
	}
	if lossy && w.faults.duplicate > 0 && w.rng.Float64() < w.faults.duplicate {
		w.net = append(w.net, delayed{at: w.now.Add(w.jitter()), to: to, l: copyLetter(l)})
	}
	if lossy && w.faults.delay > 0 && w.rng.Float64() < w.faults.delay {
		w.net = append(w.net, delayed{at: w.now.Add(w.jitter()), to: to, l: l})
		return
	}
	w.mail[to] = append(w.mail[to], l)
}

// jitter is a network delay: mostly short, sometimes past a reply timeout.
func (w *world) jitter() time.Duration {
	if w.rng.IntN(4) == 0 {
		return time.Duration(w.rng.Int64N(int64(3 * w.cfg.ReplyTimeout)))
	}
	return time.Duration(w.rng.Int64N(int64(5 * time.Millisecond)))
}

// copyLetter copies what a receiver may change: a chain's results.
func copyLetter(l letter) letter {
	if c, ok := l.msg.(*alloc.ConfirmChain); ok {
		cc := *c
		cc.Results = slices.Clone(c.Results)
		l.msg = &cc
	}
	return l
}

// lossy reports whether a message travels a path the protocol guards with
// timeouts and idempotency (between a coordinator and its pallets). A
// pallet's report of a physical change, receipts, orders and cancels are
// local and reliable, as in the engine.
// A pallet's retirement is local and reliable too: it is answered once
// the pallet agreed, and nothing retries it.
func lossy(m alloc.Message) bool {
	switch m.(type) {
	case *alloc.Reserve, *alloc.ReserveReply, *alloc.ConfirmChain, *alloc.Release, *alloc.ReturnOrder, *alloc.ReturnReply:
		return true
	}
	return false
}

// --- serving mailboxes -----------------------------------------------------

// serve delivers the first letter of a mailbox.
func (w *world) serve(addr string) {
	l := w.mail[addr][0]
	w.mail[addr] = w.mail[addr][1:]
	if len(w.mail[addr]) == 0 {
		delete(w.mail, addr)
	}
	if addr == "intake" { // the engine's bounded intake hands orders on in order
		w.mail[l.route] = append(w.mail[l.route], l)
		return
	}
	if sku, ok := strings.CutPrefix(addr, "c:"); ok && l.revive != "" {
		w.reviveFor(sku, l)
		return
	}
	if sku, ok := strings.CutPrefix(addr, "c:"); ok {
		in := l.in
		if l.cancel != "" {
			in = &alloc.CancelRequested{Order: w.shown[l.cancel], Reply: clientToken{"cancel " + l.cancel}}
		}
		if m, ok := l.msg.(alloc.Input); ok {
			in = m
		}
		w.stepCoordinator(sku, in)
		return
	}
	w.stepPallet(strings.TrimPrefix(addr, "p:"), l)
}

// caught turns a state machine's panic — a broken invariant it asserted —
// into the run's failure: in the engine it would halt, and here it is the
// bug the simulation looks for.
func (w *world) caught(where string) {
	if r := recover(); r != nil {
		w.fail("%s panicked: %v", where, r)
	}
}

func (w *world) stepCoordinator(sku string, in alloc.Input) {
	defer w.caught("coordinator " + sku)
	c := w.coords[sku]
	w.trace("c:%s <- %s", sku, describe(in))
	rd := c.Step(w.now, in)
	if w.observer != nil {
		w.observer.coordinatorStepped(sku, in, rd)
	}
	if w.faults.crashMidReady > 0 && rd.Durable() && w.rng.Float64() < w.faults.crashMidReady {
		w.trace("crash before journaling c:%s's Ready", sku)
		w.crash()
		return
	}
	if rd.Halt != nil && w.faults.drop == 0 && w.faults.delay == 0 && w.faults.duplicate == 0 && !w.handLost {
		w.fail("halted with no message ever lost: %v", rd.Halt) // a resend bound met only by a bug
		return
	}
	if rd.Halt != nil {
		w.halts++
		w.trace("halt: %v", rd.Halt)
		w.crash() // fail-stop: the engine halts, a restart recovers from the journal
		return
	}
	w.journal(rd)
	for _, u := range rd.Pallets {
		id := u.State.Spec.ID
		w.durable[id] = u.State
		w.ackAdjustments(u.State)
		switch {
		case u.Retired:
			if u.Revived != w.store.retired[id] {
				w.fail("pallet %s retires with Revived=%v, but the journal has it retired=%v", id, u.Revived, w.store.retired[id])
			}
			w.store.retired[id] = true
			delete(w.pallets, id) // its actor stops
			delete(w.mail, "p:"+id)
		case u.Revived:
			delete(w.store.retired, id)
		}
	}
	for _, r := range rd.Revive {
		w.revive(sku, r)
	}
	for _, u := range rd.Orders {
		w.shown[u.Order.Request.ID] = u.Order
		if u.Order.Status.Terminal() {
			w.seen[u.Order.Request.ID] = u.Order
		}
	}
	for _, r := range rd.Replies {
		w.answer(sku, r)
	}
	for _, env := range rd.Messages {
		w.post("p:"+env.Pallet, letter{msg: env.Msg}, lossy(env.Msg))
	}
	for _, id := range rd.Stopped {
		w.timers = slices.DeleteFunc(w.timers, func(t simTimer) bool { return t.sku == sku && t.id == id })
	}
	for _, t := range rd.Timers {
		w.timers = append(w.timers, simTimer{at: w.now.Add(t.After), sku: sku, id: t.ID})
	}
}

// journal keeps what a Ready journals and feeds its events to the oracle.
func (w *world) journal(rd *alloc.Ready) {
	for _, l := range rd.Ledger {
		w.store.appendLedger(l)
	}
	for _, u := range rd.Orders {
		if u.Journal {
			w.store.orders[u.Order.Request.ID] = u.Order
		}
	}
	for _, ev := range rd.Events {
		if err := w.oracle.Apply(ev); err != nil {
			w.fail("the history breaks the sequential FEFO oracle: %v (event %s)", err, describe(ev))
		}
	}
}

func (w *world) answer(sku string, r alloc.Reply) {
	switch r.Kind {
	case alloc.ReplyReceived:
		for _, id := range r.PalletIDs {
			w.pallets[id].listed = true
		}
	case alloc.ReplyCancel:
		if r.Err == nil && r.Order.Status.Terminal() {
			w.seen[r.Order.Request.ID] = r.Order
		}
	}
}

func (w *world) stepPallet(id string, l letter) {
	defer w.caught("pallet " + id)
	p := w.pallets[id]
	if p == nil {
		return // a pallet the crash forgot was never received durably
	}
	w.trace("p:%s <- %s", id, describe(l.msg))
	out, reply, _ := p.node.Step(w.now, l.msg)
	if w.observer != nil {
		w.observer.palletStepped(id, l.msg, out, reply)
	}
	for _, env := range out {
		if env.Pallet == "" {
			w.post("c:"+p.sku, letter{msg: env.Msg}, lossy(env.Msg))
			continue
		}
		w.post("p:"+env.Pallet, letter{msg: env.Msg}, true)
	}
	var (
		err     error
		changed bool
		state   inventory.PalletState
	)
	switch r := reply.(type) {
	case *alloc.AdjustReply:
		err, changed, state = r.Err, r.Applied != 0, r.State
	case *alloc.StatusReply:
		err, changed, state = r.Err, r.Changed, r.State
	default:
		return
	}
	switch {
	case !l.client:
	case errors.Is(err, alloc.ErrRetired) && l.tries < adjustTriesMax:
		// It agreed to leave just before: as the engine does, go again
		// through its coordinator, which hears of it first.
		w.post("c:"+p.sku, letter{revive: id, msg: l.msg, client: true, tries: l.tries + 1}, false)
	case changed:
		// An operator's change is acknowledged once it is durable.
		w.pending[id] = append(w.pending[id], state.Version)
	}
}

func (w *world) ackAdjustments(s inventory.PalletState) {
	vs := w.pending[s.Spec.ID]
	for len(vs) > 0 && vs[0] <= s.Version {
		w.acked[s.Spec.ID] = append(w.acked[s.Spec.ID], vs[0])
		vs = vs[1:]
	}
	w.pending[s.Spec.ID] = vs
}

// --- the outside world --------------------------------------------------

// placeOrder is a client's order: journaled as accepted (the 202), then in
// the intake on its way to its coordinator.
func (w *world) placeOrder(req inventory.OrderRequest) {
	if err := req.Validate(); err != nil {
		panic(err)
	}
	o := inventory.Order{Request: req, Status: inventory.StatusQueued, AcceptedAt: w.now}
	w.store.orders[req.ID] = o
	w.shown[req.ID] = o
	w.oracle.Requests[req.ID] = req
	sku := req.SKU
	if _, ok := w.coords[sku]; !ok {
		sku = "" // never received: the unstocked coordinator rejects it
	}
	w.trace("place %s %s %s", req.ID, req.SKU, req.Amount)
	w.post("intake", letter{in: &alloc.OrderArrived{Order: o}, route: "c:" + sku}, false)
}

func (w *world) cancelOrder(id string) {
	sku := w.shown[id].Request.SKU
	if _, ok := w.coords[sku]; !ok {
		sku = ""
	}
	w.trace("cancel %s", id)
	w.post("c:"+sku, letter{cancel: id}, false)
}

// receive journals new pallets (receipt and first ledger line) and hands
// them to their coordinator.
func (w *world) receive(specs ...inventory.PalletSpec) {
	bySKU := map[string][]inventory.PalletState{}
	for _, s := range specs {
		p := inventory.NewPallet(s)
		w.store.receipts[s.ID] = s
		w.store.appendLedger(alloc.LedgerLine{PalletID: s.ID, Entry: inventory.ReceiptEntry(s)})
		w.pallets[s.ID] = &simPallet{node: alloc.NewPalletNode(p, 0), sku: s.SKU}
		w.durable[s.ID] = p.State() // durable once journaled, as the engine shows it
		bySKU[s.SKU] = append(bySKU[s.SKU], p.State())
	}
	for _, sku := range slices.Sorted(maps.Keys(bySKU)) {
		w.coordinator(sku)
		w.trace("receive %d pallets of %s", len(bySKU[sku]), sku)
		w.post("c:"+sku, letter{in: &alloc.PalletsArrived{Pallets: bySKU[sku], Reply: clientToken{"receive"}}}, false)
	}
}

// adjustTriesMax bounds how often an operator's adjustment goes again
// through the coordinator after meeting a pallet on its way out.
const adjustTriesMax = 4

// adjust is an operator's adjustment, or with chaos a strike on the head.
// An operator may adjust any pallet ever received: one that retired goes
// through its coordinator, which brings it back (taking weight off an
// empty pallet is refused without it, as the engine does).
func (w *world) adjust(id string, delta inventory.CentiLbs, chaos bool) {
	m := &alloc.Adjust{Delta: delta, Reason: "count_correction"}
	if chaos {
		m.Reason, m.Clamp = inventory.ReasonChaos, true
	}
	w.trace("adjust %s %s chaos=%v", id, delta, chaos)
	if p := w.pallets[id]; p != nil || chaos {
		w.post("p:"+id, letter{msg: m, client: !chaos}, false)
		return
	}
	if delta < 0 {
		return // an empty retired pallet: below zero, refused
	}
	w.post("c:"+w.store.receipts[id].SKU, letter{revive: id, msg: m, client: true}, false)
}

// setStatus is an operator's hold, quarantine, release, recall or
// write-off of any pallet ever received: through its coordinator if it
// retired, as an adjustment goes.
func (w *world) setStatus(id string, m *alloc.SetStatus) {
	w.trace("status %s -> %s writeOff=%v", id, m.Status, m.WriteOff)
	if w.pallets[id] != nil {
		w.post("p:"+id, letter{msg: m, client: true}, false)
		return
	}
	w.post("c:"+w.store.receipts[id].SKU, letter{revive: id, msg: m, client: true}, false)
}

// reviveFor is the coordinator's side of an adjustment through it: a
// pallet on the floor gets it at once; a retired one comes back first,
// from its journaled state, and gets it before anything else can reach it.
func (w *world) reviveFor(sku string, l letter) {
	id := l.revive
	next := letter{msg: l.msg, client: true, tries: l.tries}
	if w.pallets[id] != nil {
		w.post("p:"+id, next, false)
		return
	}
	if !w.store.retired[id] {
		w.fail("pallet %s is neither on the floor nor retired", id)
		return
	}
	c := w.coords[sku]
	onHand, version := w.store.onHand(id)
	p := inventory.Restore(inventory.PalletState{Spec: w.store.receipts[id], OnHand: onHand, Version: version, Status: w.store.status(id)})
	w.pallets[id] = &simPallet{node: alloc.NewPalletNode(p, c.ReturnFloor()), sku: sku}
	w.trace("revive %s for an operator (returns from op %d on)", id, c.ReturnFloor())
	w.mail["p:"+id] = append([]letter{next}, w.mail["p:"+id]...)
	w.stepCoordinator(sku, &alloc.PalletsArrived{Pallets: []inventory.PalletState{p.State()}, Revived: true, Reply: clientToken{"revive"}})
}

// revive brings a retired pallet back for its coordinator, as the engine
// does: from its journaled state, with a new actor.
func (w *world) revive(sku string, r alloc.Revival) {
	id := r.PalletID
	if !w.store.retired[id] {
		w.fail("coordinator %s asked back pallet %s, which is not retired", sku, id)
		return
	}
	onHand, version := w.store.onHand(id)
	p := inventory.Restore(inventory.PalletState{Spec: w.store.receipts[id], OnHand: onHand, Version: version, Status: w.store.status(id)})
	w.pallets[id] = &simPallet{node: alloc.NewPalletNode(p, r.ReturnFloor), sku: sku}
	w.trace("revive %s", id)
	w.post("c:"+sku, letter{in: &alloc.PalletsArrived{Pallets: []inventory.PalletState{p.State()}, Revived: true, Reply: clientToken{"revive"}}}, false)
}

// --- crash and recovery --------------------------------------------------

// crash loses everything but the journal and what clients were told, and
// recovers the way the engine does: alloc.Rebuild, then pallets and
// unfinished orders handed to fresh coordinators.
func (w *world) crash() {
	w.crashes++
	w.trace("CRASH #%d", w.crashes)
	if w.observer != nil {
		w.observer.crashed(w.crashes)
	}
	w.coords, w.pallets, w.mail, w.net, w.timers = map[string]*alloc.Coordinator{}, map[string]*simPallet{}, map[string][]letter{}, nil, nil
	w.pending = map[string][]int64{}
	w.durable = map[string]inventory.PalletState{}
	rb, err := alloc.Rebuild(w.store.stored(), w.store.orderList())
	if err != nil {
		w.fail("recovery refused the journal: %v", err)
		return
	}
	w.coordinator("")
	for id := range w.store.retired { // a SKU whose every pallet retired still has its coordinator
		w.coordinator(w.store.receipts[id].SKU)
	}
	bySKU := map[string][]inventory.PalletState{}
	for _, p := range rb.Pallets {
		s := p.State()
		if w.store.retired[s.Spec.ID] { // off the floor: recovery reads only what is live
			if s.OnHand != 0 {
				w.fail("pallet %s is retired holding %s", s.Spec.ID, s.OnHand)
			}
			continue
		}
		p = inventory.Restore(s) // from its checkpoint
		w.pallets[s.Spec.ID] = &simPallet{node: alloc.NewPalletNode(p, 0), sku: s.Spec.SKU}
		bySKU[s.Spec.SKU] = append(bySKU[s.Spec.SKU], s)
		w.durable[s.Spec.ID] = s
		if _, known := w.oracle.Pallets[s.Spec.ID]; !known {
			// Journaled, but its coordinator never took it in: it can hold
			// nothing but its receipt, and joins the history now.
			if s.Version != 1 {
				w.fail("pallet %s recovered at v%d but absent from the history", s.Spec.ID, s.Version)
			}
			w.journalEvent(alloc.PalletsReceived{Specs: []inventory.PalletSpec{s.Spec}})
		}
	}
	for _, sku := range slices.Sorted(maps.Keys(bySKU)) {
		w.coordinator(sku)
		w.stepCoordinator(sku, &alloc.PalletsArrived{Pallets: bySKU[sku], Recovered: true, Reply: clientToken{"recover"}})
	}
	for _, o := range rb.Ended {
		w.shown[o.Request.ID] = o
	}
	// The engine re-drives unfinished orders from their journaled snapshots,
	// never reading the ledgers: those snapshots must hold exactly what the
	// ledgers give them.
	for _, o := range rb.Unfinished {
		stored := w.store.orders[o.Request.ID]
		if !slices.EqualFunc(stored.Allocations, o.Allocations, func(a, b inventory.Allocation) bool { return a.PalletID == b.PalletID && a.Lbs == b.Lbs }) {
			w.fail("order %s: its journaled snapshot holds %v, the ledgers %v", o.Request.ID, stored.Allocations, o.Allocations)
			return
		}
	}
	for _, o := range rb.Unfinished {
		w.shown[o.Request.ID] = o
		sku := o.Request.SKU
		if _, ok := w.coords[sku]; !ok {
			sku = ""
		}
		w.post("c:"+sku, letter{in: &alloc.OrderArrived{Order: o}}, false)
	}
}

func (w *world) journalEvent(ev alloc.Event) {
	if err := w.oracle.Apply(ev); err != nil {
		w.fail("the history breaks the sequential FEFO oracle: %v", err)
	}
}

// --- the journal model ---------------------------------------------------

// store is what the journal holds: receipts, ledger lines by pallet in
// (version, index) order, and each order's latest journaled snapshot.
type store struct {
	receipts map[string]inventory.PalletSpec
	ledgers  map[string][]alloc.LedgerLine
	orders   map[string]inventory.Order
	retired  map[string]bool
}

func newStore() store {
	return store{receipts: map[string]inventory.PalletSpec{}, ledgers: map[string][]alloc.LedgerLine{},
		orders: map[string]inventory.Order{}, retired: map[string]bool{}}
}

// appendLedger keeps a line as a key would: the same (version, index)
// twice is one key written twice.
func (s *store) appendLedger(l alloc.LedgerLine) {
	lines := s.ledgers[l.PalletID]
	i, found := slices.BinarySearchFunc(lines, l, func(a, b alloc.LedgerLine) int {
		return cmp.Or(cmp.Compare(a.Entry.Version, b.Entry.Version), cmp.Compare(a.Index, b.Index))
	})
	if found {
		lines[i] = l
		return
	}
	s.ledgers[l.PalletID] = slices.Insert(lines, i, l)
}

func (s *store) stored() []alloc.StoredPallet {
	var out []alloc.StoredPallet
	for _, id := range slices.Sorted(maps.Keys(s.receipts)) {
		sp := alloc.StoredPallet{Spec: s.receipts[id]}
		for _, l := range s.ledgers[id] {
			sp.Ledger = append(sp.Ledger, l.Entry)
		}
		out = append(out, sp)
	}
	return out
}

func (s *store) orderList() []inventory.Order {
	var out []inventory.Order
	for _, id := range slices.Sorted(maps.Keys(s.orders)) {
		out = append(out, s.orders[id])
	}
	return out
}

func (s *store) onHand(id string) (inventory.CentiLbs, int64) {
	var sum inventory.CentiLbs
	var v int64
	for _, l := range s.ledgers[id] {
		sum += l.Entry.Lbs
		v = l.Entry.Version
	}
	return sum, v
}

// status is a pallet's status by its ledger: the last status entry's.
func (s *store) status(id string) inventory.PalletStatus {
	st := inventory.StatusAvailable
	for _, l := range s.ledgers[id] {
		if l.Entry.Status != "" {
			st = l.Entry.Status
		}
	}
	return st
}

// describe is a short line for the trace.
func describe(v any) string {
	switch m := v.(type) {
	case *alloc.OrderArrived:
		return fmt.Sprintf("order %s (%s, holds %d)", m.Order.Request.ID, m.Order.Request.Amount, len(m.Order.Allocations))
	case *alloc.CancelRequested:
		return "cancel " + m.Order.Request.ID
	case *alloc.PalletsArrived:
		return fmt.Sprintf("%d pallets recovered=%v", len(m.Pallets), m.Recovered)
	case *alloc.Reserve:
		return fmt.Sprintf("reserve b%d v%d %v", m.Batch, m.ExpectedVersion, m.Holds)
	case *alloc.ReserveReply:
		return fmt.Sprintf("reserve reply b%d %s %s v%d", m.Batch, m.PalletID, m.Refusal, m.Version)
	case *alloc.ConfirmChain:
		return fmt.Sprintf("chain b%d send %d, %d/%d links", m.Batch, m.Send, len(m.Results), len(m.Links))
	case *alloc.PalletChanged:
		return fmt.Sprintf("changed %s %s -> %s v%d", m.PalletID, m.Delta, m.OnHand, m.Version)
	case *alloc.TimerFired:
		return fmt.Sprintf("timer %d", m.ID)
	}
	return fmt.Sprintf("%T%+v", v, v)
}
