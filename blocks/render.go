package blocks

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strings"
)

//go:embed templates/*.html static
var assetFS embed.FS

// Page is what the views of one item are made from: the item's data, the
// values to show (an annotation being edited, or answers sent back after an
// error), messages per block name, and how to turn a media path of the item
// into a URL.
type Page struct {
	Data   map[string]any
	Values map[string]json.RawMessage
	Errors map[string]string
	Media  func(path string) string
	// Origins are the remote origins ("https://images.example.com") that
	// media may load from; an item's URL on any other origin is not shown.
	Origins []string
	// Suggested says, per block name, which model's suggestion the block
	// shows pre-filled (its value is in Values).
	Suggested map[string]Suggested
}

// Suggested describes a suggestion shown on a block: the model, its
// version and score (nil when the model gives none).
type Suggested struct {
	Model   string
	Version string
	Score   *float64
}

// Percent renders the score as a whole percentage: "87%".
func (s Suggested) Percent() string {
	if s.Score == nil {
		return ""
	}
	return fmt.Sprintf("%.0f%%", *s.Score*100)
}

// View is what a block's template sees: the block, the item's data, the
// block's current value (decoded JSON, nil when there is none; Raw holds
// it as JSON), its child views, the validation message to show beside it,
// and whether its visible_when hides it now.
type View struct {
	Block    Block
	Data     map[string]any
	Value    any
	Raw      json.RawMessage
	Children []*View
	Error    string
	Hidden   bool
	InTab    bool // the view is a tab of a tabs block, whose tab already names it
	// Suggested is set when the block shows a model's suggestion.
	Suggested *Suggested
	media     func(string) string
	origins   []string
}

// Is reports whether the view's value is the string s.
func (v *View) Is(s string) bool {
	cur, ok := v.Value.(string)
	return ok && cur == s
}

// Has reports whether the view's value is a list holding the string s.
func (v *View) Has(s string) bool {
	list, _ := v.Value.([]any)
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Field returns an item field as display text.
func (v *View) Field(name string) string { return FieldText(v.Data, name) }

// Media turns a URL or a media path into something an <img> or <audio> may
// load: an http(s) URL on an allowed origin stays as it is, a plain
// relative media path (see IsMediaPath) goes through the page's media
// function, and anything else (another origin, javascript:, data:, "../")
// becomes "", so that the block shows a note instead.
func (v *View) Media(ref string) string {
	ref = strings.TrimSpace(ref)
	if u, err := url.Parse(ref); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		origin := strings.ToLower(u.Scheme + "://" + u.Host)
		for _, o := range v.origins {
			if strings.ToLower(o) == origin {
				return ref
			}
		}
		return ""
	}
	if v.media == nil || !IsMediaPath(ref) {
		return ""
	}
	return v.media(ref)
}

// JSON returns the view's value as JSON text ("" when there is none), for
// a hidden form field that a script keeps up to date.
func (v *View) JSON() string { return string(v.Raw) }

// NewViews builds the view tree of an interface for one item.
func NewViews(in *Interface, pg Page) []*View {
	vis := in.Visibility(pg.Values)
	return newViews(in.Blocks, pg, vis)
}

func newViews(bs []Block, pg Page, vis map[*Base]bool) []*View {
	out := make([]*View, len(bs))
	for i, b := range bs {
		base := b.Common()
		v := &View{Block: b, Data: pg.Data, media: pg.Media, origins: pg.Origins, Hidden: !vis[base]}
		if name := base.Name; name != "" {
			if raw, ok := pg.Values[name]; ok && len(raw) > 0 {
				v.Raw = raw
				json.Unmarshal(raw, &v.Value)
			}
			v.Error = pg.Errors[name]
			if sg, ok := pg.Suggested[name]; ok {
				v.Suggested = &sg
			}
		}
		if c, ok := b.(Container); ok {
			v.Children = newViews(c.Children(), pg, vis)
			if _, tabs := b.(*Tabs); tabs {
				for _, child := range v.Children {
					child.InTab = true
				}
			}
		}
		out[i] = v
	}
	return out
}

// Renderer renders views with the block templates, parsed once, and serves
// the blocks' scripts and styles.
type Renderer struct {
	t       *template.Template
	css     []byte
	scripts map[string][]byte
}

