package web

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/export"
	"github.com/loupehq/loupe/feedback"
)

// Exports, three ways:
//
//   - a streamed download of a single-file format (GET …/export?format=F
//     with filters), for scripts and the quick case: the first bytes
//     leave at once and memory stays flat;
//   - export jobs (the export page, POST /api/v1/projects/{slug}/exports)
//     for everything, splits, folders and snapshots: they run in the
//     background (exportjobs.go) and are downloaded when done;
//   - a snapshot exported again, streamed as a zip, byte for byte the zip
//     its job gave.

// exportDownload serves GET /projects/{slug}/export: the export page, or,
// when a format is given, the streamed download (the page's old link).
func (s *Server) exportDownload(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("format") {
		s.streamExport(w, r)
		return
	}
	s.exportPage(w, r)
}

// apiExport serves GET /api/v1/projects/{slug}/export?format=jsonl.
func (s *Server) apiExport(w http.ResponseWriter, r *http.Request) { s.streamExport(w, r) }

// streamExport writes the project's annotated items as they are read, in
// a single-file format with the filters and aggregation of the query, so
// the first bytes leave at once and memory stays flat however large the
// project. An error after the first byte aborts the response, so that a
// cut-off file is never mistaken for a complete one.
func (s *Server) streamExport(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanExport, refuseExport)
	if !ok {
		return
	}
	spec, snapshot, err := specFromValues(r.URL.Query())
	switch {
	case err != nil:
	case snapshot != "":
		err = loupe.FieldErrorf("snapshot", "a snapshot is made by an export job: POST /api/v1/projects/%s/exports, or the export page", p.Slug)
	case spec.Split != nil:
		err = loupe.FieldErrorf("split", "a split writes one file per part: start an export job (POST /api/v1/projects/%s/exports, or the export page)", p.Slug)
	}
	var format *export.Format
	if err == nil {
		format, err = spec.Check(p.Config.Interface())
	}
	if err == nil && !format.Single {
		err = loupe.FieldErrorf("format", "the %s format writes several files: start an export job (POST /api/v1/projects/%s/exports, or the export page)", format.Name, p.Slug)
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	what := map[string]any{"what": "annotations", "format": format.Name}
	if f := spec.Filter.String(); f != (&export.Filter{}).String() {
		what["filter"] = f
	}
	s.stream(w, r, p, p.Slug, format, what, func(w io.Writer, flush func()) (int, error) {
		sink := export.NewStreamSink(w)
		m, err := s.store.Export(r.Context(), p, spec, export.Target{Sink: sink, Progress: func(int) {
			sink.Flush()
			flush()
		}})
		if err != nil {
			return 0, err
		}
		return m.Rows, sink.Close()
	})
}

// stream sends a download as it is written, so the first bytes leave at
// once and memory stays flat however large the project, and records the
// export in the project's history once it is complete ("records" joins
// what). An error after the first byte aborts the response, so that a
// cut-off file is never mistaken for a complete one.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, p *annotate.Project, name string, format *export.Format, what map[string]any,
	write func(w io.Writer, flush func()) (int, error)) {
	file := fmt.Sprintf("%s-%s.%s", name, s.now().UTC().Format("20060102-150405"), format.Ext)
	s.streamFile(w, r, p, file, format.ContentType, what, write)
}

// streamFile is stream with the file's name and type given.
func (s *Server) streamFile(w http.ResponseWriter, r *http.Request, p *annotate.Project, file, contentType string, what map[string]any,
	write func(w io.Writer, flush func()) (int, error)) {
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // a large export may take longer than the server's write timeout
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", attachment(file))
	h.Set("Cache-Control", "no-store")
	cw := &countWriter{w: w}
	sent := false
	n, err := write(cw, func() {
		sent = true
		rc.Flush()
	})
	if err != nil && !sent && cw.n == 0 {
		s.error(w, r, err)
		return
	} else if err != nil {
		s.logger(r).Error("export failed", "project", p.Slug, "records", n, "err", err)
		panic(http.ErrAbortHandler)
	}
	what["records"] = n
	if err := s.store.RecordExport(r.Context(), p.ID, what); err != nil {
		// The file is sent; failing to record it must not pass silently.
		s.logger(r).Error("recording an export in the history failed", "project", p.Slug, "err", err)
	}
}

