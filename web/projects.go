package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/feedback"
)

// project loads the project named in the URL with the user's access to it.
// A project the user may not view answers 404, like a missing one.
func (s *Server) project(w http.ResponseWriter, r *http.Request) (*annotate.Project, annotate.Access, bool) {
	p, a, err := s.store.ProjectAccess(r.Context(), urlParam(r, "slug"), currentUser(r))
	if err != nil {
		s.error(w, r, err)
		return nil, a, false
	}
	return p, a, true
}

// Refusals for users who may view a project but not act on it.
const (
	refuseLabel   = "you are not a labeler of this project"
	refuseMembers = "only the project's managers may manage members"
	refuseImport  = "only the project's managers may import items"
	refuseExport  = "only the project's managers may export"
	refuseConfig  = "only the project's managers may change the config"
	refuseModels  = "only the project's managers may see its models"
)

// projectFor is project plus a role check: a user who may view the project
// but not do what the handler does gets 403 with the refusal.
func (s *Server) projectFor(w http.ResponseWriter, r *http.Request, allowed func(annotate.Access) bool, refusal string) (*annotate.Project, annotate.Access, bool) {
	p, a, ok := s.project(w, r)
	if ok && !allowed(a) {
		s.error(w, r, forbiddenf("%s", refusal))
		return nil, a, false
	}
	return p, a, ok
}

type projectsPage struct {
	page
	Projects []annotate.ProjectSummary
}

func (s *Server) projectsPage(w http.ResponseWriter, r *http.Request) {
	ps, err := s.store.Projects(r.Context(), currentUser(r))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "projects", &projectsPage{page: page{Title: "Projects"}, Projects: ps})
}

type projectPage struct {
	page
	Project     *annotate.Project
	Access      annotate.Access
	Progress    annotate.Progress
	Config      string // the config in the edit box
	ConfigError string
	Quality     []annotate.ModelQuality // for managers of projects with models
	Chart       *qualityChart
	States      []string
	Counts      map[string]int // items per state, for reviewers and managers
	Agreement   *agreementView
}

func (s *Server) projectPage(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.project(w, r)
	if !ok {
		return
	}
	s.renderProject(w, r, http.StatusOK, p, a, p.ConfigSource, "")
}

func (s *Server) renderProject(w http.ResponseWriter, r *http.Request, status int, p *annotate.Project, a annotate.Access, config, configErr string) {
	pr, err := s.store.Progress(r.Context(), p, a.User.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	data := &projectPage{page: page{Title: p.Title}, Project: p, Access: a, Progress: pr, Config: config, ConfigError: configErr}
	if a.CanManage() && p.Config.Predictions != nil {
		if data.Quality, err = s.quality(r, p); err != nil {
			s.error(w, r, err)
			return
		}
		data.Chart = newQualityChart(data.Quality)
	}
	if a.CanReview() {
		data.States = feedback.States
		if data.Counts, err = s.store.StateCounts(r.Context(), p.ID); err != nil {
			s.error(w, r, err)
			return
		}
		if data.Agreement, err = s.agreement(r.Context(), p, false); err != nil {
			s.error(w, r, err)
			return
		}
	}
	s.render(w, r, status, "project", data)
}

// setConfig parses a new config for the project and stores it as the next
// version.
func (s *Server) setConfig(r *http.Request, p *annotate.Project, source string) (int, error) {
	cfg, err := blocks.Parse(blocks.Source{Name: "config", Data: []byte(source), Include: s.cfg.Include})
	if err != nil {
		return 0, err
	}
	return s.store.UpdateConfig(r.Context(), p.ID, string(cfg.Source()), cfg, currentUser(r))
}

func (s *Server) configForm(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanManage, refuseConfig)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.error(w, r, formError(err))
		return
	}
	source := r.PostForm.Get("config")
	v, err := s.setConfig(r, p, source)
	if c := loupe.ErrorCode(err); c == loupe.EINVALID || c == loupe.ETOOLARGE {
		s.renderProject(w, r, errorStatus(c), p, a, source, loupe.ErrorMessage(err))
		return
	} else if err != nil {
		s.error(w, r, err)
		return
	}
	s.redirect(w, r, "/projects/"+p.Slug, fmt.Sprintf("Config version %d is now in use.", v))
}

