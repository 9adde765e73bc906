package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
)

// decodeJSON reads a JSON request body into v. The body must be declared
// application/json (so that a cross-site form cannot send it), hold exactly
// one value, and name no unknown fields.
func decodeJSON(r *http.Request, v any) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		return loupe.Errorf(loupe.EUNSUPPORTED, "send the body as Content-Type: application/json")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return err
		case errors.As(err, &se):
			return badRequestf("the body is not valid JSON: %v (at byte %d)", se, se.Offset)
		case errors.As(err, &te):
			return &loupe.Error{Code: loupe.EINVALID, Field: te.Field, Message: fmt.Sprintf("%s must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)}
		case errors.Is(err, io.EOF):
			return badRequestf("the body is empty")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &loupe.Error{Code: loupe.EINVALID, Field: field, Message: fmt.Sprintf("unknown field %q", field)}
		}
		return badRequestf("the body could not be read: %v", err)
	}
	if dec.More() {
		return badRequestf("the body holds more than one JSON value")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "int", "int64", "float64":
		return "a number"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	case "bool":
		return "true or false"
	}
	return k
}

type userJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Disabled bool   `json:"disabled,omitempty"`
}

func toUserJSON(u *loupe.User) userJSON {
	return userJSON{ID: u.ID, Name: u.Name, Role: u.Role, Disabled: u.Disabled}
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, toUserJSON(currentUser(r)))
}

type projectJSON struct {
	Slug          string         `json:"slug"`
	Title         string         `json:"title"`
	Role          string         `json:"role,omitempty"`
	ItemCount     int            `json:"item_count"`
	CompleteCount int            `json:"complete_count"`
	ConfigVersion int            `json:"config_version,omitempty"`
	Config        *blocks.Config `json:"config,omitempty"`
	CreatedAt     *time.Time     `json:"created_at,omitempty"`
}

func (s *Server) apiProjects(w http.ResponseWriter, r *http.Request) {
	ps, err := s.store.Projects(r.Context(), currentUser(r))
	if err != nil {
		s.error(w, r, err)
		return
	}
	out := make([]projectJSON, len(ps))
	for i, p := range ps {
		out[i] = projectJSON{Slug: p.Slug, Title: p.Title, Role: p.Role, ItemCount: p.ItemCount, CompleteCount: p.CompleteCount}
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": out})
}

func toProjectJSON(p *annotate.Project, role string) projectJSON {
	return projectJSON{Slug: p.Slug, Title: p.Title, Role: role, ItemCount: p.ItemCount, CompleteCount: p.CompleteCount,
		ConfigVersion: p.ConfigVersion, Config: p.Config, CreatedAt: &p.CreatedAt}
}

func (s *Server) apiProject(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.project(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, toProjectJSON(p, a.Role))
}

func (s *Server) apiSetConfig(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanManage, refuseConfig)
	if !ok {
		return
	}
	var req struct {
		Config string `json:"config"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.error(w, r, err)
		return
	}
	if _, err := s.setConfig(r, p, req.Config); err != nil {
		s.error(w, r, err)
		return
	}
	p, _, err := s.store.ProjectAccess(r.Context(), p.Slug, a.User)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toProjectJSON(p, a.Role))
}

func (s *Server) apiCreateProject(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Slug   string `json:"slug"`
		Config string `json:"config"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.error(w, r, err)
		return
	}
	p, err := s.createProjectFrom(r, strings.TrimSpace(req.Slug), req.Config)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toProjectJSON(p, ""))
}

func (s *Server) apiProgress(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.project(w, r)
	if !ok {
		return
	}
	pr, err := s.store.Progress(r.Context(), p, a.User.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"my_done": pr.MyDone, "my_skipped": pr.MySkipped, "my_total": pr.MyTotal,
		"project_done": pr.ProjectDone, "project_total": pr.ProjectTotal})
}

type itemJSON struct {
	ID         string         `json:"id"`
	ExternalID string         `json:"external_id,omitempty"`
	Data       map[string]any `json:"data"`
}

type annotationJSON struct {
	ID            string                     `json:"id"`
	ItemID        string                     `json:"item_id"`
	User          string                     `json:"user"`
	Version       int                        `json:"version"`
	ConfigVersion int                        `json:"config_version"`
	Values        map[string]json.RawMessage `json:"values"`
	ClientID      string                     `json:"client_id,omitempty"`
	LeadMS        int64                      `json:"lead_ms"`
	CreatedAt     time.Time                  `json:"created_at"`
	UpdatedAt     time.Time                  `json:"updated_at"`
}

