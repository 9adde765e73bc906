package blocks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/loupehq/loupe"
)

// Limits of a boxes block.
const (
	// MaxBoxes is the most boxes one value may hold, whatever max says.
	MaxBoxes = 1000
	// boxTolerance is how far a box may reach past the image's edges and
	// still count as inside: the browser's arithmetic is not exact.
	boxTolerance = 1e-6
	// boxScale rounds coordinates to 6 decimals.
	boxScale = 1e6
)

// boxPalette colours the labels that set no colour of their own: the
// Okabe-Ito palette, told apart by people with colour-blind vision, and
// drawn over images, so it does not depend on the page's theme. A box's
// label is always written beside it too: colour is never the only signal.
var boxPalette = []string{"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999"}

// Boxes is a labeling block: draw, move, resize and label rectangles on an
// image. Value: a list of boxes, each {"x", "y", "width", "height",
// "label"}, with coordinates as fractions (0 to 1) of the image's natural
// width and height.
type Boxes struct {
	Base     `yaml:",inline"`
	Field    string  `yaml:"field" json:"field"`
	Labels   Options `yaml:"labels" json:"labels"`
	Required bool    `yaml:"required,omitempty" json:"required,omitempty"`
	Count    `yaml:",inline"`
}

// Box is one rectangle of a boxes value. X and Y are its top left corner;
// all four numbers are fractions of the image's natural width (X, Width)
// and height (Y, Height).
type Box struct {
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	Label  string  `json:"label"`
}

// Check implements Block.
func (b *Boxes) Check(c *Checker) {
	if b.Field == "" {
		c.Errorf("field", "a boxes block needs the name of the item field that holds the image (a URL or a media path)")
	}
	if !c.Has("labels") {
		c.Errorf("labels", "a boxes block needs labels: list at least one")
	} else {
		b.Labels.check(c, "labels", 1, "label")
	}
	b.Count.check(c, MaxBoxes, fmt.Sprintf("a value may hold at most %d boxes", MaxBoxes))
}

// Fields implements FieldReader: the field with the image.
func (b *Boxes) Fields() []string { return []string{b.Field} }

// KeyTargets implements Keyed: one key per label. With the image focused
// the key relabels the selected box; elsewhere it picks the label for new
// boxes.
func (b *Boxes) KeyTargets() []KeyTarget { return b.Labels.keyTargets("box label") }

// SetKey implements Keyed.
func (b *Boxes) SetKey(id, key string) { b.Labels.setKey(id, key) }

// IsRequired implements Valuer.
func (b *Boxes) IsRequired() bool { return b.Required }

// ValidateValue implements Valuer: a list of boxes inside the image, with
// a positive size, labels of the block, no box twice, and as many as min
// and max allow. The canonical value has coordinates rounded to 6 decimals
// (clamped to the image's edges when they reach past them by less than the
// tolerance) and is sorted by y, x and label.
func (b *Boxes) ValidateValue(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil || items == nil {
		return nil, invalidf("expected a list of boxes, each {\"x\", \"y\", \"width\", \"height\", \"label\"}, got %s", abbreviate(v))
	}
	if len(items) > MaxBoxes {
		return nil, invalidf("at most %d boxes may be drawn on one image, got %d", MaxBoxes, len(items))
	}
	boxes := make([]Box, len(items))
	for i, raw := range items {
		box, err := b.readBox(i+1, raw)
		if err != nil {
			return nil, err
		}
		boxes[i] = box
	}
	// Duplicates are found on the rounded boxes: two boxes the export
	// cannot tell apart are one box drawn twice.
	seen := make(map[Box]int, len(boxes))
	for i, box := range boxes {
		if first, dup := seen[box]; dup {
			return nil, invalidf("box %d is the same as box %d (%s); remove one of them", i+1, first, box.describe())
		}
		seen[box] = i + 1
	}
	if err := b.Count.checkValue(len(boxes), "draw", noun{"box", "boxes"}); err != nil {
		return nil, err
	}
	sort.Slice(boxes, func(i, j int) bool { return boxes[i].less(boxes[j]) })
	return json.Marshal(boxes)
}

// boxFields are a box's fields, in the order messages list them.
var boxFields = []string{"x", "y", "width", "height", "label"}