type newProjectPage struct {
	page
	Slug   string
	Config string
	Error  string
}

const exampleConfig = `title: Product review sentiment
overlap: 1          # annotations wanted per item
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
    required: true
`

func (s *Server) newProjectPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "project_new", &newProjectPage{page: page{Title: "New project"}, Config: exampleConfig})
}

// createProjectFrom parses a config and creates the project; an empty slug
// is derived from the title.
func (s *Server) createProjectFrom(r *http.Request, slug, source string) (*annotate.Project, error) {
	cfg, err := blocks.Parse(blocks.Source{Name: "config", Data: []byte(source), Include: s.cfg.Include})
	if err != nil {
		return nil, err
	}
	if slug == "" {
		slug = annotate.Slugify(cfg.Title)
	}
	return s.store.CreateProject(r.Context(), slug, string(cfg.Source()), cfg, currentUser(r))
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.error(w, r, formError(err))
		return
	}
	slug, source := strings.TrimSpace(r.PostForm.Get("slug")), r.PostForm.Get("config")
	p, err := s.createProjectFrom(r, slug, source)
	if c := loupe.ErrorCode(err); c == loupe.EINVALID || c == loupe.ECONFLICT || c == loupe.ETOOLARGE {
		s.render(w, r, errorStatus(c), "project_new", &newProjectPage{page: page{Title: "New project"}, Slug: slug, Config: source, Error: loupe.ErrorMessage(err)})
		return
	} else if err != nil {
		s.error(w, r, err)
		return
	}
	s.redirect(w, r, "/projects/"+p.Slug, fmt.Sprintf("Project %q created. Import items to start.", p.Title))
}

type membersPage struct {
	page
	Project *annotate.Project
	Access  annotate.Access
	Members []annotate.Member
	Error   string
}

func (s *Server) membersPage(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanManage, refuseMembers)
	if !ok {
		return
	}
	s.renderMembers(w, r, http.StatusOK, p, a, "")
}

func (s *Server) renderMembers(w http.ResponseWriter, r *http.Request, status int, p *annotate.Project, a annotate.Access, msg string) {
	ms, err := s.store.Members(r.Context(), p.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, status, "members", &membersPage{page: page{Title: "Members · " + p.Title}, Project: p, Access: a, Members: ms, Error: msg})
}

func (s *Server) addMemberForm(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.projectFor(w, r, annotate.Access.CanManage, refuseMembers)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.error(w, r, formError(err))
		return
	}
	name, role := strings.TrimSpace(r.PostForm.Get("user")), r.PostForm.Get("role")
	err := s.store.SetMember(r.Context(), p.ID, name, role)
	if c := loupe.ErrorCode(err); c == loupe.EINVALID || c == loupe.ENOTFOUND {
		s.renderMembers(w, r, errorStatus(c), p, a, loupe.ErrorMessage(err))
		return
	} else if err != nil {
		s.error(w, r, err)
		return
	}
	s.redirect(w, r, "/projects/"+p.Slug+"/members", fmt.Sprintf("%s is now a %s.", name, role))
}

func (s *Server) removeMemberForm(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanManage, refuseMembers)
	if !ok {
		return
	}
	name := urlParam(r, "user")
	if err := s.store.RemoveMember(r.Context(), p.ID, name); err != nil {
		s.error(w, r, err)
		return
	}
	s.redirect(w, r, "/projects/"+p.Slug+"/members", fmt.Sprintf("%s was removed from the project.", name))
}

type importPage struct {
	page
	Project *annotate.Project
	Formats []importFormat
	Dedupes []importFormat
	Format  string // the format chosen, "" to detect it
	Dedupe  string
	Error   string
}

