package blocks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Verdicts, and the limit of a free-text verdict reason.
const (
	VerdictAccept  = "accept"
	VerdictReject  = "reject"
	VerdictCorrect = "correct"

	MaxVerdictReasonLen = 500
)

// Verdict is a feedback block: the labeler accepts, rejects or corrects
// the answer of another block of the interface (its target, typically a
// labeling block pre-filled with a model's prediction), with a reason
// that is free text or, when reasons are listed, one of them.
//
// A verdict never changes its target's value: "correct" says that the
// labeler corrected the target's value in the same answer, and the
// corrected value is the target block's own value.
//
// Value: {"verdict": "accept"|"reject"|"correct", "reason": "..."}, the
// reason left out when there is none.
type Verdict struct {
	Base         `yaml:",inline"`
	Target       string  `yaml:"target" json:"target"`
	Reasons      Options `yaml:"reasons,omitempty" json:"reasons,omitempty"`
	Reason       string  `yaml:"reason,omitempty" json:"reason"`
	AllowCorrect bool    `yaml:"allow_correct" json:"allow_correct"`
	Required     bool    `yaml:"required,omitempty" json:"required,omitempty"`

	keys        keyMap
	targetTitle string
}

// VerdictValue is the value of a verdict block.
type VerdictValue struct {
	Verdict string `json:"verdict"`
	Reason  string `json:"reason,omitempty"`
}

// Check implements Block, and sets the defaults: an optional reason, and
// "correct" allowed.
func (v *Verdict) Check(c *Checker) {
	if !c.Has("allow_correct") {
		v.AllowCorrect = true
	}
	switch {
	case !c.Has("target") || strings.TrimSpace(v.Target) == "":
		c.Errorf("target", "a verdict needs a target: the name of the block whose answer it accepts, rejects or corrects")
	case v.Name != "" && v.Target == v.Name:
		c.Errorf("target", "a verdict cannot be about itself: name the block whose answer it judges")
	}
	switch {
	case !c.Has("reason"):
		v.Reason = reasonOptional
	case v.Reason != reasonNone && v.Reason != reasonOptional && v.Reason != reasonRequired:
		c.Errorf("reason", "reason must be none, optional or required, got %q", v.Reason)
	}
	if c.Has("reasons") {
		v.Reasons.check(c, "reasons", 1, "reason")
		for _, o := range v.Reasons {
			if o.Key != "" || o.Color != "" {
				c.Errorf("reasons", "reason %q: reasons are picked from a list and take no key or color", o.Value)
			}
		}
		if v.Reason == reasonNone {
			c.Errorf("reasons", "reasons are listed, but reason is none: drop the list or make the reason optional or required")
		}
	}
}

// CheckRefs implements Referrer: the target must be another block with a
// value, not a feedback block.
func (v *Verdict) CheckRefs(c *Checker, in *Interface) {
	if v.Target == "" || v.Target == v.Name {
		return // reported by Check
	}
	// The blocks a verdict may be about, for suggestions.
	can := map[string]bool{}
	var names []string
	for _, x := range in.Valuers() {
		b := x.Common()
		if k, _ := LookupKind(b.Type); k.Category != CategoryFeedback && b != &v.Base {
			can[b.Name] = true
			names = append(names, b.Name)
		}
	}
	list := "; blocks a verdict can be about: " + strings.Join(names, ", ")
	if len(names) == 0 {
		list = "; the interface has no labeling block for a verdict to be about"
	}
	target, ok := in.Valuer(v.Target)
	if !ok {
		var display *Base
		in.Walk(func(b Block) {
			if b.Common().Name == v.Target && display == nil {
				display = b.Common()
			}
		})
		if display != nil {
			c.Errorf("target", "block %q is a %s, which has no value to judge%s", v.Target, display.Type, list)
			return
		}
		c.Errorf("target", "no block named %q%s%s", v.Target, suggest(v.Target, can), list)
		return
	}
	tb := target.Common()
	if k, _ := LookupKind(tb.Type); k.Category == CategoryFeedback {
		c.Errorf("target", "block %q is a %s, a feedback block: a verdict judges the answer of a labeling block%s", v.Target, tb.Type, list)
		return
	}
	v.targetTitle = tb.Title()
}

// TargetTitle is how the page names the target: its label, else its name.
func (v *Verdict) TargetTitle() string {
	if v.targetTitle != "" {
		return v.targetTitle
	}
	return v.Target
}

// Heading is the block's legend: its label, else "Verdict on TARGET".
func (v *Verdict) Heading() string {
	if v.Label != "" {
		return v.Label
	}
	return "Verdict on " + v.TargetTitle()
}

