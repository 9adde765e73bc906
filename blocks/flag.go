package blocks

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// MaxFlagNoteLen is the longest note a flag takes, in characters.
const MaxFlagNoteLen = 500

// Flag is a feedback block: the labeler flags the item as an exception
// (ambiguous, offensive, broken data…), picking one reason from a list,
// with an optional short note when the config asks for one.
// Value: {"reason": "...", "note": "..."}, always an object (with or
// without note: on), the note left out when empty, so that exports have
// one shape.
type Flag struct {
	Base     `yaml:",inline"`
	Reasons  Options `yaml:"reasons" json:"reasons"`
	Note     bool    `yaml:"note,omitempty" json:"note"`
	Required bool    `yaml:"required,omitempty" json:"required,omitempty"`
}

// FlagValue is the value of a flag block.
type FlagValue struct {
	Reason string `json:"reason"`
	Note   string `json:"note,omitempty"`
}

// Check implements Block.
func (f *Flag) Check(c *Checker) {
	f.Reasons.check(c, "reasons", 1, "reason")
	for _, o := range f.Reasons {
		if o.Color != "" {
			c.Errorf("reasons", "reason %q: flag reasons take no color", o.Value)
		}
	}
}

// KeyTargets implements Keyed: one key per reason.
func (f *Flag) KeyTargets() []KeyTarget {
	out := f.Reasons.keyTargets("flag as")
	if f.Label != "" {
		for i := range out {
			out[i].Action = f.Label + ": " + out[i].Action
		}
	}
	return out
}

// SetKey implements Keyed.
func (f *Flag) SetKey(id, key string) { f.Reasons.setKey(id, key) }

// IsRequired implements Valuer.
func (f *Flag) IsRequired() bool { return f.Required }

// Heading is the block's legend: its label, else "Flag this item".
func (f *Flag) Heading() string {
	if f.Label != "" {
		return f.Label
	}
	return "Flag this item"
}

// Current returns the view's value, or the zero value (no flag).
func (f *Flag) Current(v *View) FlagValue {
	var fv FlagValue
	if len(v.Raw) > 0 {
		json.Unmarshal(v.Raw, &fv)
	}
	return fv
}

// ValidateValue implements Valuer: one of the reasons, and a note only
// when the block takes one.
func (f *Flag) ValidateValue(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	if !utf8.Valid(v) {
		return nil, invalidf("the flag is not valid UTF-8")
	}
	var fv FlagValue
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fv); err != nil || dec.More() {
		shape := `{"reason": "..."}`
		if f.Note {
			shape = `{"reason": "...", "note": "..."}`
		}
		return nil, invalidf("expected %s with a reason from %s, got %s", shape, quoteList(f.Reasons.values()), abbreviate(v))
	}
	switch _, ok := f.Reasons.find(fv.Reason); {
	case fv.Reason == "":
		return nil, invalidf("a flag needs a reason: choose one of %s", quoteList(f.Reasons.values()))
	case !ok:
		return nil, invalidf("%q is not one of the reasons (%s)", fv.Reason, quoteList(f.Reasons.values()))
	}
	if strings.ContainsRune(fv.Note, 0) {
		return nil, invalidf("the note holds a NUL character")
	}
	if !utf8.ValidString(fv.Note) {
		return nil, invalidf("the note is not valid UTF-8")
	}
	fv.Note = strings.TrimSpace(normalizeNewlines(fv.Note))
	switch n := utf8.RuneCountInString(fv.Note); {
	case n == 0:
	case !f.Note:
		return nil, invalidf("this flag takes no note")
	case n > MaxFlagNoteLen:
		return nil, invalidf("the note is too long: %d characters, at most %d allowed", n, MaxFlagNoteLen)
	}
	return json.Marshal(fv)
}

