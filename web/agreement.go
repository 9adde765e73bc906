package web

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/feedback"
)

// agreementCache keeps each project's last agreement report with the
// history position it was computed at: the report is current while the
// project has no newer event. Reading a large project takes seconds, so a
// stale report is shown while a fresh one is computed in the background.
type agreementCache struct {
	mu      sync.Mutex
	entries map[string]*agreementEntry
}

type agreementEntry struct {
	seq     int64 // the project's last event when computed
	report  *feedback.AgreementReport
	at      time.Time
	running bool
}

// syncAgreementItems is the project size up to which a missing report is
// computed while the page waits.
const syncAgreementItems = 20000

// agreementView is what the project page shows of agreement.
type agreementView struct {
	Report   *feedback.AgreementReport
	At       time.Time
	Stale    bool // a newer report is being computed
	Pending  bool // no report yet: it is being computed
	HeatMaps map[string]*heatMap
}

// agreement returns the project's agreement report for the project page:
// the cached one when current; else, for a small project, a fresh one;
// else the stale one (or none) while a fresh one is computed.
func (s *Server) agreement(ctx context.Context, p *annotate.Project, wait bool) (*agreementView, error) {
	seq, err := s.store.LastEvent(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	c := &s.agreements
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*agreementEntry{}
	}
	e := c.entries[p.ID]
	if e != nil && e.seq == seq && e.report != nil {
		c.mu.Unlock()
		return newAgreementView(e.report, e.at, false), nil
	}
	if e == nil {
		e = &agreementEntry{}
		c.entries[p.ID] = e
	}
	if !wait && (e.report != nil || p.ItemCount > syncAgreementItems) {
		if !e.running {
			e.running = true
			go s.refreshAgreement(p, seq)
		}
		rep, at := e.report, e.at
		c.mu.Unlock()
		if rep == nil {
			return &agreementView{Pending: true}, nil
		}
		return newAgreementView(rep, at, true), nil
	}
	c.mu.Unlock()
	rep, err := s.computeAgreement(ctx, p)
	if err != nil {
		return nil, err
	}
	s.storeAgreement(p.ID, seq, rep)
	return newAgreementView(rep, s.now(), false), nil
}

func (s *Server) refreshAgreement(p *annotate.Project, seq int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := s.computeAgreement(ctx, p)
	if err != nil {
		s.log.Error("agreement", "project", p.Slug, "err", err)
	}
	s.agreements.mu.Lock()
	defer s.agreements.mu.Unlock()
	e := s.agreements.entries[p.ID]
	e.running = false
	if err == nil && seq >= e.seq {
		e.seq, e.report, e.at = seq, rep, s.now()
	}
}

func (s *Server) storeAgreement(projectID string, seq int64, rep *feedback.AgreementReport) {
	s.agreements.mu.Lock()
	defer s.agreements.mu.Unlock()
	e := s.agreements.entries[projectID]
	if seq >= e.seq {
		e.seq, e.report, e.at = seq, rep, s.now()
	}
}

func (s *Server) computeAgreement(ctx context.Context, p *annotate.Project) (*feedback.AgreementReport, error) {
	c := feedback.NewAgreementCounter(p.Config.Interface(), feedback.AgreementOptions{})
	err := s.store.AgreementItems(ctx, p.ID, func(it feedback.ItemAnswers) error {
		c.Add(it)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c.Report(), nil
}

func newAgreementView(rep *feedback.AgreementReport, at time.Time, stale bool) *agreementView {
	v := &agreementView{Report: rep, At: at, Stale: stale, HeatMaps: map[string]*heatMap{}}
	for i := range rep.Blocks {
		if hm := newHeatMap(&rep.Blocks[i].Matrix); hm != nil {
			v.HeatMaps[rep.Blocks[i].Block] = hm
		}
	}
	return v
}

// heatMap draws Cohen's kappa of every labeler pair of a block as an SVG
// grid, coloured by band, with each cell's figure written in it.
type heatMap struct {
	Width, Height int
	Labels        []heatLabel
	Cells         []heatCell
	Omitted       int // labelers left out to keep the map readable
}

type heatLabel struct {
	Name string
	X, Y int
	Top  bool // a column label (rotated) rather than a row label
}

type heatCell struct {
	X, Y   int
	TX, TY int // where the figure is written
	Class  string
	Text   string
	Title  string
}

const (
	heatCellSize = 44
	heatLabelW   = 120
	heatMaxShown = 30
)

func newHeatMap(m *feedback.KappaMatrix) *heatMap {
	n := len(m.Labelers)
	if n < 2 {
		return nil
	}
	hm := &heatMap{}
	if n > heatMaxShown {
		hm.Omitted, n = n-heatMaxShown, heatMaxShown
	}
	hm.Width, hm.Height = heatLabelW+n*heatCellSize, heatLabelW+n*heatCellSize
	for i := range n {
		name := m.Labelers[i]
		hm.Labels = append(hm.Labels,
			heatLabel{Name: name, X: heatLabelW - 6, Y: heatLabelW + i*heatCellSize + heatCellSize/2 + 4},
			heatLabel{Name: name, X: heatLabelW + i*heatCellSize + heatCellSize/2 + 4, Y: heatLabelW - 6, Top: true})
		for j := range n {
			c := heatCell{X: heatLabelW + j*heatCellSize, Y: heatLabelW + i*heatCellSize}
			c.TX, c.TY = c.X+heatCellSize/2, c.Y+heatCellSize/2+5
			k := m.Kappa[i][j]
			switch {
			case i == j:
				c.Class, c.Title = "k-self", name
			case !k.Defined():
				c.Class, c.Text = "k-na", "–"
				c.Title = name + " × " + m.Labelers[j] + ": kappa undefined"
			default:
				c.Class, c.Text = kappaBand(float64(k)), trimKappa(k.String())
				c.Title = name + " × " + m.Labelers[j] + ": kappa " + k.String()
			}
			if i != j {
				c.Title += " over " + strconv.Itoa(m.Shared[i][j]) + " shared units"
			}
			hm.Cells = append(hm.Cells, c)
		}
	}
	return hm
}

// kappaBand names the colour band of a kappa, after the usual reading:
// below 0 worse than chance, then slight, fair, moderate, substantial,
// almost perfect.
func kappaBand(k float64) string {
	switch {
	case k < 0:
		return "k-neg"
	case k < 0.2:
		return "k-0"
	case k < 0.4:
		return "k-1"
	case k < 0.6:
		return "k-2"
	case k < 0.8:
		return "k-3"
	}
	return "k-4"
}

// trimKappa shortens "0.743" to ".74" so that it fits a cell.
func trimKappa(s string) string {
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) > 4 {
		s = s[:4]
	}
	if s[0] == '0' {
		s = s[1:]
	}
	if neg {
		return "−" + s
	}
	return s
}

func (s *Server) apiAgreement(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseHistory)
	if !ok {
		return
	}
	v, err := s.agreement(r.Context(), p, true)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v.Report)
}
