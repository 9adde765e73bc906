package web

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/feedback"
)

const refuseReview = "only the project's reviewers and managers may review"

// reviewPage is the reviewer's view of one item: every answer side by side
// with the models' predictions, the feedback it got, and one form for the
// verdict. Task is nil when the queue is empty.
type reviewPage struct {
	page
	Project *annotate.Project
	Task    *feedback.ReviewTask
	Counts  map[string]int
	Table   *answerTable
	Blocks  template.HTML // the editable form, for a fix or the final answer
	Scripts []string
	From    string // the answer the form starts from ("" for the consensus)
	Target  string // the answer the verdict is about
	Comment string
	Error   string
}

// answerTable lays the answers out block by block: one column per labeler
// (and per model prediction), one row per block with a value.
type answerTable struct {
	Columns []answerColumn
	Rows    []answerRow
}

type answerColumn struct {
	Label        string // labeler name, or model and version
	Note         string // "version 2", "fixed by rita", "score 0.82"
	AnnotationID string // "" for a prediction
	Returned     bool
	Prediction   bool
}

type answerRow struct {
	Block    string
	Cells    []string
	Disagree bool // the labelers' answers differ
}

// newAnswerTable builds the side-by-side table of a review task.
func newAnswerTable(in *blocks.Interface, t *feedback.ReviewTask, returned map[string]bool) *answerTable {
	tb := &answerTable{}
	for _, a := range t.Answers {
		note := "version " + strconv.Itoa(a.Version)
		if a.AuthorName != "" {
			note += ", fixed by " + a.AuthorName
		}
		tb.Columns = append(tb.Columns, answerColumn{Label: a.UserName, Note: note, AnnotationID: a.ID, Returned: returned[a.ID]})
	}
	type predKey struct{ model, version string }
	var preds []predKey
	predVals := map[predKey]map[string]annotate.Prediction{}
	for _, p := range t.Predictions {
		k := predKey{p.Model, p.ModelVersion}
		if predVals[k] == nil {
			preds = append(preds, k)
			predVals[k] = map[string]annotate.Prediction{}
		}
		predVals[k][p.Block] = p
	}
	for _, k := range preds {
		label := k.model
		if k.version != "" {
			label += " " + k.version
		}
		tb.Columns = append(tb.Columns, answerColumn{Label: label, Note: "model", Prediction: true})
	}
	for _, v := range in.Valuers() {
		name := v.Common().Name
		row := answerRow{Block: name}
		seen, hasValue := "", false
		for i, a := range t.Answers {
			raw := a.Values[name]
			row.Cells = append(row.Cells, readable(v, raw))
			c := canonicalJSON(raw)
			if i == 0 {
				seen = c
			} else if c != seen {
				row.Disagree = true
			}
			hasValue = hasValue || len(raw) > 0
		}
		for _, k := range preds {
			p, ok := predVals[k][name]
			cell := ""
			if ok {
				cell = readable(v, p.Value)
				if p.Score != nil {
					cell += " (score " + strconv.FormatFloat(*p.Score, 'f', 2, 64) + ")"
				}
				hasValue = true
			}
			row.Cells = append(row.Cells, cell)
		}
		if k, _ := blocks.LookupKind(v.Common().Type); k.Category != blocks.CategoryLabeling {
			row.Disagree = false
		}
		if hasValue {
			tb.Rows = append(tb.Rows, row)
		}
	}
	return tb
}

// readable renders a block's value for people: its flat export cells,
// "—" for none.
func readable(v blocks.Valuer, raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "—"
	}
	cells := v.Flatten(raw)
	parts := make([]string, 0, len(cells))
	for _, c := range cells {
		if c.Value == "" {
			continue
		}
		if c.Suffix != "" {
			parts = append(parts, strings.TrimPrefix(c.Suffix, ".")+": "+c.Value)
		} else {
			parts = append(parts, c.Value)
		}
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, "; ")
}

func canonicalJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var x any
	if json.Unmarshal(raw, &x) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(x)
	return string(b)
}

func (s *Server) reviewNextPage(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseReview)
	if !ok {
		return
	}
	task, err := s.store.NextReview(r.Context(), p, a.User.ID)
	if errors.Is(err, feedback.ErrReviewQueueEmpty) {
		task, err = nil, nil
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.renderReview(w, r, http.StatusOK, p, task, nil, reviewPage{})
}

