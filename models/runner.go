package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
)

// Store is what the models package needs from storage.
type Store interface {
	// CachedPredictions returns the stored predictions of an item by a model at a version and input hash ("" = the item's own data).
	CachedPredictions(ctx context.Context, itemID, model, version, inputHash string) ([]annotate.Prediction, error)
	// SavePredictions stores predictions; one already stored for the same (item, block, model, version, input hash) is kept, not replaced.
	SavePredictions(ctx context.Context, ps []annotate.Prediction) error
	// RecordCall notes one call to a model, for its status page.
	RecordCall(ctx context.Context, c annotate.ModelCall) error
	// ModelCalls returns the calls to a project's model since a time, newest first, at most limit.
	ModelCalls(ctx context.Context, projectID, model string, since time.Time, limit int) ([]annotate.ModelCall, error)
}

// Limits of the Runner.
const (
	QueueSize        = 256              // prefetch and webhook jobs waiting per model; more are dropped
	VersionTTL       = time.Minute      // how long a Label Studio backend's /setup version is trusted
	SetupRetryAfter  = 10 * time.Second // how long a failed /setup is not asked again
	DefaultCloseWait = 5 * time.Second  // how long Close waits for calls in flight
	maxProbe         = 5 * time.Second  // the longest health probe
)

// Options configure a Runner.
type Options struct {
	// Allow is the server's allowlist of model origins, scheme://host[:port].
	Allow []string
	// Getenv reads the environment variables named by api_key_env.
	Getenv func(string) string
	// Logger gets failures (never a key or an answer's body); nil discards.
	Logger *slog.Logger
	// Now is the clock of recorded calls, predictions and version ages.
	Now func() time.Time
	// Resolver resolves host names at connect time; nil is the system's.
	Resolver Resolver
	// Hostname is Loupe's public URL, sent to Label Studio backends in
	// /setup so that they can build URLs of media.
	Hostname string
	// CloseWait is how long Close waits for calls in flight before
	// cancelling them; 0 is DefaultCloseWait.
	CloseWait time.Duration
	// Observe, if set, is told of every call recorded (model name,
	// success, latency), for metrics. It must be quick.
	Observe func(model string, ok bool, d time.Duration)
}

// Event is an annotation event sent to Label Studio backends' /webhook.
type Event struct {
	Action     string // AnnotationCreated or AnnotationUpdated
	Item       *annotate.Item
	Annotation *annotate.Annotation
}

// Runner asks a project's live models (Label Studio ML backends and
// OpenAI-compatible endpoints) for predictions: ahead of the labeler in the
// background (Prefetch), on request (Predict), and tells Label Studio
// backends about annotations (Notify). Every call goes through the Guard,
// is bounded by the model's timeout, retries and concurrency, and is
// recorded for the model's status page.
type Runner struct {
	store     Store
	guard     *Guard
	client    *http.Client
	getenv    func(string) string
	log       *slog.Logger
	now       func() time.Time
	hostname  string
	closeWait time.Duration
	observe   func(model string, ok bool, d time.Duration) // Options.Observe; nil: none
	backoff   backoff
	mapFor    func(*annotate.Project) mapping

	ctx     context.Context // of background work; cancelled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closing atomic.Bool

	mu     sync.Mutex
	closed bool
	models map[string]*liveModel // by project id + "\x00" + model name
}

