package web

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/feedback"
)

// labelPage is the labeling page: one item with the project's blocks, or
// the "nothing left" message when Task is nil.
type labelPage struct {
	page
	Project     *annotate.Project
	Access      annotate.Access
	Task        *annotate.Task
	Blocks      template.HTML
	Progress    annotate.Progress
	ClientID    string
	BaseVersion int
	Started     int64
	PrevURL     string
	NextURL     string
	Shortcuts   []blocks.Shortcut
	Scripts     []string // block kinds whose script the page loads
	Shown       string   // signed record of the suggestions shown
	Rerun       string   // blocks whose change asks the models again, space-separated
	Reserved    []blocks.Shortcut
	Error       string
	// Others are the other labelers' answers, shown when the project lets
	// labelers see them and the labeler has given their own.
	Others *answerTable
}

var reservedKeys = []blocks.Shortcut{
	{Key: "Enter", Action: "submit"}, {Key: "s", Action: "skip"},
	{Key: "Backspace / ←", Action: "previous item"}, {Key: "→", Action: "next item (when revisiting)"},
	{Key: "c", Action: "clear the models' suggestions"}, {Key: "r", Action: "ask the models again"},
	{Key: "Tab", Action: "move between controls"}, {Key: "?", Action: "show keys"}, {Key: "Esc", Action: "close this list"},
}

func (s *Server) labelNextPage(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanLabel, refuseLabel)
	if !ok {
		return
	}
	task, err := s.store.Next(r.Context(), p, a.User.ID)
	if errors.Is(err, annotate.ErrQueueEmpty) {
		task, err = nil, nil
	} else if err != nil {
		s.error(w, r, err)
		return
	}
	if task != nil && s.cfg.Suggester != nil {
		s.cfg.Suggester.Prefetch(p, a.User.ID)
	}
	s.renderLabel(w, r, http.StatusOK, p, a, task, nil, nil, "")
}

// itemTask loads an item for the user to view or edit. Labelers may open
// only items the queue gave them; reviewers, managers and admins any item.
func (s *Server) itemTask(r *http.Request, p *annotate.Project, a annotate.Access) (*annotate.Task, error) {
	task, err := s.store.Task(r.Context(), p, a.User.ID, urlParam(r, "id"))
	if err != nil {
		return nil, err
	}
	if task.Status == "" && !a.CanSeeAllItems() {
		return nil, notFoundf("item not found")
	}
	return task, nil
}

func (s *Server) labelItemPage(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.project(w, r)
	if !ok {
		return
	}
	task, err := s.itemTask(r, p, a)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.renderLabel(w, r, http.StatusOK, p, a, task, nil, nil, "")
}

