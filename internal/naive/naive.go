// Package naive is the server a team would write instead of Baconator:
// the standard library's net/http and encoding/json, one sync.Mutex over
// the pallets, the same FEFO allocation, everything in memory, nothing
// journaled, no chaos. It exists to be measured against (docs/performance.md,
// "Against the simplest server"): the actor engine has to earn its place by
// being faster, not only safer.
//
// It is honest, not a straw man: allocation is all-or-nothing FEFO with
// minimum shelf life, in exact hundredths of a pound, answered at once
// (202 with the order's outcome), and a SKU's emptied pallets are skipped
// by a head index rather than walked on every order.
package naive

import (
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baconator/baconator/inventory"
)

// Server holds the warehouse behind one mutex.
type Server struct {
	mu     sync.Mutex
	skus   map[string]*stock
	orders map[string]order
	nextID atomic.Int64
	now    func() time.Time
}

// stock is one SKU's pallets in FEFO order; pallets before head are empty.
type stock struct {
	pallets []pallet
	head    int
}

type pallet struct {
	id      string
	expires time.Time
	lbs     int64 // hundredths of a pound
}

type order struct {
	ID          string       `json:"orderId"`
	Customer    string       `json:"customer"`
	SKU         string       `json:"sku"`
	Status      string       `json:"status"`
	Reason      string       `json:"reason,omitempty"`
	Allocations []allocation `json:"allocations"`
}

type allocation struct {
	PalletID string  `json:"palletId"`
	Lbs      float64 `json:"lbs"`
}

// New loads the pallets (sorted into FEFO order per SKU).
func New(specs []inventory.PalletSpec) *Server {
	s := &Server{skus: map[string]*stock{}, orders: map[string]order{}, now: time.Now}
	for _, p := range specs {
		st := s.skus[p.SKU]
		if st == nil {
			st = &stock{}
			s.skus[p.SKU] = st
		}
		st.pallets = append(st.pallets, pallet{id: p.ID, expires: p.Expires, lbs: int64(p.Weight)})
	}
	for _, st := range s.skus {
		slices.SortStableFunc(st.pallets, func(a, b pallet) int { return a.expires.Compare(b.expires) })
	}
	return s
}

// Handler serves POST /api/orders, GET /api/orders/{id} and GET /healthz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/orders", s.placeOrder)
	mux.HandleFunc("GET /api/orders/{id}", s.getOrder)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

type orderRequest struct {
	Customer         string  `json:"customer"`
	SKU              string  `json:"sku"`
	AmountRequested  float64 `json:"amountRequested"`
	MinShelfLifeDays int     `json:"minShelfLifeDays"`
}

func (s *Server) placeOrder(w http.ResponseWriter, r *http.Request) {
	var req orderRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	centi := math.Round(req.AmountRequested * 100)
	if req.Customer == "" || centi <= 0 || centi > 1e12 || req.MinShelfLifeDays < 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "customer required, amountRequested above 0"})
		return
	}
	if req.SKU == "" {
		req.SKU = "pork"
	}
	o := order{ID: "N-" + strconv.FormatInt(s.nextID.Add(1), 10), Customer: req.Customer, SKU: req.SKU}
	s.allocate(&o, int64(centi), s.now().AddDate(0, 0, req.MinShelfLifeDays))
	writeJSON(w, http.StatusAccepted, o)
}

// allocate takes want from the SKU's pallets in FEFO order, skipping those
// that expire before notBefore, all or nothing.
func (s *Server) allocate(o *order, want int64, notBefore time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() { s.orders[o.ID] = *o }()
	st := s.skus[o.SKU]
	if st == nil {
		o.Status, o.Reason = "rejected", "no_eligible_stock"
		return
	}
	for st.head < len(st.pallets) && st.pallets[st.head].lbs == 0 {
		st.head++
	}
	var picked []int
	left := want
	for i := st.head; i < len(st.pallets) && left > 0; i++ {
		p := &st.pallets[i]
		if p.lbs == 0 || p.expires.Before(notBefore) {
			continue
		}
		picked = append(picked, i)
		left -= min(left, p.lbs)
	}
	if left > 0 {
		o.Status, o.Reason = "rejected", "insufficient_stock"
		return
	}
	left = want
	for _, i := range picked {
		p := &st.pallets[i]
		take := min(left, p.lbs)
		p.lbs -= take
		left -= take
		o.Allocations = append(o.Allocations, allocation{PalletID: p.id, Lbs: float64(take) / 100})
	}
	o.Status = "allocated"
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	o, ok := s.orders[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such order"})
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// OnHand is the weight left on the SKU's pallets, in hundredths of a pound.
func (s *Server) OnHand(sku string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var total int64
	if st := s.skus[sku]; st != nil {
		for _, p := range st.pallets {
			total += p.lbs
		}
	}
	return total
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // a client that left is nobody's problem here
}