// NewRunner returns a Runner that reaches only the origins in opts.Allow.
// It returns EINVALID when an allowlist entry is bad.
func NewRunner(store Store, opts Options) (*Runner, error) {
	g, err := NewGuard(opts.Allow, opts.Resolver)
	if err != nil {
		return nil, err
	}
	r := &Runner{
		store: store, guard: g, client: g.Client(),
		getenv: opts.Getenv, log: opts.Logger, now: opts.Now, hostname: opts.Hostname,
		closeWait: opts.CloseWait, observe: opts.Observe, backoff: defaultBackoff, mapFor: projectMapping,
		models: map[string]*liveModel{},
	}
	if r.getenv == nil {
		r.getenv = func(string) string { return "" }
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.closeWait <= 0 {
		r.closeWait = DefaultCloseWait
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

// Guard returns the Runner's guard, for other outbound requests that must
// keep to the same allowlist.
func (r *Runner) Guard() *Guard { return r.guard }

// liveModel is one live model of one project at one config version: its
// client, its concurrency limit, its queue and workers, and the version it
// last reported.
type liveModel struct {
	cfg        blocks.ModelConfig
	cfgVersion int
	call       *caller
	ls         *LabelStudio
	llm        *OpenAI
	keyErr     error // the API key's variable is named but empty
	queue      chan job

	pmu     sync.Mutex
	pending map[string]bool // items queued or being asked

	smu          sync.Mutex // held during /setup: one at a time per model
	vmu          sync.Mutex // guards the fields below
	version      string
	setupVersion string
	versionAt    time.Time
	setupErr     error // the last /setup failure, returned until setupRetry
	setupRetry   time.Time
}

type job struct {
	p     *annotate.Project
	item  *annotate.Item
	event *Event // nil for a prediction
}

// LiveModels returns the models of a project that Loupe asks over HTTP.
func LiveModels(p *annotate.Project) []blocks.ModelConfig {
	if p == nil || p.Config == nil || p.Config.Predictions == nil {
		return nil
	}
	var out []blocks.ModelConfig
	for _, m := range p.Config.Predictions.Models {
		if m.Type == blocks.ModelLabelStudio || m.Type == blocks.ModelOpenAI {
			out = append(out, m)
		}
	}
	return out
}

// modelLocked returns the live model for a project's config, making it
// (and starting its workers) on first use or when the config changed.
// r.mu must be held and r.closed false.
func (r *Runner) modelLocked(p *annotate.Project, mc blocks.ModelConfig) *liveModel {
	key := p.ID + "\x00" + mc.Name
	if lm := r.models[key]; lm != nil {
		if lm.cfgVersion == p.ConfigVersion && lm.cfg.URL == mc.URL && lm.cfg.Type == mc.Type {
			return lm
		}
		close(lm.queue) // its workers finish what they hold and stop
	}
	workers := max(1, mc.Workers())
	lm := &liveModel{
		cfg: mc, cfgVersion: p.ConfigVersion,
		call: &caller{client: r.client, timeout: mc.CallTimeout(), attempts: max(1, mc.Attempts()),
			sem: make(chan struct{}, workers), backoff: r.backoff},
		queue:   make(chan job, QueueSize),
		pending: map[string]bool{},
	}
	var key2 string
	if mc.APIKeyEnv != "" {
		key2 = r.getenv(mc.APIKeyEnv)
		if key2 == "" {
			lm.keyErr = &loupe.Error{Code: loupe.EINVALID, Message: fmt.Sprintf("the environment variable %s, named by api_key_env, is empty", mc.APIKeyEnv)}
		}
	}
	switch mc.Type {
	case blocks.ModelLabelStudio:
		hook := *lm.call
		hook.attempts = 1 // a webhook may start training: never send it twice
		lm.ls = &LabelStudio{base: mc.URL, call: lm.call, hook: &hook}
		// api_key_env of a Label Studio backend holds "user:password" for
		// the backend's basic auth (BASIC_AUTH_USER/BASIC_AUTH_PASS).
		if u, pw, ok := strings.Cut(key2, ":"); ok {
			lm.ls.user, lm.ls.pass = u, pw
		}
	case blocks.ModelOpenAI:
		lm.llm = &OpenAI{base: mc.URL, key: key2, call: lm.call}
	}
	r.models[key] = lm
	r.wg.Add(workers)
	for range workers {
		go r.work(lm)
	}
	return lm
}

// models returns the live models of a project, or an error when the
// Runner is closed.
func (r *Runner) liveModels(p *annotate.Project) ([]*liveModel, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errClosed
	}
	var out []*liveModel
	for _, mc := range LiveModels(p) {
		out = append(out, r.modelLocked(p, mc))
	}
	return out, nil
}

var errClosed = &loupe.Error{Code: loupe.EINTERNAL, Message: "the model runner is closed"}

// Prefetch asks the project's live models, in the background, for the
// items that have no prediction yet at the model's current version. It
// never blocks: when a model's queue is full, items are dropped (they are
// asked again the next time they come up).
func (r *Runner) Prefetch(p *annotate.Project, items []*annotate.Item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	for _, mc := range LiveModels(p) {
		lm := r.modelLocked(p, mc)
		for _, it := range items {
			if it == nil || !lm.pend(it.ID) {
				continue
			}
			select {
			case lm.queue <- job{p: p, item: it}:
			default:
				lm.unpend(it.ID)
				r.log.Debug("model queue full; prefetch dropped", "project", p.Slug, "model", mc.Name, "item", it.ID)
			}
		}
	}
}

// Notify sends an annotation event to the project's Label Studio backends,
// in the background, so that they can train. Events are dropped when a
// backend's queue is full, and sent once: a lost event is caught up by the
// next, a repeated one would train twice.
func (r *Runner) Notify(p *annotate.Project, ev Event) {
	if ev.Item == nil || ev.Annotation == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	for _, mc := range LiveModels(p) {
		if mc.Type != blocks.ModelLabelStudio {
			continue
		}
		lm := r.modelLocked(p, mc)
		select {
		case lm.queue <- job{p: p, item: ev.Item, event: &ev}:
		default:
			r.log.Debug("model queue full; webhook dropped", "project", p.Slug, "model", mc.Name, "item", ev.Item.ID)
		}
	}
}

// Predict asks every live model of the project for an item now, with the
// item's fields named in a model's inputs replaced by the given block
// values (when they are strings): the labeler's "ask again" after editing.
// A cached prediction for the same inputs and model version is returned
// without a call. Each model is bounded by its timeout, retries included.
// It returns the predictions of every model that answered; the error, when
// some model failed, is a coded error naming them (the predictions of the
// others are still returned). ENOTFOUND when the project has no live model.
func (r *Runner) Predict(ctx context.Context, p *annotate.Project, item *annotate.Item, inputs map[string]json.RawMessage) ([]annotate.Prediction, error) {
	lms, err := r.liveModels(p)
	if err != nil {
		return nil, err
	}
	if len(lms) == 0 {
		return nil, &loupe.Error{Code: loupe.ENOTFOUND, Message: "this project has no live model to ask"}
	}
	type answer struct {
		ps  []annotate.Prediction
		err error
	}
	answers := make([]answer, len(lms))
	var wg sync.WaitGroup
	for i, lm := range lms {
		wg.Go(func() {
			data, hash := applyInputs(item.Data, lm.cfg.Inputs, inputs)
			cctx, cancel := context.WithTimeout(ctx, lm.cfg.CallTimeout())
			defer cancel()
			ps, err := r.predict(cctx, lm, p, item, data, hash)
			answers[i] = answer{ps, err}
		})
	}
	wg.Wait()
	ps := []annotate.Prediction{}
	var msgs []string
	code := loupe.EINTERNAL
	for i, a := range answers {
		ps = append(ps, a.ps...)
		if a.err != nil {
			msgs = append(msgs, fmt.Sprintf("model %s: %s", lms[i].cfg.Name, describe(a.err)))
			if loupe.ErrorCode(a.err) == loupe.EINVALID {
				code = loupe.EINVALID // the item or the answer is at fault, not Loupe
			}
		}
	}
	if len(msgs) > 0 {
		return ps, &loupe.Error{Code: code, Message: strings.Join(msgs, "; ")}
	}
	return ps, nil
}

// work runs one model's jobs until its queue is closed.
func (r *Runner) work(lm *liveModel) {
	defer r.wg.Done()
	for j := range lm.queue {
		if r.closing.Load() {
			if j.event == nil {
				lm.unpend(j.item.ID)
			}
			continue
		}
		if j.event != nil {
			r.deliver(r.ctx, lm, j.p, j.event)
			continue
		}
		if _, err := r.predict(r.ctx, lm, j.p, j.item, j.item.Data, ""); err != nil {
			r.log.Warn("prefetch failed", "project", j.p.Slug, "model", lm.cfg.Name, "item", j.item.ID, "error", describe(err))
		}
		lm.unpend(j.item.ID)
	}
}

func (lm *liveModel) pend(id string) bool {
	lm.pmu.Lock()
	defer lm.pmu.Unlock()
	if lm.pending[id] {
		return false
	}
	lm.pending[id] = true
	return true
}

func (lm *liveModel) unpend(id string) {
	lm.pmu.Lock()
	delete(lm.pending, id)
	lm.pmu.Unlock()
}

// result is a model's mapped answer for one item.
type result struct {
	values  map[string]json.RawMessage
	scores  map[string]*float64
	version string
}

// predict returns the model's predictions for an item over data: from the
// cache when the model's current version has them for this input hash,
// else asked, validated, stored and read back (so that they carry their
// stored ids). Every call is recorded; an invalid answer is recorded as a
// failure and not stored.
func (r *Runner) predict(ctx context.Context, lm *liveModel, p *annotate.Project, item *annotate.Item, data map[string]any, hash string) ([]annotate.Prediction, error) {
	m := r.mapFor(p)
	version, err := r.version(ctx, lm, p, m)
	if err != nil {
		return nil, err
	}
	cached, err := r.store.CachedPredictions(ctx, item.ID, lm.cfg.Name, version, hash)
	if err != nil {
		return nil, fmt.Errorf("cached predictions: %w", err)
	}
	if len(cached) > 0 {
		return cached, nil
	}
	start := time.Now()
	res, err := r.ask(ctx, lm, p, m, item, data, version)
	if err == nil {
		res.values, err = checkValues(m, lm.cfg.Blocks, res.values, data)
	}
	r.record(lm, p, start, "", err)
	if err != nil {
		r.log.Warn("model call failed", "project", p.Slug, "model", lm.cfg.Name, "item", item.ID, "error", describe(err))
		return nil, err
	}
	if len(res.values) == 0 {
		return []annotate.Prediction{}, nil
	}
	names := make([]string, 0, len(res.values))
	for n := range res.values {
		names = append(names, n)
	}
	sort.Strings(names)
	ps := make([]annotate.Prediction, 0, len(names))
	for _, n := range names {
		ps = append(ps, annotate.Prediction{
			ProjectID: p.ID, ItemID: item.ID, Block: n, Value: res.values[n], Score: res.scores[n],
			Model: lm.cfg.Name, ModelVersion: res.version, Source: annotate.SourceLive, InputHash: hash, CreatedAt: r.now(),
		})
	}
	// The store's context outlives a cancelled request: an answer paid for
	// is kept.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.store.SavePredictions(sctx, ps); err != nil {
		return nil, fmt.Errorf("save predictions: %w", err)
	}
	stored, err := r.store.CachedPredictions(sctx, item.ID, lm.cfg.Name, res.version, hash)
	if err != nil {
		return nil, fmt.Errorf("cached predictions: %w", err)
	}
	return stored, nil
}

// version is the model's current version: for an LLM, its name and a hash
// of its prompt; for a Label Studio backend, what /setup or its last answer
// said, asked again after VersionTTL.
func (r *Runner) version(ctx context.Context, lm *liveModel, p *annotate.Project, m mapping) (string, error) {
	switch {
	case lm.llm != nil:
		return OpenAIVersion(lm.cfg.Model, lm.cfg.System, lm.cfg.Prompt), nil
	case lm.ls == nil:
		return "", fmt.Errorf("model %s: type %q is not a live model", lm.cfg.Name, lm.cfg.Type)
	}
	lm.smu.Lock()
	defer lm.smu.Unlock()
	lm.vmu.Lock()
	now := r.now()
	fresh := !lm.versionAt.IsZero() && now.Sub(lm.versionAt) < VersionTTL
	version, failed := lm.version, lm.setupErr
	if !now.Before(lm.setupRetry) {
		failed = nil
	}
	lm.vmu.Unlock()
	switch {
	case fresh:
		return version, nil
	case failed != nil:
		// A backend whose /setup just failed is not asked again for every
		// item in the queue.
		return "", failed
	}
	start := time.Now()
	v, err := r.setup(ctx, lm, p, m)
	r.record(lm, p, start, "setup", err)
	lm.vmu.Lock()
	defer lm.vmu.Unlock()
	if err != nil {
		lm.setupErr = fmt.Errorf("setup: %w", err)
		lm.setupRetry = r.now().Add(SetupRetryAfter)
		return "", lm.setupErr
	}
	// A backend may say one version in /setup and another in its answers;
	// the answers' version stands until /setup says something new.
	if v != lm.setupVersion || lm.version == "" {
		lm.version = v
	}
	lm.setupVersion, lm.versionAt, lm.setupErr = v, r.now(), nil
	return lm.version, nil
}

func (r *Runner) setup(ctx context.Context, lm *liveModel, p *annotate.Project, m mapping) (string, error) {
	xml, err := m.labelConfig()
	if err != nil {
		return "", mappingError("the project's labeling config for Label Studio", err)
	}
	s := LSSetup{Project: projectUID(p), Schema: xml, Hostname: r.hostname, ModelVersion: lm.knownVersion()}
	if len(lm.cfg.Params) > 0 {
		b, err := json.Marshal(lm.cfg.Params)
		if err != nil {
			return "", fmt.Errorf("encode params: %w", err)
		}
		t := string(b)
		s.ExtraParams = &t
	}
	return lm.ls.Setup(ctx, s)
}

// knownVersion is the version last seen.
func (lm *liveModel) knownVersion() string {
	lm.vmu.Lock()
	defer lm.vmu.Unlock()
	return lm.version
}

// noteVersion records the version a backend's answer carried.
func (lm *liveModel) noteVersion(v string) {
	if v == "" {
		return
	}
	lm.vmu.Lock()
	lm.version = v
	lm.vmu.Unlock()
}

// ask calls the model once (with its retries) and maps its answer.
func (r *Runner) ask(ctx context.Context, lm *liveModel, p *annotate.Project, m mapping, item *annotate.Item, data map[string]any, version string) (result, error) {
	if lm.keyErr != nil {
		return result{}, lm.keyErr
	}
	if lm.llm != nil {
		return r.askLLM(ctx, lm, m, data)
	}
	xml, err := m.labelConfig()
	if err != nil {
		return result{}, mappingError("the project's labeling config for Label Studio", err)
	}
	params := map[string]any{}
	maps.Copy(params, lm.cfg.Params)
	preds, err := lm.ls.Predict(ctx, LSPredictRequest{
		Tasks:        []LSTask{{ID: item.Seq, Data: data}},
		ModelVersion: version, Project: projectUID(p), LabelConfig: xml, Params: params,
	})
	if err != nil {
		return result{}, err
	}
	res := result{version: version, scores: map[string]*float64{}}
	if len(preds) == 0 {
		return res, nil
	}
	// One task was sent, so the first prediction is this item's.
	pr := preds[0]
	if pr.ModelVersion != "" {
		res.version = pr.ModelVersion
		lm.noteVersion(pr.ModelVersion)
	}
	fills := map[string]bool{}
	for _, b := range lm.cfg.Blocks {
		fills[b] = true
	}
	var keep []blocks.LSResult
	sums, counts := map[string]float64{}, map[string]int{}
	for _, rs := range pr.Result {
		if !fills[rs.FromName] {
			continue // a control this model is not configured to fill
		}
		keep = append(keep, rs)
		if rs.Score != nil {
			sums[rs.FromName] += *rs.Score
			counts[rs.FromName]++
		}
	}
	if len(keep) == 0 {
		return res, nil
	}
	res.values, err = m.fromLabelStudio(keep, data)
	if err != nil {
		return result{}, mappingError("the backend's result does not fit the blocks", err)
	}
	// The prediction's score, else the mean of its regions' scores.
	for name := range res.values {
		switch {
		case pr.Score != nil:
			s := *pr.Score
			res.scores[name] = &s
		case counts[name] > 0:
			s := sums[name] / float64(counts[name])
			res.scores[name] = &s
		}
	}
	return res, nil
}

func (r *Runner) askLLM(ctx context.Context, lm *liveModel, m mapping, data map[string]any) (result, error) {
	system, err := RenderPrompt(lm.cfg.System, data)
	if err != nil {
		return result{}, err
	}
	user, err := RenderPrompt(lm.cfg.Prompt, data)
	if err != nil {
		return result{}, err
	}
	schema, err := m.jsonSchema(lm.cfg.Blocks)
	if err != nil {
		return result{}, mappingError("the JSON schema of the blocks", err)
	}
	answer, err := lm.llm.Complete(ctx, ChatRequest{
		Model: lm.cfg.Model, System: system, User: user, SchemaName: schemaName(lm.cfg.Name), Schema: schema,
	})
	if err != nil {
		return result{}, err
	}
	vals, err := m.fromLLM(answer, lm.cfg.Blocks, data)
	if err != nil {
		return result{}, mappingError("the model's answer does not fit the schema", err)
	}
	return result{values: vals, scores: map[string]*float64{}, version: OpenAIVersion(lm.cfg.Model, lm.cfg.System, lm.cfg.Prompt)}, nil
}

// deliver sends one webhook.
func (r *Runner) deliver(ctx context.Context, lm *liveModel, p *annotate.Project, ev *Event) {
	start := time.Now()
	err := r.webhook(ctx, lm, p, ev)
	r.record(lm, p, start, "webhook", err)
	if err != nil {
		r.log.Warn("webhook failed", "project", p.Slug, "model", lm.cfg.Name, "item", ev.Item.ID, "error", describe(err))
	}
}

func (r *Runner) webhook(ctx context.Context, lm *liveModel, p *annotate.Project, ev *Event) error {
	if lm.keyErr != nil {
		return lm.keyErr
	}
	m := r.mapFor(p)
	xml, err := m.labelConfig()
	if err != nil {
		return mappingError("the project's labeling config for Label Studio", err)
	}
	results, err := m.toLabelStudio(ev.Annotation.Values, ev.Item.Data)
	if err != nil {
		return mappingError("the annotation in Label Studio's shape", err)
	}
	if results == nil {
		results = []blocks.LSResult{}
	}
	a := ev.Annotation
	return lm.ls.Webhook(ctx, LSWebhook{
		Action: ev.Action,
		Annotation: LSAnnotation{
			ID: annotationID(a.ID), Result: results, Task: ev.Item.Seq, Project: p.ID,
			CreatedAt: a.CreatedAt.UTC().Format(time.RFC3339Nano), UpdatedAt: a.UpdatedAt.UTC().Format(time.RFC3339Nano),
			LeadTime: float64(a.LeadMS) / 1000,
		},
		Task:    LSTask{ID: ev.Item.Seq, Data: ev.Item.Data},
		Project: LSProjectBrief{ID: p.ID, LabelConfig: xml},
	})
}

// record notes a call in the store; what names a call other than a
// prediction ("setup", "webhook").
func (r *Runner) record(lm *liveModel, p *annotate.Project, start time.Time, what string, err error) {
	c := annotate.ModelCall{ProjectID: p.ID, Model: lm.cfg.Name, At: r.now(), OK: err == nil, Latency: time.Since(start)}
	if r.observe != nil {
		r.observe(c.Model, c.OK, c.Latency)
	}
	if err != nil {
		c.Error = describe(err)
		if what != "" {
			c.Error = what + ": " + c.Error
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.store.RecordCall(ctx, c); err != nil {
		r.log.Error("record model call", "project", p.Slug, "model", lm.cfg.Name, "error", err)
	}
}

// Close stops the workers: queued jobs are dropped, calls in flight get
// up to Options.CloseWait to finish and are then cancelled. Kept-alive
// connections are closed. Calling it again does nothing.
func (r *Runner) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.closing.Store(true)
	for _, lm := range r.models {
		close(lm.queue)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	t := time.NewTimer(r.closeWait)
	select {
	case <-done:
		t.Stop()
	case <-t.C:
		r.cancel()
		<-done
	}
	r.cancel()
	r.client.CloseIdleConnections()
	return nil
}

// projectUID is the project as Label Studio names it to backends:
// "ID.created-unix-seconds"; backends key their state by the part before
// the dot.
func projectUID(p *annotate.Project) string {
	return p.ID + "." + strconv.FormatInt(p.CreatedAt.Unix(), 10)
}

// annotationID is a stable integer for an annotation (Label Studio's ids
// are integers): 53 bits of a hash of Loupe's id, exact in JSON numbers.
func annotationID(id string) int64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return int64(h.Sum64() >> 11)
}

// applyInputs replaces the item fields a model reads from blocks with the
// blocks' values, when they are strings different from the item's own, and
// returns the data to send and its input hash ("" when nothing changed).
func applyInputs(data map[string]any, fields map[string]string, inputs map[string]json.RawMessage) (map[string]any, string) {
	if len(fields) == 0 || len(inputs) == 0 {
		return data, ""
	}
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names)
	var out map[string]any
	h := sha256.New()
	for _, f := range names {
		raw, ok := inputs[fields[f]]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			continue
		}
		if orig, ok := data[f].(string); ok && orig == s {
			continue
		}
		if out == nil {
			out = maps.Clone(data)
			if out == nil {
				out = map[string]any{}
			}
		}
		out[f] = s
		fmt.Fprintf(h, "%s\x00%s\x00", f, s)
	}
	if out == nil {
		return data, ""
	}
	return out, hex.EncodeToString(h.Sum(nil))[:16]
}
