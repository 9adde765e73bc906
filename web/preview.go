package web

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// previewPage is the config preview: a config and a sample item on the
// left, the interface they make on the right (a frame, re-rendered as
// either changes).
type previewPage struct {
	page
	Config string
	Item   string
}

func (s *Server) previewPage(w http.ResponseWriter, r *http.Request) {
	data := &previewPage{page: page{Title: "Preview a config"}, Config: exampleConfig,
		Item: `{"review": "The kettle boils fast, but the lid sticks."}`}
	if slug := r.URL.Query().Get("project"); slug != "" {
		p, _, err := s.store.ProjectAccess(r.Context(), slug, currentUser(r))
		if err != nil {
			s.error(w, r, err)
			return
		}
		data.Config, data.Item = p.ConfigSource, "{}"
		if it, err := s.store.SampleItem(r.Context(), p.ID); err == nil {
			// The template escapes for HTML; the JSON need not.
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			enc.Encode(it.Data)
			data.Item = b.String()
		} else if loupe.ErrorCode(err) != loupe.ENOTFOUND {
			s.error(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "preview", data)
}

// previewFrameData is what the preview frame shows: the rendered blocks, or
// every problem of the config, one a line.
type previewFrameData struct {
	Title     string
	Errors    []string
	ItemError string
	Blocks    template.HTML
	Scripts   []string
	Shortcuts []blocks.Shortcut
}

// previewFrame renders a posted config against a posted sample item. It is
// the only page that may be framed, and only by Loupe's own pages.
func (s *Server) previewFrame(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.error(w, r, formError(err))
		return
	}
	d := &previewFrameData{Title: "Preview"}
	cfg, err := blocks.Parse(blocks.Source{Name: "config", Data: []byte(r.PostForm.Get("config")), Include: s.cfg.Include})
	if err != nil {
		d.Errors = strings.Split(loupe.ErrorMessage(err), "\n")
	} else {
		d.Title = cfg.Title
		in := cfg.Interface()
		item := map[string]any{}
		if src := strings.TrimSpace(r.PostForm.Get("item")); src != "" {
			dec := json.NewDecoder(strings.NewReader(src))
			dec.UseNumber()
			if err := dec.Decode(&item); err != nil {
				d.ItemError = "The sample item is not a JSON object: " + err.Error()
				item = map[string]any{}
			}
		}
		for _, f := range in.Fields() {
			if _, ok := item[f]; !ok {
				item[f] = "(the sample item has no field " + f + ")"
			}
		}
		html, err := s.blocks.HTML(blocks.NewViews(in, blocks.Page{Data: item, Media: func(string) string { return "" }, Origins: s.cfg.MediaOrigins}))
		if err != nil {
			d.Errors = []string{"The interface could not be drawn: " + err.Error()}
		}
		d.Blocks, d.Scripts, d.Shortcuts = html, s.blocks.Scripts(in), in.Shortcuts()
	}
	t := s.pages["preview_frame"]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "frame", d); err != nil {
		s.error(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", s.contentSecurityPolicy("'self'"))
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}
