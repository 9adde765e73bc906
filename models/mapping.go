package models

import (
	"encoding/json"
	"errors"
	"sort"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
)

// mapping turns model answers into block values and back. The Runner uses
// a project's *blocks.Interface; tests swap in their own, so that the HTTP
// layer is tested apart from the mapping.
type mapping interface {
	labelConfig() (string, error)
	fromLabelStudio(results []blocks.LSResult, data map[string]any) (map[string]json.RawMessage, error)
	toLabelStudio(values map[string]json.RawMessage, data map[string]any) ([]blocks.LSResult, error)
	jsonSchema(names []string) (map[string]any, error)
	fromLLM(answer json.RawMessage, names []string, data map[string]any) (map[string]json.RawMessage, error)
	valuer(name string) (blocks.Valuer, bool)
}

// blocksMapping is the mapping of a project's interface.
type blocksMapping struct{ in *blocks.Interface }

func projectMapping(p *annotate.Project) mapping { return blocksMapping{in: p.Config.Interface()} }

func (m blocksMapping) labelConfig() (string, error) { return blocks.LabelStudioConfig(m.in) }

func (m blocksMapping) fromLabelStudio(rs []blocks.LSResult, data map[string]any) (map[string]json.RawMessage, error) {
	return m.in.FromLabelStudio(rs, data)
}

func (m blocksMapping) toLabelStudio(v map[string]json.RawMessage, data map[string]any) ([]blocks.LSResult, error) {
	return m.in.ToLabelStudio(v, data)
}

func (m blocksMapping) jsonSchema(names []string) (map[string]any, error) {
	return m.in.JSONSchema(names)
}

func (m blocksMapping) fromLLM(a json.RawMessage, names []string, data map[string]any) (map[string]json.RawMessage, error) {
	return m.in.FromLLM(a, names, data)
}

func (m blocksMapping) valuer(name string) (blocks.Valuer, bool) { return m.in.Valuer(name) }

// checkValues keeps the values of the blocks a model fills and validates
// each with its block's rules, returning them in canonical JSON. Each value
// is checked on its own (Valuer.ValidateValue, the rule ValidateValues
// applies per block): a prediction for one block is not a submission, so
// required and hidden blocks do not apply. Any invalid value fails the
// whole answer, with EINVALID naming the block.
func checkValues(m mapping, names []string, vals map[string]json.RawMessage, data map[string]any) (map[string]json.RawMessage, error) {
	fills := map[string]bool{}
	for _, n := range names {
		fills[n] = true
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := map[string]json.RawMessage{}
	for _, name := range keys {
		raw := vals[name]
		if !fills[name] || emptyJSON(raw) {
			continue
		}
		v, ok := m.valuer(name)
		if !ok {
			return nil, loupe.FieldErrorf("values."+name, "the model gave a value for %q, which is not a block with a value", name)
		}
		canon, err := v.ValidateValue(raw, data)
		if err != nil {
			return nil, loupe.FieldErrorf("values."+name, "the model's value for %q is invalid: %s", name, loupe.ErrorMessage(err))
		}
		if !emptyJSON(canon) {
			out[name] = canon
		}
	}
	return out, nil
}

func emptyJSON(raw json.RawMessage) bool {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// mappingError is an answer that arrived but could not be mapped: EINVALID.
func mappingError(what string, err error) error {
	return &loupe.Error{Code: loupe.EINVALID, Message: what + ": " + describe(err)}
}

// describe writes an error for the model status page and the log: a
// coded error's message, else the error's text, cut to a readable length.
func describe(err error) string {
	var le *loupe.Error
	s := err.Error()
	if errors.As(err, &le) {
		s = le.Message
	}
	if r := []rune(s); len(r) > maxErrorLen {
		s = string(r[:maxErrorLen]) + "…"
	}
	return s
}

const maxErrorLen = 300
