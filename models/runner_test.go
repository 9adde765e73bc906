package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
)

func lsModel(name, url string) blocks.ModelConfig {
	return blocks.ModelConfig{Name: name, Type: blocks.ModelLabelStudio, URL: url, Blocks: []string{"category", "tags"},
		Inputs: map[string]string{"body": "fixed"}, Timeout: blocks.Duration(2 * time.Second), Retries: intp(1)}
}

const testKey = "sk-secret-4f9a7c"

func llmModel(name, base string) blocks.ModelConfig {
	return blocks.ModelConfig{Name: name, Type: blocks.ModelOpenAI, URL: base + "/v1", Model: "small-model", APIKeyEnv: "LOUPE_TEST_KEY",
		System: "You sort support tickets.", Prompt: "Ticket: {{body}}", Blocks: []string{"category"},
		Timeout: blocks.Duration(2 * time.Second), Retries: intp(1)}
}

func getenv(name string) string {
	if name == "LOUPE_TEST_KEY" {
		return testKey
	}
	return ""
}

// waitIdle waits until no prefetch is queued or running.
func waitIdle(t *testing.T, r *Runner) {
	t.Helper()
	eventually(t, "the runner to be idle", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, lm := range r.models {
			lm.pmu.Lock()
			n := len(lm.pending)
			lm.pmu.Unlock()
			if n > 0 || len(lm.queue) > 0 {
				return false
			}
		}
		return true
	})
}

func TestRunnerPrefetchLabelStudio(t *testing.T) {
	f := newFakeLS(t)
	r, st, _ := testRunner(t, Options{Allow: []string{f.srv.URL}})
	p := newProject(t, lsModel("ls", f.srv.URL))
	items := []*annotate.Item{item(1, "it crashes"), item(2, "charged twice"), item(3, "dark mode?")}

	start := time.Now()
	r.Prefetch(p, items)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Prefetch blocked for %s", d)
	}
	eventually(t, "3 predictions", func() bool { return len(st.predictions()) == 3 })
	waitIdle(t, r)
	for _, pr := range st.predictions() {
		if pr.Block != "category" || string(pr.Value) != `"bug"` || pr.Score == nil || *pr.Score != 0.9 ||
			pr.Model != "ls" || pr.ModelVersion != "v7" || pr.Source != annotate.SourceLive || pr.InputHash != "" || pr.ProjectID != "proj-1" {
			t.Errorf("prediction = %+v", pr)
		}
	}
	if f.setups.Load() != 1 || f.predicts.Load() != 3 {
		t.Errorf("setups = %d, predicts = %d; want 1 and 3", f.setups.Load(), f.predicts.Load())
	}
	calls := st.allCalls()
	if len(calls) != 4 {
		t.Errorf("recorded %d calls, want 4 (setup and 3 predictions)", len(calls))
	}
	for _, c := range calls {
		if !c.OK || c.Model != "ls" || c.ProjectID != "proj-1" || c.At.IsZero() {
			t.Errorf("call = %+v", c)
		}
	}

	// Cached at the model's current version: no new calls.
	r.Prefetch(p, items)
	waitIdle(t, r)
	ps, err := r.Predict(context.Background(), p, items[0], nil)
	if err != nil || len(ps) != 1 || ps[0].ID == "" {
		t.Fatalf("Predict = %+v, %v", ps, err)
	}
	if f.predicts.Load() != 3 {
		t.Errorf("predicts = %d after cached requests, want 3", f.predicts.Load())
	}
}

// The task id is the item's sequence number; the data goes unchanged.
func TestRunnerLabelStudioRequest(t *testing.T) {
	f := newFakeLS(t)
	r, _, _ := testRunner(t, Options{Allow: []string{f.srv.URL}, Hostname: "https://loupe.example"})
	m := lsModel("ls", f.srv.URL)
	m.Params = map[string]any{"threshold": 0.3}
	p := newProject(t, m)
	if _, err := r.Predict(context.Background(), p, item(17, "it crashes"), nil); err != nil {
		t.Fatal(err)
	}
	setup, predict, _ := f.last()
	if setup["project"] != "proj-1.1700000000" || setup["schema"] != fakeXML || setup["hostname"] != "https://loupe.example" || setup["extra_params"] != `{"threshold":0.3}` {
		t.Errorf("setup = %v", setup)
	}
	task := predict["tasks"].([]any)[0].(map[string]any)
	if task["id"] != float64(17) || len(task["data"].(map[string]any)) != 1 {
		t.Errorf("task = %v", task)
	}
	if predict["model_version"] != "v7" || predict["params"].(map[string]any)["threshold"] != 0.3 {
		t.Errorf("predict = %v", predict)
	}
}

