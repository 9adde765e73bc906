package blocks

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
)

//go:embed templates/*.html
var templateFS embed.FS

// View is what a block's template sees: the block, the item's data, the
// block's current value (decoded JSON, nil when there is none), its child
// views, and the validation message to show beside it.
type View struct {
	Block    Block
	Data     map[string]any
	Value    any
	Children []*View
	Error    string
}

// Is reports whether the view's value is the string s.
func (v *View) Is(s string) bool {
	cur, ok := v.Value.(string)
	return ok && cur == s
}

// NewViews builds the view tree of an interface for one item, with the
// given values (for example an annotation being edited) and per-block error
// messages keyed by block name.
func NewViews(in *Interface, data map[string]any, values map[string]json.RawMessage, errs map[string]string) []*View {
	return newViews(in.Blocks, data, values, errs)
}

func newViews(bs []Block, data map[string]any, values map[string]json.RawMessage, errs map[string]string) []*View {
	out := make([]*View, len(bs))
	for i, b := range bs {
		v := &View{Block: b, Data: data}
		if name := b.Common().Name; name != "" {
			if raw, ok := values[name]; ok {
				json.Unmarshal(raw, &v.Value)
			}
			v.Error = errs[name]
		}
		if c, ok := b.(Container); ok {
			v.Children = newViews(c.Children(), data, values, errs)
		}
		out[i] = v
	}
	return out
}

// Renderer renders views with the block templates, parsed once.
type Renderer struct {
	t *template.Template
}

// NewRenderer parses the embedded block templates and checks that every
// registered kind has one.
func NewRenderer() (*Renderer, error) {
	r := &Renderer{}
	t, err := template.New("blocks").Funcs(template.FuncMap{
		"field":  FieldText,
		"render": r.renderOne,
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse block templates: %w", err)
	}
	for _, k := range Kinds() {
		if t.Lookup("block/"+k.Type) == nil {
			return nil, fmt.Errorf("block kind %q has no template block/%s", k.Type, k.Type)
		}
	}
	r.t = t
	return r, nil
}

// Render writes the HTML of views to w.
func (r *Renderer) Render(w io.Writer, views []*View) error {
	for _, v := range views {
		if err := r.t.ExecuteTemplate(w, "block/"+v.Block.Common().Type, v); err != nil {
			return fmt.Errorf("render block %s: %w", v.Block.Common().Path, err)
		}
	}
	return nil
}

// HTML renders views into safe HTML for a page template.
func (r *Renderer) HTML(views []*View) (template.HTML, error) {
	var buf bytes.Buffer
	if err := r.Render(&buf, views); err != nil {
		return "", err
	}
	return template.HTML(buf.String()), nil // built by html/template, so escaped
}

func (r *Renderer) renderOne(v *View) (template.HTML, error) {
	return r.HTML([]*View{v})
}

// FieldText returns an item field as display text: strings as they are,
// anything else as JSON.
func FieldText(data map[string]any, field string) string {
	switch v := data[field].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}
