package blocks

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Limits of a comment, in characters.
const (
	DefaultCommentMax = 2000
	MaxCommentMax     = 10000
)

// Comment is a feedback block: a free-text comment on the item or on the
// model's answer.
// Value: a string, trimmed, with CRLF and CR line ends turned into LF. An
// empty or all-whitespace comment counts as no value.
type Comment struct {
	Base        `yaml:",inline"`
	MaxLength   int    `yaml:"max_length,omitempty" json:"max_length"`
	Placeholder string `yaml:"placeholder,omitempty" json:"placeholder,omitempty"`
	Required    bool   `yaml:"required,omitempty" json:"required,omitempty"`
}

// Check implements Block, and sets the default maximum length.
func (cm *Comment) Check(c *Checker) {
	if !c.Has("max_length") {
		cm.MaxLength = DefaultCommentMax
	}
	if cm.MaxLength < 1 || cm.MaxLength > MaxCommentMax {
		c.Errorf("max_length", "max_length must be between 1 and %d characters, got %d", MaxCommentMax, cm.MaxLength)
	}
	if utf8.RuneCountInString(cm.Placeholder) > MaxPlaceholder {
		c.Errorf("placeholder", "placeholder is longer than %d characters", MaxPlaceholder)
	}
}

// IsRequired implements Valuer.
func (cm *Comment) IsRequired() bool { return cm.Required }

func (cm *Comment) max() int {
	if cm.MaxLength < 1 {
		return DefaultCommentMax
	}
	return cm.MaxLength
}

// Text returns the view's comment, "" when there is none.
func (cm *Comment) Text(v *View) string {
	s, _ := v.Value.(string)
	return s
}

// ValidateValue implements Valuer: a string of valid UTF-8 without NUL,
// at most max_length characters once trimmed.
func (cm *Comment) ValidateValue(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	// json.Unmarshal silently replaces invalid UTF-8, so look at the bytes
	// first.
	if !utf8.Valid(v) {
		return nil, invalidf("the comment is not valid UTF-8")
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, invalidf("expected a comment as a text, got %s", abbreviate(v))
	}
	if strings.ContainsRune(s, 0) {
		return nil, invalidf("the comment holds a NUL character")
	}
	if !utf8.ValidString(s) {
		return nil, invalidf("the comment is not valid UTF-8")
	}
	s = strings.TrimSpace(normalizeNewlines(s))
	if n := utf8.RuneCountInString(s); n > cm.max() {
		return nil, invalidf("the comment is too long: %d characters, at most %d allowed", n, cm.max())
	}
	return json.Marshal(s)
}

// FormValue implements Valuer: one text area.
func (cm *Comment) FormValue(form map[string][]string, field string) (json.RawMessage, error) {
	vals := form[field]
	if len(vals) == 0 {
		return nil, nil
	}
	if len(vals) > 1 {
		return nil, invalidf("expected one comment, got %d", len(vals))
	}
	// Check here: json.Marshal would turn invalid UTF-8 into U+FFFD.
	if !utf8.ValidString(vals[0]) {
		return nil, invalidf("the comment is not valid UTF-8")
	}
	s := strings.TrimSpace(normalizeNewlines(vals[0]))
	if s == "" {
		return nil, nil
	}
	return json.Marshal(s)
}

// Flatten implements Valuer: the text.
func (cm *Comment) Flatten(v json.RawMessage) []Cell { return []Cell{{Value: stringValue(v)}} }

// ConditionValue implements Decider: the value itself.
func (cm *Comment) ConditionValue(v json.RawMessage) json.RawMessage { return v }

// LabelStudioControl implements LabelStudioMapper: a <TextArea> taking one
// text, over the interface's first object.
func (cm *Comment) LabelStudioControl() LSControl {
	attrs := []LSAttr{{"maxSubmissions", "1"}, {"editable", "true"}}
	if cm.Placeholder != "" {
		attrs = append(attrs, LSAttr{"placeholder", cm.Placeholder})
	}
	return LSControl{Tag: LSTag{Name: "TextArea", Attrs: attrs}, Type: "textarea"}
}

// FromLabelStudio implements LabelStudioMapper: {"text": ["…"]}. Several
// texts are joined with line ends; a plain string is read as one text.
func (cm *Comment) FromLabelStudio(results []LSResult, _ map[string]any) (json.RawMessage, error) {
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
func (cm *Comment) ToLabelStudio(v json.RawMessage, _ map[string]any) ([]LSResult, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, invalidf("expected a comment as a text, got %s", abbreviate(v))
	}
	return []LSResult{{Value: map[string]any{"text": []string{s}}}}, nil
}

// LLMSchema implements LLMMapper: a string of at most max_length
// characters, "" for no comment.
func (cm *Comment) LLMSchema() map[string]any {
	return map[string]any{"type": "string", "maxLength": cm.max(), "description": `"" for no comment.`}
}

// FromLLM implements LLMMapper: the answer is the value.
func (cm *Comment) FromLLM(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	return v, nil
}
