package models

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/loupehq/loupe"
)

// OpenAI is a client of an OpenAI-compatible chat completions endpoint
// (OpenAI, vLLM, llama.cpp, Ollama and others): POST {url}/chat/completions
// with a JSON-schema response format, and GET {url}/models as a health
// probe.
type OpenAI struct {
	base string
	key  string // sent as a bearer token; never logged, never in an error
	call *caller
}

// ChatRequest is what Loupe asks an LLM: the messages and the JSON Schema
// its answer must follow.
type ChatRequest struct {
	Model      string
	System     string
	User       string
	SchemaName string
	Schema     map[string]any
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatBody struct {
	Model          string         `json:"model"`
	Messages       []chatMessage  `json:"messages"`
	Temperature    float64        `json:"temperature"`
	ResponseFormat responseFormat `json:"response_format"`
}

type responseFormat struct {
	Type       string     `json:"type"`
	JSONSchema jsonSchema `json:"json_schema"`
}

type jsonSchema struct {
	Name   string         `json:"name"`
	Schema map[string]any `json:"schema"`
	Strict bool           `json:"strict"`
}

func (c *OpenAI) header() http.Header {
	h := http.Header{}
	if c.key != "" {
		h.Set("Authorization", "Bearer "+c.key)
	}
	return h
}

// Complete asks for a chat completion and returns the answer's content as
// JSON. An answer that is cut off, refused, empty or not JSON is an error
// that does not quote it.
func (c *OpenAI) Complete(ctx context.Context, rq ChatRequest) (json.RawMessage, error) {
	u, err := url.JoinPath(c.base, "chat/completions")
	if err != nil {
		return nil, &permanentError{fmt.Errorf("model URL %q: %w", c.base, err)}
	}
	msgs := []chatMessage{}
	if rq.System != "" {
		msgs = append(msgs, chatMessage{Role: "system", Content: rq.System})
	}
	msgs = append(msgs, chatMessage{Role: "user", Content: rq.User})
	body, err := json.Marshal(chatBody{
		Model: rq.Model, Messages: msgs, Temperature: 0,
		ResponseFormat: responseFormat{Type: "json_schema", JSONSchema: jsonSchema{Name: rq.SchemaName, Schema: rq.Schema, Strict: true}},
	})
	if err != nil {
		return nil, fmt.Errorf("encode the chat request: %w", err)
	}
	b, err := c.call.do(ctx, request{method: http.MethodPost, url: u, body: body, header: c.header()})
	if err != nil {
		return nil, err
	}
	var out struct {
		Choices []struct {
			Message struct {
				Content *string         `json:"content"`
				Refusal json.RawMessage `json:"refusal"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, errNotProtocol("chat/completions")
	}
	if len(out.Choices) == 0 {
		return nil, errors.New("the model's answer has no choices")
	}
	ch := out.Choices[0]
	switch {
	case len(ch.Message.Refusal) > 0 && string(ch.Message.Refusal) != "null":
		return nil, errors.New("the model refused to answer")
	case ch.FinishReason == "length":
		return nil, errors.New("the model's answer was cut off (finish_reason length)")
	case ch.Message.Content == nil || strings.TrimSpace(*ch.Message.Content) == "":
		return nil, errors.New("the model's answer is empty")
	}
	content := stripFence(*ch.Message.Content)
	if !json.Valid([]byte(content)) {
		return nil, errors.New("the model's answer is not JSON")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(content), &obj) != nil {
		return nil, errors.New("the model's answer is not a JSON object")
	}
	return json.RawMessage(content), nil
}

// Models asks GET {url}/models, the cheapest authenticated request of the
// protocol, as a health probe.
func (c *OpenAI) Models(ctx context.Context) error {
	u, err := url.JoinPath(c.base, "models")
	if err != nil {
		return &permanentError{fmt.Errorf("model URL %q: %w", c.base, err)}
	}
	_, err = c.call.do(ctx, request{method: http.MethodGet, url: u, header: c.header()})
	return err
}

// stripFence removes a Markdown code fence some servers put around JSON
// despite the response format.
func stripFence(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "```") {
		return s
	}
	s = strings.TrimPrefix(s, "```")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "```"))
}

var placeholder = regexp.MustCompile(`\{\{\s*([^{}\s]+)\s*\}\}`)

// RenderPrompt replaces every {{field}} in a template with the text of the
// item's field: a string as is, other values as compact JSON. Field text is
// never expanded again, so data cannot inject placeholders. A field the
// item lacks is an EINVALID error naming it.
func RenderPrompt(tmpl string, data map[string]any) (string, error) {
	var missing []string
	out := placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := placeholder.FindStringSubmatch(m)[1]
		v, ok := data[name]
		if !ok || v == nil {
			missing = append(missing, name)
			return m
		}
		if s, ok := v.(string); ok {
			return s
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			missing = append(missing, name)
			return m
		}
		return strings.TrimSpace(b.String())
	})
	if len(missing) > 0 {
		sort.Strings(missing)
		return "", loupe.FieldErrorf("data."+missing[0], "the prompt uses field %q, which this item lacks", missing[0])
	}
	return out, nil
}

// OpenAIVersion is the version of an LLM model: its name and a short hash
// of the system message and the prompt, so that a changed prompt makes a
// new version (and new predictions).
func OpenAIVersion(model, system, prompt string) string {
	h := sha256.Sum256([]byte(system + "\x00" + prompt))
	return model + "@" + hex.EncodeToString(h[:])[:8]
}

var schemaNameRE = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// schemaName makes the response format's name from the model's name.
func schemaName(model string) string {
	n := "loupe_" + schemaNameRE.ReplaceAllString(model, "_")
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}
