package blocks

import "html/template"

// Pair is a display block that shows two fields of the item side by side
// (stacked on narrow screens), for example two model responses to
// compare. Each side is plain text, or sanitised Markdown with
// markdown: true.
type Pair struct {
	Base       `yaml:",inline"`
	Left       string `yaml:"left" json:"left"`
	Right      string `yaml:"right" json:"right"`
	LeftLabel  string `yaml:"left_label,omitempty" json:"left_label,omitempty"`
	RightLabel string `yaml:"right_label,omitempty" json:"right_label,omitempty"`
	Markdown   bool   `yaml:"markdown,omitempty" json:"markdown,omitempty"`
}

// Check implements Block.
func (p *Pair) Check(c *Checker) {
	if p.Left == "" {
		c.Errorf("left", "a pair block needs the name of the item field shown on the left")
	}
	if p.Right == "" {
		c.Errorf("right", "a pair block needs the name of the item field shown on the right")
	}
	if p.Left != "" && p.Left == p.Right {
		c.Errorf("right", "left and right show the same field %q", p.Left)
	}
	if c.Has("left_label") && p.LeftLabel == "" {
		c.Errorf("left_label", "must not be empty; leave it out to use %q", "A")
	}
	if c.Has("right_label") && p.RightLabel == "" {
		c.Errorf("right_label", "must not be empty; leave it out to use %q", "B")
	}
	if p.LeftLabel != "" && p.LeftLabel == p.RightLabel {
		c.Errorf("right_label", "both sides are labelled %q; give them different labels", p.LeftLabel)
	}
}

// Fields implements FieldReader.
func (p *Pair) Fields() []string { return []string{p.Left, p.Right} }

// PairSide is one side of a pair, ready to show.
type PairSide struct {
	Label string
	Text  string
	HTML  template.HTML // the text as sanitised Markdown, with markdown: true
}

// Sides returns the two sides of an item, left first.
func (p *Pair) Sides(data map[string]any) []PairSide {
	out := []PairSide{
		{Label: p.LeftLabel, Text: FieldText(data, p.Left)},
		{Label: p.RightLabel, Text: FieldText(data, p.Right)},
	}
	if out[0].Label == "" {
		out[0].Label = "A"
	}
	if out[1].Label == "" {
		out[1].Label = "B"
	}
	if p.Markdown {
		for i := range out {
			out[i].HTML = RenderMarkdown(out[i].Text)
		}
	}
	return out
}

// LabelStudioObjects implements LabelStudioObjecter: two Text objects,
// left first; a pairwise block compares them.
func (p *Pair) LabelStudioObjects() []LSObject {
	return []LSObject{{Tag: "Text", Field: p.Left}, {Tag: "Text", Field: p.Right}}
}
