package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/loupehq/loupe/blocks"
)

// Label Studio webhook actions Loupe sends.
const (
	AnnotationCreated = "ANNOTATION_CREATED"
	AnnotationUpdated = "ANNOTATION_UPDATED"
)

// LabelStudio is a client of a Label Studio ML backend
// (label-studio-ml-backend): GET /health, POST /setup, POST /predict and
// POST /webhook, with the request shapes Label Studio itself sends.
type LabelStudio struct {
	base string
	call *caller
	hook *caller // for webhooks: one attempt; nil means call
	user string  // HTTP basic auth of the backend (BASIC_AUTH_USER/PASS)
	pass string
}

// LSTask is a task as Label Studio sends it to a backend.
type LSTask struct {
	ID   int64          `json:"id"`
	Data map[string]any `json:"data"`
}

// LSSetup is the body of POST /setup.
type LSSetup struct {
	Project      string `json:"project"` // "ID.created-unix-seconds", as Label Studio makes it
	Schema       string `json:"schema"`  // the labeling config (XML)
	Hostname     string `json:"hostname"`
	AccessToken  string `json:"access_token"`
	ModelVersion string `json:"model_version,omitempty"`
	// ExtraParams is a JSON text: the backend stores it as a string and
	// decodes it when read.
	ExtraParams *string `json:"extra_params"`
}

// LSPredictRequest is the body of POST /predict.
type LSPredictRequest struct {
	Tasks        []LSTask       `json:"tasks"`
	ModelVersion string         `json:"model_version,omitempty"`
	Project      string         `json:"project"`
	LabelConfig  string         `json:"label_config"`
	Params       map[string]any `json:"params"`
}

// LSPrediction is a backend's prediction for one task.
type LSPrediction struct {
	Result       []blocks.LSResult
	Score        *float64
	ModelVersion string
}

// LSWebhook is the body of POST /webhook for an annotation event.
type LSWebhook struct {
	Action     string         `json:"action"`
	Annotation LSAnnotation   `json:"annotation"`
	Task       LSTask         `json:"task"`
	Project    LSProjectBrief `json:"project"`
}

// LSAnnotation is an annotation as a webhook carries it.
type LSAnnotation struct {
	ID        int64             `json:"id"`
	Result    []blocks.LSResult `json:"result"`
	Task      int64             `json:"task"`
	Project   string            `json:"project"`
	CreatedAt string            `json:"created_at"`
	UpdatedAt string            `json:"updated_at"`
	LeadTime  float64           `json:"lead_time"` // seconds
	Cancelled bool              `json:"was_cancelled"`
}

// LSProjectBrief is the project as a webhook carries it.
type LSProjectBrief struct {
	ID          string `json:"id"`
	LabelConfig string `json:"label_config"`
}

// LSHealth is the answer of GET /health.
type LSHealth struct {
	Status     string `json:"status"`
	ModelClass string `json:"model_class"`
}

func (c *LabelStudio) endpoint(path string) (string, error) {
	u, err := url.JoinPath(c.base, path)
	if err != nil {
		return "", &permanentError{fmt.Errorf("model URL %q: %w", c.base, err)}
	}
	return u, nil
}

func (c *LabelStudio) header() http.Header {
	h := http.Header{}
	if c.user != "" || c.pass != "" {
		r := &http.Request{Header: h}
		r.SetBasicAuth(c.user, c.pass)
	}
	return h
}

func (c *LabelStudio) post(ctx context.Context, path string, body any) ([]byte, error) {
	return c.postWith(ctx, c.call, path, body)
}

func (c *LabelStudio) postWith(ctx context.Context, call *caller, path string, body any) ([]byte, error) {
	u, err := c.endpoint(path)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", path, err)
	}
	return call.do(ctx, request{method: http.MethodPost, url: u, body: b, header: c.header()})
}

// Health asks GET /health; a status other than "UP" is an error.
func (c *LabelStudio) Health(ctx context.Context) (LSHealth, error) {
	var h LSHealth
	u, err := c.endpoint("health")
	if err != nil {
		return h, err
	}
	b, err := c.call.do(ctx, request{method: http.MethodGet, url: u, header: c.header()})
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, errNotProtocol("health")
	}
	if !strings.EqualFold(h.Status, "UP") {
		return h, errors.New("the backend's health status is not UP")
	}
	return h, nil
}

