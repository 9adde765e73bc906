package blocks

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Model types a project may use.
const (
	ModelBuiltin     = "builtin"      // Loupe's own learner, trained on the project's annotations
	ModelLabelStudio = "label-studio" // a Label Studio ML backend over HTTP
	ModelOpenAI      = "openai"       // an OpenAI-compatible chat completions endpoint
)

// Queue orders for Config.Order.
const (
	OrderSequential   = "sequential"   // import order (default)
	OrderRandom       = "random"       // a fixed shuffle
	OrderUncertainty  = "uncertainty"  // lowest margin between the top two predicted labels first
	OrderDisagreement = "disagreement" // items where models (or models and labelers) disagree first
)

// Limits of the predictions section.
const (
	MaxModels      = 10
	DefaultTimeout = 10 * time.Second
	MaxTimeout     = 5 * time.Minute
	DefaultRetries = 2
	MaxRetries     = 5
	DefaultWorkers = 4
	MaxWorkers     = 32
)

// PredictionConfig is a project's `predictions:` section: the models that
// suggest values, and how suggestions are shown.
//
//	predictions:
//	  show: true        # false keeps labelers blind to predictions
//	  min_score: 0.4    # hide suggestions scoring lower
//	  models:
//	    - {name: learner, type: builtin, blocks: [sentiment], fields: [review]}
type PredictionConfig struct {
	Show     *bool         `yaml:"show,omitempty" json:"show,omitempty"`
	MinScore float64       `yaml:"min_score,omitempty" json:"min_score,omitempty"`
	Models   []ModelConfig `yaml:"models" json:"models"`
}

// Shown reports whether labelers see suggestions.
func (p *PredictionConfig) Shown() bool { return p != nil && (p.Show == nil || *p.Show) }

