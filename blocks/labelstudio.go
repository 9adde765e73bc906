package blocks

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/loupehq/loupe"
)

// Label Studio speaks of a labeling config (XML) made of object tags, which
// show a field of the task's data (<Text name="review" value="$review"/>),
// and control tags, which label an object (<Choices name="sentiment"
// toName="review">). A result item names its control (from_name), its
// object (to_name), its type and its value. Loupe maps a labeling block to
// one control named after the block, so that from_name is the block's name.
//
// Each kind says how it maps by implementing LabelStudioMapper in its own
// file; display kinds say which object tags they show with
// LabelStudioObjecter. Nothing here switches on block types.
// docs/predictions-formats.md describes every mapping.

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
	// ImageRotation is the rotation of the image the region was drawn on,
	// in degrees; Loupe's boxes take only 0.
	ImageRotation float64 `json:"image_rotation,omitempty"`
}

// LSAttr is one attribute of a tag of a Label Studio labeling config.
type LSAttr struct {
	Name, Value string
}

// LSTag is one element of a Label Studio labeling config. The config is
// written from it with every attribute value escaped.
type LSTag struct {
	Name     string
	Attrs    []LSAttr
	Children []LSTag
}

// LSObject is an object tag that shows one field of an item: Tag is its
// element ("Text", "Image", "Audio", "Paragraphs", "List"), Field the item
// field its value refers to ($field), Attrs any attributes beyond name and
// value.
type LSObject struct {
	Tag   string
	Field string
	Attrs []LSAttr
}

// LSTarget says which object a control annotates. With Tag and Field set,
// it is the object of that tag over that field (a spans block labels the
// Text of its own field). With Pair set, it is two objects to compare: the
// two of the first block that shows two (a pair block), else the first two
// objects of the interface. Otherwise it is the first object the interface
// shows, or, when it shows none, a hidden <Text name="_item">.
type LSTarget struct {
	Tag, Field string
	Pair       bool
}

// LSControl is how a block appears in a Label Studio labeling config: its
// control tag (without name and toName, which the config adds), the type
// its result items carry ("choices"), and what it annotates.
type LSControl struct {
	Tag    LSTag
	Type   string
	Target LSTarget
}

// LabelStudioObjecter is a block that shows fields of an item: display
// blocks, and labeling blocks that label a field of their own (spans,
// boxes, ranking). Their objects are what controls annotate.
type LabelStudioObjecter interface {
	Block
	LabelStudioObjects() []LSObject
}

// LabelStudioMapper is a labeling block that Label Studio can express: a
// control tag, and a two-way mapping between the block's value and
// Label Studio result items. Kinds that are not LabelStudioMappers have
// no Label Studio control; their results are refused on import and their
// values are left out of exports.
type LabelStudioMapper interface {
	Valuer
	// LabelStudioControl returns the block's control tag.
	LabelStudioControl() LSControl
	// FromLabelStudio turns the result items of the block's control (at
	// least one, each of the control's type) into a value, which the
	// caller then validates with ValidateValue. It returns EINVALID saying
	// what is wrong with a result.
	FromLabelStudio(results []LSResult, data map[string]any) (json.RawMessage, error)
	// ToLabelStudio turns a valid value into result items, with only
	// Value (and OriginalWidth/OriginalHeight, where known) set: the
	// caller fills in from_name, to_name and type. No items means Label
	// Studio has no way to say the value (a pairwise tie).
	ToLabelStudio(v json.RawMessage, data map[string]any) ([]LSResult, error)
}

// hiddenItem is the object that controls annotate when the interface shows
// no field Label Studio can show.
const hiddenItem = "_item"

// lsPlan is an interface laid out as a Label Studio config: its object
// tags, named, and its controls with the objects they annotate.
type lsPlan struct {
	objects  []lsObject
	controls []lsControl
	byName   map[string]*lsControl
}

type lsObject struct {
	LSObject
	name string
}