// VerdictChoice is one verdict as the page shows it.
type VerdictChoice struct {
	Value, Label, Icon, Key string
}

// Choices returns the verdicts the block allows, in order.
func (v *Verdict) Choices() []VerdictChoice {
	out := []VerdictChoice{{VerdictAccept, "Accept", "✓", v.keys[VerdictAccept]}, {VerdictReject, "Reject", "✗", v.keys[VerdictReject]}}
	if v.AllowCorrect {
		out = append(out, VerdictChoice{VerdictCorrect, "Correct it", "✎", v.keys[VerdictCorrect]})
	}
	return out
}

func (v *Verdict) allowed() []string {
	var out []string
	for _, c := range v.Choices() {
		out = append(out, c.Value)
	}
	return out
}

// verdictKeys are the keys a verdict prefers. s, c and r are the page's.
var verdictKeys = map[string]string{VerdictAccept: "a", VerdictReject: "x", VerdictCorrect: "e"}

// KeyTargets implements Keyed: a, x and e when they are free.
func (v *Verdict) KeyTargets() []KeyTarget {
	var out []KeyTarget
	what := map[string]string{VerdictAccept: "accept ", VerdictReject: "reject ", VerdictCorrect: "mark as corrected: "}
	for _, ch := range v.Choices() {
		action := what[ch.Value] + v.TargetTitle()
		if v.Label != "" {
			action = v.Label + ": " + action
		}
		out = append(out, KeyTarget{ID: ch.Value, Prefer: verdictKeys[ch.Value], Action: action})
	}
	return out
}

// SetKey implements Keyed.
func (v *Verdict) SetKey(id, key string) { v.keys.set(id, key) }

// IsRequired implements Valuer.
func (v *Verdict) IsRequired() bool { return v.Required }

// Current returns the view's value, or the zero value.
func (v *Verdict) Current(view *View) VerdictValue {
	var vv VerdictValue
	if len(view.Raw) > 0 {
		json.Unmarshal(view.Raw, &vv)
	}
	return vv
}

// AsksReason reports whether the page shows a reason control.
func (v *Verdict) AsksReason() bool { return v.Reason != reasonNone }

// ReasonRequired reports whether a verdict needs a reason.
func (v *Verdict) ReasonRequired() bool { return v.Reason == reasonRequired }

// ValidateValue implements Valuer: a verdict the block allows, and a
// reason by the block's rules.
func (v *Verdict) ValidateValue(raw json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	if !utf8.Valid(raw) {
		return nil, invalidf("the verdict is not valid UTF-8")
	}
	var vv VerdictValue
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&vv); err != nil || dec.More() {
		return nil, invalidf(`expected {"verdict": %s, "reason": "..."}, got %s`, strings.Join(v.allowed(), "|"), abbreviate(raw))
	}
	switch vv.Verdict {
	case VerdictAccept, VerdictReject:
	case VerdictCorrect:
		if !v.AllowCorrect {
			return nil, invalidf("%q is not allowed here; choose one of %s", vv.Verdict, quoteList(v.allowed()))
		}
	case "":
		return nil, invalidf("choose one of %s", quoteList(v.allowed()))
	default:
		return nil, invalidf("%q is not a verdict; choose one of %s", vv.Verdict, quoteList(v.allowed()))
	}
	reason, err := v.cleanReason(vv.Reason)
	if err != nil {
		return nil, err
	}
	vv.Reason = reason
	return json.Marshal(vv)
}

// cleanReason checks a reason against the block's rules and returns it
// trimmed, with LF line ends.
func (v *Verdict) cleanReason(r string) (string, error) {
	if strings.ContainsRune(r, 0) {
		return "", invalidf("the reason holds a NUL character")
	}
	if !utf8.ValidString(r) {
		return "", invalidf("the reason is not valid UTF-8")
	}
	r = strings.TrimSpace(normalizeNewlines(r))
	switch {
	case r == "" && v.Reason == reasonRequired:
		return "", invalidf("a reason is required")
	case r == "":
		return "", nil
	case v.Reason == reasonNone:
		return "", invalidf("this verdict takes no reason")
	case len(v.Reasons) > 0:
		if _, ok := v.Reasons.find(r); !ok {
			return "", invalidf("%q is not one of the reasons (%s)", r, quoteList(v.Reasons.values()))
		}
	case utf8.RuneCountInString(r) > MaxVerdictReasonLen:
		return "", invalidf("the reason is too long: %d characters, at most %d allowed", utf8.RuneCountInString(r), MaxVerdictReasonLen)
	}
	return r, nil
}

