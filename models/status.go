package models

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/loupehq/loupe/annotate"
)

// What the status page summarises.
const (
	StatusWindow = 24 * time.Hour // calls counted
	StatusCalls  = 1000           // at most this many of them, the newest
)

// ModelStatus is a live model's health and recent record, for the model
// status page.
type ModelStatus struct {
	Model string
	Type  string
	URL   string
	// Version is the model version Loupe last saw ("" before any call to a
	// Label Studio backend).
	Version string
	// Healthy is the result of a probe made now: GET /health (status UP)
	// for a Label Studio backend, GET {url}/models for an OpenAI-compatible
	// endpoint (a 404 or 405 counts as healthy: the server answers but
	// does not list models). HealthError says why not.
	Healthy     bool
	HealthError string
	// Over the last StatusWindow (at most StatusCalls calls; predictions,
	// Label Studio /setup calls and webhooks, each counted once whatever
	// its retries):
	Calls       int
	Errors      int
	ErrorRate   float64 // Errors / Calls; 0 with no calls
	P50, P95    time.Duration
	LastCallAt  time.Time
	LastError   string // of the latest failed call
	LastErrorAt time.Time
}

// Status reports on each live model of the project: a health probe made
// now (in parallel, each bounded by the model's timeout and at most 5s)
// and figures from the calls the store recorded. It returns the store's
// error, if any.
func (r *Runner) Status(ctx context.Context, p *annotate.Project) ([]ModelStatus, error) {
	lms, err := r.liveModels(p)
	if err != nil {
		return nil, err
	}
	out := make([]ModelStatus, len(lms))
	var wg sync.WaitGroup
	for i, lm := range lms {
		out[i] = ModelStatus{Model: lm.cfg.Name, Type: lm.cfg.Type, URL: lm.cfg.URL}
		out[i].Version = lm.knownVersion()
		if lm.llm != nil {
			out[i].Version = OpenAIVersion(lm.cfg.Model, lm.cfg.System, lm.cfg.Prompt)
		}
		wg.Go(func() {
			err := r.probe(ctx, lm)
			out[i].Healthy = err == nil
			if err != nil {
				out[i].HealthError = describe(err)
			}
		})
	}
	since := r.now().Add(-StatusWindow)
	var serr error
	for i, lm := range lms {
		calls, err := r.store.ModelCalls(ctx, p.ID, lm.cfg.Name, since, StatusCalls)
		if err != nil {
			serr = fmt.Errorf("model status: %w", err)
			break
		}
		summarise(&out[i], calls)
	}
	wg.Wait()
	if serr != nil {
		return nil, serr
	}
	return out, nil
}

// probe checks a model's health with one short attempt, outside the
// model's concurrency limit so that a busy model still answers.
func (r *Runner) probe(ctx context.Context, lm *liveModel) error {
	if lm.keyErr != nil {
		return lm.keyErr
	}
	c := &caller{client: r.client, timeout: min(lm.cfg.CallTimeout(), maxProbe), attempts: 1,
		sem: make(chan struct{}, 1), backoff: r.backoff}
	switch {
	case lm.ls != nil:
		ls := *lm.ls
		ls.call, ls.hook = c, c
		_, err := ls.Health(ctx)
		return err
	case lm.llm != nil:
		llm := *lm.llm
		llm.call = c
		err := llm.Models(ctx)
		var se *StatusError
		if errors.As(err, &se) && (se.Code == http.StatusNotFound || se.Code == http.StatusMethodNotAllowed) {
			return nil
		}
		return err
	}
	return fmt.Errorf("type %q is not a live model", lm.cfg.Type)
}

// summarise fills the call figures from calls, newest first.
func summarise(s *ModelStatus, calls []annotate.ModelCall) {
	s.Calls = len(calls)
	if len(calls) == 0 {
		return
	}
	s.LastCallAt = calls[0].At
	lat := make([]time.Duration, 0, len(calls))
	for _, c := range calls {
		lat = append(lat, c.Latency)
		if !c.OK {
			s.Errors++
			if s.LastError == "" {
				s.LastError, s.LastErrorAt = c.Error, c.At
			}
		}
	}
	s.ErrorRate = float64(s.Errors) / float64(s.Calls)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	s.P50, s.P95 = percentile(lat, 50), percentile(lat, 95)
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, pct int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (pct*len(sorted) + 99) / 100 // ceil(pct/100 * n)
	return sorted[max(rank, 1)-1]
}