// attachment is a Content-Disposition that downloads a file; names are
// made of slugs, snapshot names and times, which need no quoting.
func attachment(name string) string { return fmt.Sprintf(`attachment; filename="%s"`, name) }

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// specParams are the parameters that say what an export holds, as the
// export page's form and the streamed download's query string name them.
var specParams = []string{"format", "state", "reviewed", "flagged", "labeler", "since", "until", "min_agreement", "has_feedback",
	"aggregate", "split", "seed", "stratify", "snapshot"}

// paramError is a malformed parameter: 400, naming it.
type paramError struct{ e *loupe.Error }

func (p *paramError) Error() string   { return errBadRequest.Error() + ": " + p.e.Message }
func (p *paramError) Unwrap() []error { return []error{errBadRequest, p.e} }

func badParam(name, format string, args ...any) error {
	return &paramError{loupe.FieldErrorf(name, format, args...)}
}

// asParamError makes a parse error naming a field a 400.
func asParamError(err error) error {
	var e *loupe.Error
	if errors.As(err, &e) {
		return &paramError{e}
	}
	return err
}

// specFromValues reads an export spec and a snapshot name from a form or
// a query string. Values that cannot be read (an unknown parameter, a
// date, a number or a yes/no that is not one) are 400 errors naming the
// parameter; whether the spec fits the project is for spec.Check.
func specFromValues(q url.Values) (export.Spec, string, error) {
	var spec export.Spec
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !slices.Contains(specParams, k) {
			return spec, "", badParam(k, "unknown parameter %q; the parameters are %s", k, strings.Join(specParams, ", "))
		}
	}
	spec.Format = strings.TrimSpace(q.Get("format"))
	if spec.Format == "" {
		spec.Format = "jsonl"
	}
	spec.Aggregate = strings.TrimSpace(q.Get("aggregate"))
	f := &spec.Filter
	f.States = listParam(q["state"])
	f.Labelers = listParam(q["labeler"])
	var err error
	for _, b := range []struct {
		name string
		to   *bool
	}{{"reviewed", &f.Reviewed}, {"flagged", &f.Flagged}, {"has_feedback", &f.HasFeedback}} {
		if *b.to, err = boolParam(q, b.name); err != nil {
			return spec, "", err
		}
	}
	if f.Since, err = parseDay(strings.TrimSpace(q.Get("since")), "since", false); err != nil {
		return spec, "", asParamError(err)
	}
	if f.Until, err = parseDay(strings.TrimSpace(q.Get("until")), "until", false); err != nil {
		return spec, "", asParamError(err)
	}
	if v := strings.TrimSpace(q.Get("min_agreement")); v != "" {
		if f.MinAgreement, err = strconv.ParseFloat(v, 64); err != nil {
			return spec, "", badParam("min_agreement", "min_agreement must be a number from 0 to 1, got %q", v)
		}
	}
	var seed int64
	seedText := strings.TrimSpace(q.Get("seed"))
	if seedText != "" {
		if seed, err = strconv.ParseInt(seedText, 10, 64); err != nil {
			return spec, "", badParam("seed", "seed must be a whole number, got %q", seedText)
		}
	}
	if err := setSplit(&spec, strings.TrimSpace(q.Get("split")), seed, seedText != "" && seed != 0, strings.TrimSpace(q.Get("stratify"))); err != nil {
		return spec, "", err
	}
	return spec, strings.TrimSpace(q.Get("snapshot")), nil
}

