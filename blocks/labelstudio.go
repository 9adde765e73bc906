package blocks

import (
	"encoding/json"
	"errors"
)

// LSResult is one item of a Label Studio result list: a region or a
// classification made for the control named FromName over the object
// named ToName. Loupe maps them to block values by from_name = block name.
type LSResult struct {
	ID             string         `json:"id,omitempty"`
	FromName       string         `json:"from_name"`
	ToName         string         `json:"to_name"`
	Type           string         `json:"type"`
	Value          map[string]any `json:"value"`
	Score          *float64       `json:"score,omitempty"`
	OriginalWidth  int            `json:"original_width,omitempty"`
	OriginalHeight int            `json:"original_height,omitempty"`
}

var errNotBuilt = errors.New("not built yet")

// LabelStudioConfig renders the interface as a Label Studio labeling
// config (XML), as ML backends expect in /setup and /predict.
func LabelStudioConfig(in *Interface) (string, error) { return "", errNotBuilt }

// FromLabelStudio maps Label Studio result items to block values, by
// from_name. A result for a block that does not exist, of a kind without a
// mapping, or with an invalid value is an EINVALID error naming it.
func (in *Interface) FromLabelStudio(results []LSResult, data map[string]any) (map[string]json.RawMessage, error) {
	return nil, errNotBuilt
}

// ToLabelStudio maps block values to Label Studio result items.
func (in *Interface) ToLabelStudio(values map[string]json.RawMessage, data map[string]any) ([]LSResult, error) {
	return nil, errNotBuilt
}

// JSONSchema returns the JSON Schema of an object holding values for the
// named blocks, as an LLM is asked to answer.
func (in *Interface) JSONSchema(names []string) (map[string]any, error) { return nil, errNotBuilt }

// FromLLM turns an LLM's answer (a JSON object shaped by JSONSchema) into
// validated block values.
func (in *Interface) FromLLM(answer json.RawMessage, names []string, data map[string]any) (map[string]json.RawMessage, error) {
	return nil, errNotBuilt
}