// renderLabel renders the labeling page for task. values, when given, are
// what the labeler submitted (shown again after an error); otherwise the
// current annotation's values are shown.
func (s *Server) renderLabel(w http.ResponseWriter, r *http.Request, status int, p *annotate.Project, a annotate.Access,
	task *annotate.Task, values map[string]json.RawMessage, blockErrs map[string]string, msg string) {
	ctx := r.Context()
	data := &labelPage{page: page{Title: p.Title}, Project: p, Access: a, Task: task, Error: msg,
		ClientID: uuid.NewString(), Started: s.now().UnixMilli(), Reserved: reservedKeys,
		Shortcuts: p.Config.Interface().Shortcuts(), Scripts: s.blocks.Scripts(p.Config.Interface())}
	var err error
	if data.Progress, err = s.store.Progress(ctx, p, a.User.ID); err != nil {
		s.error(w, r, err)
		return
	}
	itemID := ""
	if task != nil {
		itemID = task.Item.ID
		if task.Annotation != nil {
			data.BaseVersion = task.Annotation.Version
			if values == nil {
				values = task.Annotation.Values
			}
		}
		pg := blocks.Page{Data: task.Item.Data, Values: values, Errors: blockErrs, Media: mediaURL(p.Slug), Origins: s.cfg.MediaOrigins}
		// A fresh item shows the models' suggestions pre-filled; an item
		// being edited, or sent back after an error, shows the labeler's
		// own answers.
		if task.Annotation == nil && values == nil {
			if sgs := s.suggestions(ctx, p, task.Item, nil, false); len(sgs) > 0 {
				pg.Values = map[string]json.RawMessage{}
				for block, sg := range sgs {
					pg.Values[block] = sg.Value
				}
				pg.Suggested = suggestedViews(sgs)
				data.Shown = s.signShown(sgs)
			}
		}
		if pc := p.Config.Predictions; pc.Shown() {
			var rerun []string
			for _, m := range pc.Models {
				rerun = append(rerun, m.RerunOn...)
			}
			data.Rerun = strings.Join(rerun, " ")
		}
		if task.Annotation != nil && p.Config.Review != nil && p.Config.Review.LabelersSeeOthers {
			if data.Others, err = s.otherAnswers(r, p, task); err != nil {
				s.error(w, r, err)
				return
			}
		}
		views := blocks.NewViews(p.Config.Interface(), pg)
		if data.Blocks, err = s.blocks.HTML(views); err != nil {
			s.error(w, r, err)
			return
		}
	}
	prev, next, err := s.store.Neighbors(ctx, p.ID, a.User.ID, itemID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	base := "/projects/" + p.Slug
	if prev != "" {
		data.PrevURL = base + "/items/" + prev
	}
	switch {
	case next != "":
		data.NextURL = base + "/items/" + next
	case task != nil && task.Annotation != nil:
		data.NextURL = base + "/label"
	}
	s.render(w, r, status, "label", data)
}

// mediaURL returns the function that turns an item's media path into the
// URL that serves it from the project's media folder.
func mediaURL(slug string) func(string) string {
	return func(p string) string {
		parts := strings.Split(p, "/")
		for i, part := range parts {
			parts[i] = url.PathEscape(part)
		}
		return "/projects/" + slug + "/media/" + strings.Join(parts, "/")
	}
}

// formValues reads the labeling form: one field "b.NAME" per block with a
// value. Blocks whose field does not parse are reported by name.
func formValues(in *blocks.Interface, form map[string][]string) (map[string]json.RawMessage, map[string]string) {
	values := map[string]json.RawMessage{}
	errs := map[string]string{}
	for _, v := range in.Valuers() {
		name := v.Common().Name
		raw, err := v.FormValue(form, "b."+name)
		if err != nil {
			errs[name] = loupe.ErrorMessage(err)
			continue
		}
		if raw != nil {
			values[name] = raw
		}
	}
	return values, errs
}

// leadTime is the time since the page was rendered (its "started" field),
// kept within a day so that a forged or stale value cannot skew figures.
func (s *Server) leadTime(started string) int64 {
	ms, err := strconv.ParseInt(started, 10, 64)
	if err != nil {
		return 0
	}
	lead := s.now().UnixMilli() - ms
	if lead < 0 || lead > int64(24*time.Hour/time.Millisecond) {
		return 0
	}
	return lead
}

func (s *Server) submitForm(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanLabel, refuseLabel)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.error(w, r, formError(err))
		return
	}
	task, err := s.itemTask(r, p, a)
	if err != nil {
		s.error(w, r, err)
		return
	}
	values, blockErrs := formValues(p.Config.Interface(), r.PostForm)
	base, _ := strconv.Atoi(r.PostForm.Get("base_version"))
	if len(blockErrs) > 0 {
		s.renderLabel(w, r, http.StatusUnprocessableEntity, p, a, task, values, blockErrs, "Some answers need attention.")
		return
	}
	sub := &annotate.Submission{ItemID: task.Item.ID, Values: values, BaseVersion: base,
		ClientID: strings.TrimSpace(r.PostForm.Get("client_id")), LeadMS: s.leadTime(r.PostForm.Get("started")),
		Shown: s.readShown(r.PostForm.Get(shownName))}
	ann, replayed, err := s.store.Submit(r.Context(), p, a, sub)
	switch loupe.ErrorCode(err) {
	case "":
	case loupe.EINVALID:
		field := strings.TrimPrefix(loupe.ErrorField(err), "values.")
		s.renderLabel(w, r, http.StatusUnprocessableEntity, p, a, task, values, map[string]string{field: loupe.ErrorMessage(err)}, "Some answers need attention.")
		return
	case loupe.ECONFLICT:
		// Show the labeler's answer again, now based on the current version
		// and with a fresh client id, so that saving it is a deliberate
		// second step.
		why := "This annotation changed since you opened it (" + loupe.ErrorMessage(err) + ")."
		if loupe.ErrorField(err) == "client_id" {
			why = "This page was already submitted once, with other answers."
		}
		s.renderLabel(w, r, http.StatusConflict, p, a, task, values, nil, why+" Your answer is kept below: submit again to save it as the newest version.")
		return
	default:
		s.error(w, r, err)
		return
	}
	if !replayed && s.cfg.Suggester != nil {
		s.cfg.Suggester.Submitted(r.Context(), p, ann)
	}
	next := "/projects/" + p.Slug + "/label"
	if base > 0 {
		// An edit of an earlier item moves forward through the history.
		if _, after, err := s.store.Neighbors(r.Context(), p.ID, a.User.ID, task.Item.ID); err == nil && after != "" {
			next = "/projects/" + p.Slug + "/items/" + after
		}
	}
	s.redirect(w, r, next, "")
}

func (s *Server) skipForm(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanLabel, refuseLabel)
	if !ok {
		return
	}
	if err := s.store.Skip(r.Context(), p, a.User.ID, urlParam(r, "id")); err != nil {
		s.error(w, r, err)
		return
	}
	s.redirect(w, r, "/projects/"+p.Slug+"/label", "Skipped.")
}

// otherAnswers lays out the other labelers' answers to the task's item
// side by side; nil when there are none.
func (s *Server) otherAnswers(r *http.Request, p *annotate.Project, task *annotate.Task) (*answerTable, error) {
	all, err := s.store.ItemAnnotations(r.Context(), task.Item.ID)
	if err != nil {
		return nil, err
	}
	var others []*annotate.Annotation
	for _, a := range all {
		if a.ID != task.Annotation.ID {
			others = append(others, a)
		}
	}
	if len(others) == 0 {
		return nil, nil
	}
	return newAnswerTable(p.Config.Interface(), &feedback.ReviewTask{Answers: others}, nil), nil
}
