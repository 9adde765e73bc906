package blocks

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Limits of a textbox, in characters.
const (
	DefaultTextMax = 10000
	MaxTextMax     = 100000
	MaxPlaceholder = 200
)

// Textbox is a labeling block for free text, or for correcting a field of
// the item: with Prefill it starts out holding that field's text.
// Value: a string, kept as typed except that CRLF and CR line ends become
// LF. An empty or all-whitespace text counts as no value.
type Textbox struct {
	Base        `yaml:",inline"`
	Multiline   bool   `yaml:"multiline" json:"multiline"`
	Prefill     string `yaml:"prefill,omitempty" json:"prefill,omitempty"`
	MinLength   int    `yaml:"min_length,omitempty" json:"min_length,omitempty"`
	MaxLength   int    `yaml:"max_length,omitempty" json:"max_length"`
	Placeholder string `yaml:"placeholder,omitempty" json:"placeholder,omitempty"`
	Required    bool   `yaml:"required,omitempty" json:"required,omitempty"`
}

// Check implements Block, and fills in the defaults: multiline, and a
// maximum of DefaultTextMax characters.
func (t *Textbox) Check(c *Checker) {
	if !c.Has("multiline") {
		t.Multiline = true
	}
	if c.Has("prefill") && t.Prefill == "" {
		c.Errorf("prefill", "prefill names the item field whose text the box starts with")
	}
	if !c.Has("max_length") {
		t.MaxLength = DefaultTextMax
	}
	switch {
	case t.MaxLength < 1 || t.MaxLength > MaxTextMax:
		c.Errorf("max_length", "max_length must be between 1 and %d characters, got %d", MaxTextMax, t.MaxLength)
	case t.MinLength < 0:
		c.Errorf("min_length", "min_length must not be negative, got %d", t.MinLength)
	case t.MinLength > t.MaxLength:
		c.Errorf("min_length", "min_length (%d) is larger than max_length (%d)", t.MinLength, t.MaxLength)
	}
	if utf8.RuneCountInString(t.Placeholder) > MaxPlaceholder {
		c.Errorf("placeholder", "placeholder is longer than %d characters", MaxPlaceholder)
	}
}

// Fields implements FieldReader: the field the box is pre-filled from.
func (t *Textbox) Fields() []string {
	if t.Prefill == "" {
		return nil
	}
	return []string{t.Prefill}
}

// IsRequired implements Valuer.
func (t *Textbox) IsRequired() bool { return t.Required }

// Initial returns the text the box shows: the current value, or else the
// prefill field of the item.
func (t *Textbox) Initial(v *View) string {
	if s, ok := v.Value.(string); ok && v.Raw != nil {
		return s
	}
	if t.Prefill != "" {
		return normalizeNewlines(v.Field(t.Prefill))
	}
	return ""
}

// ValidateValue implements Valuer: a string of valid UTF-8 without NUL,
// from min_length to max_length characters.
func (t *Textbox) ValidateValue(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	// json.Unmarshal silently replaces invalid UTF-8, so look at the bytes
	// first.
	if !utf8.Valid(v) {
		return nil, invalidf("the text is not valid UTF-8")
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, invalidf("expected a text, got %s", abbreviate(v))
	}
	s, err := t.clean(s)
	if err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// clean normalises line ends and checks the text: "" for one that is
// empty or only whitespace.
func (t *Textbox) clean(s string) (string, error) {
	if strings.ContainsRune(s, 0) {
		return "", invalidf("the text holds a NUL character")
	}
	if !utf8.ValidString(s) {
		return "", invalidf("the text is not valid UTF-8")
	}
	s = normalizeNewlines(s)
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	n := utf8.RuneCountInString(s)
	max := t.MaxLength
	if max <= 0 {
		max = DefaultTextMax
	}
	switch {
	case n < t.MinLength:
		return "", invalidf("the text is too short: %d characters, at least %d needed", n, t.MinLength)
	case n > max:
		return "", invalidf("the text is too long: %d characters, at most %d allowed", n, max)
	}
	return s, nil
}

// FormValue implements Valuer: one text field.
func (t *Textbox) FormValue(form map[string][]string, field string) (json.RawMessage, error) {
	vals := form[field]
	if len(vals) == 0 {
		return nil, nil
	}
	if len(vals) > 1 {
		return nil, invalidf("expected one text, got %d", len(vals))
	}
	// Check here: json.Marshal would turn invalid UTF-8 into U+FFFD.
	if !utf8.ValidString(vals[0]) {
		return nil, invalidf("the text is not valid UTF-8")
	}
	s := normalizeNewlines(vals[0])
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	return json.Marshal(s)
}

// Flatten implements Valuer: the text.
func (t *Textbox) Flatten(v json.RawMessage) []Cell { return []Cell{{Value: stringValue(v)}} }

// normalizeNewlines turns CRLF and lone CR into LF.
func normalizeNewlines(s string) string {
	if !strings.ContainsRune(s, '\r') {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// ConditionValue implements Decider: the value itself.
func (b *Textbox) ConditionValue(v json.RawMessage) json.RawMessage { return v }

// LabelStudioControl implements LabelStudioMapper: a <TextArea> taking one
// text, over the interface's first object.
func (t *Textbox) LabelStudioControl() LSControl {
	attrs := []LSAttr{{"maxSubmissions", "1"}, {"editable", "true"}}
	if t.Placeholder != "" {
		attrs = append(attrs, LSAttr{"placeholder", t.Placeholder})
	}
	return LSControl{Tag: LSTag{Name: "TextArea", Attrs: attrs}, Type: "textarea"}
}

// FromLabelStudio implements LabelStudioMapper: {"text": ["…"]}. Several
// texts (a TextArea that took several submissions, or several results)
// are joined with line ends; a plain string is read as one text.
func (t *Textbox) FromLabelStudio(results []LSResult, _ map[string]any) (json.RawMessage, error) {
	var texts []string
	for _, r := range results {
		ts, err := lsStrings(r.Value, "text", true)
		if err != nil {
			return nil, err
		}
		texts = append(texts, ts...)
	}
	return json.Marshal(strings.Join(texts, "\n"))
}

// ToLabelStudio implements LabelStudioMapper: one result holding the text.
func (t *Textbox) ToLabelStudio(v json.RawMessage, _ map[string]any) ([]LSResult, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, invalidf("expected a text, got %s", abbreviate(v))
	}
	return []LSResult{{Value: map[string]any{"text": []string{s}}}}, nil
}

// LLMSchema implements LLMMapper: a string of at most max_length
// characters.
func (t *Textbox) LLMSchema() map[string]any {
	max := t.MaxLength
	if max <= 0 {
		max = DefaultTextMax
	}
	return map[string]any{"type": "string", "maxLength": max}
}

// FromLLM implements LLMMapper: the answer is the value.
func (t *Textbox) FromLLM(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	return v, nil
}