// readBox checks box n (counted from 1) of a value and returns it rounded
// and clamped to the image.
func (b *Boxes) readBox(n int, raw json.RawMessage) (Box, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Box{}, invalidf("box %d is not a box: expected {\"x\", \"y\", \"width\", \"height\", \"label\"}, got %s", n, abbreviate(raw))
	}
	for _, k := range sortedKeys(fields) {
		if !slices.Contains(boxFields, k) {
			return Box{}, invalidf("box %d has an unknown field %q; a box has %s", n, k, strings.Join(boxFields, ", "))
		}
	}
	var box Box
	nums := []*float64{&box.X, &box.Y, &box.Width, &box.Height}
	for i, name := range boxFields[:4] {
		f, ok := fields[name]
		if !ok {
			return Box{}, invalidf("box %d has no %s", n, name)
		}
		// A JSON number starts with a digit or '-'; json.Number would take
		// a string holding one too.
		tok := bytes.TrimSpace(f)
		if len(tok) == 0 || (tok[0] != '-' && (tok[0] < '0' || tok[0] > '9')) {
			return Box{}, invalidf("box %d: %s must be a number, got %s", n, name, abbreviate(f))
		}
		x, err := strconv.ParseFloat(string(tok), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return Box{}, invalidf("box %d: %s must be a finite number, got %s", n, name, abbreviate(f))
		}
		r := boxRound(x)
		if r == 0 {
			r = 0 // not -0, which JSON would keep
		}
		*nums[i] = r
	}
	f, ok := fields["label"]
	if !ok {
		return Box{}, invalidf("box %d has no label; labels: %s", n, quoteList(b.Labels.values()))
	}
	if err := json.Unmarshal(f, &box.Label); err != nil {
		return Box{}, invalidf("box %d: label must be a string, got %s", n, abbreviate(f))
	}
	if _, ok := b.Labels.find(box.Label); !ok {
		return Box{}, invalidf("box %d has label %q, which is not one of the labels (%s)", n, box.Label, quoteList(b.Labels.values()))
	}
	// Rounded values are multiples of 1e-6 only up to float error, so the
	// comparisons allow a hair more than the tolerance.
	const eps = boxTolerance + 1e-9
	switch {
	case box.Width < 0 || box.Height < 0:
		return Box{}, invalidf("box %d (%s) is a box with negative size: width %s, height %s; both must be above 0",
			n, box.describe(), boxNum(box.Width), boxNum(box.Height))
	case box.Width == 0 || box.Height == 0:
		return Box{}, invalidf("box %d (%s) is a box with no size: width %s, height %s; both must be above 0",
			n, box.describe(), boxNum(box.Width), boxNum(box.Height))
	case box.X < -eps || box.Y < -eps:
		return Box{}, invalidf("box %d (%s) is a box outside the image: x and y must be 0 or more (coordinates are fractions of the image's size, from 0 to 1)",
			n, box.describe())
	case box.X+box.Width > 1+eps:
		return Box{}, invalidf("box %d (%s) is a box outside the image: x + width is %s, above 1 (coordinates are fractions of the image's size, from 0 to 1)",
			n, box.describe(), boxNum(boxRound(box.X+box.Width)))
	case box.Y+box.Height > 1+eps:
		return Box{}, invalidf("box %d (%s) is a box outside the image: y + height is %s, above 1 (coordinates are fractions of the image's size, from 0 to 1)",
			n, box.describe(), boxNum(boxRound(box.Y+box.Height)))
	}
	box.X, box.Width = boxClampSpan(box.X, box.Width)
	box.Y, box.Height = boxClampSpan(box.Y, box.Height)
	return box, nil
}

// boxClampSpan moves a rounded span [start, start+size] that reaches past 0
// or 1 by no more than the tolerance back inside, keeping its size above
// 0, so that the canonical value passes validation again unchanged.
func boxClampSpan(start, size float64) (float64, float64) {
	if start < 0 {
		start = 0
	}
	if start+size > 1 {
		if s := boxRound(1 - start); s > 0 {
			size = s
		} else {
			start = boxRound(1 - size)
		}
	}
	return start, size
}

func boxRound(x float64) float64 { return math.Round(x*boxScale) / boxScale }