// setSplit parses a split ("train=0.8,test=0.2") into spec.
func setSplit(spec *export.Spec, split string, seed int64, seedGiven bool, stratify string) error {
	if split == "" {
		if stratify != "" {
			return loupe.FieldErrorf("stratify", "stratify needs a split (e.g. train=0.8,test=0.2)")
		}
		if seedGiven {
			return loupe.FieldErrorf("seed", "a seed needs a split (e.g. train=0.8,test=0.2)")
		}
		return nil
	}
	parts, err := export.ParseSplit(split)
	if err != nil {
		return err
	}
	spec.Split = &export.Split{Parts: parts, Seed: seed, Stratify: stratify}
	return nil
}

// listParam reads repeated and comma-separated values.
func listParam(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	return out
}

func boolParam(q url.Values, name string) (bool, error) {
	switch v := strings.ToLower(strings.TrimSpace(q.Get(name))); v {
	case "", "0", "false", "no", "off":
		return false, nil
	case "1", "true", "yes", "on":
		return true, nil
	default:
		return false, badParam(name, "%s must be true or false, got %q", name, v)
	}
}

// exportRequest is the body of POST /api/v1/projects/{slug}/exports.
type exportRequest struct {
	Format    string           `json:"format"`
	Filter    exportFilterJSON `json:"filter"`
	Aggregate string           `json:"aggregate"`
	Split     string           `json:"split"`
	Seed      int64            `json:"seed"`
	Stratify  string           `json:"stratify"`
	Snapshot  string           `json:"snapshot"`
}

// exportFilterJSON is export.Filter with days allowed for the dates.
type exportFilterJSON struct {
	States       []string `json:"states"`
	Reviewed     bool     `json:"reviewed"`
	Flagged      bool     `json:"flagged"`
	Labelers     []string `json:"labelers"`
	Since        string   `json:"since"`
	Until        string   `json:"until"`
	MinAgreement float64  `json:"min_agreement"`
	HasFeedback  bool     `json:"has_feedback"`
}

func (req *exportRequest) spec() (export.Spec, error) {
	spec := export.Spec{Format: strings.TrimSpace(req.Format), Aggregate: req.Aggregate}
	if spec.Format == "" {
		spec.Format = "jsonl"
	}
	in := req.Filter
	spec.Filter = export.Filter{States: in.States, Reviewed: in.Reviewed, Flagged: in.Flagged, Labelers: in.Labelers,
		MinAgreement: in.MinAgreement, HasFeedback: in.HasFeedback}
	var err error
	if spec.Filter.Since, err = parseDay(strings.TrimSpace(in.Since), "since", false); err != nil {
		return spec, err
	}
	if spec.Filter.Until, err = parseDay(strings.TrimSpace(in.Until), "until", false); err != nil {
		return spec, err
	}
	return spec, setSplit(&spec, strings.TrimSpace(req.Split), req.Seed, req.Seed != 0, strings.TrimSpace(req.Stratify))
}

// startExport checks an export against the project and starts its job.
// Nothing starts when the spec is wrong (EINVALID naming the field), the
// snapshot name is taken (ECONFLICT) or too many jobs wait (ERATELIMIT).
func (s *Server) startExport(r *http.Request, p *annotate.Project, spec export.Spec, snapshot string) (*exportJob, error) {
	format, err := spec.Check(p.Config.Interface())
	if err != nil {
		return nil, err
	}
	if snapshot != "" {
		if err := export.CheckSnapshotName(snapshot); err != nil {
			return nil, err
		}
		taken := s.jobs.pendingSnapshot(p.ID, snapshot)
		if !taken {
			snaps, err := s.store.Snapshots(r.Context(), p.ID)
			if err != nil {
				return nil, err
			}
			taken = slices.ContainsFunc(snaps, func(si *export.SnapshotInfo) bool { return si.Name == snapshot })
		}
		if taken {
			return nil, &loupe.Error{Code: loupe.ECONFLICT, Field: "snapshot",
				Message: fmt.Sprintf("snapshot %q already exists in this project; download it again from its link, or choose another name", snapshot)}
		}
	}
	j := newJob(p.ID, p.Slug, format, spec, snapshot, currentUser(r), s.now(),
		func(ctx context.Context, sink export.Sink, progress func(int)) (*export.Manifest, error) {
			return s.store.Export(ctx, p, spec, export.Target{Sink: sink, Progress: progress, Snapshot: snapshot})
		})
	if snapshot == "" { // a snapshot records itself
		j.after = func(ctx context.Context, m *export.Manifest) {
			what := map[string]any{"what": "annotations", "format": format.Name, "records": m.Rows, "items": m.Items, "job": j.ID,
				"files": m.Files}
			if f := spec.Filter.String(); f != (&export.Filter{}).String() {
				what["filter"] = f
			}
			if err := s.store.RecordExport(ctx, p.ID, what); err != nil {
				s.logger(r).Error("recording an export in the history failed", "project", p.Slug, "job", j.ID, "err", err)
			}
		}
	}
	if err := s.jobs.start(j); err != nil {
		return nil, err
	}
	return j, nil
}

