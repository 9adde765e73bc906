package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/loupehq/loupe/annotate"
)

// qualityChart is a small line chart of a project's models: the share of
// suggestions accepted unchanged per day, one line per model version,
// drawn as SVG on the server.
type qualityChart struct {
	Width, Height int
	Series        []chartSeries
	From, To      string // the first and last day shown
}

type chartSeries struct {
	Name   string
	Points string // SVG polyline points
	Class  string // colour class: the palette cycles
	Last   string // the last day's rate, for the legend
}

const (
	chartW, chartH = 560, 160
	chartPad       = 8
)

// newQualityChart plots each model version's daily acceptance rate; nil
// when there is nothing to plot.
func newQualityChart(qs []annotate.ModelQuality) *qualityChart {
	var first, last time.Time
	for _, q := range qs {
		for _, d := range q.Days {
			if first.IsZero() || d.Day.Before(first) {
				first = d.Day
			}
			if d.Day.After(last) {
				last = d.Day
			}
		}
	}
	if first.IsZero() {
		return nil
	}
	span := last.Sub(first).Hours() / 24
	c := &qualityChart{Width: chartW, Height: chartH, From: first.Format("2 Jan"), To: last.Format("2 Jan 2006")}
	for i, q := range qs {
		var pts []string
		rate := 0.0
		for _, d := range q.Days {
			x := float64(chartPad)
			if span > 0 {
				x += d.Day.Sub(first).Hours() / 24 / span * float64(chartW-2*chartPad)
			} else {
				x = chartW / 2
			}
			rate = float64(d.Accepted) / float64(max(d.Shown, 1))
			y := float64(chartPad) + (1-rate)*float64(chartH-2*chartPad)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		if len(pts) == 1 {
			pts = append(pts, pts[0]) // one day: a dot-sized line
		}
		c.Series = append(c.Series, chartSeries{Name: q.Model + " " + q.Version, Points: strings.Join(pts, " "),
			Class: fmt.Sprintf("series-%d", i%6), Last: fmt.Sprintf("%.0f%%", rate*100)})
	}
	return c
}

type modelsPage struct {
	page
	Project *annotate.Project
	Status  []annotate.ModelStatus
	Quality []annotate.ModelQuality
	Chart   *qualityChart
	Error   string
}

// modelsPage shows each model of a project: health and recent calls of
// live models, the builtin learner's examples, and how labelers treated
// every model's suggestions.
func (s *Server) modelsPage(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanManage, refuseModels)
	if !ok {
		return
	}
	data := &modelsPage{page: page{Title: "Models · " + p.Title}, Project: p}
	if s.cfg.Suggester != nil {
		st, err := s.cfg.Suggester.Status(r.Context(), p)
		if err != nil {
			data.Error = "Some figures could not be read: " + err.Error()
		}
		data.Status = st
	}
	var err error
	if data.Quality, err = s.quality(r, p); err != nil {
		s.error(w, r, err)
		return
	}
	data.Chart = newQualityChart(data.Quality)
	s.render(w, r, http.StatusOK, "models", data)
}

// quality summarises what became of the project's suggestions.
func (s *Server) quality(r *http.Request, p *annotate.Project) ([]annotate.ModelQuality, error) {
	outs, err := s.store.ShownOutcomes(r.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	return annotate.SummariseQuality(outs), nil
}

// apiModels answers the models' status and quality as JSON.
func (s *Server) apiModels(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanManage, refuseModels)
	if !ok {
		return
	}
	type statusJSON struct {
		Model      string     `json:"model"`
		Type       string     `json:"type"`
		URL        string     `json:"url,omitempty"`
		Version    string     `json:"version,omitempty"`
		Healthy    bool       `json:"healthy"`
		LastError  string     `json:"last_error,omitempty"`
		Calls      int        `json:"calls"`
		ErrorRate  float64    `json:"error_rate"`
		P50MS      float64    `json:"p50_ms"`
		P95MS      float64    `json:"p95_ms"`
		LastCallAt *time.Time `json:"last_call_at,omitempty"`
		Examples   int        `json:"examples,omitempty"`
	}
	type qualityJSON struct {
		Model          string  `json:"model"`
		Version        string  `json:"version"`
		Shown          int     `json:"shown"`
		Accepted       int     `json:"accepted"`
		Edited         int     `json:"edited"`
		Rejected       int     `json:"rejected"`
		AcceptRate     float64 `json:"accept_rate"`
		Judged         int     `json:"judged"`
		Accuracy       float64 `json:"accuracy"`
		RegionsKept    int     `json:"regions_kept"`
		RegionsDropped int     `json:"regions_dropped"`
	}
	out := struct {
		Models  []statusJSON  `json:"models"`
		Quality []qualityJSON `json:"quality"`
	}{Models: []statusJSON{}, Quality: []qualityJSON{}}
	if s.cfg.Suggester != nil {
		st, err := s.cfg.Suggester.Status(r.Context(), p)
		if err != nil {
			s.logger(r).Warn("model status", "project", p.Slug, "err", err)
		}
		for _, m := range st {
			j := statusJSON{Model: m.Model, Type: m.Type, URL: m.URL, Version: m.Version, Healthy: m.Healthy, LastError: m.LastError,
				Calls: m.Calls, ErrorRate: m.ErrorRate(), P50MS: ms(m.P50), P95MS: ms(m.P95), Examples: m.Examples}
			if !m.LastCallAt.IsZero() {
				j.LastCallAt = &m.LastCallAt
			}
			out.Models = append(out.Models, j)
		}
	}
	qs, err := s.quality(r, p)
	if err != nil {
		s.error(w, r, err)
		return
	}
	for _, q := range qs {
		out.Quality = append(out.Quality, qualityJSON{Model: q.Model, Version: q.Version, Shown: q.Shown, Accepted: q.Accepted,
			Edited: q.Edited, Rejected: q.Rejected, AcceptRate: q.AcceptRate(), Judged: q.Judged, Accuracy: q.Accuracy(),
			RegionsKept: q.RegionsKept, RegionsDropped: q.RegionsDropped})
	}
	writeJSON(w, http.StatusOK, out)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
