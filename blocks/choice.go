package blocks

import (
	"encoding/json"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// Limits of a choice block.
const (
	MaxOptions     = 100
	MaxOptionValue = 200
)

var optionKeyRE = regexp.MustCompile(`^[0-9a-z]$`)

// Choice is a labeling block: pick exactly one of its options. The first
// choice block of an interface binds keys 1..9 to its options unless the
// config gives keys.
type Choice struct {
	Base     `yaml:",inline"`
	Options  []Option `yaml:"options" json:"options"`
	Required bool     `yaml:"required,omitempty" json:"required,omitempty"`
}

// Option is one answer of a choice block. In a config it is either a plain
// value or a mapping with value, label and key.
type Option struct {
	Value string `yaml:"value" json:"value"`
	Label string `yaml:"label,omitempty" json:"label,omitempty"`
	Key   string `yaml:"key,omitempty" json:"key,omitempty"`
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
			case "value", "label", "key":
			default:
				return invalidf("line %d: unknown option field %q; known fields: key, label, value", n.Content[i].Line, k)
			}
		}
		if err := n.Decode(&p); err != nil {
			return invalidf("an option is a value, or a mapping with value, label and key")
		}
		*o = Option(p)
		o.line = n.Line
		return nil
	}
	return invalidf("an option is a value, or a mapping with value, label and key")
}

// Text returns the label shown for the option.
func (o Option) Text() string {
	if o.Label != "" {
		return o.Label
	}
	return o.Value
}

// Check implements Block.
func (ch *Choice) Check(c *Checker) {
	if len(ch.Options) < 2 {
		c.Errorf("options", "a choice block needs at least two options")
	}
	if len(ch.Options) > MaxOptions {
		c.Errorf("options", "a choice block may have at most %d options", MaxOptions)
	}
	seen := map[string]bool{}
	for _, o := range ch.Options {
		switch {
		case o.Value == "":
			c.Errorf("options", "option at line %d has an empty value", o.line)
		case len(o.Value) > MaxOptionValue:
			c.Errorf("options", "option at line %d is longer than %d characters", o.line, MaxOptionValue)
		case seen[o.Value]:
			c.Errorf("options", "option %q is listed twice", o.Value)
		}
		seen[o.Value] = true
		if o.Key != "" && !optionKeyRE.MatchString(o.Key) {
			c.Errorf("options", "option %q: key %q must be one lower-case letter or digit", o.Value, o.Key)
		}
	}
}

// assignKeys gives the options without a key the next free default key.
func (ch *Choice) assignKeys(keys []string) {
	taken := map[string]bool{}
	for _, o := range ch.Options {
		taken[o.Key] = true
	}
	for i := range ch.Options {
		if ch.Options[i].Key != "" {
			continue
		}
		for len(keys) > 0 && taken[keys[0]] {
			keys = keys[1:]
		}
		if len(keys) == 0 {
			return
		}
		ch.Options[i].Key, keys = keys[0], keys[1:]
	}
}

// Shortcuts implements Shortcutter.
func (ch *Choice) Shortcuts() []Shortcut {
	var out []Shortcut
	for _, o := range ch.Options {
		if o.Key != "" {
			out = append(out, Shortcut{Key: o.Key, Action: "choose " + o.Text()})
		}
	}
	return out
}

// IsRequired implements Valuer.
func (ch *Choice) IsRequired() bool { return ch.Required }

// ValidateValue implements Valuer: the value must be one option's value.
func (ch *Choice) ValidateValue(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, invalidf("expected one option as a string, got %s", abbreviate(v))
	}
	for _, o := range ch.Options {
		if o.Value == s {
			return json.Marshal(s)
		}
	}
	return nil, invalidf("%q is not one of the options (%s)", s, quoteList(ch.optionValues()))
}

// FormValue implements Valuer.
func (ch *Choice) FormValue(form []string) (json.RawMessage, error) {
	if len(form) == 0 || form[0] == "" {
		return nil, nil
	}
	if len(form) > 1 {
		return nil, invalidf("choose one option, not %d", len(form))
	}
	return json.Marshal(form[0])
}

func (ch *Choice) optionValues() []string {
	out := make([]string, len(ch.Options))
	for i, o := range ch.Options {
		out[i] = o.Value
	}
	return out
}

// abbreviate renders a raw value for an error message, cut to a readable size.
func abbreviate(v json.RawMessage) string {
	const max = 60
	if r := []rune(string(v)); len(r) > max {
		return string(r[:max]) + "…"
	}
	return string(v)
}
