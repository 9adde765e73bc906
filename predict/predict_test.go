package predict_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/models"
	"github.com/loupehq/loupe/predict"
	"github.com/loupehq/loupe/storage"
)

const learnerConfig = `title: Learned sentiment
order: uncertainty
predictions:
  models:
    - {name: learner, type: builtin, fields: [review], blocks: [sentiment]}
blocks:
  - {type: text, field: review}
  - {type: choice, name: sentiment, options: [positive, negative]}
`

var (
	goodWords = []string{"great", "love", "excellent", "perfect", "happy", "sturdy", "recommend"}
	badWords  = []string{"broken", "awful", "refund", "cracked", "disappointed", "useless", "late"}
	fillWords = []string{"the", "kettle", "arrived", "it", "is", "and", "my", "order", "box", "today"}
)

// review writes a review of a known sentiment from fixed word lists.
func review(r *rand.Rand, positive bool) string {
	words := badWords
	if positive {
		words = goodWords
	}
	var out []string
	for range 6 {
		out = append(out, fillWords[r.IntN(len(fillWords))])
	}
	for range 2 {
		out = append(out, words[r.IntN(len(words))])
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return strings.Join(out, " ")
}

type env struct {
	db    *storage.DB
	svc   *predict.Service
	p     *annotate.Project
	admin *loupe.User
	path  string
}

func newEnv(t *testing.T, config string, items int, live *models.Runner) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "loupe.db")
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	admin, _ := db.CreateUser(ctx, "admin", loupe.RoleAdmin, loupe.DummyPasswordHash)
	cfg, err := blocks.ParseConfig([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	p, err := db.CreateProject(ctx, "p", config, cfg, admin)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for i := range items {
		fmt.Fprintf(&b, `{"id": "r%d", "data": {"review": %q, "truth": %q}}`+"\n", i, review(r, i%2 == 0), map[bool]string{true: "positive", false: "negative"}[i%2 == 0])
	}
	if _, err := db.ImportItems(ctx, p, annotate.NewItemDecoder(strings.NewReader(b.String())), annotate.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := predict.New(db, live, predict.Options{})
	t.Cleanup(func() { svc.Close() })
	return &env{db: db, svc: svc, p: p, admin: admin, path: path}
}

// label takes n items from the queue and answers them truthfully.
func (e *env) label(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	for range n {
		task, err := e.db.Next(ctx, e.p, e.admin.ID)
		if err != nil {
			t.Fatal(err)
		}
		truth := task.Item.Data["truth"].(string)
		ann, _, err := e.db.Submit(ctx, e.p, annotate.Access{User: e.admin}, &annotate.Submission{ItemID: task.Item.ID,
			Values: map[string]json.RawMessage{"sentiment": json.RawMessage(`"` + truth + `"`)}})
		if err != nil {
			t.Fatal(err)
		}
		e.svc.Submitted(ctx, e.p, ann)
	}
}

// accuracy asks the service about the open items and counts right answers.
func (e *env) accuracy(t *testing.T) (float64, int) {
	t.Helper()
	ctx := context.Background()
	items, err := e.db.OpenItems(ctx, e.p.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	right, asked := 0, 0
	for _, it := range items {
		sgs, err := e.svc.Suggest(ctx, e.p, it, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		sg, ok := sgs["sentiment"]
		if !ok {
			continue
		}
		asked++
		if string(sg.Value) == `"`+it.Data["truth"].(string)+`"` {
			right++
		}
		if sg.Model != "learner" || sg.Score == nil || *sg.Score < 0.5 || *sg.Score > 1 {
			t.Fatalf("suggestion = %+v", sg)
		}
	}
	if asked == 0 {
		return 0, 0
	}
	return float64(right) / float64(asked), asked
}

// The learner suggests nothing before any annotation, learns as labelers
// submit, gets better with more labels, and survives a restart through its
// snapshot and the stored annotations.
func TestBuiltinLearner(t *testing.T) {
	e := newEnv(t, learnerConfig, 300, nil)
	ctx := context.Background()
	if _, n := e.accuracy(t); n != 0 {
		t.Fatalf("%d suggestions before any annotation", n)
	}
	e.label(t, 4)
	a4, n := e.accuracy(t)
	e.label(t, 60)
	a64, _ := e.accuracy(t)
	t.Logf("accuracy after 4 labels: %.2f (%d items), after 64: %.2f", a4, n, a64)
	if n == 0 || a64 < 0.9 || a64 < a4 {
		t.Errorf("accuracy %.2f after 4 labels, %.2f after 64; want it to rise above 0.9", a4, a64)
	}
	// A new service (a restart) suggests the same after loading.
	it, _ := e.db.OpenItems(ctx, e.p.ID, 0, 1)
	before, _ := e.svc.Suggest(ctx, e.p, it[0], nil, false)
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := e.db.LoadLearner(ctx, e.p.ID, "learner", "sentiment")
	if err != nil || st.Examples != 64 {
		t.Fatalf("snapshot = %+v, %v; want 64 examples", st, err)
	}
	again := predict.New(e.db, nil, predict.Options{})
	defer again.Close()
	after, _ := again.Suggest(ctx, e.p, it[0], nil, false)
	if string(before["sentiment"].Value) != string(after["sentiment"].Value) || *before["sentiment"].Score != *after["sentiment"].Score || after["sentiment"].Version != "n64" {
		t.Errorf("after a restart: %+v, before: %+v", after["sentiment"], before["sentiment"])
	}
}

// An edited answer replaces its earlier version in the learner: it counts
// once.
func TestLearnerEdits(t *testing.T) {
	e := newEnv(t, learnerConfig, 10, nil)
	ctx := context.Background()
	e.label(t, 2)
	task, _ := e.db.Next(ctx, e.p, e.admin.ID)
	ann, _, _ := e.db.Submit(ctx, e.p, annotate.Access{User: e.admin}, &annotate.Submission{ItemID: task.Item.ID, Values: map[string]json.RawMessage{"sentiment": json.RawMessage(`"positive"`)}})
	e.svc.Submitted(ctx, e.p, ann)
	ann, _, err := e.db.Submit(ctx, e.p, annotate.Access{User: e.admin}, &annotate.Submission{ItemID: task.Item.ID, BaseVersion: 1, Values: map[string]json.RawMessage{"sentiment": json.RawMessage(`"negative"`)}})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Submitted(ctx, e.p, ann)
	st, _ := e.svc.Status(ctx, e.p)
	if len(st) != 1 || st[0].Examples != 3 || st[0].Type != "builtin" {
		t.Errorf("status = %+v; want 3 examples (the edit replaced its first version)", st)
	}
}

// Uncertainty puts the items the learner is least sure about first.
func TestRescoreUncertainty(t *testing.T) {
	e := newEnv(t, learnerConfig, 200, nil)
	ctx := context.Background()
	e.label(t, 40)
	if err := e.svc.Rescore(ctx, e.p); err != nil {
		t.Fatal(err)
	}
	items, _ := e.db.OpenItems(ctx, e.p.ID, 0, 1000)
	task, err := e.db.Next(ctx, e.p, e.admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	sgs, _ := e.svc.Suggest(ctx, e.p, task.Item, nil, false)
	first := *sgs["sentiment"].Score
	higher := 0
	for _, it := range items {
		s, _ := e.svc.Suggest(ctx, e.p, it, nil, false)
		if *s["sentiment"].Score < first-1e-9 {
			higher++ // an item the learner is less sure about than the first one
		}
	}
	if higher > 0 {
		t.Errorf("the queue's first item scores %.3f, but %d open items are less certain", first, higher)
	}
}

// Stored predictions of live models compete with the learner by score; a
// fresh request asks a live model with the labeler's edited input.
func TestSuggestWithLiveModel(t *testing.T) {
	var prompts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct{ Content string } `json:"messages"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		prompt := req.Messages[len(req.Messages)-1].Content
		prompts = append(prompts, prompt)
		answer := `{"sentiment": "positive"}`
		if strings.Contains(prompt, "awful") {
			answer = `{"sentiment": "negative"}`
		}
		json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": answer}}}})
	}))
	defer srv.Close()
	config := `title: Live
predictions:
  models:
    - {name: llm, type: openai, url: "` + srv.URL + `", model: tiny, prompt: "Sentiment of: {{review}}", blocks: [sentiment], inputs: {review: fixed}}
blocks:
  - {type: text, field: review}
  - {type: textbox, name: fixed}
  - {type: choice, name: sentiment, options: [positive, negative]}
`
	e := newEnv(t, config, 2, nil)
	live, err := models.NewRunner(e.db, models.Options{Allow: []string{srv.URL}, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	svc := predict.New(e.db, live, predict.Options{})
	defer svc.Close()
	ctx := context.Background()
	task, _ := e.db.Next(ctx, e.p, e.admin.ID)
	if sgs, _ := svc.Suggest(ctx, e.p, task.Item, nil, false); len(sgs) != 0 {
		t.Errorf("suggestions before the model was asked: %+v", sgs)
	}
	sgs, err := svc.Suggest(ctx, e.p, task.Item, map[string]json.RawMessage{"fixed": json.RawMessage(`"this is awful"`)}, true)
	if err != nil {
		t.Fatal(err)
	}
	if sg := sgs["sentiment"]; string(sg.Value) != `"negative"` || sg.Model != "llm" || sg.PredictionID == "" {
		t.Errorf("fresh suggestion = %+v", sg)
	}
	if len(prompts) != 1 || prompts[0] != "Sentiment of: this is awful" {
		t.Errorf("prompts = %q; want the edited input", prompts)
	}
	// The same input again is cached: no second call.
	svc.Suggest(ctx, e.p, task.Item, map[string]json.RawMessage{"fixed": json.RawMessage(`"this is awful"`)}, true)
	if len(prompts) != 1 {
		t.Errorf("%d calls; a cached answer was asked again", len(prompts))
	}
}
