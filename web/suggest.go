package web

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
)

// shownName is the form field (and API field) carrying the signed record of
// the suggestions a page showed.
const shownName = "shown"

// suggestions returns the suggestions to show for an item: none when the
// project has no models, keeps labelers blind, or the server has no
// suggester; below the project's min_score none either. Errors are logged:
// a model's trouble never stops labeling.
func (s *Server) suggestions(ctx context.Context, p *annotate.Project, item *annotate.Item, inputs map[string]json.RawMessage, fresh bool) map[string]annotate.Suggestion {
	pc := p.Config.Predictions
	if s.cfg.Suggester == nil || !pc.Shown() {
		return nil
	}
	all, err := s.cfg.Suggester.Suggest(ctx, p, item, inputs, fresh)
	if err != nil {
		s.log.Warn("suggestions", "project", p.Slug, "item", item.ID, "err", err)
	}
	out := map[string]annotate.Suggestion{}
	for block, sg := range all {
		if sg.Score != nil && *sg.Score < pc.MinScore {
			continue
		}
		out[block] = sg
	}
	return out
}

// signShown returns the token a page sends back with its answer, recording
// which suggestions it showed; "" when it showed none.
func (s *Server) signShown(shown map[string]annotate.Suggestion) string {
	if len(shown) == 0 {
		return ""
	}
	tok, err := s.shown.Encode(shownName, shown)
	if err != nil {
		s.log.Warn("sign shown suggestions", "err", err)
		return ""
	}
	return tok
}

// readShown checks a token made by signShown and returns what it records as
// raw JSON per block, for the annotation version. A token that does not
// verify (forged, or older than a day) records nothing.
func (s *Server) readShown(tok string) map[string]json.RawMessage {
	if tok == "" {
		return nil
	}
	var shown map[string]annotate.Suggestion
	if err := s.shown.Decode(shownName, tok, &shown); err != nil {
		s.log.Warn("shown suggestions token refused", "err", err)
		return nil
	}
	out := map[string]json.RawMessage{}
	for block, sg := range shown {
		b, err := json.Marshal(sg)
		if err == nil {
			out[block] = b
		}
	}
	return out
}

// suggestedViews turns suggestions into what the block views show.
func suggestedViews(sgs map[string]annotate.Suggestion) map[string]blocks.Suggested {
	out := map[string]blocks.Suggested{}
	for block, sg := range sgs {
		out[block] = blocks.Suggested{Model: sg.Model, Version: sg.Version, Score: sg.Score}
	}
	return out
}

// apiPredict asks the project's models again for an item, with the values
// the labeler has entered so far replacing the item fields models read
// (the "r" key, and blocks wired to re-run them). It answers the new
// suggestions and a new shown token.
func (s *Server) apiPredict(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanLabel, refuseLabel)
	if !ok {
		return
	}
	var req struct {
		Values map[string]json.RawMessage `json:"values"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.error(w, r, err)
		return
	}
	task, err := s.itemTask(r, p, a)
	if err != nil {
		s.error(w, r, err)
		return
	}
	sgs := s.suggestions(r.Context(), p, task.Item, req.Values, true)
	if sgs == nil {
		sgs = map[string]annotate.Suggestion{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"suggestions": sgs, "shown": s.signShown(sgs)})
}
