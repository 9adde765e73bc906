package blocks

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Limits of a rating scale.
const (
	DefaultScale   = 5
	MinScale       = 2
	MaxScale       = 10
	MaxScaleLabel  = 100
	ratingKeyDigit = "1234567890"
)

// Rating is a labeling block: a score from 1 to Scale (a Likert scale),
// with optional labels for some of the points.
// Value: a whole number from 1 to Scale.
type Rating struct {
	Base     `yaml:",inline"`
	Scale    int         `yaml:"scale,omitempty" json:"scale"`
	Labels   ScaleLabels `yaml:"labels,omitempty" json:"labels,omitempty"`
	Required bool        `yaml:"required,omitempty" json:"required,omitempty"`

	keys map[int]string
}

// ScaleLabel names one point of a rating scale.
type ScaleLabel struct {
	Point int
	Text  string
	line  int
}

// ScaleLabels are the labels of a rating scale, written in a config as a
// mapping from the point to its label: {1: poor, 5: excellent}.
type ScaleLabels []ScaleLabel

// UnmarshalYAML reads the mapping, keeping the line of each label.
func (ls *ScaleLabels) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return invalidf("labels is a mapping from a point of the scale to its label, e.g. {1: poor, 5: excellent}")
	}
	out := ScaleLabels{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		point, err := strconv.Atoi(k.Value)
		if k.Kind != yaml.ScalarNode || err != nil {
			return &nodeError{k.Line, k.Column, fmt.Sprintf("%q is not a point of the scale: labels maps whole numbers to labels, e.g. {1: poor, 5: excellent}", k.Value)}
		}
		if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
			return &nodeError{v.Line, v.Column, fmt.Sprintf("the label of %d must be a text", point)}
		}
		out = append(out, ScaleLabel{Point: point, Text: v.Value, line: k.Line})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Point < out[j].Point })
	*ls = out
	return nil
}

// MarshalJSON writes the labels as an object from point to label.
func (ls ScaleLabels) MarshalJSON() ([]byte, error) {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[strconv.Itoa(l.Point)] = l.Text
	}
	return json.Marshal(m)
}

// Check implements Block, and sets the default scale.
func (r *Rating) Check(c *Checker) {
	if !c.Has("scale") {
		r.Scale = DefaultScale
	}
	if r.Scale < MinScale || r.Scale > MaxScale {
		c.Errorf("scale", "scale must be between %d and %d, got %d", MinScale, MaxScale, r.Scale)
		return
	}
	seen := map[int]bool{}
	for _, l := range r.Labels {
		switch {
		case l.Point < 1 || l.Point > r.Scale:
			c.Errorf("labels", "the label at line %d is for %d, outside the scale 1 to %d", l.line, l.Point, r.Scale)
		case seen[l.Point]:
			c.Errorf("labels", "%d is labeled twice", l.Point)
		case strings.TrimSpace(l.Text) == "":
			c.Errorf("labels", "the label of %d is empty", l.Point)
		case utf8.RuneCountInString(l.Text) > MaxScaleLabel:
			c.Errorf("labels", "the label of %d is longer than %d characters", l.Point, MaxScaleLabel)
		}
		seen[l.Point] = true
	}
}

// RatingPoint is one point of the scale as the page shows it.
type RatingPoint struct {
	N     int
	Label string
	Key   string
}

// Points returns the scale's points, from 1 up: none while the scale is
// out of range (a config being refused).
func (r *Rating) Points() []RatingPoint {
	if r.Scale < MinScale || r.Scale > MaxScale {
		return nil
	}
	out := make([]RatingPoint, r.Scale)
	for i := range out {
		out[i] = RatingPoint{N: i + 1, Key: r.keys[i+1]}
	}
	for _, l := range r.Labels {
		if l.Point >= 1 && l.Point <= r.Scale {
			out[l.Point-1].Label = l.Text
		}
	}
	return out
}

// KeyTargets implements Keyed: one key per point, preferably its own digit
// (0 for 10).
func (r *Rating) KeyTargets() []KeyTarget {
	var out []KeyTarget
	for _, p := range r.Points() {
		action := fmt.Sprintf("rate %d", p.N)
		if p.Label != "" {
			action += " (" + p.Label + ")"
		}
		if title := r.Title(); title != "" {
			action = title + ": " + action
		}
		out = append(out, KeyTarget{ID: strconv.Itoa(p.N), Prefer: ratingKeyDigit[p.N-1 : p.N], Action: action})
	}
	return out
}

