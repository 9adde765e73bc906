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

	"github.com/loupehq/loupe"
)

// fakeLLM is an OpenAI-compatible chat completions endpoint under /v1.
type fakeLLM struct {
	srv   *httptest.Server
	calls atomic.Int64
	mu    sync.Mutex
	last  map[string]any
	auth  []string
	// answer is the assistant's content; status, when set, the code to
	// answer with instead.
	answer string
	status int
	raw    string // a whole body to answer with, when set
}

func newFakeLLM(t *testing.T) *fakeLLM {
	t.Helper()
	f := &fakeLLM{answer: `{"category": "bug"}`}
	f.srv, _ = countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		answer, status, raw := f.answer, f.status, f.raw
		f.mu.Unlock()
		switch r.Method + " " + r.URL.Path {
		case "GET /v1/models":
			fmt.Fprint(w, `{"data": [{"id": "small-model"}]}`)
			return
		case "POST /v1/chat/completions":
		default:
			http.NotFound(w, r)
			return
		}
		f.calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		json.Unmarshal(b, &body)
		f.mu.Lock()
		f.last = body
		f.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			// A careless server echoes the request's key in its error.
			fmt.Fprintf(w, `{"error": {"message": "bad key %s"}}`, r.Header.Get("Authorization"))
			return
		}
		if raw != "" {
			fmt.Fprint(w, raw)
			return
		}
		content, _ := json.Marshal(answer)
		fmt.Fprintf(w, `{"id": "c1", "object": "chat.completion", "model": "small-model", "choices": [{"index": 0, "message": {"role": "assistant", "content": %s}, "finish_reason": "stop"}]}`, content)
	}))
	return f
}

func (f *fakeLLM) set(fn func(f *fakeLLM)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func TestOpenAIRequest(t *testing.T) {
	f := newFakeLLM(t)
	c := &OpenAI{base: f.srv.URL + "/v1", key: "sk-test-123", call: testCaller(t, f.srv.URL, 1, 2*time.Second)}
	schema := map[string]any{"type": "object", "properties": map[string]any{"category": map[string]any{"type": "string"}}}
	got, err := c.Complete(context.Background(), ChatRequest{Model: "small-model", System: "You sort tickets.", User: "Ticket: it crashes", SchemaName: "loupe_llm", Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"category": "bug"}` {
		t.Errorf("answer = %s", got)
	}
	f.mu.Lock()
	body, auth := f.last, f.auth
	f.mu.Unlock()
	if auth[len(auth)-1] != "Bearer sk-test-123" {
		t.Errorf("Authorization = %q", auth)
	}
	if body["model"] != "small-model" || body["temperature"] != float64(0) {
		t.Errorf("body = %v", body)
	}
	msgs := body["messages"].([]any)
	if len(msgs) != 2 || msgs[0].(map[string]any)["role"] != "system" || msgs[1].(map[string]any)["content"] != "Ticket: it crashes" {
		t.Errorf("messages = %v", msgs)
	}
	rf := body["response_format"].(map[string]any)
	js := rf["json_schema"].(map[string]any)
	if rf["type"] != "json_schema" || js["name"] != "loupe_llm" || js["strict"] != true || js["schema"].(map[string]any)["type"] != "object" {
		t.Errorf("response_format = %v", rf)
	}
	if err := c.Models(context.Background()); err != nil {
		t.Errorf("Models: %v", err)
	}

	// No system message, no key: no system role, no Authorization header.
	c.key = ""
	if _, err := c.Complete(context.Background(), ChatRequest{Model: "m", User: "u", SchemaName: "s", Schema: schema}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	body, auth = f.last, f.auth
	f.mu.Unlock()
	if len(body["messages"].([]any)) != 1 || auth[len(auth)-1] != "" {
		t.Errorf("messages = %v, auth = %q", body["messages"], auth[len(auth)-1])
	}
}

func TestOpenAIBadAnswers(t *testing.T) {
	f := newFakeLLM(t)
	c := &OpenAI{base: f.srv.URL + "/v1", call: testCaller(t, f.srv.URL, 3, 2*time.Second)}
	for name, tc := range map[string]struct{ answer, raw, want string }{
		"not JSON":      {answer: "The category is bug.", want: "not JSON"},
		"not an object": {answer: `["bug"]`, want: "not a JSON object"},
		"empty":         {answer: "  ", want: "empty"},
		"cut off":       {raw: `{"choices": [{"message": {"content": "{\"cat"}, "finish_reason": "length"}]}`, want: "cut off"},
		"refused":       {raw: `{"choices": [{"message": {"content": null, "refusal": "I won't SECRET"}, "finish_reason": "stop"}]}`, want: "refused"},
		"no choices":    {raw: `{"choices": []}`, want: "no choices"},
		"not protocol":  {raw: `SECRET <html>`, want: "not the JSON"},
	} {
		t.Run(name, func(t *testing.T) {
			f.set(func(f *fakeLLM) { f.answer, f.raw = tc.answer, tc.raw })
			before := f.calls.Load()
			_, err := c.Complete(context.Background(), ChatRequest{Model: "m", User: "u"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q quotes the answer", err)
			}
			if n := f.calls.Load() - before; n != 1 {
				t.Errorf("%d calls, want 1: a bad answer is not retried", n)
			}
		})
	}
	// A fenced answer is read.
	f.set(func(f *fakeLLM) { f.answer, f.raw = "```json\n{\"category\": \"bug\"}\n```", "" })
	if got, err := c.Complete(context.Background(), ChatRequest{Model: "m", User: "u"}); err != nil || string(got) != `{"category": "bug"}` {
		t.Errorf("fenced: %s, %v", got, err)
	}
}

func TestRenderPrompt(t *testing.T) {
	data := map[string]any{
		"body":    "It crashes {{secret}}",
		"secret":  "hunter2",
		"n":       3,
		"chat":    []any{map[string]any{"role": "user", "content": "<hi>"}},
		"nothing": nil,
	}
	got, err := RenderPrompt("Ticket: {{body}} / {{ n }} / {{chat}}", data)
	if err != nil {
		t.Fatal(err)
	}
	if want := `Ticket: It crashes {{secret}} / 3 / [{"content":"<hi>","role":"user"}]`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, tmpl := range []string{"{{missing}}", "{{nothing}}"} {
		_, err := RenderPrompt(tmpl, data)
		if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), "lacks") {
			t.Errorf("%s: got %v, want EINVALID naming the field", tmpl, err)
		}
	}
	if got, _ := RenderPrompt("no placeholders", nil); got != "no placeholders" {
		t.Errorf("got %q", got)
	}
}

func TestOpenAIVersion(t *testing.T) {
	a := OpenAIVersion("m", "sys", "Classify {{body}}")
	if a != OpenAIVersion("m", "sys", "Classify {{body}}") {
		t.Error("the version is not stable")
	}
	for _, b := range []string{OpenAIVersion("m", "sys", "Sort {{body}}"), OpenAIVersion("m", "sys2", "Classify {{body}}"), OpenAIVersion("m2", "sys", "Classify {{body}}"), OpenAIVersion("m", "", "sysClassify {{body}}")} {
		if a == b {
			t.Errorf("%s: a changed model or prompt keeps the version", b)
		}
	}
	if !strings.HasPrefix(a, "m@") {
		t.Errorf("version %q does not start with the model name", a)
	}
}
