package blocks

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Thumbs values, and the limit of their labels.
const (
	ThumbUp        = "up"
	ThumbDown      = "down"
	MaxThumbLabel  = 100
	defaultUpLabel = "Helpful"
	defaultDnLabel = "Not helpful"
)

// Thumbs is a feedback block: thumbs up or thumbs down, each with a text
// label (the icons are decoration).
// Value: "up" or "down".
type Thumbs struct {
	Base     `yaml:",inline"`
	Labels   ThumbLabels `yaml:"labels,omitempty" json:"labels"`
	Required bool        `yaml:"required,omitempty" json:"required,omitempty"`

	keys keyMap
}

// ThumbLabels are the texts of the two thumbs, written in a config as
// {up: Helpful, down: Not helpful}.
type ThumbLabels struct {
	Up   string `json:"up"`
	Down string `json:"down"`

	given map[string]pos // label → where the config sets it
}

// UnmarshalYAML reads {up: TEXT, down: TEXT}, strictly.
func (l *ThumbLabels) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return invalidf("labels is a mapping: {up: Helpful, down: Not helpful}")
	}
	out := ThumbLabels{given: map[string]pos{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		var dst *string
		switch k.Value {
		case ThumbUp:
			dst = &out.Up
		case ThumbDown:
			dst = &out.Down
		default:
			known := map[string]bool{ThumbUp: true, ThumbDown: true}
			return &nodeError{k.Line, k.Column, fmt.Sprintf("unknown label %q%s; labels has up and down", k.Value, suggest(k.Value, known))}
		}
		if _, dup := out.given[k.Value]; dup {
			return &nodeError{k.Line, k.Column, fmt.Sprintf("the label of %s is given twice", k.Value)}
		}
		if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
			return &nodeError{v.Line, v.Column, fmt.Sprintf("the label of %s must be a text", k.Value)}
		}
		*dst = v.Value
		out.given[k.Value] = pos{line: v.Line, col: v.Column}
	}
	*l = out
	return nil
}

// Check implements Block, and fills in the default labels.
func (t *Thumbs) Check(c *Checker) {
	for _, l := range []struct {
		name  string
		text  *string
		deflt string
	}{{ThumbUp, &t.Labels.Up, defaultUpLabel}, {ThumbDown, &t.Labels.Down, defaultDnLabel}} {
		at, given := t.Labels.given[l.name]
		switch {
		case !given:
			*l.text = l.deflt
		case strings.TrimSpace(*l.text) == "":
			c.ErrorAt(at.line, at.col, "labels."+l.name, "the label of %s is empty", l.name)
		case utf8.RuneCountInString(*l.text) > MaxThumbLabel:
			c.ErrorAt(at.line, at.col, "labels."+l.name, "the label of %s is longer than %d characters", l.name, MaxThumbLabel)
		}
	}
	if t.Labels.Up != "" && t.Labels.Up == t.Labels.Down {
		c.Errorf("labels", "up and down are both labeled %q: the two thumbs need different labels", t.Labels.Up)
	}
}

// Thumb is one thumb as the page shows it (the template draws the icon).
type Thumb struct {
	Value, Label, Key string
}

// Thumbs returns the two thumbs, up first.
func (t *Thumbs) Thumbs() []Thumb {
	return []Thumb{{ThumbUp, t.Labels.Up, t.keys[ThumbUp]}, {ThumbDown, t.Labels.Down, t.keys[ThumbDown]}}
}

// KeyTargets implements Keyed: u and d when they are free.
func (t *Thumbs) KeyTargets() []KeyTarget {
	var out []KeyTarget
	for _, th := range t.Thumbs() {
		action := "thumbs " + th.Value + " (" + th.Label + ")"
		if title := t.Title(); title != "" {
			action = title + ": " + action
		}
		out = append(out, KeyTarget{ID: th.Value, Prefer: th.Value[:1], Action: action})
	}
	return out
}

// SetKey implements Keyed.
func (t *Thumbs) SetKey(id, key string) { t.keys.set(id, key) }

// IsRequired implements Valuer.
func (t *Thumbs) IsRequired() bool { return t.Required }

// ValidateValue implements Valuer: "up" or "down".
func (t *Thumbs) ValidateValue(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, invalidf(`expected "up" or "down", got %s`, abbreviate(v))
	}
	if s != ThumbUp && s != ThumbDown {
		return nil, invalidf(`%q is not a thumb; choose "up" or "down"`, s)
	}
	return json.Marshal(s)
}

// FormValue implements Valuer: two radio buttons.
func (t *Thumbs) FormValue(form map[string][]string, field string) (json.RawMessage, error) {
	vals := form[field]
	if len(vals) == 0 || vals[0] == "" {
		return nil, nil
	}
	if len(vals) > 1 {
		return nil, invalidf("choose one thumb, not %d", len(vals))
	}
	return json.Marshal(vals[0])
}

// Flatten implements Valuer: up or down.
func (t *Thumbs) Flatten(v json.RawMessage) []Cell { return []Cell{{Value: stringValue(v)}} }

// ConditionValue implements Decider: the value itself, so that {block:
// NAME, equals: down} shows a block after a thumbs down.
func (t *Thumbs) ConditionValue(v json.RawMessage) json.RawMessage { return v }

func (t *Thumbs) options() Options {
	return Options{{Value: ThumbUp, Label: t.Labels.Up}, {Value: ThumbDown, Label: t.Labels.Down}}
}

// LabelStudioControl implements LabelStudioMapper: <Choices
// choice="single"> of up and down, over the interface's first object.
func (t *Thumbs) LabelStudioControl() LSControl {
	return lsSingleChoices(t.options())
}

// FromLabelStudio implements LabelStudioMapper: {"choices": ["up"]},
// holding exactly one thumb.
func (t *Thumbs) FromLabelStudio(results []LSResult, _ map[string]any) (json.RawMessage, error) {
	choice, err := lsOneChoice(results, "thumbs take one choice")
	if err != nil {
		return nil, err
	}
	return json.Marshal(choice)
}

// ToLabelStudio implements LabelStudioMapper: one result holding up or
// down.
func (t *Thumbs) ToLabelStudio(v json.RawMessage, _ map[string]any) ([]LSResult, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, invalidf(`expected "up" or "down", got %s`, abbreviate(v))
	}
	return lsChoiceResult(s), nil
}

// LLMSchema implements LLMMapper: "up" or "down", with what each means.
func (t *Thumbs) LLMSchema() map[string]any {
	s := map[string]any{"type": "string", "enum": []string{ThumbUp, ThumbDown}}
	if hint := optionsHint(t.options()); hint != "" {
		s["description"] = hint
	}
	return s
}

// FromLLM implements LLMMapper: the answer is the value.
func (t *Thumbs) FromLLM(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	return v, nil
}
