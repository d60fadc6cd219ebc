package httpapi

import (
	"cmp"
	"embed"
	"io/fs"
	"slices"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/baconator/baconator/actors"
	"github.com/baconator/baconator/inventory"
)

// The live floor page at / and the snapshot of the floor it is fed with
// (the event stream's floor events): a static page, no build step, with
// uPlot embedded (floorui/VERSION) since the server may have no internet.

//go:embed floorui
var floorFiles embed.FS

var floorUI = func() fs.FS {
	sub, err := fs.Sub(floorFiles, "floorui")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}()

// serveFloor serves the floor page's files: / is its index. As with the
// Swagger UI, names are looked up only in the embedded tree.
func serveFloor(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-cache")
	return serveEmbedded(c, floorUI, "no such page; the API is under /api, its documentation at /swagger/")
}

// floorHeadMax is how many of a SKU's pallets, in FEFO order, a floor
// snapshot shows: the head that the next orders will take from.
const floorHeadMax = 48

// floorView is the floor as a person watching it wants it: the counters
// (cumulative; the page turns them into rates), and per SKU the weight
// on the floor and the FEFO head.
type floorView struct {
	At      timeJSON      `json:"at"`
	Counts  floorCounts   `json:"counts"`
	SKUs    []skuFloor    `json:"skus"`
	Streams int           `json:"eventStreams"`
	Head    uint64        `json:"lastEventId"`
	Journal *journalFloor `json:"journal,omitempty"`
}

type floorCounts struct {
	Accepted             int64 `json:"accepted"`
	Throttled            int64 `json:"throttled"`
	Allocated            int64 `json:"allocated"`
	Cancelled            int64 `json:"cancelled"`
	RejectedInsufficient int64 `json:"rejectedInsufficientStock"`
	RejectedNoEligible   int64 `json:"rejectedNoEligibleStock"`
	RejectedContention   int64 `json:"rejectedContention"`
	Conflicts            int64 `json:"conflicts"`
	Retries              int64 `json:"retries"`
	Strikes              int64 `json:"chaosStrikes"`
	IntakeDepth          int64 `json:"intakeDepth"`
	InFlight             int64 `json:"inFlight"`
}

type journalFloor struct {
	Commits int64 `json:"commits"`
	Syncs   int64 `json:"syncs"`
}

type skuFloor struct {
	SKU          string      `json:"sku"`
	Pallets      int         `json:"pallets"`
	OnHandLbs    lbsJSON     `json:"onHandLbs"`
	AvailableLbs lbsJSON     `json:"availableLbs"`
	ReservedLbs  lbsJSON     `json:"reservedLbs"`
	OnHoldLbs    lbsJSON     `json:"onHoldLbs"` // on hold or quarantined
	ExpiredLbs   lbsJSON     `json:"expiredLbs"`
	Head         []headEntry `json:"head"`
}

type headEntry struct {
	ID           string  `json:"id"`
	DaysToExpiry float64 `json:"daysToExpiry"`
	WeightLbs    lbsJSON `json:"weightLbs"`
	AvailableLbs lbsJSON `json:"availableLbs"`
	Status       string  `json:"status"`
}

// floorShared is the last floor snapshot, shared by every stream that asks
// within floorEvery/2 of it: a snapshot copies every pallet on the floor,
// and 256 streams must not make that 256 copies a second.
type floorShared struct {
	mu   sync.Mutex
	at   time.Time
	view floorView
}

func (s *Server) floorSnapshot() floorView {
	s.floor.mu.Lock()
	defer s.floor.mu.Unlock()
	if now := s.now(); now.Sub(s.floor.at) < floorEvery/2 {
		return s.floor.view
	}
	s.floor.view = s.takeFloor()
	s.floor.at = s.now()
	return s.floor.view
}

func (s *Server) takeFloor() floorView {
	now := s.now().UTC()
	st := s.eng.Stats()
	head, _ := s.eng.EventsHead()
	return floorView{
		At:      timeJSON(now),
		Counts:  countsOf(st),
		SKUs:    floorBySKU(s.eng.Inventory(""), now),
		Streams: s.streams.open(),
		Head:    head,
		Journal: &journalFloor{Commits: st.JournalCommits, Syncs: st.JournalSyncs},
	}
}

func countsOf(st actors.Stats) floorCounts {
	return floorCounts{
		Accepted: st.Accepted, Throttled: st.Throttled, Allocated: st.Allocated, Cancelled: st.Cancelled,
		RejectedInsufficient: st.RejectedInsufficient, RejectedNoEligible: st.RejectedNoEligible,
		RejectedContention: st.RejectedContention, Conflicts: st.Conflicts, Retries: st.Retries,
		Strikes: st.Strikes, IntakeDepth: st.IntakeDepth, InFlight: st.InFlight,
	}
}

// floorBySKU sums the pallets on the floor per SKU and lists each SKU's
// FEFO head (pallets with weight, soonest expiry first).
func floorBySKU(pallets []inventory.PalletState, now time.Time) []skuFloor {
	bySKU := map[string]*skuFloor{}
	var heads = map[string][]inventory.PalletState{}
	for _, p := range pallets {
		f := bySKU[p.Spec.SKU]
		if f == nil {
			f = &skuFloor{SKU: p.Spec.SKU, Head: []headEntry{}}
			bySKU[p.Spec.SKU] = f
		}
		if p.OnHand <= 0 {
			continue
		}
		f.Pallets++
		f.OnHandLbs += lbsJSON(p.OnHand)
		f.ReservedLbs += lbsJSON(p.Held)
		switch {
		case inventory.Expired(p.Spec.Expires, now):
			f.ExpiredLbs += lbsJSON(p.OnHand)
		case p.Status.Held():
			f.OnHoldLbs += lbsJSON(p.OnHand)
		default:
			f.AvailableLbs += lbsJSON(p.Available())
		}
		heads[p.Spec.SKU] = append(heads[p.Spec.SKU], p)
	}
	out := make([]skuFloor, 0, len(bySKU))
	for sku, f := range bySKU {
		h := heads[sku]
		slices.SortFunc(h, func(a, b inventory.PalletState) int {
			return cmp.Or(a.Spec.Expires.Compare(b.Spec.Expires), a.Spec.Received.Compare(b.Spec.Received), cmp.Compare(a.Spec.ID, b.Spec.ID))
		})
		for _, p := range h[:min(len(h), floorHeadMax)] {
			avail := p.Available()
			if inventory.Expired(p.Spec.Expires, now) {
				avail = 0
			}
			f.Head = append(f.Head, headEntry{ID: p.Spec.ID, DaysToExpiry: p.Spec.Expires.Sub(now).Hours() / 24,
				WeightLbs: lbsJSON(p.OnHand), AvailableLbs: lbsJSON(avail), Status: string(p.StatusOr())})
		}
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b skuFloor) int { return cmp.Compare(a.SKU, b.SKU) })
	return out
}
