package blocks

import (
	"encoding/json"
	"fmt"
	"strings"
)

// MultiChoice is a labeling block: pick any number of its options, at
// least Min and (when Max is not 0) at most Max.
// Value: the chosen options' values, a list of strings in the order of the
// options, each at most once.
type MultiChoice struct {
	Base     `yaml:",inline"`
	Options  Options `yaml:"options" json:"options"`
	Min      int     `yaml:"min,omitempty" json:"min,omitempty"`
	Max      int     `yaml:"max,omitempty" json:"max,omitempty"`
	Required bool    `yaml:"required,omitempty" json:"required,omitempty"`
}

// Check implements Block.
func (m *MultiChoice) Check(c *Checker) {
	m.Options.check(c, "options", 2, "option")
	n := len(m.Options)
	switch {
	case m.Min < 0:
		c.Errorf("min", "min must not be negative, got %d", m.Min)
	case m.Min > n && n > 0:
		c.Errorf("min", "min is %d, but there are only %d options", m.Min, n)
	}
	switch {
	case m.Max < 0:
		c.Errorf("max", "max must not be negative, got %d (0 means no limit)", m.Max)
	case m.Max > n && n > 0:
		c.Errorf("max", "max is %d, but there are only %d options", m.Max, n)
	case m.Max > 0 && m.Min > m.Max:
		c.Errorf("max", "max (%d) is smaller than min (%d)", m.Max, m.Min)
	}
}

// KeyTargets implements Keyed: one key per option, which toggles it.
func (m *MultiChoice) KeyTargets() []KeyTarget { return m.Options.keyTargets("toggle") }

// SetKey implements Keyed.
func (m *MultiChoice) SetKey(id, key string) { m.Options.setKey(id, key) }

// IsRequired implements Valuer.
func (m *MultiChoice) IsRequired() bool { return m.Required }

// Limits says how many options may be chosen, for the page: "" when any
// number may.
func (m *MultiChoice) Limits() string {
	switch {
	case m.Min > 0 && m.Max > 0 && m.Min == m.Max:
		return fmt.Sprintf("Choose %d.", m.Min)
	case m.Min > 0 && m.Max > 0:
		return fmt.Sprintf("Choose %d to %d.", m.Min, m.Max)
	case m.Min > 0:
		return fmt.Sprintf("Choose at least %d.", m.Min)
	case m.Max > 0:
		return fmt.Sprintf("Choose at most %d.", m.Max)
	}
	return ""
}

// ValidateValue implements Valuer: a list of distinct option values, as
// many as min and max allow. The canonical form lists them in the order of
// the options.
func (m *MultiChoice) ValidateValue(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil {
		return nil, invalidf("expected a list of options, got %s", abbreviate(v))
	}
	chosen := map[string]bool{}
	for _, r := range raw {
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return nil, invalidf("expected each choice as a string, got %s", abbreviate(r))
		}
		if _, ok := m.Options.find(s); !ok {
			return nil, invalidf("%q is not one of the options (%s)", s, quoteList(m.Options.values()))
		}
		if chosen[s] {
			return nil, invalidf("%q is chosen twice", s)
		}
		chosen[s] = true
	}
	if len(chosen) == 0 {
		return json.RawMessage("[]"), nil // no value: the caller checks required
	}
	if len(chosen) < m.Min {
		return nil, invalidf("too few choices: choose at least %d (got %d)", m.Min, len(chosen))
	}
	if m.Max > 0 && len(chosen) > m.Max {
		return nil, invalidf("too many choices: choose at most %d (got %d)", m.Max, len(chosen))
	}
	out := make([]string, 0, len(chosen))
	for _, o := range m.Options {
		if chosen[o.Value] {
			out = append(out, o.Value)
		}
	}
	return json.Marshal(out)
}

// FormValue implements Valuer: one checkbox per option, all named field.
func (m *MultiChoice) FormValue(form map[string][]string, field string) (json.RawMessage, error) {
	var out []string
	for _, v := range form[field] {
		if v != "" {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return json.Marshal(out)
}

// Flatten implements Valuer: the chosen values joined with ";".
func (m *MultiChoice) Flatten(v json.RawMessage) []Cell {
	var list []string
	if err := json.Unmarshal(v, &list); err != nil {
		return []Cell{{Value: string(v)}}
	}
	return []Cell{{Value: strings.Join(list, ";")}}
}

// ConditionValue implements Decider: the value itself.
func (b *MultiChoice) ConditionValue(v json.RawMessage) json.RawMessage { return v }