func (s *Server) reviewItemPage(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseReview)
	if !ok {
		return
	}
	task, err := s.store.ReviewTask(r.Context(), p, urlParam(r, "id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.renderReview(w, r, http.StatusOK, p, task, nil, reviewPage{From: r.URL.Query().Get("from"), Target: r.URL.Query().Get("from")})
}

// renderReview renders the review page. values, when given, are what the
// reviewer sent (shown again after an error); otherwise the form starts
// from the answer named by form.From, the final answer, or the consensus.
func (s *Server) renderReview(w http.ResponseWriter, r *http.Request, status int, p *annotate.Project, task *feedback.ReviewTask,
	values map[string]json.RawMessage, form reviewPage) {
	in := p.Config.Interface()
	data := &form
	data.page, data.Project, data.Task = page{Title: "Review · " + p.Title}, p, task
	var err error
	if data.Counts, err = s.store.StateCounts(r.Context(), p.ID); err != nil {
		s.error(w, r, err)
		return
	}
	if task != nil {
		returned := map[string]bool{}
		for _, rv := range task.Reviews {
			if rv.Verdict == feedback.VerdictReject {
				returned[rv.AnnotationID] = task.State == feedback.StateRejected
			}
		}
		data.Table = newAnswerTable(in, task, returned)
		if values == nil {
			values = startingValues(in, task, form.From)
		}
		pg := blocks.Page{Data: task.Item.Data, Values: values, Media: mediaURL(p.Slug), Origins: s.cfg.MediaOrigins}
		if data.Blocks, err = s.blocks.HTML(blocks.NewViews(in, pg)); err != nil {
			s.error(w, r, err)
			return
		}
		data.Scripts = s.blocks.Scripts(in)
		if data.Target == "" && len(task.Answers) > 0 {
			data.Target = task.Answers[0].ID
		}
	}
	s.render(w, r, status, "review", data)
}

// startingValues are what the review form shows first: the named answer,
// else the adjudicated final answer, else each block's most common answer,
// else the model's prediction.
func startingValues(in *blocks.Interface, t *feedback.ReviewTask, from string) map[string]json.RawMessage {
	for _, a := range t.Answers {
		if a.ID == from {
			return a.Values
		}
	}
	if t.Final != nil {
		return t.Final
	}
	answers := make([]map[string]json.RawMessage, len(t.Answers))
	for i, a := range t.Answers {
		answers[i] = a.Values
	}
	out := map[string]json.RawMessage{}
	for _, v := range in.Valuers() {
		name := v.Common().Name
		if c, ok := feedback.Consensus(answers, name); ok {
			out[name] = c
			continue
		}
		for _, p := range t.Predictions {
			if p.Block == name {
				out[name] = p.Value
			}
		}
	}
	return out
}

// reviewForm takes a verdict from the review page.
func (s *Server) reviewForm(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseReview)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.error(w, r, formError(err))
		return
	}
	form := reviewPage{Target: r.PostForm.Get("annotation"), Comment: r.PostForm.Get("comment")}
	rv := &feedback.Review{ItemID: urlParam(r, "id"), Verdict: r.PostForm.Get("verdict"), Comment: strings.TrimSpace(form.Comment)}
	var values map[string]json.RawMessage
	switch rv.Verdict {
	case feedback.VerdictReject, feedback.VerdictFix:
		rv.AnnotationID = form.Target
	}
	if rv.Verdict == feedback.VerdictFix || rv.Verdict == feedback.VerdictAdjudicate {
		var blockErrs map[string]string
		values, blockErrs = formValues(p.Config.Interface(), r.PostForm)
		if len(blockErrs) > 0 {
			for name, msg := range blockErrs {
				form.Error += name + ": " + msg + " "
			}
			s.reviewAgain(w, r, p, rv.ItemID, values, form, http.StatusUnprocessableEntity)
			return
		}
		rv.Values = values
	}
	_, err := s.store.SubmitReview(r.Context(), p, a.User, rv, r.PostForm.Get("revision"))
	switch loupe.ErrorCode(err) {
	case "":
	case loupe.EINVALID, loupe.ECONFLICT:
		form.Error = loupe.ErrorMessage(err)
		if loupe.ErrorCode(err) == loupe.ECONFLICT {
			// Start again from what is stored now.
			form.Error += " The page now shows the current answers."
			values = nil
		}
		s.reviewAgain(w, r, p, rv.ItemID, values, form, errorStatus(loupe.ErrorCode(err)))
		return
	default:
		s.error(w, r, err)
		return
	}
	done := map[string]string{feedback.VerdictApprove: "Approved.", feedback.VerdictReject: "Sent back to the labeler.",
		feedback.VerdictFix: "Fixed and approved.", feedback.VerdictAdjudicate: "Final answer saved."}
	s.redirect(w, r, "/projects/"+p.Slug+"/review", done[rv.Verdict])
}

