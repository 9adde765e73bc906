// Package predict gives labelers the suggestions of a project's models:
// Loupe's builtin learner, trained as annotations arrive, and live models
// asked through package models. It picks the best suggestion per block,
// orders the queue for active learning, and tells live models about new
// annotations. It holds learners in memory, rebuilt from snapshots and the
// annotations stored, so any number of processes may run one each.
package predict

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/models"
)

// Store is what the service needs from storage.
type Store interface {
	models.Store
	Item(ctx context.Context, projectID, itemID string) (*annotate.Item, error)
	ItemPredictions(ctx context.Context, itemID string) ([]annotate.Prediction, error)
	LoadLearner(ctx context.Context, projectID, model, block string) (*annotate.LearnerState, error)
	SaveLearner(ctx context.Context, s *annotate.LearnerState) error
	VersionsAfter(ctx context.Context, projectID, after string, limit int) ([]annotate.VersionChange, error)
	OpenItems(ctx context.Context, projectID string, afterSeq int64, limit int) ([]*annotate.Item, error)
	SetPriorities(ctx context.Context, projectID string, priorities map[string]float64) error
	Upcoming(ctx context.Context, p *annotate.Project, userID string, n int) ([]*annotate.Item, error)
}

// Tuning.
const (
	prefetchAhead = 5                // items asked of live models ahead of a labeler
	catchUpEvery  = 2 * time.Second  // how stale a learner may be before a suggestion reads new annotations
	saveEvery     = 50               // annotations learned between snapshots
	saveAfter     = 2 * time.Minute  // or time since the last snapshot, whichever first
	rescoreBatch  = 500              // items rescored per write
	learnBatch    = 1000             // annotation versions read per round
	backgroundCap = 30 * time.Second // the longest a background step may take
)

// Options configure a Service.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
}

// Service gives suggestions and learns from annotations.
type Service struct {
	store Store
	live  *models.Runner
	log   *slog.Logger
	now   func() time.Time

	mu       sync.Mutex
	learners map[string]*learner // project id + model + block
	bgMu     sync.Mutex          // orders background starts against Close
	wg       sync.WaitGroup
	closing  chan struct{}
	once     sync.Once
}

// New returns a service over store; live asks live models (nil: none).
func New(store Store, live *models.Runner, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{store: store, live: live, log: opts.Logger, now: opts.Now, learners: map[string]*learner{}, closing: make(chan struct{})}
}

// Close waits for background work and saves every learner's snapshot.
// Closing twice is harmless.
func (s *Service) Close() error {
	first := false
	s.once.Do(func() {
		s.bgMu.Lock()
		close(s.closing)
		s.bgMu.Unlock()
		first = true
	})
	if !first {
		return nil
	}
	s.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), backgroundCap)
	defer cancel()
	s.mu.Lock()
	ls := make([]*learner, 0, len(s.learners))
	for _, l := range s.learners {
		ls = append(ls, l)
	}
	s.mu.Unlock()
	var errs []error
	for _, l := range ls {
		errs = append(errs, l.save(ctx, s.store, true))
	}
	return errors.Join(errs...)
}

// background runs fn in a goroutine the service waits for at Close.
func (s *Service) background(fn func(ctx context.Context)) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	select {
	case <-s.closing:
		return
	default:
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), backgroundCap)
		defer cancel()
		fn(ctx)
	}()
}

// builtins returns the learners of the project's builtin models, caught up
// with the annotations stored.
func (s *Service) builtins(ctx context.Context, p *annotate.Project) []*learner {
	pc := p.Config.Predictions
	if pc == nil {
		return nil
	}
	var out []*learner
	for _, mc := range pc.Models {
		if mc.Type != blocks.ModelBuiltin {
			continue
		}
		for _, block := range mc.Blocks {
			l, err := s.learner(ctx, p, mc, block)
			if err != nil {
				s.log.Warn("builtin learner", "project", p.Slug, "model", mc.Name, "block", block, "err", err)
				continue
			}
			out = append(out, l)
		}
	}
	return out
}

// learner returns the learner of a builtin model's block, loading its
// snapshot on first use, and catches it up with new annotations.
func (s *Service) learner(ctx context.Context, p *annotate.Project, mc blocks.ModelConfig, block string) (*learner, error) {
	key := p.ID + "\x00" + mc.Name + "\x00" + block
	s.mu.Lock()
	l := s.learners[key]
	if l != nil && l.configVersion != p.ConfigVersion {
		l = nil // the config changed: labels or fields may have
	}
	if l == nil {
		var err error
		if l, err = newLearner(p, mc, block); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		s.learners[key] = l
	}
	s.mu.Unlock()
	if err := l.catchUp(ctx, s.store, s.now(), false); err != nil {
		return l, err
	}
	if err := l.save(ctx, s.store, false); err != nil {
		s.log.Warn("save learner", "project", p.Slug, "model", mc.Name, "err", err)
	}
	return l, nil
}

