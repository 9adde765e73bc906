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
	Count    `yaml:",inline"`
	Required bool `yaml:"required,omitempty" json:"required,omitempty"`
}

// Check implements Block.
func (m *MultiChoice) Check(c *Checker) {
	m.Options.check(c, "options", 2, "option")
	n := len(m.Options)
	m.Count.check(c, n, fmt.Sprintf("there are only %d options", n))
}

// KeyTargets implements Keyed: one key per option, which toggles it.
func (m *MultiChoice) KeyTargets() []KeyTarget { return m.Options.keyTargets("toggle") }

// SetKey implements Keyed.
func (m *MultiChoice) SetKey(id, key string) { m.Options.setKey(id, key) }

// IsRequired implements Valuer.
func (m *MultiChoice) IsRequired() bool { return m.Required }

// Limits says how many options may be chosen, for the page: "" when any
// number may.
func (m *MultiChoice) Limits() string { return m.Count.text("Choose", noun{"option", "options"}) }

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
	if err := m.Count.checkValue(len(chosen), "choose", noun{"option", "options"}); err != nil {
		return nil, err
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

// LabelStudioControl implements LabelStudioMapper: <Choices
// choice="multiple"> with a <Choice> per option, over the interface's
// first object.
func (m *MultiChoice) LabelStudioControl() LSControl {
	return LSControl{
		Tag:  LSTag{Name: "Choices", Attrs: []LSAttr{{"choice", "multiple"}}, Children: lsOptionTags(m.Options, "Choice", nil)},
		Type: "choices",
	}
}

// FromLabelStudio implements LabelStudioMapper: the choices of every
// result, {"choices": ["wrong", "rude"]}.
func (m *MultiChoice) FromLabelStudio(results []LSResult, _ map[string]any) (json.RawMessage, error) {
	got := []string{}
	for _, r := range results {
		cs, err := lsStrings(r.Value, "choices", false)
		if err != nil {
			return nil, err
		}
		got = append(got, cs...)
	}
	return json.Marshal(got)
}

// ToLabelStudio implements LabelStudioMapper: one result holding the
// chosen values.
func (m *MultiChoice) ToLabelStudio(v json.RawMessage, _ map[string]any) ([]LSResult, error) {
	var list []string
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, invalidf("expected a list of options, got %s", abbreviate(v))
	}
	return []LSResult{{Value: map[string]any{"choices": list}}}, nil
}

// LLMSchema implements LLMMapper: a list of distinct option values, as
// many as min and max allow.
func (m *MultiChoice) LLMSchema() map[string]any {
	s := map[string]any{
		"type":        "array",
		"items":       map[string]any{"type": "string", "enum": m.Options.values()},
		"uniqueItems": true,
	}
	if m.Min > 0 {
		s["minItems"] = m.Min
	}
	if m.Max > 0 {
		s["maxItems"] = m.Max
	}
	if hint := optionsHint(m.Options); hint != "" {
		s["description"] = hint
	}
	return s
}

// FromLLM implements LLMMapper: the answer is the value.
func (m *MultiChoice) FromLLM(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	return v, nil
}