// reviewAgain shows the item's review page again with the reviewer's input
// and what was wrong.
func (s *Server) reviewAgain(w http.ResponseWriter, r *http.Request, p *annotate.Project, itemID string, values map[string]json.RawMessage, form reviewPage, status int) {
	task, err := s.store.ReviewTask(r.Context(), p, itemID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.renderReview(w, r, status, p, task, values, form)
}

// API

type reviewJSON struct {
	ID         string                     `json:"id"`
	Verdict    string                     `json:"verdict"`
	Annotation string                     `json:"annotation_id,omitempty"`
	Reviewer   string                     `json:"reviewer"`
	Comment    string                     `json:"comment,omitempty"`
	Values     map[string]json.RawMessage `json:"values,omitempty"`
	CreatedAt  time.Time                  `json:"created_at"`
}

func toReviewJSON(r *feedback.Review) reviewJSON {
	return reviewJSON{ID: r.ID, Verdict: r.Verdict, Annotation: r.AnnotationID, Reviewer: r.ReviewerName, Comment: r.Comment,
		Values: r.Values, CreatedAt: r.CreatedAt}
}

type predictionJSON struct {
	ID        string          `json:"id"`
	Block     string          `json:"block"`
	Value     json.RawMessage `json:"value"`
	Score     *float64        `json:"score,omitempty"`
	Model     string          `json:"model"`
	Version   string          `json:"version"`
	Source    string          `json:"source"`
	CreatedAt time.Time       `json:"created_at"`
}

func toPredictionsJSON(ps []annotate.Prediction) []predictionJSON {
	out := make([]predictionJSON, len(ps))
	for i, p := range ps {
		out[i] = predictionJSON{ID: p.ID, Block: p.Block, Value: p.Value, Score: p.Score, Model: p.Model, Version: p.ModelVersion,
			Source: p.Source, CreatedAt: p.CreatedAt}
	}
	return out
}

type reviewTaskJSON struct {
	Item        itemJSON                   `json:"item"`
	State       string                     `json:"state"`
	Reason      string                     `json:"reason,omitempty"`
	Origin      string                     `json:"origin"`
	Revision    string                     `json:"revision"`
	LeaseUntil  *time.Time                 `json:"lease_until,omitempty"`
	Answers     []*annotationJSON          `json:"answers"`
	Predictions []predictionJSON           `json:"predictions"`
	Reviews     []reviewJSON               `json:"reviews"`
	Feedback    []*feedback.Event          `json:"feedback"`
	Final       map[string]json.RawMessage `json:"final,omitempty"`
}

func toReviewTaskJSON(t *feedback.ReviewTask) reviewTaskJSON {
	out := reviewTaskJSON{Item: itemJSON{ID: t.Item.ID, ExternalID: t.Item.ExternalID, Data: t.Item.Data}, State: t.State, Reason: t.Reason,
		Origin: t.Origin, Revision: t.Revision, Answers: []*annotationJSON{}, Predictions: toPredictionsJSON(t.Predictions),
		Reviews: []reviewJSON{}, Feedback: t.Feedback, Final: t.Final}
	if out.Feedback == nil {
		out.Feedback = []*feedback.Event{}
	}
	if !t.LeaseUntil.IsZero() {
		out.LeaseUntil = &t.LeaseUntil
	}
	for _, a := range t.Answers {
		out.Answers = append(out.Answers, toAnnotationJSON(a))
	}
	for _, r := range t.Reviews {
		out.Reviews = append(out.Reviews, toReviewJSON(r))
	}
	return out
}

func (s *Server) apiReviewNext(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseReview)
	if !ok {
		return
	}
	task, err := s.store.NextReview(r.Context(), p, a.User.ID)
	if errors.Is(err, feedback.ErrReviewQueueEmpty) {
		w.WriteHeader(http.StatusNoContent)
		return
	} else if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toReviewTaskJSON(task))
}

func (s *Server) apiReviewItem(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseReview)
	if !ok {
		return
	}
	task, err := s.store.ReviewTask(r.Context(), p, urlParam(r, "id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toReviewTaskJSON(task))
}

func (s *Server) apiSubmitReview(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseReview)
	if !ok {
		return
	}
	var req struct {
		Verdict    string                     `json:"verdict"`
		Annotation string                     `json:"annotation_id"`
		Comment    string                     `json:"comment"`
		Values     map[string]json.RawMessage `json:"values"`
		Revision   string                     `json:"revision"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.error(w, r, err)
		return
	}
	rv := &feedback.Review{ItemID: urlParam(r, "id"), Verdict: req.Verdict, AnnotationID: req.Annotation,
		Comment: strings.TrimSpace(req.Comment), Values: req.Values}
	out, err := s.store.SubmitReview(r.Context(), p, a.User, rv, req.Revision)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toReviewJSON(out))
}