// importFormat is a choice of the import form, with what it means.
type importFormat struct{ Name, Doc string }

// importFormats are the formats a file uploaded through the web may be in
// (a folder of media is imported on the server: loupe import --format
// folder).
var importFormats = []importFormat{
	{annotate.FormatJSONL, "JSONL: one item a line, {\"id\", \"data\"} or a flat object of fields"},
	{annotate.FormatJSON, "a JSON array of items"},
	{annotate.FormatCSV, "CSV with a header row; the columns become the item's fields"},
	{annotate.FormatTSV, "TSV with a header row"},
	{annotate.FormatText, "plain text, one item a line"},
	{annotate.FormatLabelStudio, "Label Studio tasks: data, annotations and predictions"},
	{annotate.FormatProdigy, "Prodigy / spaCy JSONL: text, spans, answer"},
}

var dedupeModes = []importFormat{
	{annotate.DedupeID, "match by id, or by content when an item has none"},
	{annotate.DedupeHash, "match by content alone"},
	{annotate.DedupeNone, "no matching: every record is a new item"},
}

func (s *Server) renderImport(w http.ResponseWriter, r *http.Request, status int, p *annotate.Project, format, dedupe, msg string) {
	s.render(w, r, status, "import", &importPage{page: page{Title: "Import · " + p.Title}, Project: p, Formats: importFormats,
		Dedupes: dedupeModes, Format: format, Dedupe: dedupe, Error: msg})
}

func (s *Server) importPage(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanManage, refuseImport)
	if !ok {
		return
	}
	s.renderImport(w, r, http.StatusOK, p, "", annotate.DedupeID, "")
}

// maxFormParts bounds the parts of an upload form, so that a form of
// thousands of parts cannot make the server work for nothing.
const maxFormParts = 8

// maxFormField bounds the fields of an upload form beside its file.
const maxFormField = 1 << 10

// upload is a file sent with a multipart form, spooled to disk.
type upload struct {
	File   *os.File
	Name   string     // the file's name on the client, for telling its format
	Fields url.Values // the form's other fields (format, dedupe)
}

// spoolUpload copies the "file" part of a multipart upload to a temporary
// file, so that the import reads a local file and never holds the writer
// while a slow client sends its body, and reads the form's small fields
// before and after it. The caller removes the file.
func (s *Server) spoolUpload(r *http.Request) (*upload, error) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" {
		return nil, loupe.Errorf(loupe.EUNSUPPORTED, "send the file as multipart/form-data")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, uploadError(err)
	}
	up := &upload{Fields: url.Values{}}
	fail := func(err error) (*upload, error) {
		if up.File != nil {
			closeRemove(up.File)
		}
		return nil, err
	}
	for i := 0; i < maxFormParts; i++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fail(uploadError(err))
		}
		name := part.FormName()
		switch {
		case name == "file" && up.File == nil:
			f, err := s.spool(part)
			if err != nil {
				return fail(err)
			}
			up.File, up.Name = f, part.FileName()
		case name == "format" || name == "dedupe":
			b, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
			if err != nil {
				return fail(uploadError(err))
			}
			if len(b) > maxFormField {
				return fail(loupe.FieldErrorf(name, "the %s field is longer than %d bytes", name, maxFormField))
			}
			up.Fields.Set(name, strings.TrimSpace(string(b)))
		}
		part.Close()
	}
	if up.File == nil {
		return nil, loupe.FieldErrorf("file", "choose a file to import")
	}
	return up, nil
}