// Export page.

type formatView struct {
	*export.Format
	Unfit string // why the format does not fit the project; "" when it does
}

type aggregationView struct{ Name, Doc string }

var aggregationDocs = map[string]string{
	export.AggregateEvery:    "one row per annotation",
	export.AggregateMajority: "per block, the value most labelers gave (ties are left out and counted)",
	export.AggregateFinal:    "what reviewers decided: the adjudicated answer, or an approved item's answer",
	export.AggregateLatest:   "the annotation changed last",
}

type jobView struct {
	ID        string
	Status    string
	Format    string
	Snapshot  string
	By        string
	CreatedAt time.Time
	ItemsRead int64
	Error     string
	Counts    string // the manifest's counts, in words
	StatusURL string
	Download  string // the page's download link
}

type snapshotView struct {
	Name      string
	Format    string
	CreatedAt time.Time
	CreatedBy string
	Items     int
	Rows      int
	Counts    string
	Download  string
}

type exportPage struct {
	page
	Project      *annotate.Project
	Formats      []formatView
	Aggregations []aggregationView
	States       []string
	Blocks       []string
	Form         url.Values
	Error        string
	ErrorField   string
	Jobs         []jobView
	Pending      bool // a job is queued or running: the page polls
	Snapshots    []snapshotView
}

// Get returns a form value.
func (p *exportPage) Get(name string) string { return p.Form.Get(name) }

// Selected reports whether a form field holds the value (a checked box, a
// selected option).
func (p *exportPage) Selected(name, value string) bool {
	return slices.Contains(listParam(p.Form[name]), value)
}

// Checked reports whether a yes/no field is set.
func (p *exportPage) Checked(name string) bool {
	v, _ := boolParam(p.Form, name)
	return v
}

// Invalid reports whether the error is about the field.
func (p *exportPage) Invalid(name string) bool { return p.ErrorField == name }

func (s *Server) exportPage(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanExport, refuseExport)
	if !ok {
		return
	}
	form := r.URL.Query() // a link may fill in the form
	if !form.Has("aggregate") {
		form.Set("aggregate", export.AggregateMajority)
	}
	form.Set("format", "jsonl")
	s.renderExport(w, r, http.StatusOK, p, form, nil)
}

