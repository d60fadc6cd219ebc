package actors

import (
	"errors"
	"fmt"
	"time"

	"github.com/baconator/baconator/actors/alloc"
	"github.com/baconator/baconator/journal"
)

// Recovery is what Recover found.
type Recovery struct {
	Pallets    int
	Orders     int
	Redriven   int // accepted but unfinished: allocated again from where they stood
	LedgerRows int
	Took       time.Duration
}

// Recover rebuilds the warehouse from the engine's journal — every pallet
// from its ledger, every order from its snapshot — checks that the two
// agree (alloc.Rebuild), and re-drives every order that was accepted and
// not finished: it keeps what it had committed (read from the ledgers, so
// nothing is allocated twice) and plans only what is missing. Until it returns the
// engine takes no writes. Anything inconsistent fails it with
// journal.ErrCorrupt: a start over a damaged journal, never a silent one.
func (e *Engine) Recover() (Recovery, error) {
	started := time.Now()
	if e.journal == nil || e.recovered.Load() {
		return Recovery{}, errors.New("recover: nothing to recover from")
	}
	st, err := e.journal.Load()
	if err != nil {
		return Recovery{}, fmt.Errorf("recover: %w", err)
	}
	corrupt := func(err error) error {
		return fmt.Errorf("recover from %s: %w: %w", e.journal.Dir(), journal.ErrCorrupt, err)
	}
	r := Recovery{Pallets: len(st.Pallets), Orders: len(st.Orders)}
	stored := make([]alloc.StoredPallet, len(st.Pallets))
	for i, p := range st.Pallets {
		stored[i] = alloc.StoredPallet{Spec: p.Spec, Ledger: p.Ledger}
	}
	rb, err := alloc.Rebuild(stored, st.Orders)
	if err != nil {
		return r, corrupt(err)
	}
	r.LedgerRows = rb.LedgerRows
	if len(rb.Pallets) > 0 {
		if _, err := e.place(rb.Pallets, true); err != nil {
			return r, fmt.Errorf("recover: %w", err)
		}
	}
	for _, o := range rb.Ended {
		e.orders.insert(o, false, e.route(o.Request.SKU))
	}
	redrive := make([]*orderRecord, len(rb.Unfinished))
	for i, o := range rb.Unfinished {
		redrive[i], _ = e.orders.insert(o, false, e.route(o.Request.SKU))
	}
	r.Redriven = len(redrive)
	e.start(redrive)
	r.Took = time.Since(started)
	e.log.Info(fmt.Sprintf("[SYSTEM] Recovered %d pallets (%d ledger rows) and %d orders from %s in %s; re-driving %d unfinished",
		r.Pallets, r.LedgerRows, r.Orders, e.journal.Dir(), r.Took.Round(time.Millisecond), r.Redriven))
	return r, nil
}
