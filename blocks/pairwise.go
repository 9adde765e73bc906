package blocks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Pairwise choices, and limits.
const (
	PairA       = "A"
	PairB       = "B"
	PairTie     = "tie"
	PairBothBad = "both_bad"

	MaxReasonLen   = 1000
	MaxPairLabel   = 100
	reasonNone     = "none"
	reasonOptional = "optional"
	reasonRequired = "required"
)

// Pairwise is a labeling block for a preference between two things (two
// model responses, say): A, B, a tie or both bad, with a reason that is
// free text or, when reasons are listed, one of them.
// Value: {"choice": "A"|"B"|"tie"|"both_bad", "reason": "..."}, the reason
// left out when there is none.
type Pairwise struct {
	Base         `yaml:",inline"`
	ALabel       string  `yaml:"a_label,omitempty" json:"a_label"`
	BLabel       string  `yaml:"b_label,omitempty" json:"b_label"`
	AllowTie     bool    `yaml:"allow_tie" json:"allow_tie"`
	AllowBothBad bool    `yaml:"allow_both_bad" json:"allow_both_bad"`
	Reasons      Options `yaml:"reasons,omitempty" json:"reasons,omitempty"`
	Reason       string  `yaml:"reason,omitempty" json:"reason"`
	Required     bool    `yaml:"required,omitempty" json:"required,omitempty"`

	keys keyMap
}

// PairValue is the value of a pairwise block.
type PairValue struct {
	Choice string `json:"choice"`
	Reason string `json:"reason,omitempty"`
}

// Check implements Block, and sets the defaults: labels A and B, ties and
// both bad allowed, an optional reason.
func (p *Pairwise) Check(c *Checker) {
	if !c.Has("allow_tie") {
		p.AllowTie = true
	}
	if !c.Has("allow_both_bad") {
		p.AllowBothBad = true
	}
	for _, l := range []struct {
		field string
		label *string
		def   string
	}{{"a_label", &p.ALabel, PairA}, {"b_label", &p.BLabel, PairB}} {
		switch {
		case !c.Has(l.field):
			*l.label = l.def
		case strings.TrimSpace(*l.label) == "":
			c.Errorf(l.field, "%s must not be empty", l.field)
		case utf8.RuneCountInString(*l.label) > MaxPairLabel:
			c.Errorf(l.field, "%s is longer than %d characters", l.field, MaxPairLabel)
		}
	}
	if p.ALabel != "" && p.ALabel == p.BLabel {
		field := "b_label"
		if !c.Has(field) {
			field = "a_label"
		}
		c.Errorf(field, "a_label and b_label are both %q: the two sides need different labels", p.ALabel)
	}
	switch {
	case !c.Has("reason"):
		p.Reason = reasonOptional
	case p.Reason != reasonNone && p.Reason != reasonOptional && p.Reason != reasonRequired:
		c.Errorf("reason", "reason must be none, optional or required, got %q", p.Reason)
	}
	if c.Has("reasons") {
		p.Reasons.check(c, "reasons", 1, "reason")
		for _, o := range p.Reasons {
			if o.Key != "" || o.Color != "" {
				c.Errorf("reasons", "reason %q: reasons are picked from a list and take no key or color", o.Value)
			}
			if utf8.RuneCountInString(o.Value) > MaxReasonLen {
				c.Errorf("reasons", "reason %q is longer than %d characters", o.Value, MaxReasonLen)
			}
		}
		if p.Reason == reasonNone {
			c.Errorf("reasons", "reasons are listed, but reason is none: drop the list or make the reason optional or required")
		}
	}
}

// PairChoice is one choice as the page shows it.
type PairChoice struct {
	Value, Label, Key string
}

// Choices returns the choices the block allows, in order.
func (p *Pairwise) Choices() []PairChoice {
	out := []PairChoice{{PairA, p.ALabel + " is better", p.keys[PairA]}, {PairB, p.BLabel + " is better", p.keys[PairB]}}
	if p.AllowTie {
		out = append(out, PairChoice{PairTie, "Tie", p.keys[PairTie]})
	}
	if p.AllowBothBad {
		out = append(out, PairChoice{PairBothBad, "Both bad", p.keys[PairBothBad]})
	}
	return out
}

func (p *Pairwise) allowed() []string {
	var out []string
	for _, c := range p.Choices() {
		out = append(out, c.Value)
	}
	return out
}

var pairKeys = map[string]string{PairA: "a", PairB: "b", PairTie: "t", PairBothBad: "x"}