// Suggest returns, per block, the best suggestion for the item: the
// highest score among the builtin learner's and the live models'
// predictions (a prediction without a score ranks below any score; ties go
// to the model listed first). With fresh, live models are asked again with
// inputs (block values replacing the fields they name) and the learner
// reads those inputs too; otherwise stored predictions are used.
func (s *Service) Suggest(ctx context.Context, p *annotate.Project, item *annotate.Item, inputs map[string]json.RawMessage, fresh bool) (map[string]annotate.Suggestion, error) {
	pc := p.Config.Predictions
	if pc == nil {
		return nil, nil
	}
	order := map[string]int{}
	for i, m := range pc.Models {
		order[m.Name] = i
	}
	var cands []annotate.Suggestion
	for _, l := range s.builtins(ctx, p) {
		if sg, ok := l.suggest(item.Data, inputs); ok {
			cands = append(cands, sg)
		}
	}
	var errs []error
	if fresh && s.live != nil && hasLive(pc) {
		preds, err := s.live.Predict(ctx, p, item, inputs)
		if err != nil && loupe.ErrorCode(err) != loupe.ENOTFOUND {
			errs = append(errs, err)
		}
		cands = append(cands, fromPredictions(preds)...)
	} else {
		preds, err := s.store.ItemPredictions(ctx, item.ID)
		if err != nil {
			errs = append(errs, err)
		}
		cands = append(cands, newestPerModel(preds)...)
	}
	in := p.Config.Interface()
	best := map[string]annotate.Suggestion{}
	for _, c := range cands {
		v, ok := in.Valuer(c.Block)
		if !ok {
			continue
		}
		if _, err := v.ValidateValue(c.Value, item.Data); err != nil {
			continue // a stale prediction of an earlier config
		}
		cur, have := best[c.Block]
		if !have || better(c, cur, order) {
			best[c.Block] = c
		}
	}
	return best, errors.Join(errs...)
}

func hasLive(pc *blocks.PredictionConfig) bool {
	for _, m := range pc.Models {
		if m.Type == blocks.ModelLabelStudio || m.Type == blocks.ModelOpenAI {
			return true
		}
	}
	return false
}

// better reports whether a should be shown rather than b.
func better(a, b annotate.Suggestion, order map[string]int) bool {
	sa, sb := -1.0, -1.0
	if a.Score != nil {
		sa = *a.Score
	}
	if b.Score != nil {
		sb = *b.Score
	}
	if sa != sb {
		return sa > sb
	}
	return order[a.Model] < order[b.Model]
}

func fromPredictions(ps []annotate.Prediction) []annotate.Suggestion {
	out := make([]annotate.Suggestion, len(ps))
	for i, p := range ps {
		out[i] = annotate.Suggestion{Block: p.Block, Value: p.Value, Score: p.Score, Model: p.Model, Version: p.ModelVersion, PredictionID: p.ID}
	}
	return out
}

// newestPerModel keeps, per block and model, the newest prediction (the
// store lists the newest first).
func newestPerModel(ps []annotate.Prediction) []annotate.Suggestion {
	seen := map[string]bool{}
	var keep []annotate.Prediction
	for _, p := range ps {
		k := p.Block + "\x00" + p.Model
		if !seen[k] {
			seen[k] = true
			keep = append(keep, p)
		}
	}
	return fromPredictions(keep)
}

// Submitted tells the models about a new annotation version: the builtin
// learners read it (in the background, as do other processes on their next
// suggestion), and Label Studio backends get a webhook.
func (s *Service) Submitted(ctx context.Context, p *annotate.Project, a *annotate.Annotation) {
	if p.Config.Predictions == nil {
		return
	}
	// The labeler's next page must see this annotation: mark the
	// project's learners stale now, and catch them up in the background.
	s.mu.Lock()
	for _, l := range s.learners {
		if l.projectID == p.ID {
			l.markStale()
		}
	}
	s.mu.Unlock()
	s.background(func(ctx context.Context) {
		s.builtins(ctx, p)
		if s.live == nil || !hasLive(p.Config.Predictions) {
			return
		}
		item, err := s.store.Item(ctx, p.ID, a.ItemID)
		if err != nil {
			s.log.Warn("webhook", "project", p.Slug, "err", err)
			return
		}
		action := models.AnnotationCreated
		if a.Version > 1 {
			action = models.AnnotationUpdated
		}
		s.live.Notify(p, models.Event{Action: action, Item: item, Annotation: a})
	})
}

// Prefetch asks live models, in the background, about the items the user
// will get next.
func (s *Service) Prefetch(p *annotate.Project, userID string) {
	if s.live == nil || p.Config.Predictions == nil || !hasLive(p.Config.Predictions) {
		return
	}
	s.background(func(ctx context.Context) {
		items, err := s.store.Upcoming(ctx, p, userID, prefetchAhead)
		if err != nil {
			s.log.Warn("prefetch", "project", p.Slug, "err", err)
			return
		}
		s.live.Prefetch(p, items)
	})
}

// Status reports each model of the project: live models' health and
// record, and the builtin learners' examples.
func (s *Service) Status(ctx context.Context, p *annotate.Project) ([]annotate.ModelStatus, error) {
	pc := p.Config.Predictions
	if pc == nil {
		return nil, nil
	}
	var out []annotate.ModelStatus
	var err error
	if s.live != nil && hasLive(pc) {
		var live []models.ModelStatus
		live, err = s.live.Status(ctx, p)
		for _, m := range live {
			out = append(out, annotate.ModelStatus{Model: m.Model, Type: m.Type, URL: m.URL, Version: m.Version, Healthy: m.Healthy, Checked: true,
				LastError: firstNonEmpty(m.HealthError, m.LastError), Calls: m.Calls, Errors: m.Errors, P50: m.P50, P95: m.P95, LastCallAt: m.LastCallAt})
		}
	}
	for _, l := range s.builtins(ctx, p) {
		out = append(out, annotate.ModelStatus{Model: l.model, Type: blocks.ModelBuiltin, Version: l.version(), Healthy: true, Checked: true, Examples: l.examplesNow()})
	}
	sort.SliceStable(out, func(i, j int) bool { return modelIndex(pc, out[i].Model) < modelIndex(pc, out[j].Model) })
	return out, err
}

func modelIndex(pc *blocks.PredictionConfig, name string) int {
	for i, m := range pc.Models {
		if m.Name == name {
			return i
		}
	}
	return len(pc.Models)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}
