package models

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
)

// memStore is an in-memory Store that keeps its contract: the first
// prediction for (item, block, model, version, input hash) wins, calls are
// returned newest first.
type memStore struct {
	mu    sync.Mutex
	preds []annotate.Prediction
	calls []annotate.ModelCall
	n     int
}

func (s *memStore) CachedPredictions(_ context.Context, itemID, model, version, inputHash string) ([]annotate.Prediction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []annotate.Prediction
	for _, p := range s.preds {
		if p.ItemID == itemID && p.Model == model && p.ModelVersion == version && p.InputHash == inputHash {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Block < out[j].Block })
	return out, nil
}

func (s *memStore) SavePredictions(_ context.Context, ps []annotate.Prediction) error {
	s.mu.Lock()
	defer s.mu.Unlock()
next:
	for _, p := range ps {
		for _, q := range s.preds {
			if q.ItemID == p.ItemID && q.Block == p.Block && q.Model == p.Model && q.ModelVersion == p.ModelVersion && q.InputHash == p.InputHash {
				continue next
			}
		}
		s.n++
		p.ID = fmt.Sprintf("pred-%d", s.n)
		s.preds = append(s.preds, p)
	}
	return nil
}

func (s *memStore) RecordCall(_ context.Context, c annotate.ModelCall) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	return nil
}

func (s *memStore) ModelCalls(_ context.Context, projectID, model string, since time.Time, limit int) ([]annotate.ModelCall, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []annotate.ModelCall
	for i := len(s.calls) - 1; i >= 0 && len(out) < limit; i-- {
		c := s.calls[i]
		if c.ProjectID == projectID && c.Model == model && !c.At.Before(since) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *memStore) predictions() []annotate.Prediction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]annotate.Prediction(nil), s.preds...)
}

func (s *memStore) allCalls() []annotate.ModelCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]annotate.ModelCall(nil), s.calls...)
}

// fakeMapping stands in for the blocks package's Label Studio and LLM
// mappings (choices and textarea only), and validates through the real
// blocks.
type fakeMapping struct{ in *blocks.Interface }

const fakeXML = `<View><Text name="body" value="$body"/></View>`

func (f fakeMapping) labelConfig() (string, error) { return fakeXML, nil }

func (f fakeMapping) fromLabelStudio(rs []blocks.LSResult, _ map[string]any) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for _, r := range rs {
		v, ok := f.in.Valuer(r.FromName)
		if !ok {
			return nil, loupe.FieldErrorf(r.FromName, "no block %q", r.FromName)
		}
		switch r.Type {
		case "choices":
			ch, _ := r.Value["choices"].([]any)
			if v.Common().Type == "choice" && len(ch) > 0 {
				out[r.FromName], _ = json.Marshal(ch[0])
			} else {
				out[r.FromName], _ = json.Marshal(ch)
			}
		case "textarea":
			t, _ := r.Value["text"].([]any)
			if len(t) > 0 {
				out[r.FromName], _ = json.Marshal(t[0])
			}
		default:
			return nil, loupe.FieldErrorf(r.FromName, "type %q has no mapping", r.Type)
		}
	}
	return out, nil
}

func (f fakeMapping) toLabelStudio(vals map[string]json.RawMessage, _ map[string]any) ([]blocks.LSResult, error) {
	var out []blocks.LSResult
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var v any
		json.Unmarshal(vals[n], &v)
		if s, ok := v.(string); ok {
			v = []any{s}
		}
		out = append(out, blocks.LSResult{FromName: n, ToName: "body", Type: "choices", Value: map[string]any{"choices": v}})
	}
	return out, nil
}

func (f fakeMapping) jsonSchema(names []string) (map[string]any, error) {
	props := map[string]any{}
	for _, n := range names {
		props[n] = map[string]any{"type": "string"}
	}
	return map[string]any{"type": "object", "properties": props, "required": names, "additionalProperties": false}, nil
}

func (f fakeMapping) fromLLM(answer json.RawMessage, names []string, _ map[string]any) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(answer, &obj); err != nil {
		return nil, loupe.Errorf(loupe.EINVALID, "not an object")
	}
	out := map[string]json.RawMessage{}
	for _, n := range names {
		if v, ok := obj[n]; ok {
			out[n] = v
		}
	}
	return out, nil
}

func (f fakeMapping) valuer(name string) (blocks.Valuer, bool) { return f.in.Valuer(name) }

const testConfig = `title: Tickets
blocks:
  - {type: text, field: body}
  - {type: choice, name: category, options: [billing, bug, other], required: true}
  - {type: multichoice, name: tags, options: [urgent, angry]}
  - {type: textbox, name: fixed, multiline: false}
predictions:
  models:
    - {name: placeholder, type: label-studio, url: "http://placeholder", blocks: [category]}
`

// newProject returns a project whose config has the given live models.
func newProject(t *testing.T, models ...blocks.ModelConfig) *annotate.Project {
	t.Helper()
	cfg, err := blocks.ParseConfig([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Predictions.Models = models
	return &annotate.Project{ID: "proj-1", Slug: "tickets", ConfigVersion: 1, Config: cfg, CreatedAt: time.Unix(1700000000, 0)}
}

func item(seq int64, body string) *annotate.Item {
	return &annotate.Item{ID: fmt.Sprintf("item-%d", seq), ProjectID: "proj-1", Seq: seq, Data: map[string]any{"body": body}}
}

func intp(n int) *int { return &n }

// testRunner makes a Runner over a memStore with the fake mapping, quick
// backoff, and the given origins allowed.
func testRunner(t *testing.T, opts Options) (*Runner, *memStore, *bytes.Buffer) {
	t.Helper()
	st := &memStore{}
	var logs bytes.Buffer
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r, err := NewRunner(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.backoff = backoff{base: time.Millisecond, max: 5 * time.Millisecond, maxRetryAfter: 2 * time.Second}
	r.mapFor = func(p *annotate.Project) mapping { return fakeMapping{in: p.Config.Interface()} }
	t.Cleanup(func() { r.Close() })
	return r, st, &logs
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// eventually polls cond until it holds or 5s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// connCounter counts the connections a test server accepts.
type connCounter struct{ n atomic.Int64 }

func (c *connCounter) hook(_ net.Conn, s http.ConnState) {
	if s == http.StateNew {
		c.n.Add(1)
	}
}

// countingServer is a test server on 127.0.0.1 that counts connections
// and requests.
func countingServer(t *testing.T, h http.Handler) (*httptest.Server, *connCounter) {
	t.Helper()
	cc := &connCounter{}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = cc.hook
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, cc
}

// staticResolver answers every name with the given addresses.
func staticResolver(calls *atomic.Int64, addrs ...string) Resolver {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		if calls != nil {
			calls.Add(1)
		}
		var out []netip.Addr
		for _, a := range addrs {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
}