// KeyTargets implements Keyed: a, b, t and x when they are free.
func (p *Pairwise) KeyTargets() []KeyTarget {
	var out []KeyTarget
	for _, c := range p.Choices() {
		action := map[string]string{PairA: "prefer " + p.ALabel, PairB: "prefer " + p.BLabel, PairTie: "tie", PairBothBad: "both bad"}[c.Value]
		if title := p.Title(); title != "" {
			action = title + ": " + action
		}
		out = append(out, KeyTarget{ID: c.Value, Prefer: pairKeys[c.Value], Action: action})
	}
	return out
}

// SetKey implements Keyed.
func (p *Pairwise) SetKey(id, key string) { p.keys.set(id, key) }

// IsRequired implements Valuer.
func (p *Pairwise) IsRequired() bool { return p.Required }

// Current returns the view's value, or the zero value.
func (p *Pairwise) Current(v *View) PairValue {
	var pv PairValue
	if len(v.Raw) > 0 {
		json.Unmarshal(v.Raw, &pv)
	}
	return pv
}

// AsksReason reports whether the page shows a reason control.
func (p *Pairwise) AsksReason() bool { return p.Reason != reasonNone }

// ReasonRequired reports whether a choice needs a reason.
func (p *Pairwise) ReasonRequired() bool { return p.Reason == reasonRequired }

// ValidateValue implements Valuer.
func (p *Pairwise) ValidateValue(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	var pv PairValue
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pv); err != nil || dec.More() {
		return nil, invalidf(`expected {"choice": %s, "reason": "..."}, got %s`, strings.Join(p.allowed(), "|"), abbreviate(v))
	}
	switch pv.Choice {
	case PairA, PairB:
	case PairTie, PairBothBad:
		if (pv.Choice == PairTie && !p.AllowTie) || (pv.Choice == PairBothBad && !p.AllowBothBad) {
			return nil, invalidf("%q is not allowed here; choose one of %s", pv.Choice, quoteList(p.allowed()))
		}
	case "":
		return nil, invalidf("choose one of %s", quoteList(p.allowed()))
	default:
		return nil, invalidf("%q is not a choice; choose one of %s", pv.Choice, quoteList(p.allowed()))
	}
	reason, err := p.cleanReason(pv.Reason)
	if err != nil {
		return nil, err
	}
	pv.Reason = reason
	return json.Marshal(pv)
}

// cleanReason checks a reason against the block's rules and returns it
// trimmed.
func (p *Pairwise) cleanReason(r string) (string, error) {
	if strings.ContainsRune(r, 0) || !utf8.ValidString(r) {
		return "", invalidf("the reason holds a NUL character or is not valid UTF-8")
	}
	r = strings.TrimSpace(normalizeNewlines(r))
	switch {
	case r == "" && p.Reason == reasonRequired:
		return "", invalidf("a reason is required")
	case r == "":
		return "", nil
	case p.Reason == reasonNone:
		return "", invalidf("this block takes no reason")
	case utf8.RuneCountInString(r) > MaxReasonLen:
		return "", invalidf("the reason is too long: %d characters, at most %d allowed", utf8.RuneCountInString(r), MaxReasonLen)
	case len(p.Reasons) > 0:
		if _, ok := p.Reasons.find(r); !ok {
			return "", invalidf("%q is not one of the reasons (%s)", r, quoteList(p.Reasons.values()))
		}
	}
	return r, nil
}

// FormValue implements Valuer: radio buttons named field for the choice,
// and a field named field+".reason".
func (p *Pairwise) FormValue(form map[string][]string, field string) (json.RawMessage, error) {
	choice, reason, err := formChoiceReason(form, field, "choose one")
	if err != nil {
		return nil, err
	}
	pv := PairValue{Choice: choice, Reason: reason}
	if pv == (PairValue{}) {
		return nil, nil
	}
	return json.Marshal(pv)
}

// formChoiceReason reads a choice made with radio buttons named field and
// its reason, a field named field+".reason" (a select or a text field),
// trimmed, with LF line ends. tooMany starts the error for several choices
// ("choose one").
func formChoiceReason(form map[string][]string, field, tooMany string) (choice, reason string, err error) {
	choices, reasons := form[field], form[field+".reason"]
	if len(choices) > 1 {
		return "", "", invalidf("%s, not %d", tooMany, len(choices))
	}
	if len(reasons) > 1 {
		return "", "", invalidf("give one reason, not %d", len(reasons))
	}
	if len(choices) == 1 {
		choice = choices[0]
	}
	if len(reasons) == 1 {
		if !utf8.ValidString(reasons[0]) {
			return "", "", invalidf("the reason is not valid UTF-8")
		}
		reason = strings.TrimSpace(normalizeNewlines(reasons[0]))
	}
	return choice, reason, nil
}