// renderExport shows the export page with the form as it was filled in
// and, when the form was refused, its error beside it.
func (s *Server) renderExport(w http.ResponseWriter, r *http.Request, status int, p *annotate.Project, form url.Values, formErr error) {
	in := p.Config.Interface()
	data := &exportPage{page: page{Title: "Export · " + p.Title}, Project: p, States: feedback.States, Form: form}
	for _, name := range export.Formats() {
		f, _ := export.LookupFormat(name)
		v := formatView{Format: f}
		if f.Check != nil {
			if err := f.Check(in); err != nil {
				v.Unfit = loupe.ErrorMessage(err)
			}
		}
		data.Formats = append(data.Formats, v)
	}
	for _, a := range export.Aggregations {
		data.Aggregations = append(data.Aggregations, aggregationView{a, aggregationDocs[a]})
	}
	for _, v := range in.Valuers() {
		data.Blocks = append(data.Blocks, v.Common().Name)
	}
	if formErr != nil {
		data.Error, data.ErrorField = loupe.ErrorMessage(formErr), loupe.ErrorField(formErr)
	}
	for _, j := range s.jobs.list(p.ID) {
		v := s.jobView(j)
		data.Pending = data.Pending || v.Status == jobQueued || v.Status == jobRunning
		data.Jobs = append(data.Jobs, v)
	}
	snaps, err := s.store.Snapshots(r.Context(), p.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	for _, si := range snaps {
		v := snapshotView{Name: si.Name, Format: si.Spec.Format, CreatedAt: si.CreatedAt, CreatedBy: si.CreatedBy,
			Download: "/projects/" + p.Slug + "/snapshots/" + url.PathEscape(si.Name) + "/download"}
		var m export.Manifest
		if json.Unmarshal(si.Manifest, &m) == nil {
			v.Items, v.Rows, v.Counts = m.Items, m.Rows, manifestCounts(&m)
		}
		data.Snapshots = append(data.Snapshots, v)
	}
	s.render(w, r, status, "export", data)
}

func (s *Server) jobView(j *exportJob) jobView {
	st := j.state()
	v := jobView{ID: j.ID, Status: st.Status, Format: j.Format.Name, Snapshot: j.Snapshot, CreatedAt: j.CreatedAt,
		ItemsRead: st.ItemsRead, Error: st.Error, StatusURL: jobAPIPath(j)}
	if j.By != nil {
		v.By = j.By.Name
	}
	if st.Status == jobDone {
		v.Counts = manifestCounts(st.Manifest)
		v.Download = "/projects/" + j.Slug + "/exports/" + j.ID + "/download"
	}
	return v
}

func jobAPIPath(j *exportJob) string { return "/api/v1/projects/" + j.Slug + "/exports/" + j.ID }

// manifestCounts says in words what an export holds: "120 items, 120 rows
// (train 96, validation 12, test 12)".
func manifestCounts(m *export.Manifest) string {
	out := fmt.Sprintf("%d items, %d rows", m.Items, m.Rows)
	if m.Spec.Split != nil {
		var parts []string
		for _, name := range m.Spec.Split.Names() {
			if c := m.Splits[name]; c != nil {
				parts = append(parts, fmt.Sprintf("%s %d", name, c.Rows))
			}
		}
		out += " (" + strings.Join(parts, ", ") + ")"
	}
	var skipped int
	for _, n := range m.Skipped {
		skipped += n
	}
	if skipped > 0 {
		out += fmt.Sprintf(", %d skipped", skipped)
	}
	return out
}

// startExportForm starts an export job from the export page and goes back
// to it, where the job shows; a refused form is shown again with its
// error beside the field.
func (s *Server) startExportForm(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanExport, refuseExport)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.error(w, r, formError(err))
		return
	}
	spec, snapshot, err := specFromValues(r.PostForm)
	var j *exportJob
	if err == nil {
		j, err = s.startExport(r, p, spec, snapshot)
	}
	if err != nil {
		if c := loupe.ErrorCode(err); errors.Is(err, errBadRequest) || c == loupe.EINVALID || c == loupe.ECONFLICT || c == loupe.ERATELIMIT {
			s.renderExport(w, r, formStatus(err), p, r.PostForm, err)
			return
		}
		s.error(w, r, err)
		return
	}
	msg := "Export started."
	if snapshot != "" {
		msg = fmt.Sprintf("Export started; it records the snapshot %q.", snapshot)
	}
	s.redirect(w, r, "/projects/"+p.Slug+"/export#job-"+j.ID, msg)
}

// formStatus is the status of a refused form: 400 for a value that
// cannot be read, else the error code's.
func formStatus(err error) int {
	if errors.Is(err, errBadRequest) {
		return http.StatusBadRequest
	}
	return errorStatus(loupe.ErrorCode(err))
}