// FormValue implements Valuer: radio buttons named field for the verdict,
// and a field named field+".reason" (a select of the reasons, or a text
// field).
func (v *Verdict) FormValue(form map[string][]string, field string) (json.RawMessage, error) {
	verdict, reason, err := formChoiceReason(form, field, "choose one verdict")
	if err != nil {
		return nil, err
	}
	vv := VerdictValue{Verdict: verdict, Reason: reason}
	if vv == (VerdictValue{}) {
		return nil, nil
	}
	// A reason without a verdict is sent on, for ValidateValue to refuse
	// with a message: the labeler meant to give a verdict.
	return json.Marshal(vv)
}

// Flatten implements Valuer: the verdict, and the reason in NAME.reason.
func (v *Verdict) Flatten(raw json.RawMessage) []Cell {
	var vv VerdictValue
	if err := json.Unmarshal(raw, &vv); err != nil {
		return []Cell{{Value: string(raw)}}
	}
	return []Cell{{Value: vv.Verdict}, {Suffix: ".reason", Value: vv.Reason}}
}

// ConditionValue implements Decider: the verdict, so that {block: NAME,
// equals: reject} reads as it says (and as the page's script sees it, from
// the radio buttons).
func (v *Verdict) ConditionValue(raw json.RawMessage) json.RawMessage {
	var vv VerdictValue
	if json.Unmarshal(raw, &vv) != nil || vv.Verdict == "" {
		return nil
	}
	b, _ := json.Marshal(vv.Verdict)
	return b
}

// LabelStudioControl implements LabelStudioMapper: <Choices
// choice="single"> of accept, reject (and correct), over the interface's
// first object.
func (v *Verdict) LabelStudioControl() LSControl {
	var os Options
	for _, a := range v.allowed() {
		os = append(os, Option{Value: a})
	}
	return lsSingleChoices(os)
}

// FromLabelStudio implements LabelStudioMapper: {"choices": ["reject"]},
// holding exactly one verdict. Label Studio carries no reason.
func (v *Verdict) FromLabelStudio(results []LSResult, _ map[string]any) (json.RawMessage, error) {
	choice, err := lsOneChoice(results, "a verdict takes one choice")
	if err != nil {
		return nil, err
	}
	return json.Marshal(VerdictValue{Verdict: choice})
}

// ToLabelStudio implements LabelStudioMapper: one result holding the
// verdict; the reason is not carried.
func (v *Verdict) ToLabelStudio(raw json.RawMessage, _ map[string]any) ([]LSResult, error) {
	var vv VerdictValue
	if err := json.Unmarshal(raw, &vv); err != nil || vv.Verdict == "" {
		return nil, invalidf(`expected {"verdict", "reason"}, got %s`, abbreviate(raw))
	}
	return lsChoiceResult(vv.Verdict), nil
}

// LLMSchema implements LLMMapper: {"verdict", "reason"}, the verdict one
// of those allowed and the reason one of the listed reasons or free text
// ("" for none, unless a reason is required); with reason: none only the
// verdict.
func (v *Verdict) LLMSchema() map[string]any {
	meaning := map[string]string{
		VerdictAccept:  fmt.Sprintf("accept: the answer of %s is right", v.TargetTitle()),
		VerdictReject:  fmt.Sprintf("reject: the answer of %s is wrong", v.TargetTitle()),
		VerdictCorrect: fmt.Sprintf("correct: the answer of %s was wrong and has been corrected", v.TargetTitle()),
	}
	var says []string
	for _, a := range v.allowed() {
		says = append(says, meaning[a])
	}
	props := map[string]any{
		"verdict": map[string]any{"type": "string", "enum": v.allowed(), "description": strings.Join(says, "; ") + "."},
	}
	required := []string{"verdict"}
	if v.AsksReason() {
		reason := map[string]any{"type": "string"}
		if len(v.Reasons) > 0 {
			enum := v.Reasons.values()
			if !v.ReasonRequired() {
				enum = append(enum, "")
			}
			reason["enum"] = enum
			if hint := optionsHint(v.Reasons); hint != "" {
				reason["description"] = hint + " "
			}
		} else {
			reason["maxLength"] = MaxVerdictReasonLen
		}
		d, _ := reason["description"].(string)
		if v.ReasonRequired() {
			reason["description"] = d + "Why: required."
		} else {
			reason["description"] = d + `Why, or "" for no reason.`
		}
		props["reason"] = reason
		required = append(required, "reason")
	}
	return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
}

// FromLLM implements LLMMapper: the answer is the value (an empty reason
// is no reason).
func (v *Verdict) FromLLM(raw json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	return raw, nil
}
