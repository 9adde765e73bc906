package blocks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/loupehq/loupe"
)

// An LLM is asked to answer with a JSON object holding a value for each
// block it fills, shaped by the JSON Schema that JSONSchema returns (an
// OpenAI-compatible endpoint's structured output). Each kind says how its
// part of the answer looks and how it becomes a value by implementing
// LLMMapper in its own file. docs/predictions-formats.md describes them.

// LLMMapper is a labeling block an LLM can fill. Kinds that are not
// LLMMappers (boxes: an LLM cannot give reliable coordinates) cannot be
// asked of an LLM.
type LLMMapper interface {
	Valuer
	// LLMSchema returns the JSON Schema of the block's part of the answer,
	// in the subset structured outputs accept: objects list every
	// property as required and allow no others.
	LLMSchema() map[string]any
	// FromLLM turns the block's part of an answer into a value, which the
	// caller then validates with ValidateValue. It returns EINVALID saying
	// what is wrong with the answer.
	FromLLM(v json.RawMessage, data map[string]any) (json.RawMessage, error)
}

// llmMappers returns the named blocks, each able to take an LLM's answer.
func (in *Interface) llmMappers(names []string) ([]LLMMapper, error) {
	if len(names) == 0 {
		return nil, loupe.Errorf(loupe.EINVALID, "name at least one block for the model to fill")
	}
	seen := map[string]bool{}
	out := make([]LLMMapper, len(names))
	for i, name := range names {
		v, ok := in.byName[name]
		switch {
		case seen[name]:
			return nil, loupe.FieldErrorf("values."+name, "block %q is named twice", name)
		case !ok:
			return nil, loupe.FieldErrorf("values."+name, "no block is named %q%s; blocks with values: %s", name, suggest(name, in.byName), strings.Join(in.valuerNames(), ", "))
		}
		seen[name] = true
		m, ok := v.(LLMMapper)
		if !ok {
			return nil, loupe.FieldErrorf("values."+name, "block %q is a %s, which an LLM cannot fill", name, v.Common().Type)
		}
		out[i] = m
	}
	return out, nil
}

// JSONSchema returns the JSON Schema of an object holding values for the
// named blocks, as an LLM is asked to answer: {"type": "object",
// "properties": {NAME: …}, "required": [names…], "additionalProperties":
// false}, each property described by the block's label and help. It
// returns EINVALID for a name that is no block, or a block of a kind an
// LLM cannot fill (boxes).
func (in *Interface) JSONSchema(names []string) (map[string]any, error) {
	ms, err := in.llmMappers(names)
	if err != nil {
		return nil, err
	}
	props := make(map[string]any, len(ms))
	required := make([]string, len(ms))
	for i, m := range ms {
		b := m.Common()
		s := m.LLMSchema()
		var about []string
		for _, t := range []string{b.Label, b.Help} {
			if t = strings.TrimSpace(t); t != "" {
				if !strings.ContainsAny(t[len(t)-1:], ".?!") {
					t += "."
				}
				about = append(about, t)
			}
		}
		if d, ok := s["description"].(string); ok && d != "" {
			about = append(about, d)
		}
		if len(about) > 0 {
			s["description"] = strings.Join(about, " ")
		}
		props[b.Name] = s
		required[i] = b.Name
	}
	return map[string]any{
		"type":                 "object",
		"properties":           props,
		"required":             required,
		"additionalProperties": false,
	}, nil
}

// FromLLM turns an LLM's answer (a JSON object shaped by JSONSchema) into
// validated block values.
//
// The answer must be one JSON object whose keys are among the named
// blocks: a key naming no requested block is an error, and so is a
// requested block without a key (null says "no value" and leaves the
// block out). Each part is converted by its kind (spans are found by
// their text) and validated with the block's ValidateValue; errors are
// EINVALID with the field "values.NAME" and a message naming the block.
// Values that are empty ("", [], a textbox of spaces) are left out.
func (in *Interface) FromLLM(answer json.RawMessage, names []string, data map[string]any) (map[string]json.RawMessage, error) {
	ms, err := in.llmMappers(names)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(answer))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, loupe.Errorf(loupe.EINVALID, "the model's answer is not a JSON object: %s", abbreviate(answer))
	}
	if dec.More() {
		return nil, loupe.Errorf(loupe.EINVALID, "the model's answer holds more than one JSON value")
	}
	asked := map[string]bool{}
	for _, n := range names {
		asked[n] = true
	}
	for _, k := range sortedKeys(obj) {
		if !asked[k] {
			return nil, loupe.Errorf(loupe.EINVALID, "the model's answer has a key %q, which is not one of the blocks asked for (%s)", k, quoteList(names))
		}
	}
	out := make(map[string]json.RawMessage, len(ms))
	for _, m := range ms {
		name := m.Common().Name
		raw, ok := obj[name]
		switch {
		case !ok:
			return nil, loupe.FieldErrorf("values."+name, "block %q: the model's answer has no value for it", name)
		case string(bytes.TrimSpace(raw)) == "null":
			continue
		}
		v, err := m.FromLLM(raw, data)
		if err == nil && !isEmpty(v) {
			v, err = m.ValidateValue(v, data)
		}
		if err != nil {
			return nil, loupe.FieldErrorf("values."+name, "block %q: %s", name, loupe.ErrorMessage(err))
		}
		if !isEmpty(v) {
			out[name] = v
		}
	}
	return out, nil
}

// optionsHint describes options whose labels say more than their values,
// for an LLM: `pos means "Positive"; neg means "Negative"`. It is "" when
// every option is its own label.
func optionsHint(os Options) string {
	var parts []string
	for _, o := range os {
		if o.Label != "" && o.Label != o.Value {
			parts = append(parts, fmt.Sprintf("%s means %q", o.Value, o.Label))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ") + "."
}