func TestRunnerPredictInputs(t *testing.T) {
	f := newFakeLS(t)
	r, st, _ := testRunner(t, Options{Allow: []string{f.srv.URL}})
	p := newProject(t, lsModel("ls", f.srv.URL))
	it := item(1, "it crashes")
	ctx := context.Background()

	first, err := r.Predict(ctx, p, it, nil)
	if err != nil || len(first) != 1 {
		t.Fatalf("Predict = %v, %v", first, err)
	}
	edited := map[string]json.RawMessage{"fixed": json.RawMessage(`"it crashes when I attach a photo"`)}
	ps, err := r.Predict(ctx, p, it, edited)
	if err != nil || len(ps) != 1 {
		t.Fatalf("Predict(edited) = %v, %v", ps, err)
	}
	if ps[0].InputHash == "" || ps[0].ID == first[0].ID {
		t.Errorf("edited prediction = %+v; want its own input hash", ps[0])
	}
	_, predict, _ := f.last()
	if body := predict["tasks"].([]any)[0].(map[string]any)["data"].(map[string]any)["body"]; body != "it crashes when I attach a photo" {
		t.Errorf("the model read %q, want the edited text", body)
	}
	if it.Data["body"] != "it crashes" {
		t.Error("Predict changed the item's own data")
	}
	if f.predicts.Load() != 2 {
		t.Fatalf("predicts = %d, want 2", f.predicts.Load())
	}
	// The same edit, the item's own text, and a non-string input: all cached.
	for _, in := range []map[string]json.RawMessage{
		edited,
		{"fixed": json.RawMessage(`"it crashes"`)},
		{"fixed": json.RawMessage(`["not", "text"]`)},
		{"category": json.RawMessage(`"bug"`)},
	} {
		if _, err := r.Predict(ctx, p, it, in); err != nil {
			t.Fatal(err)
		}
	}
	if f.predicts.Load() != 2 || len(st.predictions()) != 2 {
		t.Errorf("predicts = %d, stored = %d; want 2 and 2", f.predicts.Load(), len(st.predictions()))
	}
}

// An answer with a value out of the block's schema is an error for that
// call, recorded, and nothing of it is stored.
func TestRunnerRejectsOutOfSchema(t *testing.T) {
	for name, answer := range map[string]string{
		"unknown option":     `{"results": [{"result": [{"from_name": "category", "to_name": "body", "type": "choices", "value": {"choices": ["refund"]}}], "score": 0.8}]}`,
		"unknown tag":        `{"results": [{"result": [{"from_name": "category", "to_name": "body", "type": "choices", "value": {"choices": ["bug"]}}, {"from_name": "tags", "to_name": "body", "type": "choices", "value": {"choices": ["urgent", "rude"]}}]}]}`,
		"unmapped type":      `{"results": [{"result": [{"from_name": "category", "to_name": "body", "type": "rectanglelabels", "value": {}}]}]}`,
		"malformed JSON":     `{"results": [{"result": [`,
		"not the shape":      `{"results": "SECRET"}`,
		"an HTML error page": `<html>SECRET</html>`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeLS(t)
			f.predict = func(_ int64, _ map[string]any, w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, answer) }
			r, st, _ := testRunner(t, Options{Allow: []string{f.srv.URL}})
			p := newProject(t, lsModel("ls", f.srv.URL))
			ps, err := r.Predict(context.Background(), p, item(1, "it crashes"), nil)
			if err == nil || len(ps) != 0 {
				t.Fatalf("Predict = %v, %v; want an error", ps, err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q quotes the answer", err)
			}
			if n := len(st.predictions()); n != 0 {
				t.Errorf("stored %d predictions, want 0", n)
			}
			calls := st.allCalls()
			last := calls[len(calls)-1]
			if last.OK || last.Error == "" || strings.Contains(last.Error, "SECRET") {
				t.Errorf("recorded %+v, want a failure without the body", last)
			}
			if f.predicts.Load() != 1 {
				t.Errorf("predicts = %d, want 1: a bad answer is not retried", f.predicts.Load())
			}
		})
	}
}