// JSON API of export jobs and snapshots.

type exportJobJSON struct {
	ID          string           `json:"id"`
	Status      string           `json:"status"`
	Format      string           `json:"format"`
	Snapshot    string           `json:"snapshot,omitempty"`
	CreatedBy   string           `json:"created_by"`
	CreatedAt   time.Time        `json:"created_at"`
	StartedAt   *time.Time       `json:"started_at,omitempty"`
	FinishedAt  *time.Time       `json:"finished_at,omitempty"`
	ExpiresAt   *time.Time       `json:"expires_at,omitempty"`
	ItemsRead   int64            `json:"items_read"`
	Manifest    *export.Manifest `json:"manifest,omitempty"`
	Error       string           `json:"error,omitempty"`
	StatusURL   string           `json:"status_url"`
	DownloadURL string           `json:"download_url,omitempty"`
}

func jobJSON(j *exportJob) exportJobJSON {
	st := j.state()
	out := exportJobJSON{ID: j.ID, Status: st.Status, Format: j.Format.Name, Snapshot: j.Snapshot, CreatedAt: j.CreatedAt,
		ItemsRead: st.ItemsRead, Manifest: st.Manifest, Error: st.Error, StatusURL: jobAPIPath(j)}
	if j.By != nil {
		out.CreatedBy = j.By.Name
	}
	if !st.Started.IsZero() {
		out.StartedAt = &st.Started
	}
	if !st.Finished.IsZero() {
		out.FinishedAt = &st.Finished
		exp := st.Finished.Add(exportJobTTL)
		out.ExpiresAt = &exp
	}
	if st.Status == jobDone {
		out.DownloadURL = jobAPIPath(j) + "/download"
	}
	return out
}

// apiStartExport serves POST /api/v1/projects/{slug}/exports: 202 with the
// job, whose status_url tells how it goes.
func (s *Server) apiStartExport(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanExport, refuseExport)
	if !ok {
		return
	}
	var req exportRequest
	if err := decodeJSON(r, &req); err != nil {
		s.error(w, r, err)
		return
	}
	spec, err := req.spec()
	var j *exportJob
	if err == nil {
		j, err = s.startExport(r, p, spec, strings.TrimSpace(req.Snapshot))
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Location", jobAPIPath(j))
	writeJSON(w, http.StatusAccepted, jobJSON(j))
}

// apiExportJobs lists the project's export jobs, newest first.
func (s *Server) apiExportJobs(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanExport, refuseExport)
	if !ok {
		return
	}
	out := []exportJobJSON{}
	for _, j := range s.jobs.list(p.ID) {
		out = append(out, jobJSON(j))
	}
	writeJSON(w, http.StatusOK, map[string]any{"exports": out})
}

