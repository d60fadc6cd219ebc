package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/baconator/baconator/inventory"
)

// Snapshot is what the audit reads from the server after a run.
type Snapshot struct {
	Pallets    []Pallet                 // FEFO order, as the API lists them
	Ledgers    map[string][]LedgerEntry // by pallet id, read at the pallet's version
	Orders     []Order                  // this run's accepted orders
	RunID      string                   // this run's order ids start with it
	ChaosQuiet bool                     // no chaos strike during the run: FEFO holes are checkable
}

// Check is one invariant's verdict.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// AuditResult holds every check; OK only if all passed.
type AuditResult struct {
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
}

func lbsOf(n json.Number) inventory.CentiLbs {
	w, err := inventory.ParseLbs(n.String())
	if err != nil {
		return inventory.WeightMaxCentiLbs * 10 // cannot be a real weight: fails every sum
	}
	return w
}

// problems collects up to a few examples per check.
type problems struct {
	n     int
	first []string
}

func (p *problems) add(format string, args ...any) {
	p.n++
	if len(p.first) < 3 {
		p.first = append(p.first, fmt.Sprintf(format, args...))
	}
}

func (p *problems) check(name, okDetail string) Check {
	if p.n == 0 {
		return Check{Name: name, OK: true, Detail: okDetail}
	}
	return Check{Name: name, Detail: fmt.Sprintf("%d problem(s), e.g. %s", p.n, strings.Join(p.first, "; "))}
}

// Audit checks the invariants on a snapshot, through what the API shows.
func Audit(s Snapshot) AuditResult {
	var ledgerSums, negative, orderSums, ledgerMatch, unfinished, holes, holds problems

	// What each order holds on each pallet, by the ledgers.
	held := map[string]map[string]inventory.CentiLbs{}
	for _, p := range s.Pallets {
		var sum inventory.CentiLbs
		for _, e := range s.Ledgers[p.ID] {
			w := lbsOf(e.Lbs)
			sum += w
			if e.OrderID != "" && (e.Kind == "allocated" || e.Kind == "returned") {
				if held[e.OrderID] == nil {
					held[e.OrderID] = map[string]inventory.CentiLbs{}
				}
				held[e.OrderID][p.ID] -= w
			}
		}
		if weight := lbsOf(p.WeightLbs); sum != weight {
			ledgerSums.add("pallet %s ledger sums to %s lb, weight is %s lb", p.ID, sum, weight)
		}
		if lbsOf(p.ReservedLbs) != 0 {
			holds.add("pallet %s still holds %s lb after every order ended", p.ID, p.ReservedLbs)
		}
		if lbsOf(p.WeightLbs) < 0 || lbsOf(p.AvailableLbs) < 0 || lbsOf(p.ReservedLbs) < 0 {
			negative.add("pallet %s weight %s, available %s, reserved %s", p.ID, p.WeightLbs, p.AvailableLbs, p.ReservedLbs)
		}
	}

	known := map[string]bool{}
	for _, o := range s.Orders {
		known[o.ID] = true
	}
	for id, byPallet := range held {
		if s.RunID == "" || known[id] || !strings.HasPrefix(id, s.RunID+"-") {
			continue
		}
		for pid, w := range byPallet {
			if w != 0 {
				ledgerMatch.add("ledger of %s holds %s lb for %s, an order of this run the client never saw accepted", pid, w, id)
			}
		}
	}

	used := map[string]bool{} // pallets this run's minimum-shelf-life-free orders took from
	for _, o := range s.Orders {
		if !terminal(o.Status) {
			unfinished.add("order %s is %s", o.ID, o.Status)
		}
		var sum inventory.CentiLbs
		for _, a := range o.Allocations {
			w := lbsOf(a.Lbs)
			sum += w
			if got := held[o.ID][a.PalletID]; got != w {
				ledgerMatch.add("order %s: %s lb from %s, its ledger says %s lb", o.ID, w, a.PalletID, got)
			}
			if o.MinShelfLifeDays == 0 {
				used[a.PalletID] = true
			}
		}
		for pid, w := range held[o.ID] {
			if w != 0 && !hasAllocation(o, pid) {
				ledgerMatch.add("order %s: ledger of %s holds %s lb the order does not list", o.ID, pid, w)
			}
		}
		switch want := lbsOf(o.AmountRequested); {
		case o.Status == "allocated" && sum != want:
			orderSums.add("order %s allocated %s lb of %s lb requested", o.ID, sum, want)
		case o.Status != "allocated" && sum != 0:
			orderSums.add("order %s is %s but holds %s lb", o.ID, o.Status, sum)
		}
	}

	// No FEFO holes: before the latest-expiring pallet these orders used,
	// no unexpired pallet of its SKU may still have weight for sale.
	holeCheck := Check{Name: "no_fefo_holes", OK: true, Detail: "skipped: chaos struck during the run (strikes may put weight back)"}
	if s.ChaosQuiet {
		last := map[string]int{}
		for i, p := range s.Pallets {
			if used[p.ID] {
				last[p.SKU] = i
			}
		}
		for i, p := range s.Pallets {
			if j, ok := last[p.SKU]; ok && i < j && !p.Expired && lbsOf(p.AvailableLbs) > 0 && !returnedTo(s.Ledgers[p.ID]) {
				holes.add("pallet %s still has %s lb while later-expiring %s was used", p.ID, p.AvailableLbs, s.Pallets[j].ID)
			}
		}
		holeCheck = holes.check("no_fefo_holes", "earliest-expiring stock went first")
	}

	r := AuditResult{Checks: []Check{
		ledgerSums.check("ledgers_sum_to_weight", fmt.Sprintf("%d pallets", len(s.Pallets))),
		negative.check("no_negative_weight", ""),
		holds.check("no_hold_left", ""),
		unfinished.check("every_order_terminal", fmt.Sprintf("%d orders", len(s.Orders))),
		orderSums.check("allocations_sum_to_request", ""),
		ledgerMatch.check("allocations_match_ledgers", ""),
		holeCheck,
	}}
	r.OK = true
	for _, c := range r.Checks {
		r.OK = r.OK && c.OK
	}
	return r
}

