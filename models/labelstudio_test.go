package models

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loupehq/loupe/blocks"
)

// fakeLS is a Label Studio ML backend speaking the label-studio-ml-backend
// protocol, with a scriptable /predict.
type fakeLS struct {
	srv                                *httptest.Server
	conns                              *connCounter
	health, setups, predicts, webhooks atomic.Int64
	inflight, maxInflight              atomic.Int64
	setupVersion                       string
	delay                              time.Duration // of each /predict

	mu          sync.Mutex
	lastSetup   map[string]any
	lastPredict map[string]any
	lastWebhook map[string]any
	auth        []string
	// predict answers the i-th /predict (from 0); nil answers choice "bug"
	// with score 0.9 and version v7.
	predict func(i int64, req map[string]any, w http.ResponseWriter, r *http.Request)
}

const lsAnswer = `{"results": [{"result": [{"id": "r1", "from_name": "category", "to_name": "body", "type": "choices", "value": {"choices": ["bug"]}}], "score": 0.9, "model_version": "v7"}]}`

func newFakeLS(t *testing.T) *fakeLS {
	t.Helper()
	f := &fakeLS{setupVersion: "v7"}
	f.srv, f.conns = countingServer(t, http.HandlerFunc(f.serve))
	return f
}

func (f *fakeLS) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	var body map[string]any
	if r.Method == http.MethodPost {
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /health":
		f.health.Add(1)
		fmt.Fprint(w, `{"status": "UP", "model_class": "FakeModel"}`)
	case "POST /setup":
		f.setups.Add(1)
		f.mu.Lock()
		f.lastSetup = body
		f.mu.Unlock()
		fmt.Fprintf(w, `{"model_version": %q}`, f.setupVersion)
	case "POST /predict":
		n := f.inflight.Add(1)
		defer f.inflight.Add(-1)
		for {
			m := f.maxInflight.Load()
			if n <= m || f.maxInflight.CompareAndSwap(m, n) {
				break
			}
		}
		i := f.predicts.Add(1) - 1
		f.mu.Lock()
		f.lastPredict = body
		predict := f.predict
		f.mu.Unlock()
		if f.delay > 0 {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(f.delay):
			}
		}
		if predict != nil {
			predict(i, body, w, r)
			return
		}
		fmt.Fprint(w, lsAnswer)
	case "POST /webhook":
		f.webhooks.Add(1)
		f.mu.Lock()
		f.lastWebhook = body
		f.mu.Unlock()
		w.WriteHeader(201)
		fmt.Fprint(w, `{"status": "ok"}`)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeLS) last() (setup, predict, webhook map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastSetup, f.lastPredict, f.lastWebhook
}

func lsClient(t *testing.T, base string) *LabelStudio {
	c := testCaller(t, base, 2, 2*time.Second)
	return &LabelStudio{base: base, call: c}
}

