package blocks

import (
	"encoding/json"
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// Limits of option lists.
const (
	MaxOptions     = 100
	MaxOptionValue = 200
)

var (
	optionKeyRE = regexp.MustCompile(`^[0-9a-z]$`)
	colorRE     = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// Choice is a labeling block: pick exactly one of its options.
// Value: the option's value, a string.
type Choice struct {
	Base     `yaml:",inline"`
	Options  Options `yaml:"options" json:"options"`
	Required bool    `yaml:"required,omitempty" json:"required,omitempty"`
}

// Option is one answer of a choice-like block (or one label of a spans or
// boxes block). In a config it is either a plain value or a mapping with
// value, label, key and color.
type Option struct {
	Value string `yaml:"value" json:"value"`
	Label string `yaml:"label,omitempty" json:"label,omitempty"`
	Key   string `yaml:"key,omitempty" json:"key,omitempty"`
	Color string `yaml:"color,omitempty" json:"color,omitempty"`
	line  int
}

// UnmarshalYAML reads an option from a scalar or a mapping.
func (o *Option) UnmarshalYAML(n *yaml.Node) error {
	o.line = n.Line
	switch n.Kind {
	case yaml.ScalarNode:
		o.Value = n.Value
		return nil
	case yaml.MappingNode:
		type plain Option
		var p plain
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch k := n.Content[i].Value; k {
			case "value", "label", "key", "color":
			default:
				return &nodeError{n.Content[i].Line, n.Content[i].Column, fmt.Sprintf("unknown option field %q; known fields: color, key, label, value", k)}
			}
		}
		if err := n.Decode(&p); err != nil {
			return invalidf("an option is a value, or a mapping with value, label, key and color")
		}
		*o = Option(p)
		o.line = n.Line
		return nil
	}
	return invalidf("an option is a value, or a mapping with value, label, key and color")
}

// Text returns the label shown for the option.
func (o Option) Text() string {
	if o.Label != "" {
		return o.Label
	}
	return o.Value
}

// Options is a list of options, checked and keyed the same way wherever it
// appears.
type Options []Option

// check reports empty, long and duplicate values, bad keys and colours.
// field is the config field holding the list.
func (os Options) check(c *Checker, field string, minOptions int, what string) {
	if len(os) < minOptions {
		if minOptions == 1 {
			c.Errorf(field, "must not be empty: list at least one %s", what)
		} else {
			c.Errorf(field, "must list at least %d %ss", minOptions, what)
		}
	}
	if len(os) > MaxOptions {
		c.Errorf(field, "may list at most %d %ss", MaxOptions, what)
	}
	seen := map[string]bool{}
	for _, o := range os {
		switch {
		case o.Value == "":
			c.Errorf(field, "the %s at line %d has an empty value", what, o.line)
		case len(o.Value) > MaxOptionValue:
			c.Errorf(field, "the %s at line %d is longer than %d characters", what, o.line, MaxOptionValue)
		case seen[o.Value]:
			c.Errorf(field, "%s %q is listed twice", what, o.Value)
		}
		seen[o.Value] = true
		if o.Key != "" && !optionKeyRE.MatchString(o.Key) {
			c.Errorf(field, "%s %q: key %q must be one lower-case letter or digit", what, o.Value, o.Key)
		}
		if o.Color != "" && !colorRE.MatchString(o.Color) {
			c.Errorf(field, "%s %q: color %q must be #rrggbb", what, o.Value, o.Color)
		}
	}
}

// keyTargets binds one key per option: verb says what the key does.
func (os Options) keyTargets(verb string) []KeyTarget {
	out := make([]KeyTarget, len(os))
	for i, o := range os {
		out[i] = KeyTarget{ID: o.Value, Key: o.Key, Action: verb + " " + o.Text()}
	}
	return out
}

func (os Options) setKey(id, key string) {
	for i := range os {
		if os[i].Value == id {
			os[i].Key = key
		}
	}
}

// find returns the option with the value.
func (os Options) find(v string) (Option, bool) {
	for _, o := range os {
		if o.Value == v {
			return o, true
		}
	}
	return Option{}, false
}

func (os Options) values() []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.Value
	}
	return out
}

// Check implements Block.
func (ch *Choice) Check(c *Checker) { ch.Options.check(c, "options", 2, "option") }

// KeyTargets implements Keyed: one key per option.
func (ch *Choice) KeyTargets() []KeyTarget { return ch.Options.keyTargets("choose") }

// SetKey implements Keyed.
func (ch *Choice) SetKey(id, key string) { ch.Options.setKey(id, key) }

// IsRequired implements Valuer.
func (ch *Choice) IsRequired() bool { return ch.Required }

// ValidateValue implements Valuer: the value must be one option's value.
func (ch *Choice) ValidateValue(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, invalidf("expected one option as a string, got %s", abbreviate(v))
	}
	if _, ok := ch.Options.find(s); !ok {
		return nil, invalidf("%q is not one of the options (%s)", s, quoteList(ch.Options.values()))
	}
	return json.Marshal(s)
}

// FormValue implements Valuer: one radio button per option.
func (ch *Choice) FormValue(form map[string][]string, field string) (json.RawMessage, error) {
	vals := form[field]
	if len(vals) == 0 || vals[0] == "" {
		return nil, nil
	}
	if len(vals) > 1 {
		return nil, invalidf("choose one option, not %d", len(vals))
	}
	return json.Marshal(vals[0])
}

// ConditionValue implements Decider: the value itself.
func (ch *Choice) ConditionValue(v json.RawMessage) json.RawMessage { return v }

// Flatten implements Valuer: the option's value.
func (ch *Choice) Flatten(v json.RawMessage) []Cell { return []Cell{{Value: stringValue(v)}} }

// stringValue returns a JSON string's text, or the JSON itself for any
// other value.
func stringValue(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

// abbreviate renders a raw value for an error message, cut to a readable size.
func abbreviate(v json.RawMessage) string {
	const max = 60
	if r := []rune(string(v)); len(r) > max {
		return string(r[:max]) + "…"
	}
	return string(v)
}

// LabelStudioControl implements LabelStudioMapper: <Choices
// choice="single"> with a <Choice> per option, over the interface's first
// object.
func (ch *Choice) LabelStudioControl() LSControl {
	return lsSingleChoices(ch.Options)
}

// FromLabelStudio implements LabelStudioMapper: {"choices": ["positive"]},
// holding exactly one choice.
func (ch *Choice) FromLabelStudio(results []LSResult, _ map[string]any) (json.RawMessage, error) {
	choice, err := lsOneChoice(results, "a choice takes one option")
	if err != nil {
		return nil, err
	}
	return json.Marshal(choice)
}

// ToLabelStudio implements LabelStudioMapper: one result holding the
// option's value.
func (ch *Choice) ToLabelStudio(v json.RawMessage, _ map[string]any) ([]LSResult, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, invalidf("expected one option as a string, got %s", abbreviate(v))
	}
	return lsChoiceResult(s), nil
}

// LLMSchema implements LLMMapper: one of the option values.
func (ch *Choice) LLMSchema() map[string]any {
	s := map[string]any{"type": "string", "enum": ch.Options.values()}
	if hint := optionsHint(ch.Options); hint != "" {
		s["description"] = hint
	}
	return s
}

// FromLLM implements LLMMapper: the answer is the value.
func (ch *Choice) FromLLM(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	return v, nil
}