type lsControl struct {
	v      Valuer
	m      LabelStudioMapper // nil when the kind has no Label Studio control
	ctl    LSControl
	toName string
	omit   string // why the control is left out, or ""
}

// labelStudioPlan lays the interface out: objects in the order the
// interface shows them (one per tag and field), then a control per
// labeling block.
func (in *Interface) labelStudioPlan() *lsPlan {
	p := &lsPlan{byName: map[string]*lsControl{}}
	taken := map[string]bool{hiddenItem: true}
	for _, v := range in.valuers {
		taken[v.Common().Name] = true
	}
	index := map[string]int{} // tag + "\x00" + field → index into objects
	add := func(o LSObject) int {
		key := o.Tag + "\x00" + o.Field
		if i, ok := index[key]; ok {
			return i
		}
		name := lsObjectName(o, taken)
		taken[name] = true
		p.objects = append(p.objects, lsObject{LSObject: o, name: name})
		index[key] = len(p.objects) - 1
		return len(p.objects) - 1
	}
	var groups [][]int // the objects of each block that shows any, in order
	in.Walk(func(b Block) {
		ob, ok := b.(LabelStudioObjecter)
		if !ok {
			return
		}
		var g []int
		for _, o := range ob.LabelStudioObjects() {
			if o.Field != "" {
				g = append(g, add(o))
			}
		}
		if len(g) > 0 {
			groups = append(groups, g)
		}
	})
	shown := len(p.objects) // objects added below are not "shown" by a display block
	var hidden bool
	for _, v := range in.valuers {
		c := lsControl{v: v}
		m, ok := v.(LabelStudioMapper)
		switch {
		case !ok:
			c.omit = fmt.Sprintf("%s %q: Label Studio has no control for a %s block", v.Common().Type, v.Common().Name, v.Common().Type)
		default:
			c.m, c.ctl = m, m.LabelStudioControl()
			t := c.ctl.Target
			switch {
			case t.Field != "":
				c.toName = p.objects[add(LSObject{Tag: t.Tag, Field: t.Field})].name
			case t.Pair:
				var two []int
				for _, g := range groups {
					if len(g) >= 2 {
						two = g[:2]
						break
					}
				}
				if two == nil && shown >= 2 {
					two = []int{0, 1}
				}
				if two == nil {
					c.omit = fmt.Sprintf("%s %q: Label Studio's %s compares two objects, and the interface shows fewer than two fields", v.Common().Type, v.Common().Name, c.ctl.Tag.Name)
				} else {
					c.toName = p.objects[two[0]].name + "," + p.objects[two[1]].name
				}
			case shown > 0:
				c.toName = p.objects[0].name
			default:
				c.toName, hidden = hiddenItem, true
			}
		}
		p.controls = append(p.controls, c)
	}
	if hidden {
		p.objects = append(p.objects, lsObject{LSObject: LSObject{Tag: "Text", Field: hiddenItem}, name: hiddenItem})
	}
	for i := range p.controls {
		p.byName[p.controls[i].v.Common().Name] = &p.controls[i]
	}
	return p
}