// FormValue implements Valuer: radio buttons named field, one per reason
// and one with the value "" for no flag, and with note: on a text field
// named field+".note". "No flag" is no value, whatever the note holds, so
// that a flag can be taken back without clearing the note first.
func (f *Flag) FormValue(form map[string][]string, field string) (json.RawMessage, error) {
	reasons, notes := form[field], form[field+".note"]
	if len(reasons) > 1 {
		return nil, invalidf("choose one reason, not %d", len(reasons))
	}
	if len(notes) > 1 {
		return nil, invalidf("give one note, not %d", len(notes))
	}
	var fv FlagValue
	if len(notes) == 1 {
		if !utf8.ValidString(notes[0]) {
			return nil, invalidf("the note is not valid UTF-8")
		}
		fv.Note = strings.TrimSpace(normalizeNewlines(notes[0]))
	}
	switch {
	case len(reasons) == 1 && reasons[0] == "":
		return nil, nil // "No flag"
	case len(reasons) == 1:
		fv.Reason = reasons[0]
	case fv.Note == "":
		return nil, nil
	}
	// A note without a reason is sent on, for ValidateValue to refuse with
	// a message: the labeler meant to flag the item.
	return json.Marshal(fv)
}

// Flatten implements Valuer: the reason, and the note in NAME.note.
func (f *Flag) Flatten(v json.RawMessage) []Cell {
	var fv FlagValue
	if err := json.Unmarshal(v, &fv); err != nil {
		return []Cell{{Value: string(v)}}
	}
	return []Cell{{Value: fv.Reason}, {Suffix: ".note", Value: fv.Note}}
}

// ConditionValue implements Decider: the reason, so that {block: NAME,
// equals: offensive} reads as it says (and as the page's script sees it,
// from the radio buttons).
func (f *Flag) ConditionValue(v json.RawMessage) json.RawMessage {
	var fv FlagValue
	if json.Unmarshal(v, &fv) != nil || fv.Reason == "" {
		return nil
	}
	b, _ := json.Marshal(fv.Reason)
	return b
}

// LabelStudioControl implements LabelStudioMapper: <Choices
// choice="single"> with a <Choice> per reason, over the interface's first
// object.
func (f *Flag) LabelStudioControl() LSControl {
	return lsSingleChoices(f.Reasons)
}

// FromLabelStudio implements LabelStudioMapper: {"choices": ["ambiguous"]},
// holding exactly one reason. Label Studio carries no note.
func (f *Flag) FromLabelStudio(results []LSResult, _ map[string]any) (json.RawMessage, error) {
	choice, err := lsOneChoice(results, "a flag takes one reason")
	if err != nil {
		return nil, err
	}
	return json.Marshal(FlagValue{Reason: choice})
}

// ToLabelStudio implements LabelStudioMapper: one result holding the
// reason; the note is not carried.
func (f *Flag) ToLabelStudio(v json.RawMessage, _ map[string]any) ([]LSResult, error) {
	var fv FlagValue
	if err := json.Unmarshal(v, &fv); err != nil || fv.Reason == "" {
		return nil, invalidf(`expected {"reason", "note"}, got %s`, abbreviate(v))
	}
	return lsChoiceResult(fv.Reason), nil
}

// LLMSchema implements LLMMapper: {"reason"} (and "note" with note: on),
// the reason one of the listed reasons or "" for no flag: flags are
// exceptions, and a model must be able to raise none.
func (f *Flag) LLMSchema() map[string]any {
	about := `"" when nothing is wrong with the item.`
	if hint := optionsHint(f.Reasons); hint != "" {
		about = hint + " " + about
	}
	props := map[string]any{
		"reason": map[string]any{"type": "string", "enum": append(f.Reasons.values(), ""), "description": about},
	}
	required := []string{"reason"}
	if f.Note {
		props["note"] = map[string]any{"type": "string", "maxLength": MaxFlagNoteLen, "description": `A short note on the flag, or "".`}
		required = append(required, "note")
	}
	return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
}

// FromLLM implements LLMMapper: a reason of "" is no flag (and its note is
// dropped); otherwise the answer is the value.
func (f *Flag) FromLLM(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	var fv FlagValue
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	if dec.Decode(&fv) == nil && !dec.More() && fv.Reason == "" {
		return nil, nil
	}
	return v, nil
}