// Flatten implements Valuer: the choice, and the reason in NAME.reason.
func (p *Pairwise) Flatten(v json.RawMessage) []Cell {
	var pv PairValue
	if err := json.Unmarshal(v, &pv); err != nil {
		return []Cell{{Value: string(v)}}
	}
	return []Cell{{Value: pv.Choice}, {Suffix: ".reason", Value: pv.Reason}}
}

// ConditionValue is the part of the value that a visible_when naming this
// block compares with: the choice, so that {block: pref, equals: both_bad}
// works as it reads (and as the page's script sees it, from the radio
// buttons).
func (p *Pairwise) ConditionValue(v json.RawMessage) json.RawMessage {
	var pv PairValue
	if json.Unmarshal(v, &pv) != nil || pv.Choice == "" {
		return nil
	}
	b, _ := json.Marshal(pv.Choice)
	return b
}

// Label Studio's Pairwise records which side was selected.
const (
	lsLeft  = "left"
	lsRight = "right"
)

// LabelStudioControl implements LabelStudioMapper: a <Pairwise> over the
// two sides of the interface's pair block (or its first two objects).
func (p *Pairwise) LabelStudioControl() LSControl {
	return LSControl{Tag: LSTag{Name: "Pairwise"}, Type: "pairwise", Target: LSTarget{Pair: true}}
}

// FromLabelStudio implements LabelStudioMapper: {"selected": "left"} is A,
// "right" is B. Label Studio's Pairwise has no tie, no both-bad and no
// reason.
func (p *Pairwise) FromLabelStudio(results []LSResult, _ map[string]any) (json.RawMessage, error) {
	res, err := lsOne(results, "a pairwise choice")
	if err != nil {
		return nil, err
	}
	switch sel, _ := res.Value["selected"].(string); sel {
	case lsLeft:
		return json.Marshal(PairValue{Choice: PairA})
	case lsRight:
		return json.Marshal(PairValue{Choice: PairB})
	}
	return nil, invalidf(`value.selected of a Label Studio pairwise result must be "left" or "right", got %s`, lsDescribe(res.Value["selected"]))
}

// ToLabelStudio implements LabelStudioMapper: A is left, B is right. A tie
// or both bad has no Label Studio equivalent (its Pairwise selects a side
// or nothing), so it gives no result; the reason is not carried.
func (p *Pairwise) ToLabelStudio(v json.RawMessage, _ map[string]any) ([]LSResult, error) {
	var pv PairValue
	if err := json.Unmarshal(v, &pv); err != nil {
		return nil, invalidf(`expected {"choice", "reason"}, got %s`, abbreviate(v))
	}
	switch pv.Choice {
	case PairA:
		return []LSResult{{Value: map[string]any{"selected": lsLeft}}}, nil
	case PairB:
		return []LSResult{{Value: map[string]any{"selected": lsRight}}}, nil
	}
	return nil, nil
}

// LLMSchema implements LLMMapper: {"choice", "reason"}, the choice one of
// those allowed and the reason one of the listed reasons or free text
// ("" for none, unless a reason is required); without reasons (reason:
// none) only the choice.
func (p *Pairwise) LLMSchema() map[string]any {
	meaning := map[string]string{
		PairA:       fmt.Sprintf("A: %s is better", p.ALabel),
		PairB:       fmt.Sprintf("B: %s is better", p.BLabel),
		PairTie:     "tie: both are as good",
		PairBothBad: "both_bad: neither is acceptable",
	}
	var says []string
	for _, c := range p.allowed() {
		says = append(says, meaning[c])
	}
	props := map[string]any{
		"choice": map[string]any{"type": "string", "enum": p.allowed(), "description": strings.Join(says, "; ") + "."},
	}
	required := []string{"choice"}
	if p.AsksReason() {
		reason := map[string]any{"type": "string"}
		if len(p.Reasons) > 0 {
			enum := p.Reasons.values()
			if !p.ReasonRequired() {
				enum = append(enum, "")
			}
			reason["enum"] = enum
		} else {
			reason["maxLength"] = MaxReasonLen
		}
		if p.ReasonRequired() {
			reason["description"] = "Why: required."
		} else {
			reason["description"] = `Why, or "" for no reason.`
		}
		props["reason"] = reason
		required = append(required, "reason")
	}
	return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
}

// FromLLM implements LLMMapper: the answer is the value (an empty reason
// is no reason).
func (p *Pairwise) FromLLM(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	return v, nil
}