// ModelConfig is one model source.
type ModelConfig struct {
	Name   string   `yaml:"name" json:"name"`
	Type   string   `yaml:"type" json:"type"`
	Blocks []string `yaml:"blocks" json:"blocks"` // the labeling blocks it fills
	// Fields are the item fields the builtin learner reads (their text,
	// joined).
	Fields []string `yaml:"fields,omitempty" json:"fields,omitempty"`
	// URL is the base URL of a live model; the server's allowlist must
	// allow it.
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// Model, APIKeyEnv, System and Prompt configure an OpenAI-compatible
	// endpoint: the model name, the environment variable holding the API
	// key (the key itself is never in a config), and the messages, where
	// {{field}} stands for an item field.
	Model     string `yaml:"model,omitempty" json:"model,omitempty"`
	APIKeyEnv string `yaml:"api_key_env,omitempty" json:"api_key_env,omitempty"`
	System    string `yaml:"system,omitempty" json:"system,omitempty"`
	Prompt    string `yaml:"prompt,omitempty" json:"prompt,omitempty"`
	// Timeout per call, Retries after a failure (with backoff), and the
	// most calls in flight at once.
	Timeout     Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Retries     *int     `yaml:"retries,omitempty" json:"retries,omitempty"`
	Concurrency int      `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
	// Inputs replace item fields with the values of blocks when the
	// labeler has given them (review: correction), so that a fresh
	// prediction reads the edited text. RerunOn lists blocks whose change
	// asks the model again (debounced on the page).
	Inputs  map[string]string `yaml:"inputs,omitempty" json:"inputs,omitempty"`
	RerunOn []string          `yaml:"rerun_on,omitempty" json:"rerun_on,omitempty"`
	// Params are passed to a Label Studio backend as its params.
	Params map[string]any `yaml:"params,omitempty" json:"params,omitempty"`

	line, col int
}

// Attempts is how many calls a failure may take: the first and its retries.
func (m *ModelConfig) Attempts() int {
	if m.Retries == nil {
		return 1 + DefaultRetries
	}
	return 1 + *m.Retries
}

// CallTimeout is the timeout of one call.
func (m *ModelConfig) CallTimeout() time.Duration {
	if m.Timeout == 0 {
		return DefaultTimeout
	}
	return time.Duration(m.Timeout)
}

// Workers is the most calls in flight at once.
func (m *ModelConfig) Workers() int {
	if m.Concurrency == 0 {
		return DefaultWorkers
	}
	return m.Concurrency
}

// Duration is a time.Duration written as "10s" or "1m30s" in a config.
type Duration time.Duration

// UnmarshalYAML reads a duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return &nodeError{n.Line, n.Column, fmt.Sprintf("expected a duration such as 10s or 1m30s, got %q", n.Value)}
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// UnmarshalYAML reads the predictions section strictly: an unknown key is
// an error at its place, not a silent default.
func (p *PredictionConfig) UnmarshalYAML(n *yaml.Node) error {
	if err := strictKeys(n, p); err != nil {
		return err
	}
	type plain PredictionConfig
	if err := n.Decode((*plain)(p)); err != nil {
		return err
	}
	// Remember where each model is, for messages about it.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "models" {
			continue
		}
		for j, m := range resolve(n.Content[i+1]).Content {
			if j < len(p.Models) {
				p.Models[j].line, p.Models[j].col = m.Line, m.Column
			}
		}
	}
	return nil
}

// checkPredictions validates the predictions section and the order against
// the compiled interface.
func (p *parser) checkPredictions(cfg *Config, base *Base, readable bool) {
	c := &Checker{p: p, block: base}
	switch cfg.Order {
	case "":
		cfg.Order = OrderSequential
	case OrderSequential, OrderRandom, OrderUncertainty, OrderDisagreement:
	default:
		c.Errorf("order", "order %q is unknown; use sequential, random, uncertainty or disagreement", cfg.Order)
	}
	pc := cfg.Predictions
	if !readable {
		return
	}
	if pc == nil {
		if cfg.Order == OrderUncertainty || cfg.Order == OrderDisagreement {
			c.Errorf("order", "order %s needs predictions: add a predictions section with a model", cfg.Order)
		}
		return
	}
	in := cfg.iface
	if pc.MinScore < 0 || pc.MinScore > 1 {
		c.Errorf("predictions", "predictions.min_score must be between 0 and 1, got %g", pc.MinScore)
	}
	if len(pc.Models) == 0 {
		c.Errorf("predictions", "predictions needs at least one model")
	}
	if len(pc.Models) > MaxModels {
		c.Errorf("predictions", "predictions may list at most %d models", MaxModels)
	}
	names := map[string]bool{}
	for i, m := range pc.Models {
		bad := func(format string, args ...any) {
			c.ErrorAt(m.line, m.col, fmt.Sprintf("predictions.models[%d]", i), format, args...)
		}
		switch {
		case m.Name == "":
			bad("a model needs a name")
		case !nameRE.MatchString(strings.ReplaceAll(m.Name, "-", "_")):
			bad("name %q may hold only letters, digits, '_' and '-'", m.Name)
		case names[m.Name]:
			bad("name %q is used twice", m.Name)
		}
		names[m.Name] = true
		if len(m.Blocks) == 0 {
			bad("blocks lists the labeling blocks the model fills; it is empty")
		}
		for _, b := range m.Blocks {
			v, ok := in.Valuer(b)
			switch {
			case !ok:
				bad("block %q does not exist or has no value%s", b, suggest(b, in.byName))
			case m.Type == ModelBuiltin && v.Common().Type != "choice" && v.Common().Type != "multichoice" && v.Common().Type != "spans":
				bad("the builtin learner fills choice, multichoice and spans blocks; %q is a %s", b, v.Common().Type)
			}
		}
		for _, b := range append(append([]string{}, m.RerunOn...), mapValues(m.Inputs)...) {
			if _, ok := in.Valuer(b); !ok {
				bad("block %q (in rerun_on or inputs) does not exist or has no value", b)
			}
		}
		switch m.Type {
		case ModelBuiltin:
			if len(m.Fields) == 0 {
				bad("the builtin learner needs fields: the item fields whose text it reads")
			}
			if m.URL != "" {
				bad("the builtin learner runs inside Loupe: it takes no url")
			}
		case ModelLabelStudio, ModelOpenAI:
			if !strings.HasPrefix(m.URL, "https://") && !strings.HasPrefix(m.URL, "http://") {
				bad("url must be an http(s) URL, got %q", m.URL)
			}
			if m.Type == ModelOpenAI && (m.Model == "" || m.Prompt == "") {
				bad("an openai model needs model (its name) and prompt (the message, with {{field}} for item fields)")
			}
		case "":
			bad("a model needs a type: builtin, label-studio or openai")
		default:
			bad("type %q is unknown; use builtin, label-studio or openai", m.Type)
		}
		if m.Timeout < 0 || time.Duration(m.Timeout) > MaxTimeout {
			bad("timeout must be between 0 and %s", MaxTimeout)
		}
		if m.Retries != nil && (*m.Retries < 0 || *m.Retries > MaxRetries) {
			bad("retries must be between 0 and %d", MaxRetries)
		}
		if m.Concurrency < 0 || m.Concurrency > MaxWorkers {
			bad("concurrency must be between 1 and %d", MaxWorkers)
		}
	}
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
