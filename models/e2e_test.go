package models

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
)

// These tests run the Runner with the blocks package's own Label Studio
// and LLM mappings, end to end.

// realRunner is testRunner with the project's real mapping; it skips the
// test while the blocks mapping is not built.
func realRunner(t *testing.T, p *annotate.Project, opts Options) (*Runner, *memStore) {
	t.Helper()
	if _, err := blocks.LabelStudioConfig(p.Config.Interface()); err != nil && strings.Contains(err.Error(), "not built yet") {
		t.Skip("blocks mapping not built yet")
	}
	r, st, _ := testRunner(t, opts)
	r.mapFor = projectMapping
	return r, st
}

func TestEndToEndLabelStudio(t *testing.T) {
	f := newFakeLS(t)
	f.predict = func(i int64, _ map[string]any, w http.ResponseWriter, _ *http.Request) {
		choice := "bug"
		if i > 0 {
			choice = "refund" // no such option
		}
		fmt.Fprintf(w, `{"results": [{"result": [
			{"id": "a1", "from_name": "category", "to_name": "body", "type": "choices", "value": {"choices": [%q]}},
			{"id": "a2", "from_name": "tags", "to_name": "body", "type": "choices", "value": {"choices": ["urgent"]}}],
			"score": 0.75, "model_version": "bert-3"}]}`, choice)
	}
	p := newProject(t, lsModel("ls", f.srv.URL))
	r, st := realRunner(t, p, Options{Allow: []string{f.srv.URL}})
	ps, err := r.Predict(context.Background(), p, item(1, "it crashes"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, pr := range ps {
		got[pr.Block] = string(pr.Value)
		if pr.ModelVersion != "bert-3" || pr.Score == nil || *pr.Score != 0.75 || pr.Model != "ls" {
			t.Errorf("prediction = %+v", pr)
		}
	}
	if got["category"] != `"bug"` || got["tags"] != `["urgent"]` || len(got) != 2 {
		t.Errorf("values = %v", got)
	}
	setup, predict, _ := f.last()
	xml, _ := setup["schema"].(string)
	if !strings.Contains(xml, `name="category"`) || predict["label_config"] != xml {
		t.Errorf("label config = %q / %v", xml, predict["label_config"])
	}

	_, err = r.Predict(context.Background(), p, item(2, "refund me"), nil)
	if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(err.Error(), "category") {
		t.Errorf("out of schema: %v", err)
	}
	if n := len(st.predictions()); n != 2 {
		t.Errorf("stored %d predictions, want 2", n)
	}

	// The webhook carries the annotation in Label Studio's shape.
	it := item(1, "it crashes")
	r.Notify(p, Event{Action: AnnotationUpdated, Item: it, Annotation: &annotate.Annotation{ID: "ann-1",
		Values: map[string]json.RawMessage{"category": json.RawMessage(`"billing"`), "tags": json.RawMessage(`["angry"]`)}}})
	eventually(t, "a webhook", func() bool { return f.webhooks.Load() == 1 })
	_, _, hook := f.last()
	res := hook["annotation"].(map[string]any)["result"].([]any)
	if len(res) != 2 {
		t.Fatalf("result = %v", res)
	}
	first := res[0].(map[string]any)
	if first["from_name"] != "category" || first["type"] != "choices" || first["value"].(map[string]any)["choices"].([]any)[0] != "billing" {
		t.Errorf("result = %v", first)
	}
}

func TestEndToEndOpenAI(t *testing.T) {
	f := newFakeLLM(t)
	m := llmModel("llm", f.srv.URL)
	m.Blocks = []string{"category", "tags"}
	p := newProject(t, m)
	r, st := realRunner(t, p, Options{Allow: []string{f.srv.URL}, Getenv: getenv})
	f.set(func(f *fakeLLM) { f.answer = `{"category": "bug", "tags": ["urgent"]}` })
	ps, err := r.Predict(context.Background(), p, item(1, "it crashes"), nil)
	if err != nil || len(ps) != 2 {
		t.Fatalf("Predict = %+v, %v", ps, err)
	}
	f.mu.Lock()
	body := f.last
	f.mu.Unlock()
	schema := body["response_format"].(map[string]any)["json_schema"].(map[string]any)["schema"].(map[string]any)
	props := schema["properties"].(map[string]any)
	if schema["additionalProperties"] != false || props["category"] == nil || props["tags"] == nil {
		t.Errorf("schema = %v", schema)
	}
	for _, answer := range []string{`{"category": "refund", "tags": []}`, `{"category": "bug", "tags": ["urgent"], "extra": 1}`, `{"tags": []}`} {
		f.set(func(f *fakeLLM) { f.answer = answer })
		if _, err := r.Predict(context.Background(), p, item(2, "x"), nil); loupe.ErrorCode(err) != loupe.EINVALID {
			t.Errorf("%s: got %v, want EINVALID", answer, err)
		}
	}
	if n := len(st.predictions()); n != 2 {
		t.Errorf("stored %d predictions, want 2", n)
	}
}