// spool copies r to a new temporary file, rewound for reading.
func (s *Server) spool(r io.Reader) (*os.File, error) {
	f, err := os.CreateTemp(s.cfg.TempDir, "loupe-import-*")
	if err != nil {
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		closeRemove(f)
		return nil, uploadError(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		closeRemove(f)
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	return f, nil
}

// importUploaded imports a spooled file of items in the format given, or
// the one its name and first bytes tell (annotate.DetectFormat); fallback
// is the format taken when they tell nothing ("" for an error). It
// returns the format read.
func (s *Server) importUploaded(r *http.Request, p *annotate.Project, f *os.File, name, format, fallback, dedupe string) (annotate.ImportResult, string, error) {
	var res annotate.ImportResult
	if dedupe != "" && !slices.Contains(annotate.DedupeModes, dedupe) {
		return res, format, loupe.FieldErrorf("dedupe", "unknown dedupe mode %q; modes are %s", dedupe, strings.Join(annotate.DedupeModes, ", "))
	}
	switch {
	case format == annotate.FormatFolder:
		return res, format, loupe.FieldErrorf("format", "a folder of media is imported on the server: loupe import --project %s --format folder DIR", p.Slug)
	case format != "" && !slices.Contains(annotate.ImportFormats(), format):
		return res, format, loupe.FieldErrorf("format", "unknown import format %q; known formats: %s", format, strings.Join(uploadFormats(), ", "))
	case format == "":
		var err error
		if format, err = detectFormat(f, name, fallback); err != nil {
			return res, "", err
		}
	}
	rd, err := annotate.NewItemReader(format, f, annotate.ReadOptions{Interface: p.Config.Interface()})
	if err != nil {
		return res, format, err
	}
	res, err = s.store.ImportItems(r.Context(), p, rd, annotate.ImportOptions{Format: format, Dedupe: dedupe})
	return res, format, err
}

// detectFormat tells a spooled file's format from its name and first
// bytes, and rewinds it; fallback is the format when they tell nothing
// ("" for an EINVALID error naming the field "format").
func detectFormat(f *os.File, name, fallback string) (string, error) {
	head := make([]byte, 8<<10)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", fmt.Errorf("import: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	format, err := annotate.DetectFormat(name, head[:n])
	if err != nil {
		if fallback != "" {
			return fallback, nil
		}
		return "", &loupe.Error{Code: loupe.ErrorCode(err), Field: "format", Message: loupe.ErrorMessage(err)}
	}
	return format, nil
}

// uploadFormats lists the formats of importFormats.
func uploadFormats() []string {
	out := make([]string, len(importFormats))
	for i, f := range importFormats {
		out[i] = f.Name
	}
	return out
}

// uploadError keeps a body-limit error as it is (it becomes 413) and makes
// any other read error a 400.
func uploadError(err error) error { return readError("the upload", err) }

// formError is uploadError for forms.
func formError(err error) error { return readError("the form", err) }

func readError(what string, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return badRequestf("%s could not be read: %v", what, err)
}

func closeRemove(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

func (s *Server) importForm(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanManage, refuseImport)
	if !ok {
		return
	}
	up, err := s.spoolUpload(r)
	format, dedupe := "", annotate.DedupeID
	if err == nil {
		defer closeRemove(up.File)
		format, dedupe = up.Fields.Get("format"), up.Fields.Get("dedupe")
		var res annotate.ImportResult
		var read string
		res, read, err = s.importUploaded(r, p, up.File, up.Name, format, "", dedupe)
		if err == nil {
			msg := fmt.Sprintf("Imported %d items (%d already present) from %s.", res.Added, res.Unchanged, read)
			if res.Annotations > 0 || res.Predictions > 0 {
				msg = fmt.Sprintf("Imported %d items (%d already present), %d annotations and %d predictions from %s.", res.Added, res.Unchanged, res.Annotations, res.Predictions, read)
			}
			s.redirect(w, r, "/projects/"+p.Slug, msg)
			return
		}
	}
	if c := loupe.ErrorCode(err); c == loupe.EINVALID || c == loupe.EUNSUPPORTED || c == loupe.ECONFLICT {
		msg := loupe.ErrorMessage(err)
		if f := loupe.ErrorField(err); f == "format" || f == "dedupe" {
			msg = f + ": " + msg
		}
		s.renderImport(w, r, errorStatus(c), p, format, dedupe, msg)
		return
	}
	s.error(w, r, err)
}