// lsObjectName names an object after its field, made safe for toName
// (which Pairwise splits on commas) and unique among blocks and objects.
func lsObjectName(o LSObject, taken map[string]bool) string {
	var b strings.Builder
	for _, r := range o.Field {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	base := b.String()
	if base == "" || strings.Trim(base, "_") == "" {
		base = "object"
	}
	if !taken[base] {
		return base
	}
	base += "_" + strings.ToLower(o.Tag)
	name := base
	for n := 2; taken[name]; n++ {
		name = base + "_" + strconv.Itoa(n)
	}
	return name
}

// LabelStudioConfig renders the interface as a Label Studio labeling
// config (XML), as ML backends expect in /setup and /predict: an object
// tag per item field the interface shows, then a control tag per labeling
// block, named after it. A block whose kind has no Label Studio control is
// left out, with an XML comment saying so. It returns EINVALID when a name
// or an option holds a character XML cannot carry.
func LabelStudioConfig(in *Interface) (string, error) {
	if in == nil {
		return "", loupe.Errorf(loupe.EINVALID, "no interface to render as a Label Studio config")
	}
	p := in.labelStudioPlan()
	var w xmlWriter
	w.open("View", nil)
	for _, o := range p.objects {
		attrs := append([]LSAttr{{"name", o.name}, {"value", "$" + o.Field}}, o.Attrs...)
		w.tag(LSTag{Name: o.Tag, Attrs: attrs}, 1)
	}
	for _, c := range p.controls {
		if c.omit != "" {
			w.comment(c.omit, 1)
			continue
		}
		t := c.ctl.Tag
		t.Attrs = append([]LSAttr{{"name", c.v.Common().Name}, {"toName", c.toName}}, t.Attrs...)
		w.tag(t, 1)
	}
	w.close("View", 0)
	if w.err != nil {
		return "", w.err
	}
	return w.b.String(), nil
}

// xmlWriter writes a labeling config, indented by two spaces a level.
type xmlWriter struct {
	b   strings.Builder
	err error
}

func (w *xmlWriter) indent(depth int) { w.b.WriteString(strings.Repeat("  ", depth)) }

func (w *xmlWriter) open(name string, attrs []LSAttr) {
	w.b.WriteString("<" + name)
	w.attrs(attrs)
	w.b.WriteString(">\n")
}

func (w *xmlWriter) close(name string, depth int) {
	w.indent(depth)
	w.b.WriteString("</" + name + ">\n")
}

func (w *xmlWriter) attrs(attrs []LSAttr) {
	for _, a := range attrs {
		v, err := xmlAttr(a.Value)
		if err != nil && w.err == nil {
			w.err = loupe.Errorf(loupe.EINVALID, "cannot write %s=%q in a Label Studio config: %v", a.Name, a.Value, err)
		}
		w.b.WriteString(" " + a.Name + `="` + v + `"`)
	}
}

func (w *xmlWriter) tag(t LSTag, depth int) {
	w.indent(depth)
	w.b.WriteString("<" + t.Name)
	w.attrs(t.Attrs)
	if len(t.Children) == 0 {
		w.b.WriteString("/>\n")
		return
	}
	w.b.WriteString(">\n")
	for _, c := range t.Children {
		w.tag(c, depth+1)
	}
	w.close(t.Name, depth)
}

// comment writes an XML comment. Its text is made of block types, names
// and fixed words, so it never holds "--" or a character XML refuses; it
// is cleaned all the same.
func (w *xmlWriter) comment(text string, depth int) {
	w.indent(depth)
	text = strings.Map(func(r rune) rune {
		if r < 0x20 {
			return ' '
		}
		return r
	}, text)
	for strings.Contains(text, "--") {
		text = strings.ReplaceAll(text, "--", "-")
	}
	w.b.WriteString("<!-- " + text + " -->\n")
}

// xmlAttr escapes a string for an attribute value in double quotes. Line
// ends and tabs are written as character references, so that the value
// survives attribute normalisation; characters XML 1.0 cannot hold at all
// are an error.
func xmlAttr(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		case '\n':
			b.WriteString("&#10;")
		case '\r':
			b.WriteString("&#13;")
		case '\t':
			b.WriteString("&#9;")
		default:
			if r < 0x20 || r == 0xFFFE || r == 0xFFFF {
				return b.String(), fmt.Errorf("character %U is not allowed in XML", r)
			}
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}

// FromLabelStudio maps Label Studio result items to block values, by
// from_name. A result for a block that does not exist, of a kind without a
// mapping, or with an invalid value is an EINVALID error naming it.
//
// Results are grouped by from_name (a spans or boxes block has one result
// per region); each group is converted by its block's kind and validated
// with the block's ValidateValue, so the values returned are canonical.
// to_name is not checked: a task made under another Label Studio config
// maps as long as its control names are Loupe's block names. Values that
// are empty after conversion are left out. Errors carry the field
// "values.NAME".
func (in *Interface) FromLabelStudio(results []LSResult, data map[string]any) (map[string]json.RawMessage, error) {
	var order []string
	groups := map[string][]LSResult{}
	for i, r := range results {
		if r.FromName == "" {
			return nil, loupe.Errorf(loupe.EINVALID, "result %d (type %q) has no from_name: Loupe maps results to blocks by from_name (Label Studio relations are not supported)", i+1, r.Type)
		}
		if _, ok := groups[r.FromName]; !ok {
			order = append(order, r.FromName)
		}
		groups[r.FromName] = append(groups[r.FromName], r)
	}
	p := in.labelStudioPlan()
	out := make(map[string]json.RawMessage, len(order))
	for _, name := range order {
		c, ok := p.byName[name]
		if !ok {
			return nil, loupe.FieldErrorf("values."+name, "a Label Studio result names from_name %q, but no block is named %q%s; blocks with values: %s",
				name, name, suggest(name, in.byName), strings.Join(in.valuerNames(), ", "))
		}
		b := c.v.Common()
		if c.m == nil {
			return nil, loupe.FieldErrorf("values."+name, "block %q is a %s, which has no Label Studio mapping: its results cannot be imported", name, b.Type)
		}
		for _, r := range groups[name] {
			if !strings.EqualFold(r.Type, c.ctl.Type) {
				return nil, loupe.FieldErrorf("values."+name, "block %q (%s) takes Label Studio results of type %q, got %q", name, b.Type, c.ctl.Type, r.Type)
			}
			if r.Value == nil {
				return nil, loupe.FieldErrorf("values."+name, "block %q: a Label Studio result has no value", name)
			}
		}
		raw, err := c.m.FromLabelStudio(groups[name], data)
		if err == nil && !isEmpty(raw) {
			raw, err = c.v.ValidateValue(raw, data)
		}
		if err != nil {
			return nil, loupe.FieldErrorf("values."+name, "block %q: %s", name, loupe.ErrorMessage(err))
		}
		if !isEmpty(raw) {
			out[name] = raw
		}
	}
	return out, nil
}

// ToLabelStudio maps block values to Label Studio result items.
//
// Values are taken in the interface's order; each is validated by its
// block and converted by its kind, with from_name the block's name,
// to_name the object LabelStudioConfig gives it, and the control's type.
// Values of blocks that LabelStudioConfig leaves out (kinds without a
// control) are left out here too, and so are values Label Studio cannot
// say (a pairwise tie); docs/predictions-formats.md lists them. A name
// that is no block, or an invalid value, is an EINVALID error naming it.
func (in *Interface) ToLabelStudio(values map[string]json.RawMessage, data map[string]any) ([]LSResult, error) {
	p := in.labelStudioPlan()
	for _, name := range sortedKeys(values) {
		if _, ok := p.byName[name]; !ok {
			return nil, loupe.FieldErrorf("values."+name, "no block is named %q; blocks with values: %s", name, strings.Join(in.valuerNames(), ", "))
		}
	}
	var out []LSResult
	for _, c := range p.controls {
		name := c.v.Common().Name
		raw, ok := values[name]
		if !ok || isEmpty(raw) || c.omit != "" {
			continue
		}
		canon, err := c.v.ValidateValue(raw, data)
		if err != nil {
			return nil, loupe.FieldErrorf("values."+name, "block %q: %s", name, loupe.ErrorMessage(err))
		}
		if isEmpty(canon) {
			continue
		}
		rs, err := c.m.ToLabelStudio(canon, data)
		if err != nil {
			return nil, loupe.FieldErrorf("values."+name, "block %q: %s", name, loupe.ErrorMessage(err))
		}
		for _, r := range rs {
			r.FromName, r.ToName, r.Type = name, c.toName, c.ctl.Type
			out = append(out, r)
		}
	}
	return out, nil
}

// Helpers for the kinds' mappings.

// lsOptionTags renders options as child tags (<Choice value="…"/>),
// with a background colour when color gives one.
func lsOptionTags(os Options, tag string, color func(i int, o Option) string) []LSTag {
	out := make([]LSTag, len(os))
	for i, o := range os {
		t := LSTag{Name: tag, Attrs: []LSAttr{{"value", o.Value}}}
		if color != nil {
			if c := color(i, o); c != "" {
				t.Attrs = append(t.Attrs, LSAttr{"background", c})
			}
		}
		out[i] = t
	}
	return out
}

// lsStrings reads a list of strings from a result's value; a single string
// is read as a list of one when single is set.
func lsStrings(value map[string]any, key string, single bool) ([]string, error) {
	x, ok := value[key]
	if !ok || x == nil {
		return nil, invalidf("a Label Studio result of this block needs value.%s, a list of strings", key)
	}
	if s, ok := x.(string); ok && single {
		return []string{s}, nil
	}
	if list, ok := x.([]string); ok {
		return list, nil
	}
	list, ok := x.([]any)
	if !ok {
		return nil, invalidf("value.%s of a Label Studio result must be a list of strings, got %s", key, lsDescribe(x))
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, invalidf("value.%s of a Label Studio result must be a list of strings, got %s in it", key, lsDescribe(e))
		}
		out[i] = s
	}
	return out, nil
}