// Setup posts the project to POST /setup and returns the model version
// the backend reports ("" when it reports none).
func (c *LabelStudio) Setup(ctx context.Context, s LSSetup) (string, error) {
	b, err := c.post(ctx, "setup", s)
	if err != nil {
		return "", err
	}
	var out struct {
		ModelVersion json.RawMessage `json:"model_version"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return "", errNotProtocol("setup")
	}
	return flexString(out.ModelVersion), nil
}

// Predict posts tasks to POST /predict and returns one prediction per
// task, in order. It reads both answers backends give: {"results": [...]}
// (with an optional top-level model_version) and a bare list.
func (c *LabelStudio) Predict(ctx context.Context, rq LSPredictRequest) ([]LSPrediction, error) {
	b, err := c.post(ctx, "predict", rq)
	if err != nil {
		return nil, err
	}
	return parseLSPredictions(b)
}

// Webhook posts an annotation event to POST /webhook, so that the backend
// can train.
func (c *LabelStudio) Webhook(ctx context.Context, w LSWebhook) error {
	call := c.hook
	if call == nil {
		call = c.call
	}
	_, err := c.postWith(ctx, call, "webhook", w)
	return err
}

// parseLSPredictions reads a /predict answer.
func parseLSPredictions(b []byte) ([]LSPrediction, error) {
	var list []json.RawMessage
	var version json.RawMessage
	if err := json.Unmarshal(b, &list); err != nil {
		var obj struct {
			Results      json.RawMessage `json:"results"`
			ModelVersion json.RawMessage `json:"model_version"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, errNotProtocol("predict")
		}
		if len(obj.Results) == 0 || string(obj.Results) == "null" {
			return nil, nil
		}
		if err := json.Unmarshal(obj.Results, &list); err != nil {
			// A ModelResponse may nest the list under "predictions".
			var nested struct {
				Predictions []json.RawMessage `json:"predictions"`
			}
			if err := json.Unmarshal(obj.Results, &nested); err != nil {
				return nil, errNotProtocol("predict")
			}
			list = nested.Predictions
		}
		version = obj.ModelVersion
	}
	out := make([]LSPrediction, 0, len(list))
	for i, raw := range list {
		var w struct {
			Result       []lsResultWire  `json:"result"`
			Score        json.RawMessage `json:"score"`
			ModelVersion json.RawMessage `json:"model_version"`
		}
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, fmt.Errorf("the backend's prediction %d is not the shape Label Studio expects", i)
		}
		p := LSPrediction{Score: flexFloat(w.Score), ModelVersion: flexString(w.ModelVersion)}
		if p.ModelVersion == "" {
			p.ModelVersion = flexString(version)
		}
		for _, r := range w.Result {
			p.Result = append(p.Result, r.result())
		}
		out = append(out, p)
	}
	return out, nil
}

// lsResultWire reads a result item leniently: backends write ids as
// strings or numbers, and sizes as integers or floats.
type lsResultWire struct {
	ID             json.RawMessage `json:"id"`
	FromName       string          `json:"from_name"`
	ToName         string          `json:"to_name"`
	Type           string          `json:"type"`
	Value          map[string]any  `json:"value"`
	Score          json.RawMessage `json:"score"`
	OriginalWidth  float64         `json:"original_width"`
	OriginalHeight float64         `json:"original_height"`
}

func (w lsResultWire) result() blocks.LSResult {
	return blocks.LSResult{
		ID: flexString(w.ID), FromName: w.FromName, ToName: w.ToName, Type: w.Type, Value: w.Value,
		Score: flexFloat(w.Score), OriginalWidth: int(w.OriginalWidth), OriginalHeight: int(w.OriginalHeight),
	}
}

// flexString reads a JSON string or number as text; anything else is "".
func flexString(raw json.RawMessage) string {
	if t := strings.TrimSpace(string(raw)); t == "" || t == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// flexFloat reads a JSON number (or a number in a string); anything else
// is nil.
func flexFloat(raw json.RawMessage) *float64 {
	if t := strings.TrimSpace(string(raw)); t == "" || t == "null" {
		return nil
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return &f
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		var n json.Number = json.Number(s)
		if v, err := n.Float64(); err == nil {
			return &v
		}
	}
	return nil
}

// errNotProtocol says an answer is not the JSON a protocol expects,
// without quoting it.
func errNotProtocol(what string) error {
	return fmt.Errorf("the answer to %s is not the JSON the protocol expects", what)
}