// wrapTemplate wraps every block in a fieldset: hiding a block also
// disables it, so that its inputs are neither validated by the browser nor
// sent.
const wrapTemplate = `{{define "wrap"}}<fieldset class="blk blk-{{.Type}}" id="{{.ID}}" data-type="{{.Type}}"` +
	`{{with .Name}} data-name="{{.}}"{{end}}{{with .When}} data-visible-when="{{.}}"{{end}}{{if .Hidden}} hidden disabled{{end}}` +
	`{{if .Suggested}} data-suggested{{end}}>` +
	`{{with .Suggested}}<p class="suggested"><span class="suggested-what">Suggested by <b>{{.Model}}</b>` +
	`{{with .Version}} <span class="muted">{{.}}</span>{{end}}{{with .Percent}} · score {{.}}{{end}}</span>` +
	` <button type="button" class="link suggested-clear" data-clear-suggestion>Clear <kbd>c</kbd></button></p>{{end}}` +
	`{{.HTML}}</fieldset>{{end}}`

// NewRenderer parses the embedded block templates, checks that every
// registered kind has one, and loads the blocks' scripts and styles.
func NewRenderer() (*Renderer, error) {
	r := &Renderer{scripts: map[string][]byte{}}
	t, err := template.New("blocks").Funcs(template.FuncMap{
		"field":  FieldText,
		"render": r.renderOne,
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
	}).ParseFS(assetFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse block templates: %w", err)
	}
	if t, err = t.Parse(wrapTemplate); err != nil {
		return nil, fmt.Errorf("parse block templates: %w", err)
	}
	for _, k := range Kinds() {
		if t.Lookup("block/"+k.Type) == nil {
			return nil, fmt.Errorf("block kind %q has no template block/%s", k.Type, k.Type)
		}
	}
	r.t = t
	files, err := fs.Glob(assetFS, "static/*")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var css bytes.Buffer
	for _, f := range files {
		b, err := fs.ReadFile(assetFS, f)
		if err != nil {
			return nil, err
		}
		switch path.Ext(f) {
		case ".css":
			fmt.Fprintf(&css, "/* %s */\n%s\n", path.Base(f), b)
		case ".js":
			r.scripts[strings.TrimSuffix(path.Base(f), ".js")] = b
		}
	}
	r.css = css.Bytes()
	return r, nil
}

// Render writes the HTML of views to w.
func (r *Renderer) Render(w io.Writer, views []*View) error {
	for _, v := range views {
		h, err := r.renderOne(v)
		if err != nil {
			return err
		}
		io.WriteString(w, string(h))
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

// renderOne renders one block inside its wrapper, which carries its id, its
// condition for the page's script, and its initial visibility.
func (r *Renderer) renderOne(v *View) (template.HTML, error) {
	b := v.Block.Common()
	var inner bytes.Buffer
	if err := r.t.ExecuteTemplate(&inner, "block/"+b.Type, v); err != nil {
		return "", fmt.Errorf("render block %s: %w", b.Path, err)
	}
	wrap := struct {
		Type, ID, Name, When string
		Hidden               bool
		Suggested            *Suggested
		HTML                 template.HTML
	}{Type: b.Type, ID: b.DOMID(), Name: b.Name, Hidden: v.Hidden, Suggested: v.Suggested, HTML: template.HTML(inner.String())}
	if b.VisibleWhen != nil {
		wrap.When = b.VisibleWhen.JSON()
	}
	var out bytes.Buffer
	if err := r.t.ExecuteTemplate(&out, "wrap", wrap); err != nil {
		return "", fmt.Errorf("render block %s: %w", b.Path, err)
	}
	return template.HTML(out.String()), nil
}

// Stylesheet returns the blocks' styles, every static/*.css in one sheet.
func (r *Renderer) Stylesheet() []byte { return r.css }

// Script returns the script of a block kind (static/TYPE.js).
func (r *Renderer) Script(kind string) ([]byte, bool) {
	b, ok := r.scripts[kind]
	return b, ok
}

// Scripts returns the kinds of an interface that have a script, sorted.
func (r *Renderer) Scripts(in *Interface) []string {
	var out []string
	for _, k := range in.Kinds() {
		if _, ok := r.scripts[k]; ok {
			out = append(out, k)
		}
	}
	return out
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