// The requests carry what label-studio-ml-backend's api.py reads, in the
// shapes Label Studio sends.
func TestLabelStudioProtocol(t *testing.T) {
	f := newFakeLS(t)
	c := lsClient(t, f.srv.URL)
	ctx := context.Background()

	h, err := c.Health(ctx)
	if err != nil || h.Status != "UP" || h.ModelClass != "FakeModel" {
		t.Fatalf("Health = %+v, %v", h, err)
	}
	extra := `{"threshold":0.5}`
	v, err := c.Setup(ctx, LSSetup{Project: "proj-1.1700000000", Schema: fakeXML, Hostname: "https://loupe.example", ExtraParams: &extra})
	if err != nil || v != "v7" {
		t.Fatalf("Setup = %q, %v", v, err)
	}
	preds, err := c.Predict(ctx, LSPredictRequest{
		Tasks:   []LSTask{{ID: 42, Data: map[string]any{"body": "it crashes"}}},
		Project: "proj-1.1700000000", LabelConfig: fakeXML, Params: map[string]any{"threshold": 0.5},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != 1 || preds[0].ModelVersion != "v7" || preds[0].Score == nil || *preds[0].Score != 0.9 ||
		len(preds[0].Result) != 1 || preds[0].Result[0].FromName != "category" {
		t.Fatalf("Predict = %+v", preds)
	}
	err = c.Webhook(ctx, LSWebhook{Action: AnnotationCreated,
		Annotation: LSAnnotation{ID: 7, Task: 42, Project: "proj-1", Result: []blocks.LSResult{{FromName: "category", ToName: "body", Type: "choices", Value: map[string]any{"choices": []any{"bug"}}}}},
		Task:       LSTask{ID: 42, Data: map[string]any{"body": "it crashes"}},
		Project:    LSProjectBrief{ID: "proj-1", LabelConfig: fakeXML}})
	if err != nil {
		t.Fatal(err)
	}

	setup, predict, hook := f.last()
	// api.py: data.get('project').split('.', 1)[0] — project must be a string.
	if setup["project"] != "proj-1.1700000000" || setup["schema"] != fakeXML || setup["hostname"] != "https://loupe.example" {
		t.Errorf("setup body = %v", setup)
	}
	// The backend's cache stores only strings: extra_params is JSON text.
	if setup["extra_params"] != extra {
		t.Errorf("extra_params = %#v, want the JSON text %q", setup["extra_params"], extra)
	}
	tasks, _ := predict["tasks"].([]any)
	if len(tasks) != 1 {
		t.Fatalf("predict tasks = %v", predict["tasks"])
	}
	task := tasks[0].(map[string]any)
	if task["id"] != float64(42) || task["data"].(map[string]any)["body"] != "it crashes" {
		t.Errorf("task = %v", task)
	}
	if predict["project"] != "proj-1.1700000000" || predict["label_config"] != fakeXML {
		t.Errorf("predict body = %v", predict)
	}
	if params, _ := predict["params"].(map[string]any); params["threshold"] != 0.5 {
		t.Errorf("params = %v", predict["params"])
	}
	// api.py: event = data.pop('action'); data['project']['id'], ['label_config'].
	if hook["action"] != AnnotationCreated {
		t.Errorf("webhook action = %v", hook["action"])
	}
	if p := hook["project"].(map[string]any); p["id"] != "proj-1" || p["label_config"] != fakeXML {
		t.Errorf("webhook project = %v", p)
	}
	ann := hook["annotation"].(map[string]any)
	if ann["task"] != float64(42) || len(ann["result"].([]any)) != 1 {
		t.Errorf("webhook annotation = %v", ann)
	}
	if hook["task"].(map[string]any)["id"] != float64(42) {
		t.Errorf("webhook task = %v", hook["task"])
	}
}

func TestParseLSPredictions(t *testing.T) {
	for name, tc := range map[string]struct {
		body    string
		version string
		score   *float64
		results int
		wantErr bool
	}{
		"results":             {body: lsAnswer, version: "v7", score: ptr(0.9), results: 1},
		"bare list (older)":   {body: `[{"result": [{"from_name": "category", "to_name": "body", "type": "choices", "value": {"choices": ["bug"]}}], "score": 0.5}]`, score: ptr(0.5), results: 1},
		"top-level version":   {body: `{"results": [{"result": [], "score": null}], "model_version": "INITIAL"}`, version: "INITIAL"},
		"numeric ids/version": {body: `{"results": [{"result": [{"id": 12, "from_name": "category", "type": "choices", "value": {"choices": ["bug"]}, "original_width": 640.0}], "model_version": 3, "score": "0.25"}]}`, version: "3", score: ptr(0.25), results: 1},
		"nested predictions":  {body: `{"results": {"predictions": [{"result": [], "model_version": "m"}]}}`, version: "m"},
		"no results":          {body: `{"results": []}`},
		"null results":        {body: `{"results": null}`},
		"not json":            {body: `<html>oops</html>`, wantErr: true},
		"wrong shape":         {body: `{"results": "yes"}`, wantErr: true},
		"bad prediction":      {body: `{"results": [{"result": "no"}]}`, wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			ps, err := parseLSPredictions([]byte(tc.body))
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				if strings.Contains(err.Error(), "oops") || strings.Contains(err.Error(), "yes") {
					t.Errorf("error %q quotes the answer", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.body == `{"results": []}` || tc.body == `{"results": null}` {
				if len(ps) != 0 {
					t.Errorf("got %v", ps)
				}
				return
			}
			p := ps[0]
			if p.ModelVersion != tc.version || len(p.Result) != tc.results || (tc.score == nil) != (p.Score == nil) || (tc.score != nil && *tc.score != *p.Score) {
				t.Errorf("got %+v", p)
			}
		})
	}
}

func ptr(f float64) *float64 { return &f }

func TestLabelStudioHealthNotUp(t *testing.T) {
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status": "DOWN"}`)
	}))
	if _, err := lsClient(t, srv.URL).Health(context.Background()); err == nil {
		t.Error("a DOWN backend is healthy")
	}
}
