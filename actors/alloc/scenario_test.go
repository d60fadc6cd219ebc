package alloc_test

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/inventory"
)

// TestScenarios runs the protocol's hand-written scenarios — the shrink
// between phases, stale versions, compensation, cancels in every phase,
// lost messages, crashes — from testdata/*.txt through the real state
// machines, one message at a time. Each file reads as a story: commands,
// and below each "----" what the coordinator and pallets did. Rewrite the
// expected output after a deliberate change with -rewrite.
//
// Commands:
//
//	receive                 pallets, one per line: ID LBS EXPIRES-IN-DAYS [sku=S] [received=-Nh]
//	place ID LBS [sku=S] [shelf=DAYS]   a client's order, journaled and on its way
//	cancel ID               a client's cancel, on its way
//	deliver [ADDR...] [n=N] serve the next letter of each mailbox named (c = the
//	                        pork coordinator, c:SKU another, P1 a pallet, intake
//	                        the engine's intake, which hands orders on), n times
//	drain                   serve every mailbox, in name order, until all are empty
//	strike PALLET DELTA     a chaos strike, applied at once (its report queues)
//	adjust PALLET DELTA     an operator's adjustment, applied at once
//	drop ADDR               lose the next letter of a mailbox
//	tick                    move time to the next timer and fire it
//	crash                   lose everything but the journal; recover from it
//	mail                    what waits in each mailbox
//	orders / pallets        what clients see
//	ledger PALLET           the pallet's journaled ledger
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := &scenario{w: newWorld(1, faults{})}
		s.w.cfg.BatchOrdersMax = 256
		s.w.coords = map[string]*alloc.Coordinator{}
		s.w.coordinator("")
		datadriven.RunTest(t, path, s.run)
	})
}

type scenario struct {
	w   *world
	out strings.Builder
}

func (s *scenario) run(t *testing.T, d *datadriven.TestData) string {
	s.out.Reset()
	w := s.w
	w.observer = s
	arg := func(i int) string {
		if i < len(d.CmdArgs) {
			return d.CmdArgs[i].Key
		}
		t.Fatalf("%s: missing argument %d", d.Pos, i+1)
		return ""
	}
	switch d.Cmd {
	case "receive":
		var specs []inventory.PalletSpec
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			specs = append(specs, s.spec(t, line))
		}
		w.receive(specs...)
	case "place":
		req := inventory.OrderRequest{ID: arg(0), Customer: "c", SKU: inventory.DefaultSKU, Amount: lbs(t, arg(1)), CreatedAt: w.now}
		for _, a := range d.CmdArgs[2:] {
			switch a.Key {
			case "sku":
				req.SKU = a.Vals[0]
			case "shelf":
				req.MinShelfLifeDays, _ = strconv.Atoi(a.Vals[0])
			}
		}
		w.placeOrder(req)
	case "cancel":
		w.cancelOrder(arg(0))
	case "deliver":
		n := 1
		var addrs []string
		for _, a := range d.CmdArgs {
			if a.Key == "n" {
				n, _ = strconv.Atoi(a.Vals[0])
				continue
			}
			addrs = append(addrs, addr(a.Key))
		}
		for range n {
			for _, a := range addrs {
				if len(w.mail[a]) == 0 {
					s.printf("%s: nothing to deliver\n", short(a))
					continue
				}
				w.serve(a)
			}
		}
	case "drain":
		for len(w.mail) > 0 && w.failure == nil {
			for _, a := range slices.Sorted(maps.Keys(w.mail)) {
				if len(w.mail[a]) > 0 {
					w.serve(a)
				}
			}
		}
	case "strike", "adjust":
		m := &alloc.Adjust{Delta: lbs(t, arg(1)), Reason: "count_correction"}
		if d.Cmd == "strike" {
			m.Reason, m.Clamp = inventory.ReasonChaos, true
		}
		w.stepPallet(arg(0), letter{msg: m, client: d.Cmd == "adjust"}) // a scale acts at once
	case "status":
		m := &alloc.SetStatus{Status: inventory.PalletStatus(arg(1)), Reason: "operator"}
		if arg(1) == "write-off" {
			m = &alloc.SetStatus{WriteOff: true, Reason: "operator"}
		}
		w.stepPallet(arg(0), letter{msg: m, client: true}) // an operator acts at once
	case "drop":
		a := addr(arg(0))
		if len(w.mail[a]) == 0 {
			t.Fatalf("%s: nothing to drop at %s", d.Pos, a)
		}
		s.printf("dropped: %s\n", describeLetter(w.mail[a][0]))
		w.handLost = true
		w.mail[a] = w.mail[a][1:]
		if len(w.mail[a]) == 0 {
			delete(w.mail, a)
		}
	case "tick":
		if len(w.timers) == 0 {
			t.Fatalf("%s: no timer armed", d.Pos)
		}
		slices.SortStableFunc(w.timers, func(a, b simTimer) int { return a.at.Compare(b.at) })
		next := w.timers[0]
		w.timers = w.timers[1:]
		w.now = next.at
		w.stepCoordinator(next.sku, &alloc.TimerFired{ID: next.id})
	case "crash":
		w.crash()
	case "mail":
		for _, a := range slices.Sorted(maps.Keys(w.mail)) {
			for _, l := range w.mail[a] {
				s.printf("%s: %s\n", short(a), describeLetter(l))
			}
		}
	case "orders":
		for _, id := range slices.Sorted(maps.Keys(w.shown)) {
			s.printf("%s\n", describeOrder(w.shown[id]))
		}
	case "pallets":
		for _, id := range slices.Sorted(maps.Keys(w.pallets)) {
			live := w.pallets[id].node.P.State()
			d := w.durable[id]
			s.printf("%s: %s lbs v%d (live %s held %s v%d)\n", id, d.OnHand, d.Version, live.OnHand, live.Held, live.Version)
		}
	case "ledger":
		for _, l := range w.store.ledgers[arg(0)] {
			e := l.Entry
			s.printf("v%d %s %s%s%s%s\n", e.Version, e.Kind, e.Lbs, prefixed(" ", e.OrderID), prefixed(" ", e.Reason), prefixed(" -> ", string(e.Status)))
		}
	default:
		t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	}
	if w.failure != nil {
		s.printf("FAILED: %v\n", w.failure)
		w.failure = nil
	}
	return s.out.String()
}