// Results for blocks the model does not fill are ignored; an empty answer
// stores nothing and is not an error.
func TestRunnerKeepsOnlyTheModelsBlocks(t *testing.T) {
	f := newFakeLS(t)
	f.predict = func(i int64, _ map[string]any, w http.ResponseWriter, _ *http.Request) {
		if i == 0 {
			fmt.Fprint(w, `{"results": [{"result": [
				{"from_name": "category", "to_name": "body", "type": "choices", "value": {"choices": ["bug"]}, "score": 0.6},
				{"from_name": "tags", "to_name": "body", "type": "choices", "value": {"choices": ["urgent"]}, "score": 0.2},
				{"from_name": "elsewhere", "to_name": "body", "type": "choices", "value": {"choices": ["x"]}}]}]}`)
			return
		}
		fmt.Fprint(w, `{"results": []}`)
	}
	r, st, _ := testRunner(t, Options{Allow: []string{f.srv.URL}})
	p := newProject(t, lsModel("ls", f.srv.URL))
	ps, err := r.Predict(context.Background(), p, item(1, "x"), nil)
	if err != nil || len(ps) != 2 {
		t.Fatalf("Predict = %+v, %v", ps, err)
	}
	// No prediction-level score: each block takes its regions' mean.
	if *ps[0].Score != 0.6 || *ps[1].Score != 0.2 || string(ps[1].Value) != `["urgent"]` {
		t.Errorf("predictions = %+v", ps)
	}
	ps, err = r.Predict(context.Background(), p, item(2, "y"), nil)
	if err != nil || len(ps) != 0 {
		t.Errorf("empty answer: %v, %v", ps, err)
	}
	if len(st.predictions()) != 2 {
		t.Errorf("stored %d", len(st.predictions()))
	}
}

func TestRunnerRetriesThenSucceeds(t *testing.T) {
	f := newFakeLS(t)
	f.predict = func(i int64, _ map[string]any, w http.ResponseWriter, _ *http.Request) {
		switch i {
		case 0:
			w.WriteHeader(http.StatusInternalServerError)
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			fmt.Fprint(w, lsAnswer)
		}
	}
	r, st, _ := testRunner(t, Options{Allow: []string{f.srv.URL}})
	m := lsModel("ls", f.srv.URL)
	m.Retries = intp(2)
	p := newProject(t, m)
	ps, err := r.Predict(context.Background(), p, item(1, "x"), nil)
	if err != nil || len(ps) != 1 {
		t.Fatalf("Predict = %v, %v", ps, err)
	}
	if f.predicts.Load() != 3 {
		t.Errorf("predicts = %d, want 3", f.predicts.Load())
	}
	calls := st.allCalls()
	if last := calls[len(calls)-1]; !last.OK {
		t.Errorf("recorded %+v; a call that succeeded on retry is OK", last)
	}
}

func TestRunnerSlowModel(t *testing.T) {
	f := newFakeLS(t)
	f.predict = func(i int64, _ map[string]any, w http.ResponseWriter, r *http.Request) {
		if i == 0 {
			slow(5*time.Second, w, r)
			return
		}
		fmt.Fprint(w, lsAnswer)
	}
	r, st, _ := testRunner(t, Options{Allow: []string{f.srv.URL}})
	m := lsModel("ls", f.srv.URL)
	m.Timeout = blocks.Duration(300 * time.Millisecond)
	p := newProject(t, m)
	// Prefetch: the first attempt times out, the retry answers.
	start := time.Now()
	r.Prefetch(p, []*annotate.Item{item(1, "x")})
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Prefetch blocked for %s on a slow model", d)
	}
	eventually(t, "a prediction", func() bool { return len(st.predictions()) == 1 })

	// A model that never answers in time: Predict gives up within its
	// timeout, the failure is recorded, the item stays without prediction.
	f.mu.Lock()
	f.predict = func(_ int64, _ map[string]any, w http.ResponseWriter, r *http.Request) { slow(5*time.Second, w, r) }
	f.mu.Unlock()
	start = time.Now()
	_, err := r.Predict(context.Background(), p, item(2, "y"), nil)
	if d := time.Since(start); err == nil || d > 2*time.Second {
		t.Fatalf("Predict = %v after %s; want an error within the timeout", err, d)
	}
	calls := st.allCalls()
	if last := calls[len(calls)-1]; last.OK || !strings.Contains(last.Error, "no answer within") {
		t.Errorf("recorded %+v", last)
	}
}