// apiExportJob reports one job.
func (s *Server) apiExportJob(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanExport, refuseExport)
	if !ok {
		return
	}
	j, err := s.jobs.get(p.ID, urlParam(r, "id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, jobJSON(j))
}

// jobDownload serves a finished job's files: its one file as it is, or a
// zip of its folder (manifest.json included). 409 while it runs or when
// it failed.
func (s *Server) jobDownload(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanExport, refuseExport)
	if !ok {
		return
	}
	j, err := s.jobs.get(p.ID, urlParam(r, "id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	st := j.state()
	switch st.Status {
	case jobQueued, jobRunning:
		s.error(w, r, loupe.Errorf(loupe.ECONFLICT, "the export is still running (%d items read); download it when its status is done", st.ItemsRead))
		return
	case jobFailed:
		s.error(w, r, loupe.Errorf(loupe.ECONFLICT, "the export failed: %s", st.Error))
		return
	}
	dir := s.jobs.folder(j)
	stamp := st.Manifest.CreatedAt.UTC().Format("20060102-150405")
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if j.single() {
		name := export.FileName("", j.Format.Ext)
		f, err := os.Open(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			s.error(w, r, notFoundf("the export's files are gone; start it again"))
			return
		} else if err != nil {
			s.error(w, r, fmt.Errorf("export download: %w", err))
			return
		}
		defer f.Close()
		h.Set("Content-Type", j.Format.ContentType)
		h.Set("Content-Disposition", attachment(fmt.Sprintf("%s-%s.%s", j.Slug, stamp, j.Format.Ext)))
		http.ServeContent(w, r, "", st.Manifest.CreatedAt, f)
		return
	}
	if _, err := os.Stat(dir); err != nil {
		s.error(w, r, notFoundf("the export's files are gone; start it again"))
		return
	}
	file := fmt.Sprintf("%s-%s.zip", j.Slug, stamp)
	if j.Snapshot != "" {
		file = j.Slug + "-" + j.Snapshot + ".zip"
	}
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", attachment(file))
	if err := export.WriteZip(w, dir, st.Files, st.Manifest.CreatedAt); err != nil {
		s.logger(r).Error("export download failed", "project", j.Slug, "job", j.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// apiSnapshots lists the project's snapshots, newest first.
func (s *Server) apiSnapshots(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanExport, refuseExport)
	if !ok {
		return
	}
	snaps, err := s.store.Snapshots(r.Context(), p.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	type snapshotJSON struct {
		*export.SnapshotInfo
		DownloadURL string `json:"download_url"`
	}
	out := make([]snapshotJSON, len(snaps))
	for i, si := range snaps {
		out[i] = snapshotJSON{si, "/api/v1/projects/" + p.Slug + "/snapshots/" + url.PathEscape(si.Name) + "/download"}
	}
	writeJSON(w, http.StatusOK, map[string]any{"snapshots": out})
}

// snapshotDownload exports a snapshot again and streams it as a zip: the
// files it pinned and its manifest.json, byte for byte the zip its job
// gave, whatever was annotated since.
func (s *Server) snapshotDownload(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanExport, refuseExport)
	if !ok {
		return
	}
	name := urlParam(r, "name")
	snaps, err := s.store.Snapshots(r.Context(), p.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	i := slices.IndexFunc(snaps, func(si *export.SnapshotInfo) bool { return si.Name == name })
	if i < 0 {
		s.error(w, r, notFoundf("no snapshot named %q in this project", name))
		return
	}
	var recorded export.Manifest
	if err := json.Unmarshal(snaps[i].Manifest, &recorded); err != nil {
		s.error(w, r, fmt.Errorf("snapshot %s manifest: %w", name, err))
		return
	}
	what := map[string]any{"what": "annotations", "format": snaps[i].Spec.Format, "snapshot": name, "again": true}
	s.streamFile(w, r, p, p.Slug+"-"+name+".zip", "application/zip", what, func(w io.Writer, flush func()) (int, error) {
		z := newZipStream(w, recorded.CreatedAt, s.cfg.TempDir)
		m, err := s.store.ExportSnapshot(r.Context(), p, name, export.Target{Sink: z, Progress: func(int) {
			z.Flush()
			flush()
		}})
		if err == nil {
			err = export.WriteManifest(z, m)
		}
		if err == nil {
			err = z.Close()
		}
		if err != nil {
			z.Abort()
			return 0, err
		}
		return m.Rows, nil
	})
}

// zipStream is a Sink that writes an export's files into a zip archive as
// they are written, so that a download starts at once. Its entries are in
// the order the files were created, each stamped with modTime, like the
// zip of a job's folder, so that the same export makes the same bytes
// either way. A zip holds one open entry at a time: a file created while
// another is being written waits in a temporary file for its turn, so
// memory stays flat.
type zipStream struct {
	zw      *zip.Writer
	modTime time.Time
	tempDir string
	queue   []*zipEntry // created and not yet all in the archive; the head may be live
	done    []export.File
	names   map[string]bool
	err     error
}

type zipEntry struct {
	z      *zipStream
	name   string
	h      hash.Hash
	n      int64
	spool  *os.File  // holds what is written before the entry's turn
	live   io.Writer // the archive's entry, once its turn came
	closed bool
}

func newZipStream(w io.Writer, modTime time.Time, tempDir string) *zipStream {
	return &zipStream{zw: zip.NewWriter(w), modTime: modTime.UTC(), tempDir: tempDir, names: map[string]bool{}}
}

func (z *zipStream) fail(err error) error {
	if z.err == nil {
		z.err = err
	}
	return z.err
}

// Create opens a new file of the export.
func (z *zipStream) Create(name string) (io.WriteCloser, error) {
	if z.err != nil {
		return nil, z.err
	}
	if !fs.ValidPath(name) || name == "." {
		return nil, fmt.Errorf("export file name %q is not a plain relative path", name)
	}
	if z.names[name] {
		return nil, fmt.Errorf("export file %s written twice", name)
	}
	z.names[name] = true
	e := &zipEntry{z: z, name: name, h: sha256.New()}
	z.queue = append(z.queue, e)
	if len(z.queue) == 1 {
		if err := z.begin(e); err != nil {
			return nil, err
		}
		return e, nil
	}
	f, err := os.CreateTemp(z.tempDir, "loupe-zip-*")
	if err != nil {
		return nil, z.fail(err)
	}
	e.spool = f
	return e, nil
}

// begin opens e's entry in the archive, with what e wrote so far.
func (z *zipStream) begin(e *zipEntry) error {
	w, err := z.zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: z.modTime})
	if err != nil {
		return z.fail(err)
	}
	if e.spool != nil {
		_, err := e.spool.Seek(0, io.SeekStart)
		if err == nil {
			_, err = io.Copy(w, e.spool)
		}
		closeRemove(e.spool)
		e.spool = nil
		if err != nil {
			return z.fail(err)
		}
	}
	e.live = w
	return nil
}

// advance moves the finished entries at the head of the queue into the
// archive and opens the first unfinished one.
func (z *zipStream) advance() error {
	for len(z.queue) > 0 {
		head := z.queue[0]
		if head.live == nil {
			if err := z.begin(head); err != nil {
				return err
			}
		}
		if !head.closed {
			return nil
		}
		z.done = append(z.done, export.File{Name: head.name, Bytes: head.n, SHA256: hex.EncodeToString(head.h.Sum(nil))})
		z.queue = z.queue[1:]
	}
	return nil
}

func (e *zipEntry) Write(b []byte) (int, error) {
	if e.closed {
		return 0, fmt.Errorf("export file %s is closed", e.name)
	}
	if e.z.err != nil {
		return 0, e.z.err
	}
	var n int
	var err error
	if e.live != nil {
		n, err = e.live.Write(b)
	} else {
		n, err = e.spool.Write(b)
	}
	e.h.Write(b[:n])
	e.n += int64(n)
	if err != nil {
		return n, e.z.fail(err)
	}
	return n, nil
}

// Close finishes the file; its turn in the archive may come later.
func (e *zipEntry) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	if e.z.err != nil {
		return e.z.err
	}
	return e.z.advance()
}

// Files returns the files finished so far, by name.
func (z *zipStream) Files() []export.File {
	out := slices.Clone(z.done)
	for _, e := range z.queue {
		if e.closed {
			out = append(out, export.File{Name: e.name, Bytes: e.n, SHA256: hex.EncodeToString(e.h.Sum(nil))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Flush sends what the archive has buffered.
func (z *zipStream) Flush() error { return z.zw.Flush() }

// Close finishes every file and the archive.
func (z *zipStream) Close() error {
	for _, e := range z.queue {
		e.closed = true
	}
	if z.err == nil {
		z.advance()
	}
	if z.err != nil {
		return z.err
	}
	return z.zw.Close()
}

// Abort removes the files waiting for their turn.
func (z *zipStream) Abort() {
	for _, e := range z.queue {
		if e.spool != nil {
			closeRemove(e.spool)
			e.spool = nil
		}
	}
	z.queue = nil
}