// SetKey implements Keyed.
func (r *Rating) SetKey(id, key string) {
	n, err := strconv.Atoi(id)
	if err != nil {
		return
	}
	if r.keys == nil {
		r.keys = map[int]string{}
	}
	r.keys[n] = key
}

// IsRequired implements Valuer.
func (r *Rating) IsRequired() bool { return r.Required }

// Selected reports whether the view's value is the point n.
func (r *Rating) Selected(v *View, n int) bool {
	f, ok := v.Value.(float64)
	return ok && f == float64(n)
}

// ValidateValue implements Valuer: a JSON number that is a whole number
// from 1 to the scale. 4.0 is read as 4; "4" (a string) and 4.5 are
// refused.
func (r *Rating) ValidateValue(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	var x any
	if err := json.Unmarshal(v, &x); err != nil {
		return nil, invalidf("expected a rating from 1 to %d, got %s", r.Scale, abbreviate(v))
	}
	f, ok := x.(float64)
	switch {
	case !ok:
		return nil, invalidf("expected a rating as a number from 1 to %d, got %s", r.Scale, abbreviate(v))
	case f != math.Trunc(f):
		return nil, invalidf("a rating is a whole number from 1 to %d, got %s", r.Scale, abbreviate(v))
	case f < 1 || f > float64(r.Scale):
		return nil, invalidf("rating %s is out of range: choose from 1 to %d", abbreviate(v), r.Scale)
	}
	return json.Marshal(int(f))
}

// FormValue implements Valuer: one radio button per point.
func (r *Rating) FormValue(form map[string][]string, field string) (json.RawMessage, error) {
	vals := form[field]
	if len(vals) == 0 || vals[0] == "" {
		return nil, nil
	}
	if len(vals) > 1 {
		return nil, invalidf("choose one rating, not %d", len(vals))
	}
	n, err := strconv.Atoi(strings.TrimSpace(vals[0]))
	if err != nil {
		return nil, invalidf("a rating is a whole number from 1 to %d, got %q", r.Scale, vals[0])
	}
	return json.Marshal(n)
}

// Flatten implements Valuer: the rating as a number.
func (r *Rating) Flatten(v json.RawMessage) []Cell { return []Cell{{Value: string(v)}} }

// ConditionValue implements Decider: the value itself.
func (b *Rating) ConditionValue(v json.RawMessage) json.RawMessage { return v }

// LabelStudioControl implements LabelStudioMapper: <Rating maxRating=N>
// over the interface's first object.
func (r *Rating) LabelStudioControl() LSControl {
	return LSControl{
		Tag:  LSTag{Name: "Rating", Attrs: []LSAttr{{"maxRating", strconv.Itoa(r.Scale)}}},
		Type: "rating",
	}
}

// FromLabelStudio implements LabelStudioMapper: {"rating": 4}.
func (r *Rating) FromLabelStudio(results []LSResult, _ map[string]any) (json.RawMessage, error) {
	res, err := lsOne(results, "a rating")
	if err != nil {
		return nil, err
	}
	f, ok, err := lsNumber(res.Value, "rating")
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, invalidf("a Label Studio rating result needs value.rating, a number from 1 to %d", r.Scale)
	}
	return json.Marshal(f)
}

// ToLabelStudio implements LabelStudioMapper: one result with the rating.
func (r *Rating) ToLabelStudio(v json.RawMessage, _ map[string]any) ([]LSResult, error) {
	var n int
	if err := json.Unmarshal(v, &n); err != nil {
		return nil, invalidf("expected a rating from 1 to %d, got %s", r.Scale, abbreviate(v))
	}
	return []LSResult{{Value: map[string]any{"rating": n}}}, nil
}

// LLMSchema implements LLMMapper: a whole number from 1 to the scale.
func (r *Rating) LLMSchema() map[string]any {
	s := map[string]any{"type": "integer", "minimum": 1, "maximum": r.Scale}
	if len(r.Labels) > 0 {
		parts := make([]string, len(r.Labels))
		for i, l := range r.Labels {
			parts[i] = fmt.Sprintf("%d = %s", l.Point, l.Text)
		}
		s["description"] = fmt.Sprintf("A rating from 1 to %d (%s).", r.Scale, strings.Join(parts, ", "))
	}
	return s
}

// FromLLM implements LLMMapper: the answer is the value.
func (r *Rating) FromLLM(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	return v, nil
}