// No more than the model's concurrency reaches it at once, prefetch and
// Predict together.
func TestRunnerConcurrencyLimit(t *testing.T) {
	f := newFakeLS(t)
	f.delay = 20 * time.Millisecond
	r, st, _ := testRunner(t, Options{Allow: []string{f.srv.URL}})
	m := lsModel("ls", f.srv.URL)
	m.Concurrency = 2
	p := newProject(t, m)
	var items []*annotate.Item
	for i := range 10 {
		items = append(items, item(int64(i+1), fmt.Sprint("text ", i)))
	}
	r.Prefetch(p, items)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if _, err := r.Predict(context.Background(), p, item(int64(100+i), "other"), nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	eventually(t, "16 predictions", func() bool { return len(st.predictions()) == 16 })
	if n := f.maxInflight.Load(); n > 2 || n < 1 {
		t.Errorf("the model saw %d calls at once, want at most 2", n)
	}
}

func TestRunnerOpenAI(t *testing.T) {
	f := newFakeLLM(t)
	r, st, logs := testRunner(t, Options{Allow: []string{f.srv.URL}, Getenv: getenv})
	m := llmModel("llm", f.srv.URL)
	p := newProject(t, m)
	ctx := context.Background()

	ps, err := r.Predict(ctx, p, item(1, "it crashes"), nil)
	if err != nil || len(ps) != 1 {
		t.Fatalf("Predict = %v, %v", ps, err)
	}
	want := OpenAIVersion("small-model", m.System, m.Prompt)
	if pr := ps[0]; pr.Block != "category" || string(pr.Value) != `"bug"` || pr.Model != "llm" || pr.ModelVersion != want || pr.Score != nil || pr.Source != annotate.SourceLive {
		t.Errorf("prediction = %+v", pr)
	}
	f.mu.Lock()
	auth, body := f.auth[len(f.auth)-1], f.last
	f.mu.Unlock()
	if auth != "Bearer "+testKey {
		t.Errorf("Authorization = %q", auth)
	}
	msgs := body["messages"].([]any)
	if msgs[1].(map[string]any)["content"] != "Ticket: it crashes" {
		t.Errorf("prompt = %v", msgs[1])
	}
	if name := body["response_format"].(map[string]any)["json_schema"].(map[string]any)["name"]; name != "loupe_llm" {
		t.Errorf("schema name = %v", name)
	}

	// Cached: no second call.
	if _, err := r.Predict(ctx, p, item(1, "it crashes"), nil); err != nil || f.calls.Load() != 1 {
		t.Errorf("second Predict: %v, %d calls", err, f.calls.Load())
	}

	// A changed prompt is a new version.
	m2 := m
	m2.Prompt = "Classify: {{body}}"
	p2 := newProject(t, m2)
	p2.ConfigVersion = 2
	ps, err = r.Predict(ctx, p2, item(1, "it crashes"), nil)
	if err != nil || ps[0].ModelVersion == want || f.calls.Load() != 2 {
		t.Errorf("new prompt: %+v, %v, %d calls", ps, err, f.calls.Load())
	}

	// A missing field is a clear error for that item, with no call.
	_, err = r.Predict(ctx, p, &annotate.Item{ID: "item-x", Seq: 9, Data: map[string]any{"title": "no body"}}, nil)
	if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), `"body"`) || f.calls.Load() != 2 {
		t.Errorf("missing field: %v, %d calls", err, f.calls.Load())
	}

	// Out of schema: recorded, not stored.
	f.set(func(f *fakeLLM) { f.answer = `{"category": "refund"}` })
	before := len(st.predictions())
	_, err = r.Predict(ctx, p, item(2, "refund please"), nil)
	if loupe.ErrorCode(err) != loupe.EINVALID || len(st.predictions()) != before {
		t.Errorf("out of schema: %v, %d stored", err, len(st.predictions())-before)
	}
	f.set(func(f *fakeLLM) { f.answer = `the category is bug` })
	if _, err = r.Predict(ctx, p, item(3, "z"), nil); err == nil || len(st.predictions()) != before {
		t.Errorf("not JSON: %v", err)
	}

	// The key is never in an error, a recorded call or the log, even when
	// the server echoes it.
	f.set(func(f *fakeLLM) { f.status = http.StatusUnauthorized })
	_, err = r.Predict(ctx, p, item(4, "w"), nil)
	if err == nil {
		t.Fatal("401: no error")
	}
	for _, s := range []string{err.Error(), logs.String()} {
		if strings.Contains(s, testKey) {
			t.Errorf("the API key leaked: %s", s)
		}
	}
	for _, c := range st.allCalls() {
		if strings.Contains(c.Error, testKey) {
			t.Errorf("the API key leaked into a recorded call: %s", c.Error)
		}
	}
	if !strings.Contains(logs.String(), "401") {
		t.Errorf("the log does not show the failure: %s", logs.String())
	}
}