// boxNum formats a coordinate for a message.
func boxNum(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// describe names a box in messages: its label and its top left corner.
func (bx Box) describe() string {
	return fmt.Sprintf("%q at x %s, y %s", bx.Label, boxNum(bx.X), boxNum(bx.Y))
}

// less orders boxes top to bottom, then left to right, then by label and
// size, so that equal values always read the same.
func (bx Box) less(o Box) bool {
	switch {
	case bx.Y != o.Y:
		return bx.Y < o.Y
	case bx.X != o.X:
		return bx.X < o.X
	case bx.Label != o.Label:
		return bx.Label < o.Label
	case bx.Width != o.Width:
		return bx.Width < o.Width
	}
	return bx.Height < o.Height
}

// FormValue implements Valuer: the boxes travel as JSON in one hidden
// field, which the page's script keeps up to date.
func (b *Boxes) FormValue(form map[string][]string, field string) (json.RawMessage, error) {
	vals := form[field]
	if len(vals) == 0 || strings.TrimSpace(vals[0]) == "" {
		return nil, nil
	}
	if len(vals) > 1 {
		return nil, invalidf("the boxes were sent %d times; send them once", len(vals))
	}
	raw := json.RawMessage(strings.TrimSpace(vals[0]))
	if !json.Valid(raw) {
		return nil, invalidf("the boxes could not be read: expected a JSON list, got %s", abbreviate(raw))
	}
	return raw, nil
}

// Flatten implements Valuer: the boxes as one JSON cell (their canonical
// value), and their count in the column NAME.count.
func (b *Boxes) Flatten(v json.RawMessage) []Cell {
	var boxes []Box
	if err := json.Unmarshal(v, &boxes); err != nil {
		return []Cell{{Value: string(v)}, {Suffix: ".count"}}
	}
	if len(boxes) == 0 {
		return []Cell{{Value: ""}, {Suffix: ".count", Value: "0"}}
	}
	return []Cell{{Value: string(v)}, {Suffix: ".count", Value: strconv.Itoa(len(boxes))}}
}

// Limits describes min and max for the page: "Draw 1 to 3 boxes.", or ""
// when there are none.
func (b *Boxes) Limits() string { return b.Count.text("Draw", noun{"box", "boxes"}) }

// BoxLabel is a label of a boxes block as its template shows it: the
// option and the colour its boxes are drawn in.
type BoxLabel struct {
	Option
	Fill string // the label's color, or one of the default palette
}

// LabelStyles returns the block's labels with their colours, for the
// template.
func (b *Boxes) LabelStyles() []BoxLabel {
	out := make([]BoxLabel, len(b.Labels))
	for i, o := range b.Labels {
		fill := o.Color
		if fill == "" {
			fill = boxPalette[i%len(boxPalette)]
		}
		out[i] = BoxLabel{Option: o, Fill: fill}
	}
	return out
}

// ShownBox is a box as the template draws it: its place in percent of the
// image (ready for SVG attributes), its label's text and colour.
type ShownBox struct {
	Index               int // from 0, in the value's order
	X, Y, Width, Height string
	Label, Text, Fill   string
	TagInside           bool   // the box touches the top edge: its name goes inside it
	Position            string // for people: "x 10%, y 20%, 30% × 25%"
}

// Shown returns the boxes of a value (the view's raw JSON) for drawing on
// the page before, or without, its script. A value that does not read as
// a list of boxes shows none; a box whose label the block lacks is shown
// with the label as it is.
func (b *Boxes) Shown(raw json.RawMessage) []ShownBox {
	var boxes []Box
	if len(raw) == 0 || json.Unmarshal(raw, &boxes) != nil {
		return nil
	}
	styles := b.LabelStyles()
	out := make([]ShownBox, 0, len(boxes))
	for i, bx := range boxes {
		s := ShownBox{Index: i, Label: bx.Label, Text: bx.Label, Fill: boxPalette[len(boxPalette)-1]}
		for _, l := range styles {
			if l.Value == bx.Label {
				s.Text, s.Fill = l.Text(), l.Fill
			}
		}
		// Clamp what is drawn, so that a value from a bad import cannot
		// draw outside the image.
		cx, cy := boxClamp(bx.X), boxClamp(bx.Y)
		cw, ch := math.Min(boxClamp(bx.Width), 1-cx), math.Min(boxClamp(bx.Height), 1-cy)
		s.X, s.Y, s.Width, s.Height = boxPct(cx), boxPct(cy), boxPct(cw), boxPct(ch)
		s.TagInside = cy < 0.06
		s.Position = fmt.Sprintf("x %s%%, y %s%%, %s%% × %s%%", boxShortPct(cx), boxShortPct(cy), boxShortPct(cw), boxShortPct(ch))
		out = append(out, s)
	}
	return out
}

func boxClamp(x float64) float64 {
	if math.IsNaN(x) || x < 0 {
		return 0
	}
	return math.Min(x, 1)
}

// boxPct renders a fraction as a percentage for an SVG attribute.
func boxPct(x float64) string { return strconv.FormatFloat(x*100, 'f', 4, 64) + "%" }

// boxShortPct renders a fraction as a percentage for people to read.
func boxShortPct(x float64) string { return strconv.FormatFloat(math.Round(x*1000)/10, 'f', -1, 64) }

// LabelStudioObjects implements LabelStudioObjecter: the Image of the
// block's field.
func (b *Boxes) LabelStudioObjects() []LSObject {
	return []LSObject{{Tag: "Image", Field: b.Field}}
}

// LabelStudioControl implements LabelStudioMapper: <RectangleLabels> with
// a <Label> per label in its colour, over the Image of the block's field.
// Rotation is off: Loupe's boxes are not rotated.
func (b *Boxes) LabelStudioControl() LSControl {
	styles := b.LabelStyles()
	return LSControl{
		Tag: LSTag{Name: "RectangleLabels", Attrs: []LSAttr{{"canRotate", "false"}},
			Children: lsOptionTags(b.Labels, "Label", func(i int, _ Option) string { return styles[i].Fill })},
		Type:   "rectanglelabels",
		Target: LSTarget{Tag: "Image", Field: b.Field},
	}
}

// FromLabelStudio implements LabelStudioMapper: one result per region,
// {"x", "y", "width", "height", "rotation", "rectanglelabels": [...]}, in
// percent (0 to 100) of the image, and one box per label of a region. A
// rotated region, or one drawn on a rotated image, is refused: Loupe's
// boxes are upright. original_width and original_height are not needed.
func (b *Boxes) FromLabelStudio(results []LSResult, _ map[string]any) (json.RawMessage, error) {
	boxes := []map[string]any{}
	for n, r := range results {
		if r.ImageRotation != 0 {
			return nil, invalidf("region %d was drawn on an image rotated by %s°; Loupe's boxes are on the upright image", n+1, boxNum(r.ImageRotation))
		}
		box := map[string]any{}
		for _, key := range boxFields[:4] {
			f, ok, err := lsNumber(r.Value, key)
			switch {
			case err != nil:
				return nil, invalidf("region %d: %s", n+1, loupe.ErrorMessage(err))
			case !ok:
				return nil, invalidf("region %d has no value.%s (in percent of the image)", n+1, key)
			}
			box[key] = f / 100
		}
		rot, _, err := lsNumber(r.Value, "rotation")
		if err != nil {
			return nil, invalidf("region %d: %s", n+1, loupe.ErrorMessage(err))
		}
		if math.Abs(rot) > 1e-9 {
			return nil, invalidf("region %d is rotated by %s°; Loupe's boxes are not rotated", n+1, boxNum(rot))
		}
		labels, err := lsStrings(r.Value, "rectanglelabels", false)
		if err != nil {
			return nil, invalidf("region %d: %s", n+1, loupe.ErrorMessage(err))
		}
		if len(labels) == 0 {
			return nil, invalidf("region %d has no label; labels: %s", n+1, quoteList(b.Labels.values()))
		}
		for _, l := range labels {
			bx := map[string]any{"label": l}
			for k, v := range box {
				bx[k] = v
			}
			boxes = append(boxes, bx)
		}
	}
	return json.Marshal(boxes)
}

// ToLabelStudio implements LabelStudioMapper: one region per box, in
// percent of the image, with rotation 0. The image's size in pixels is
// not known, so original_width and original_height are left out.
func (b *Boxes) ToLabelStudio(v json.RawMessage, _ map[string]any) ([]LSResult, error) {
	var boxes []Box
	if err := json.Unmarshal(v, &boxes); err != nil {
		return nil, invalidf("expected a list of boxes, got %s", abbreviate(v))
	}
	pct := func(x float64) float64 { return math.Round(x*boxScale) / (boxScale / 100) }
	out := make([]LSResult, len(boxes))
	for i, bx := range boxes {
		out[i] = LSResult{Value: map[string]any{
			"x": pct(bx.X), "y": pct(bx.Y), "width": pct(bx.Width), "height": pct(bx.Height),
			"rotation": 0, "rectanglelabels": []string{bx.Label},
		}}
	}
	return out, nil
}