func (s *scenario) printf(format string, args ...any) { fmt.Fprintf(&s.out, format, args...) }

// spec parses "P1 1000 5 [sku=beef] [received=-2h]".
func (s *scenario) spec(t *testing.T, line string) inventory.PalletSpec {
	f := strings.Fields(line)
	if len(f) < 3 {
		t.Fatalf("pallet line %q: want ID LBS EXPIRES-IN-DAYS", line)
	}
	days, err := strconv.ParseFloat(f[2], 64)
	if err != nil {
		t.Fatalf("pallet line %q: %v", line, err)
	}
	sp := inventory.PalletSpec{ID: f[0], SKU: inventory.DefaultSKU, Lot: "L-" + f[0], Supplier: "Farm_1", Weight: lbs(t, f[1]),
		Received: s.w.now.Add(-48 * time.Hour), Expires: s.w.now.Add(time.Duration(days * 24 * float64(time.Hour)))}
	for _, kv := range f[3:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "sku":
			sp.SKU = v
		case "received":
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("pallet line %q: %v", line, err)
			}
			sp.Received = s.w.now.Add(d)
		}
	}
	return sp
}

func lbs(t *testing.T, s string) inventory.CentiLbs {
	w, err := inventory.ParseLbs(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// addr turns "c", "c:beef" or "P1" into a mailbox address.
func addr(s string) string {
	switch {
	case s == "c":
		return "c:" + inventory.DefaultSKU
	case strings.HasPrefix(s, "c:"), s == "intake":
		return s
	}
	return "p:" + s
}

func short(a string) string {
	if a == "c:"+inventory.DefaultSKU {
		return "c"
	}
	return strings.TrimPrefix(a, "p:")
}

// stepped is told of every step the world takes; see observer.

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// --- what a step did, as the scenarios print it --------------------------

func (s *scenario) coordinatorStepped(sku string, in alloc.Input, rd *alloc.Ready) {
	name := "c"
	if sku != inventory.DefaultSKU {
		name = "c:" + sku
	}
	s.printf("%s <- %s\n", name, describeInput(in))
	for _, l := range rd.Ledger {
		e := l.Entry
		s.printf("  journal %s v%d %s %s%s%s\n", l.PalletID, e.Version, e.Kind, e.Lbs, prefixed(" ", e.OrderID), prefixed(" ", e.Reason))
	}
	for _, u := range rd.Orders {
		tag := "show"
		if u.Journal {
			tag = "journal"
		}
		s.printf("  %s %s\n", tag, describeOrder(u.Order))
	}
	for _, u := range rd.Pallets {
		switch {
		case u.Retired:
			s.printf("  journal %s retired at v%d\n", u.State.Spec.ID, u.State.Version)
		case u.Revived:
			s.printf("  journal %s back on the floor: %s lbs at v%d\n", u.State.Spec.ID, u.State.OnHand, u.State.Version)
		}
	}
	for _, r := range rd.Revive {
		s.printf("  revive %s (returns from op %d on)\n", r.PalletID, r.ReturnFloor)
	}
	for _, r := range rd.Replies {
		switch r.Kind {
		case alloc.ReplyCancel:
			if r.Err != nil {
				s.printf("  answer cancel %s: %v\n", r.Order.Request.ID, r.Err)
			} else {
				s.printf("  answer cancel %s: %s\n", r.Order.Request.ID, r.Order.Status)
			}
		case alloc.ReplyReceived:
			s.printf("  answer receipt: %s listed\n", strings.Join(r.PalletIDs, " "))
		}
	}
	for _, env := range rd.Messages {
		s.printf("  -> %s %s\n", env.Pallet, describeMessage(env.Msg))
	}
	for _, id := range rd.Stopped {
		s.printf("  timer %d stopped\n", id)
	}
	for _, tm := range rd.Timers {
		s.printf("  timer %d in %s\n", tm.ID, tm.After)
	}
	for _, n := range rd.Notes {
		if n.Level >= alloc.NoteWarn || strings.HasPrefix(n.Text, "[") {
			s.printf("  log: %s\n", n.Text)
		}
	}
	if rd.Halt != nil {
		s.printf("  HALT: %v\n", rd.Halt)
	}
}

func (s *scenario) palletStepped(id string, m alloc.Message, out []alloc.Envelope, reply alloc.Message) {
	st := s.w.pallets[id].node.P.State()
	s.printf("%s <- %s\n", id, describeMessage(m))
	for _, env := range out {
		to := env.Pallet
		if to == "" {
			to = short("c:" + s.w.pallets[id].sku)
		}
		s.printf("  -> %s %s\n", to, describeMessage(env.Msg))
	}
	if r, ok := reply.(*alloc.AdjustReply); ok && r.Err != nil {
		s.printf("  refused: %v\n", r.Err)
	}
	if r, ok := reply.(*alloc.StatusReply); ok && r.Err != nil {
		s.printf("  refused: %v\n", r.Err)
	}
	s.printf("  %s: %s lbs, %s held, v%d%s\n", id, st.OnHand, st.Held, st.Version, statusSuffix(st.Status))
}

func (s *scenario) crashed(n int) { s.printf("CRASH #%d: recovering from the journal\n", n) }

// statusSuffix shows a status other than available.
func statusSuffix(st inventory.PalletStatus) string {
	if st == "" || st == inventory.StatusAvailable {
		return ""
	}
	return ", " + string(st)
}

func describeInput(in alloc.Input) string {
	switch m := in.(type) {
	case *alloc.OrderArrived:
		return fmt.Sprintf("order %s %s%s", m.Order.Request.ID, m.Order.Request.Amount, heldSuffix(m.Order))
	case *alloc.CancelRequested:
		return "cancel " + m.Order.Request.ID
	case *alloc.PalletsArrived:
		ids := make([]string, len(m.Pallets))
		for i, p := range m.Pallets {
			ids[i] = p.Spec.ID
		}
		switch {
		case m.Recovered:
			return "recovered " + strings.Join(ids, " ")
		case m.Revived:
			return "revived " + strings.Join(ids, " ")
		}
		return "received " + strings.Join(ids, " ")
	case *alloc.TimerFired:
		return fmt.Sprintf("timer %d fires", m.ID)
	case alloc.Message:
		return describeMessage(m)
	}
	return fmt.Sprintf("%T", in)
}

func heldSuffix(o inventory.Order) string {
	if len(o.Allocations) == 0 {
		return ""
	}
	return " holding " + describeAllocs(o.Allocations)
}

func describeMessage(m alloc.Message) string {
	switch m := m.(type) {
	case *alloc.Reserve:
		return fmt.Sprintf("reserve b%d at v%d %s", m.Batch, m.ExpectedVersion, describeHolds(m.Holds))
	case *alloc.ReserveReply:
		return fmt.Sprintf("reserve-reply b%d %s %s (v%d)", m.Batch, m.PalletID, m.Refusal, m.Version)
	case *alloc.ConfirmChain:
		links := make([]string, len(m.Links))
		for i, l := range m.Links {
			keys := make([]string, len(l.Keys))
			for j, k := range l.Keys {
				keys[j] = fmt.Sprintf("%s/%d", k.Order, k.Attempt)
			}
			links[i] = l.PalletID + ":" + strings.Join(keys, ",")
		}
		res := make([]string, len(m.Results))
		for i, r := range m.Results {
			res[i] = fmt.Sprintf("%s %s v%d", r.PalletID, r.Refusal, r.Version)
			if r.Repeated {
				res[i] += " (repeated)"
			}
		}
		return fmt.Sprintf("confirm-chain b%d send %d [%s] done [%s]", m.Batch, m.Send, strings.Join(links, " "), strings.Join(res, ", "))
	case *alloc.Release:
		return "release " + describeKeys(m.Keys)
	case *alloc.ReturnOrder:
		return fmt.Sprintf("return op %d %s %s", m.Op, m.OrderID, m.Lbs)
	case *alloc.ReturnReply:
		rep := ""
		if m.Repeated {
			rep = " (repeated)"
		}
		return fmt.Sprintf("return-reply op %d %s gave %s at v%d%s", m.Op, m.PalletID, m.Lbs, m.Version, rep)
	case *alloc.Adjust:
		return fmt.Sprintf("adjust %s %s", m.Delta, m.Reason)
	case *alloc.PalletChanged:
		if m.Status != "" {
			return fmt.Sprintf("changed %s %s (%s): status %s, %s -> %s at v%d, %d hold(s) revoked", m.PalletID, m.Kind, m.Reason, m.Status, m.Delta, m.OnHand, m.Version, m.Revoked)
		}
		return fmt.Sprintf("changed %s %s (%s) -> %s at v%d, %d hold(s) revoked", m.PalletID, m.Delta, m.Reason, m.OnHand, m.Version, m.Revoked)
	case *alloc.SetStatus:
		if m.WriteOff {
			return "write-off (" + m.Reason + ")"
		}
		return fmt.Sprintf("set status %s (%s)", m.Status, m.Reason)
	case *alloc.ExpireHolds:
		return "expire holds"
	case *alloc.Retire:
		return fmt.Sprintf("retire at v%d", m.ExpectedVersion)
	case *alloc.RetireReply:
		if m.OK {
			return fmt.Sprintf("retire-reply %s retired at v%d", m.PalletID, m.Version)
		}
		return fmt.Sprintf("retire-reply %s stays (v%d)", m.PalletID, m.Version)
	}
	return fmt.Sprintf("%T", m)
}

func describeHolds(hs []inventory.HoldRequest) string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = fmt.Sprintf("%s/%d %s", h.Key.Order, h.Key.Attempt, h.Lbs)
	}
	return "[" + strings.Join(out, ", ") + "]"
}

func describeKeys(ks []inventory.HoldKey) string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = fmt.Sprintf("%s/%d", k.Order, k.Attempt)
	}
	return "[" + strings.Join(out, ", ") + "]"
}

func describeAllocs(as []inventory.Allocation) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = fmt.Sprintf("%s %s", a.PalletID, a.Lbs)
	}
	return "[" + strings.Join(out, ", ") + "]"
}

func describeOrder(o inventory.Order) string {
	s := fmt.Sprintf("order %s %s", o.Request.ID, o.Status)
	if o.Reason != "" {
		s += "/" + string(o.Reason)
	}
	if len(o.Allocations) > 0 {
		s += " " + describeAllocs(o.Allocations)
	}
	return s + fmt.Sprintf(" attempts=%d conflicts=%d", o.Attempts, o.Conflicts)
}

func describeLetter(l letter) string {
	switch {
	case l.cancel != "":
		return "cancel " + l.cancel
	case l.in != nil:
		return describeInput(l.in)
	}
	return describeMessage(l.msg)
}
