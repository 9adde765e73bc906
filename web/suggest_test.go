package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

// fakeSuggester suggests a fixed value and records how it was called.
type fakeSuggester struct {
	mu        sync.Mutex
	value     string
	score     float64
	inputs    []map[string]json.RawMessage
	fresh     []bool
	submitted int
	prefetch  int
}

func (f *fakeSuggester) Suggest(ctx context.Context, p *annotate.Project, item *annotate.Item, inputs map[string]json.RawMessage, fresh bool) (map[string]annotate.Suggestion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, inputs)
	f.fresh = append(f.fresh, fresh)
	sc := f.score
	return map[string]annotate.Suggestion{"sentiment": {Block: "sentiment", Value: json.RawMessage(`"` + f.value + `"`), Score: &sc, Model: "fake", Version: "v1"}}, nil
}

func (f *fakeSuggester) Submitted(ctx context.Context, p *annotate.Project, a *annotate.Annotation) {
	f.mu.Lock()
	f.submitted++
	f.mu.Unlock()
}

func (f *fakeSuggester) Prefetch(p *annotate.Project, userID string) {
	f.mu.Lock()
	f.prefetch++
	f.mu.Unlock()
}

func (f *fakeSuggester) Status(ctx context.Context, p *annotate.Project) ([]annotate.ModelStatus, error) {
	return []annotate.ModelStatus{{Model: "fake", Type: "openai", URL: "https://llm.example", Healthy: false, LastError: "status 503", Calls: 4, Errors: 1, P50: 20 * time.Millisecond}}, nil
}

const predictedConfig = `title: Predicted
predictions:
  min_score: MIN
  show: SHOW
  models:
    - {name: fake, type: builtin, fields: [review], blocks: [sentiment]}
blocks:
  - {type: text, field: review}
  - {type: choice, name: sentiment, options: [positive, negative, neutral], required: true}
`

func predictedServer(t *testing.T, minScore, show string) (*testServer, *fakeSuggester) {
	t.Helper()
	fake := &fakeSuggester{value: "negative", score: 0.8}
	ts := newTestServer(t, options{Suggester: fake})
	ts.user("lena", loupe.RoleMember)
	mgr := ts.user("mona", loupe.RoleMember)
	cfg := strings.NewReplacer("MIN", minScore, "SHOW", show).Replace(predictedConfig)
	p := ts.project("pred", cfg, mgr)
	ts.member(p, "lena", annotate.RoleLabeler)
	ts.importItems(p, `{"id": "a", "data": {"review": "lid broke"}}`+"\n"+`{"id": "b", "data": {"review": "fine"}}`+"\n")
	return ts, fake
}

// A fresh item shows the suggestion pre-filled with its model and score;
// the answer carries a signed record of it, so the annotation knows what
// it was shown and how the labeler treated it.
func TestSuggestionsOnTheLabelPage(t *testing.T) {
	ts, fake := predictedServer(t, "0.5", "true")
	c := ts.signIn("lena")
	page := c.get("/projects/pred/label")
	wantStatus(t, page, http.StatusOK)
	if got := checkedOption(page.Body, "sentiment"); got != "negative" {
		t.Errorf("pre-filled option = %q, want negative", got)
	}
	for _, want := range []string{"Suggested by <b>fake</b>", "v1", "score 80%", "data-suggested", `data-predict="/api/v1/projects/pred/items/`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("label page lacks %q", want)
		}
	}
	shown := hiddenField(t, page.Body, "shown")
	if shown == "" {
		t.Fatal("no shown token")
	}
	form := parseLabelForm(t, page.Body)
	v := form.values("sentiment", "positive")
	v.Set("shown", shown)
	r := c.postForm(form.Action, v)
	wantStatus(t, r, http.StatusSeeOther)
	outs, err := ts.DB.ShownOutcomes(context.Background(), projectID(t, ts, "pred"))
	if err != nil || len(outs) != 1 || outs[0].Model != "fake" || string(outs[0].Shown) != `"negative"` || outs[0].Outcome() != annotate.OutcomeEdited {
		t.Fatalf("outcomes = %+v, %v", outs, err)
	}
	if fake.submitted != 1 || fake.prefetch < 1 {
		t.Errorf("suggester told of %d submissions and %d prefetches", fake.submitted, fake.prefetch)
	}
	// A forged token records nothing.
	page = c.get("/projects/pred/label")
	form = parseLabelForm(t, page.Body)
	v = form.values("sentiment", "negative")
	v.Set("shown", shown+"x")
	wantStatus(t, c.postForm(form.Action, v), http.StatusSeeOther)
	if outs, _ := ts.DB.ShownOutcomes(context.Background(), projectID(t, ts, "pred")); len(outs) != 1 {
		t.Errorf("a forged shown token was recorded: %d outcomes", len(outs))
	}
}