func TestRunnerOpenAIKeyMissing(t *testing.T) {
	f := newFakeLLM(t)
	r, st, _ := testRunner(t, Options{Allow: []string{f.srv.URL}}) // no Getenv: the variable is empty
	p := newProject(t, llmModel("llm", f.srv.URL))
	_, err := r.Predict(context.Background(), p, item(1, "x"), nil)
	if err == nil || !strings.Contains(err.Error(), "LOUPE_TEST_KEY") || f.calls.Load() != 0 {
		t.Fatalf("got %v with %d calls; want an error naming the variable and no call", err, f.calls.Load())
	}
	if calls := st.allCalls(); len(calls) != 1 || calls[0].OK {
		t.Errorf("recorded %+v", calls)
	}
}

// A model URL off the allowlist is refused and recorded; nothing connects.
func TestRunnerBlockedModelURL(t *testing.T) {
	f := newFakeLS(t)
	r, st, _ := testRunner(t, Options{Allow: []string{"http://ml-backend:9090"}})
	for _, u := range []string{f.srv.URL, "http://169.254.169.254/", "file:///etc/passwd"} {
		p := newProject(t, lsModel("ls", u))
		p.ConfigVersion++
		_, err := r.Predict(context.Background(), p, item(1, "x"), nil)
		if !errors.Is(err, ErrBlocked) && !strings.Contains(err.Error(), "blocked") {
			t.Errorf("%s: got %v, want blocked", u, err)
		}
	}
	if n := f.conns.n.Load(); n != 0 {
		t.Errorf("the backend saw %d connections", n)
	}
	for _, c := range st.allCalls() {
		if c.OK || !strings.Contains(c.Error, "blocked") {
			t.Errorf("recorded %+v", c)
		}
	}
}