func hasAllocation(o Order, palletID string) bool {
	for _, a := range o.Allocations {
		if a.PalletID == palletID {
			return true
		}
	}
	return false
}

// returnedTo reports whether a cancel gave weight back to a pallet, which
// legitimately leaves weight behind already-used later pallets.
func returnedTo(entries []LedgerEntry) bool {
	for _, e := range entries {
		if e.Kind == "returned" || (e.Kind == "adjusted" && lbsOf(e.Lbs) > 0) {
			return true
		}
	}
	return false
}

// snapshotWorkers bounds the audit's parallel reads.
const snapshotWorkers = 16

// takeSnapshot reads every pallet, its ledger (re-read until it matches the
// pallet's version, as chaos may strike in between) and this run's orders.
func takeSnapshot(ctx context.Context, c *client, runID string, orderIDs []string) (Snapshot, error) {
	pallets, err := c.inventory(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	s := Snapshot{Pallets: pallets, Ledgers: make(map[string][]LedgerEntry, len(pallets)), Orders: make([]Order, len(orderIDs)), RunID: runID}
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		work  = make(chan int)
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
	}
	for range snapshotWorkers {
		wg.Go(func() {
			for i := range work {
				if i < len(pallets) {
					p, l, err := consistentPallet(ctx, c, pallets[i].ID)
					if err != nil {
						fail(err)
						continue
					}
					mu.Lock()
					s.Pallets[i], s.Ledgers[p.ID] = p, l
					mu.Unlock()
					continue
				}
				id := orderIDs[i-len(pallets)]
				var o Order
				if err := c.getJSON(ctx, "/api/orders/"+id, &o); err != nil {
					fail(err)
					continue
				}
				s.Orders[i-len(pallets)] = o
			}
		})
	}
	for i := range len(pallets) + len(orderIDs) {
		work <- i
	}
	close(work)
	wg.Wait()
	return s, first
}

// consistentPallet reads a pallet and its ledger at one version: the
// pallet first, then its ledger up to the pallet's version (a version is
// journaled before it is shown, so the ledger has it; lines after it,
// chaos striking in between, are left out). Under chaos every few
// milliseconds a pallet changes between any two reads, so waiting for a
// read where nothing changed could wait forever on a busy machine.
func consistentPallet(ctx context.Context, c *client, id string) (Pallet, []LedgerEntry, error) {
	const tries = 20
	for range tries {
		p, err := c.pallet(ctx, id)
		if err != nil {
			return Pallet{}, nil, err
		}
		l, err := c.ledger(ctx, id)
		if err != nil {
			return Pallet{}, nil, err
		}
		upTo := len(l)
		for upTo > 0 && l[upTo-1].Version > p.Version {
			upTo--
		}
		if upTo > 0 && l[upTo-1].Version == p.Version {
			return p, l[:upTo], nil
		}
	}
	return Pallet{}, nil, fmt.Errorf("pallet %s: its ledger never reached the version read, in %d reads", id, tries)
}

// AuditServer audits a server's whole inventory and the given orders,
// for tests that place orders some other way (the crash test). Every order
// is checked against the ledgers; FEFO holes are not (chaos may strike).
func AuditServer(ctx context.Context, cfg Config, orderIDs []string) (AuditResult, error) {
	c := newClient(cfg, snapshotWorkers)
	defer c.close()
	s, err := takeSnapshot(ctx, c, "", orderIDs)
	if err != nil {
		return AuditResult{}, fmt.Errorf("audit %s: %w", cfg.URL, err)
	}
	return Audit(s), nil
}