// Low scores and blind projects show nothing, and record nothing.
func TestSuggestionsHidden(t *testing.T) {
	for _, tt := range []struct{ name, min, show string }{{"below min_score", "0.9", "true"}, {"blind labelers", "0", "false"}} {
		t.Run(tt.name, func(t *testing.T) {
			ts, _ := predictedServer(t, tt.min, tt.show)
			page := ts.signIn("lena").get("/projects/pred/label")
			if strings.Contains(page.Body, "Suggested by") || checkedOption(page.Body, "sentiment") != "" || hiddenField(t, page.Body, "shown") != "" {
				t.Errorf("a suggestion was shown:\n%s", abbrev(page.Body))
			}
		})
	}
}

// The r key's endpoint asks again with the labeler's values, and answers
// the suggestions with a new token; the API's next and submit carry them
// too.
func TestPredictAPI(t *testing.T) {
	ts, fake := predictedServer(t, "0", "true")
	c := ts.tokenClient(ts.token("lena"))
	next := c.get("/api/v1/projects/pred/next")
	wantStatus(t, next, http.StatusOK)
	var task struct {
		Item        struct{ ID string }            `json:"item"`
		Suggestions map[string]annotate.Suggestion `json:"suggestions"`
		Shown       string                         `json:"shown"`
	}
	json.Unmarshal([]byte(next.Body), &task)
	if string(task.Suggestions["sentiment"].Value) != `"negative"` || task.Shown == "" {
		t.Fatalf("next = %s", next.Body)
	}
	r := c.postJSON("/api/v1/projects/pred/items/"+task.Item.ID+"/predict", map[string]any{"values": map[string]string{"sentiment": "positive"}})
	wantStatus(t, r, http.StatusOK)
	var out struct {
		Suggestions map[string]annotate.Suggestion `json:"suggestions"`
		Shown       string                         `json:"shown"`
	}
	json.Unmarshal([]byte(r.Body), &out)
	if out.Shown == "" || out.Suggestions["sentiment"].Model != "fake" {
		t.Errorf("predict = %s", r.Body)
	}
	if last := fake.inputs[len(fake.inputs)-1]; !fake.fresh[len(fake.fresh)-1] || string(last["sentiment"]) != `"positive"` {
		t.Errorf("asked with %v fresh %v", last, fake.fresh)
	}
	sub := c.postJSON("/api/v1/projects/pred/items/"+task.Item.ID+"/annotations", map[string]any{"values": map[string]string{"sentiment": "negative"}, "shown": out.Shown})
	wantStatus(t, sub, http.StatusCreated)
	outs, _ := ts.DB.ShownOutcomes(context.Background(), projectID(t, ts, "pred"))
	if len(outs) != 1 || outs[0].Outcome() != annotate.OutcomeAccepted {
		t.Errorf("outcomes = %+v", outs)
	}
	// Another project's item through this project's predict: 404.
	wantStatus(t, c.postJSON("/api/v1/projects/pred/items/nope/predict", map[string]any{"values": map[string]string{}}), http.StatusNotFound)
}

// Managers see each model's status and how its suggestions fared; others
// may not.
func TestModelsPage(t *testing.T) {
	ts, _ := predictedServer(t, "0", "true")
	lena := ts.signIn("lena")
	page := lena.get("/projects/pred/label")
	form := parseLabelForm(t, page.Body)
	v := form.values("sentiment", "negative")
	v.Set("shown", hiddenField(t, page.Body, "shown"))
	wantStatus(t, lena.postForm(form.Action, v), http.StatusSeeOther)

	m := ts.signIn("mona")
	r := m.get("/projects/pred/models")
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{"https://llm.example", "failing", "status 503", "How suggestions fared", "<polyline", "100%"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("models page lacks %q", want)
		}
	}
	if p := m.get("/projects/pred"); !strings.Contains(p.Body, "How suggestions fared") {
		t.Error("project page lacks the quality table")
	}
	api := ts.tokenClient(ts.token("mona")).get("/api/v1/projects/pred/models")
	wantStatus(t, api, http.StatusOK)
	if !strings.Contains(api.Body, `"accept_rate":1`) || !strings.Contains(api.Body, `"error_rate":0.25`) {
		t.Errorf("models API = %s", api.Body)
	}
	wantStatus(t, lena.get("/projects/pred/models"), http.StatusForbidden)
}

func projectID(t *testing.T, ts *testServer, slug string) string {
	t.Helper()
	p, err := ts.DB.ProjectBySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}