// The version comes from the answer, else from /setup; a backend whose
// answers disagree with /setup is still cached under the answers' version.
func TestRunnerLabelStudioVersion(t *testing.T) {
	f := newFakeLS(t)
	f.setupVersion = "0.0.1"
	r, st, _ := testRunner(t, Options{Allow: []string{f.srv.URL}})
	p := newProject(t, lsModel("ls", f.srv.URL))
	for range 2 {
		if _, err := r.Predict(context.Background(), p, item(1, "x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if f.predicts.Load() != 1 || st.predictions()[0].ModelVersion != "v7" {
		t.Errorf("predicts = %d, version %q", f.predicts.Load(), st.predictions()[0].ModelVersion)
	}
	f.mu.Lock()
	f.predict = func(_ int64, _ map[string]any, w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `[{"result": [{"from_name": "category", "to_name": "body", "type": "choices", "value": {"choices": ["other"]}}]}]`)
	}
	f.mu.Unlock()
	f2 := newFakeLS(t)
	f2.setupVersion = "s1"
	f2.predict = f.predict
	r2, st2, _ := testRunner(t, Options{Allow: []string{f2.srv.URL}})
	if _, err := r2.Predict(context.Background(), newProject(t, lsModel("ls", f2.srv.URL)), item(1, "x"), nil); err != nil {
		t.Fatal(err)
	}
	if v := st2.predictions()[0].ModelVersion; v != "s1" {
		t.Errorf("version = %q, want the /setup version s1", v)
	}
}

func TestRunnerNotify(t *testing.T) {
	f := newFakeLS(t)
	llm := newFakeLLM(t)
	r, st, _ := testRunner(t, Options{Allow: []string{f.srv.URL, llm.srv.URL}, Getenv: getenv})
	p := newProject(t, lsModel("ls", f.srv.URL), llmModel("llm", llm.srv.URL))
	it := item(5, "it crashes")
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ann := &annotate.Annotation{ID: "ann-1", ItemID: it.ID, Version: 1, Values: map[string]json.RawMessage{"category": json.RawMessage(`"bug"`)}, LeadMS: 2500, CreatedAt: at, UpdatedAt: at}
	r.Notify(p, Event{Action: AnnotationCreated, Item: it, Annotation: ann})
	eventually(t, "a webhook", func() bool { return f.webhooks.Load() == 1 })
	_, _, hook := f.last()
	if hook["action"] != AnnotationCreated {
		t.Errorf("action = %v", hook["action"])
	}
	a := hook["annotation"].(map[string]any)
	res := a["result"].([]any)[0].(map[string]any)
	if res["from_name"] != "category" || a["task"] != float64(5) || a["lead_time"] != 2.5 || a["id"] != float64(annotationID("ann-1")) {
		t.Errorf("annotation = %v", a)
	}
	if tk := hook["task"].(map[string]any); tk["id"] != float64(5) || tk["data"].(map[string]any)["body"] != "it crashes" {
		t.Errorf("task = %v", tk)
	}
	if pr := hook["project"].(map[string]any); pr["id"] != "proj-1" || pr["label_config"] != fakeXML {
		t.Errorf("project = %v", pr)
	}
	if llm.calls.Load() != 0 {
		t.Error("an openai model got a webhook")
	}
	eventually(t, "the webhook recorded", func() bool { return len(st.allCalls()) == 1 })

	// A failed webhook is sent once (it may start training) and recorded.
	f.mu.Lock()
	f.predict = nil
	f.mu.Unlock()
	bad := newFakeLS(t)
	bad.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad.webhooks.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	r2, st2, _ := testRunner(t, Options{Allow: []string{bad.srv.URL}})
	r2.Notify(newProject(t, lsModel("ls", bad.srv.URL)), Event{Action: AnnotationUpdated, Item: it, Annotation: ann})
	eventually(t, "the failure recorded", func() bool { return len(st2.allCalls()) == 1 })
	if c := st2.allCalls()[0]; c.OK || !strings.HasPrefix(c.Error, "webhook: ") || !strings.Contains(c.Error, "503") {
		t.Errorf("recorded %+v", c)
	}
	if bad.webhooks.Load() != 1 {
		t.Errorf("webhook sent %d times, want 1", bad.webhooks.Load())
	}
}

func TestRunnerStatus(t *testing.T) {
	f := newFakeLS(t)
	f.predict = func(i int64, _ map[string]any, w http.ResponseWriter, _ *http.Request) {
		if i == 2 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, lsAnswer)
	}
	llm := newFakeLLM(t)
	down := newFakeLS(t)
	down.srv.Close()
	r, _, _ := testRunner(t, Options{Allow: []string{f.srv.URL, llm.srv.URL, down.srv.URL}, Getenv: getenv})
	p := newProject(t, lsModel("ls", f.srv.URL), llmModel("llm", llm.srv.URL), lsModel("down", down.srv.URL), lsModel("banned", "http://169.254.169.254"))
	for i := range 3 {
		r.Predict(context.Background(), p, item(int64(i+1), "x"), nil)
	}
	st, err := r.Status(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 4 {
		t.Fatalf("got %d statuses", len(st))
	}
	ls, l, dn, bn := st[0], st[1], st[2], st[3]
	if !ls.Healthy || ls.Version != "v7" || ls.Type != blocks.ModelLabelStudio || ls.URL != f.srv.URL {
		t.Errorf("ls = %+v", ls)
	}
	// setup + 3 predictions, one of which failed.
	if ls.Calls != 4 || ls.Errors != 1 || ls.ErrorRate != 0.25 || !strings.Contains(ls.LastError, "400") || ls.LastCallAt.IsZero() || ls.P95 < ls.P50 || ls.P50 <= 0 {
		t.Errorf("ls figures = %+v", ls)
	}
	if !l.Healthy || l.Calls != 3 || l.Errors != 0 || l.Version != OpenAIVersion("small-model", "You sort support tickets.", "Ticket: {{body}}") {
		t.Errorf("llm = %+v", l)
	}
	// One failed /setup: the next two Predicts come within SetupRetryAfter.
	if dn.Healthy || dn.HealthError == "" || dn.Calls != 1 || dn.Errors != 1 {
		t.Errorf("down = %+v", dn)
	}
	if bn.Healthy || !strings.Contains(bn.HealthError, "blocked") {
		t.Errorf("banned = %+v", bn)
	}
	if f.health.Load() != 1 {
		t.Errorf("health probes = %d", f.health.Load())
	}
}

func TestRunnerConfigChange(t *testing.T) {
	a, b := newFakeLS(t), newFakeLS(t)
	r, _, _ := testRunner(t, Options{Allow: []string{a.srv.URL, b.srv.URL}})
	p := newProject(t, lsModel("ls", a.srv.URL))
	if _, err := r.Predict(context.Background(), p, item(1, "x"), nil); err != nil {
		t.Fatal(err)
	}
	p2 := newProject(t, lsModel("ls", b.srv.URL))
	p2.ConfigVersion = 2
	r.Prefetch(p2, []*annotate.Item{item(2, "y")})
	eventually(t, "the new backend asked", func() bool { return b.predicts.Load() == 1 })
	if a.predicts.Load() != 1 {
		t.Errorf("old backend predicts = %d", a.predicts.Load())
	}
}

// Close stops every worker and goroutine, even with calls in flight.
func TestRunnerCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	f := newFakeLS(t)
	f.predict = func(_ int64, _ map[string]any, w http.ResponseWriter, r *http.Request) { slow(10*time.Second, w, r) }
	llm := newFakeLLM(t)
	st := &memStore{}
	r, err := NewRunner(st, Options{Allow: []string{f.srv.URL, llm.srv.URL}, Getenv: getenv, CloseWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r.mapFor = func(p *annotate.Project) mapping { return fakeMapping{in: p.Config.Interface()} }
	m := lsModel("ls", f.srv.URL)
	m.Timeout = blocks.Duration(time.Minute)
	p := newProject(t, m, llmModel("llm", llm.srv.URL))
	var items []*annotate.Item
	for i := range 20 {
		items = append(items, item(int64(i+1), "x"))
	}
	r.Prefetch(p, items)
	r.Notify(p, Event{Action: AnnotationCreated, Item: items[0], Annotation: &annotate.Annotation{ID: "a"}})
	eventually(t, "a call in flight", func() bool { return f.inflight.Load() > 0 })
	eventually(t, "llm calls", func() bool { return llm.calls.Load() > 0 })
	start := time.Now()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s", d)
	}
	r.Close() // twice is fine
	r.Prefetch(p, items)
	if _, err := r.Predict(context.Background(), p, items[0], nil); err == nil {
		t.Error("Predict after Close: no error")
	}
	f.srv.Close()
	llm.srv.Close()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before, %d after Close\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestApplyInputs(t *testing.T) {
	data := map[string]any{"body": "orig", "title": "t"}
	fields := map[string]string{"body": "fixed", "title": "title_fix"}
	got, h := applyInputs(data, fields, map[string]json.RawMessage{"fixed": json.RawMessage(`"new"`)})
	if got["body"] != "new" || got["title"] != "t" || h == "" || data["body"] != "orig" {
		t.Errorf("got %v %q", got, h)
	}
	_, h2 := applyInputs(data, fields, map[string]json.RawMessage{"fixed": json.RawMessage(`"new"`), "title_fix": json.RawMessage(`"t"`)})
	_, h3 := applyInputs(data, fields, map[string]json.RawMessage{"fixed": json.RawMessage(`"newer"`)})
	if h2 != h || h3 == h {
		t.Errorf("hashes: %q %q %q", h, h2, h3)
	}
	for _, in := range []map[string]json.RawMessage{nil, {"fixed": json.RawMessage(`"orig"`)}, {"fixed": json.RawMessage(`3`)}, {"other": json.RawMessage(`"x"`)}} {
		if _, h := applyInputs(data, fields, in); h != "" {
			t.Errorf("%v: hash %q, want none", in, h)
		}
	}
}