func toAnnotationJSON(a *annotate.Annotation) *annotationJSON {
	if a == nil {
		return nil
	}
	return &annotationJSON{ID: a.ID, ItemID: a.ItemID, User: a.UserName, Version: a.Version, ConfigVersion: a.ConfigVersion,
		Values: a.Values, ClientID: a.ClientID, LeadMS: a.LeadMS, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

type taskJSON struct {
	Item          itemJSON        `json:"item"`
	Status        string          `json:"status,omitempty"`
	LeaseUntil    *time.Time      `json:"lease_until,omitempty"`
	Annotation    *annotationJSON `json:"annotation"`
	ConfigVersion int             `json:"config_version"`
	Blocks        []blocks.Block  `json:"blocks"`
	// Suggestions are the models' suggestions for a fresh item; send Shown
	// back with the annotation so that Loupe knows what was suggested.
	Suggestions map[string]annotate.Suggestion `json:"suggestions,omitempty"`
	Shown       string                         `json:"shown,omitempty"`
	// Returned is set when a reviewer sent the annotation back: edit it
	// (base_version) to answer.
	Returned *returnJSON `json:"returned,omitempty"`
}

type returnJSON struct {
	Reviewer string    `json:"reviewer"`
	Comment  string    `json:"comment"`
	At       time.Time `json:"at"`
}

func toTaskJSON(p *annotate.Project, t *annotate.Task) taskJSON {
	out := taskJSON{Item: itemJSON{ID: t.Item.ID, ExternalID: t.Item.ExternalID, Data: t.Item.Data}, Status: t.Status,
		Annotation: toAnnotationJSON(t.Annotation), ConfigVersion: p.ConfigVersion, Blocks: p.Config.Blocks}
	if t.Status == annotate.StatusLeased {
		out.LeaseUntil = &t.LeaseUntil
	}
	if rt := t.Returned; rt != nil {
		out.Returned = &returnJSON{Reviewer: rt.Reviewer, Comment: rt.Comment, At: rt.At}
	}
	return out
}

func (s *Server) apiNext(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanLabel, refuseLabel)
	if !ok {
		return
	}
	task, err := s.store.Next(r.Context(), p, a.User.ID)
	if errors.Is(err, annotate.ErrQueueEmpty) {
		w.WriteHeader(http.StatusNoContent)
		return
	} else if err != nil {
		s.error(w, r, err)
		return
	}
	out := toTaskJSON(p, task)
	if s.cfg.Suggester != nil {
		s.cfg.Suggester.Prefetch(p, a.User.ID)
		out.Suggestions = s.suggestions(r.Context(), p, task.Item, nil, false)
		out.Shown = s.signShown(out.Suggestions)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiItem(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.project(w, r)
	if !ok {
		return
	}
	task, err := s.itemTask(r, p, a)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toTaskJSON(p, task))
}

func (s *Server) apiSubmit(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanLabel, refuseLabel)
	if !ok {
		return
	}
	var req struct {
		Values      map[string]json.RawMessage `json:"values"`
		ClientID    string                     `json:"client_id"`
		BaseVersion int                        `json:"base_version"`
		LeadMS      int64                      `json:"lead_ms"`
		Shown       string                     `json:"shown"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.error(w, r, err)
		return
	}
	if req.Values == nil {
		s.error(w, r, loupe.FieldErrorf("values", "values is required: an object of block name to value"))
		return
	}
	ann, replayed, err := s.store.Submit(r.Context(), p, a, &annotate.Submission{ItemID: urlParam(r, "id"), Values: req.Values,
		ClientID: req.ClientID, BaseVersion: req.BaseVersion, LeadMS: req.LeadMS, Shown: s.readShown(req.Shown)})
	if err != nil {
		s.error(w, r, err)
		return
	}
	if !replayed && s.cfg.Suggester != nil {
		s.cfg.Suggester.Submitted(r.Context(), p, ann)
	}
	status := http.StatusCreated
	if replayed {
		// The same submission again: answer as the first time, write nothing.
		w.Header().Set("Idempotent-Replayed", "true")
		status = http.StatusOK
	}
	writeJSON(w, status, toAnnotationJSON(ann))
}

func (s *Server) apiSkip(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanLabel, refuseLabel)
	if !ok {
		return
	}
	if err := s.store.Skip(r.Context(), p, a.User.ID, urlParam(r, "id")); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiImport imports items from a file in any import format: a multipart
// upload with a "file" part, or the body itself. The format is the
// "format" form field or ?format=, else told from the file's name and
// first bytes (a body's name is its Content-Type's: text/csv is a .csv);
// dedupe likewise. A file with bad lines imports nothing: 422 with every
// bad line and its number.
func (s *Server) apiImport(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanManage, refuseImport)
	if !ok {
		return
	}
	q := r.URL.Query()
	format, dedupe := strings.TrimSpace(q.Get("format")), strings.TrimSpace(q.Get("dedupe"))
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var file *os.File
	var name, fallback string
	var err error
	if ct == "multipart/form-data" {
		var up *upload
		if up, err = s.spoolUpload(r); err == nil {
			file, name = up.File, up.Name
			if v := up.Fields.Get("format"); v != "" {
				format = v
			}
			if v := up.Fields.Get("dedupe"); v != "" {
				dedupe = v
			}
		}
	} else if hint, ok := bodyTypes[ct]; ok {
		name = hint
		if ct == "text/plain" {
			fallback = annotate.FormatText // JSONL sent as text/plain stays JSONL
		}
		file, err = s.spool(r.Body)
	} else {
		err = loupe.Errorf(loupe.EUNSUPPORTED, "send items as a multipart upload or as a body of one of the types %s", strings.Join(sortedKeys(bodyTypes), ", "))
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	defer closeRemove(file)
	if format == "" && bodyTypes[ct] == "items.jsonl" {
		// The body says it is lines: a line that starts with "[" is a
		// bad line, not a JSON array.
		if format, err = detectFormat(file, name, ""); err == nil && format == annotate.FormatJSON {
			format = annotate.FormatJSONL
		}
	}
	res, read, err := s.importUploaded(r, p, file, name, format, fallback, dedupe)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"added": res.Added, "unchanged": res.Unchanged, "predictions": res.Predictions,
		"annotations": res.Annotations, "format": read})
}

// bodyTypes are the Content-Types an import body may have, each with a
// file name that tells its format when ?format= does not.
var bodyTypes = map[string]string{
	"application/x-ndjson":      "items.jsonl",
	"application/jsonl":         "items.jsonl",
	"application/json-lines":    "items.jsonl",
	"application/json":          "items.json",
	"text/csv":                  "items.csv",
	"text/tab-separated-values": "items.tsv",
	"text/plain":                "",
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// apiImportPredictions imports a predictions file for items already in the
// project: a JSONL body (application/x-ndjson, application/jsonl or
// text/plain) or a multipart upload with a "file" part.
func (s *Server) apiImportPredictions(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanManage, refuseImport)
	if !ok {
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var file *os.File
	var err error
	switch ct {
	case "multipart/form-data":
		var up *upload
		if up, err = s.spoolUpload(r); err == nil {
			file = up.File
		}
	case "application/x-ndjson", "application/jsonl", "application/json-lines", "text/plain":
		file, err = s.spool(r.Body)
	default:
		err = loupe.Errorf(loupe.EUNSUPPORTED, "send predictions as JSONL (Content-Type: application/x-ndjson) or as a multipart upload")
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	defer closeRemove(file)
	res, err := s.store.ImportPredictions(r.Context(), p, annotate.NewPredictionDecoder(file))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"added": res.Added, "unchanged": res.Unchanged, "predictions": res.Predictions})
}

type memberJSON struct {
	User    string    `json:"user"`
	Role    string    `json:"role"`
	AddedAt time.Time `json:"added_at"`
}

func (s *Server) apiMembers(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanManage, refuseMembers)
	if !ok {
		return
	}
	ms, err := s.store.Members(r.Context(), p.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	out := make([]memberJSON, len(ms))
	for i, m := range ms {
		out[i] = memberJSON{User: m.UserName, Role: m.Role, AddedAt: m.AddedAt}
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": out})
}

func (s *Server) apiSetMember(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanManage, refuseMembers)
	if !ok {
		return
	}
	var req struct {
		Role string `json:"role"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.store.SetMember(r.Context(), p.ID, urlParam(r, "user"), req.Role); err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"user": urlParam(r, "user"), "role": req.Role})
}

func (s *Server) apiRemoveMember(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanManage, refuseMembers)
	if !ok {
		return
	}
	if err := s.store.RemoveMember(r.Context(), p.ID, urlParam(r, "user")); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