// lsNumber reads a number from a result's value, as encoding/json gives it
// (float64, or json.Number with UseNumber).
func lsNumber(value map[string]any, key string) (float64, bool, error) {
	x, ok := value[key]
	if !ok || x == nil {
		return 0, false, nil
	}
	var f float64
	switch n := x.(type) {
	case float64:
		f = n
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, true, invalidf("value.%s of a Label Studio result must be a number, got %s", key, n)
		}
	case int:
		f = float64(n)
	default:
		return 0, true, invalidf("value.%s of a Label Studio result must be a number, got %s", key, lsDescribe(x))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, true, invalidf("value.%s of a Label Studio result must be a finite number", key)
	}
	return f, true, nil
}

// lsDescribe renders a decoded JSON value for a message.
func lsDescribe(x any) string {
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Sprintf("%v", x)
	}
	return abbreviate(b)
}

// lsOne returns the only result of a control that takes one.
func lsOne(results []LSResult, what string) (LSResult, error) {
	if len(results) != 1 {
		return LSResult{}, invalidf("expected one Label Studio result with %s, got %d", what, len(results))
	}
	return results[0], nil
}

// runeOffset converts an offset counted in UTF-16 code units (as
// JavaScript counts) into one counted in code points; ok is false when it
// falls outside the text or inside a surrogate pair.
func runeOffset(text []rune, units int) (int, bool) {
	if units < 0 {
		return 0, false
	}
	n := 0
	for i, r := range text {
		if n == units {
			return i, true
		}
		if n > units {
			return 0, false
		}
		n += utf16.RuneLen(r) // 1 or 2: runes of a Go string are never surrogates
	}
	if n == units {
		return len(text), true
	}
	return 0, false
}

// lsSingleChoices is the Label Studio control of a kind that takes one of
// a list: <Choices choice="single"> with a <Choice> per option.
func lsSingleChoices(os Options) LSControl {
	return LSControl{
		Tag:  LSTag{Name: "Choices", Attrs: []LSAttr{{"choice", "single"}}, Children: lsOptionTags(os, "Choice", nil)},
		Type: "choices",
	}
}

// lsOneChoice reads the one choice of {"choices": [X]} results; what
// names it in the error ("a choice takes one option").
func lsOneChoice(results []LSResult, what string) (string, error) {
	var got []string
	for _, r := range results {
		cs, err := lsStrings(r.Value, "choices", false)
		if err != nil {
			return "", err
		}
		got = append(got, cs...)
	}
	if len(got) != 1 {
		return "", invalidf("%s; Label Studio gave %d (%s)", what, len(got), quoteList(got))
	}
	return got[0], nil
}

// lsChoiceResult is the one result {"choices": [choice]}.
func lsChoiceResult(choice string) []LSResult {
	return []LSResult{{Value: map[string]any{"choices": []string{choice}}}}
}
