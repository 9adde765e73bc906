package web_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

// taskBody is the JSON of GET …/next and GET …/items/{id}.
type taskBody struct {
	Item struct {
		ID         string         `json:"id"`
		ExternalID string         `json:"external_id"`
		Data       map[string]any `json:"data"`
	} `json:"item"`
	Status        string          `json:"status"`
	LeaseUntil    *string         `json:"lease_until"`
	Annotation    json.RawMessage `json:"annotation"`
	ConfigVersion int             `json:"config_version"`
	Blocks        []struct {
		Type     string `json:"type"`
		Name     string `json:"name"`
		Field    string `json:"field"`
		Required bool   `json:"required"`
		Options  []struct {
			Value string `json:"value"`
		} `json:"options"`
	} `json:"blocks"`
}

// annotationBody is the JSON of a stored annotation.
type annotationBody struct {
	ID       string            `json:"id"`
	ItemID   string            `json:"item_id"`
	User     string            `json:"user"`
	Version  int               `json:"version"`
	Values   map[string]string `json:"values"`
	ClientID string            `json:"client_id"`
}

func next(t *testing.T, c *client, slug string) taskBody {
	t.Helper()
	r := c.get("/api/v1/projects/" + slug + "/next")
	wantStatus(t, r, http.StatusOK)
	return decodeBody[taskBody](t, r)
}

func TestAPINext(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 2)
	ids := s.ts.itemIDs(s.p)

	task := next(t, s.lab, "a")
	if task.Item.ID != ids[0] {
		t.Errorf("next item %q, want the first imported %q", task.Item.ID, ids[0])
	}
	if task.Item.ExternalID != "r0" {
		t.Errorf("external_id %q, want r0", task.Item.ExternalID)
	}
	if got := task.Item.Data["review"]; got != "review number 0" {
		t.Errorf("data.review %v, want %q", got, "review number 0")
	}
	if task.Status != annotate.StatusLeased || task.LeaseUntil == nil {
		t.Errorf("status %q, lease_until %v; want leased with a lease end", task.Status, task.LeaseUntil)
	}
	if string(task.Annotation) != "null" {
		t.Errorf("annotation %s, want null", task.Annotation)
	}
	if task.ConfigVersion != 1 {
		t.Errorf("config_version %d, want 1", task.ConfigVersion)
	}
	if len(task.Blocks) != 2 {
		t.Fatalf("%d blocks, want 2: %+v", len(task.Blocks), task.Blocks)
	}
	if b := task.Blocks[0]; b.Type != "text" || b.Field != "review" {
		t.Errorf("block 0 = %+v, want a text block of field review", b)
	}
	b := task.Blocks[1]
	var opts []string
	for _, o := range b.Options {
		opts = append(opts, o.Value)
	}
	if b.Type != "choice" || b.Name != "sentiment" || !b.Required || !slices.Equal(opts, []string{"positive", "negative", "neutral"}) {
		t.Errorf("block 1 = %+v, want the required choice sentiment with positive, negative, neutral", b)
	}

	// Asking again gives the same item: it is held for the labeler.
	if again := next(t, s.lab, "a"); again.Item.ID != task.Item.ID {
		t.Errorf("second GET next: item %q, want the held %q", again.Item.ID, task.Item.ID)
	}
	// Another labeler gets the other item.
	s.ts.user("lab2", loupe.RoleMember)
	s.ts.member(s.p, "lab2", annotate.RoleLabeler)
	lab2 := s.ts.signIn("lab2")
	if other := next(t, lab2, "a"); other.Item.ID != ids[1] {
		t.Errorf("second labeler's item %q, want %q", other.Item.ID, ids[1])
	}
	// Nothing is left for a third.
	s.ts.user("lab3", loupe.RoleMember)
	s.ts.member(s.p, "lab3", annotate.RoleLabeler)
	r := s.ts.signIn("lab3").get("/api/v1/projects/a/next")
	wantStatus(t, r, http.StatusNoContent)
	if r.Body != "" {
		t.Errorf("204 with body %q, want none", r.Body)
	}
}

func TestAPINextEmptyQueue(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 0)
	wantStatus(t, s.lab.get("/api/v1/projects/a/next"), http.StatusNoContent)

	// After the labeler annotates the only item, the queue is empty too.
	s.ts.importItems(s.p, reviews(1))
	task := next(t, s.lab, "a")
	wantStatus(t, s.lab.postJSON("/api/v1/projects/a/items/"+task.Item.ID+"/annotations", `{"values": {"sentiment": "neutral"}}`), http.StatusCreated)
	wantStatus(t, s.lab.get("/api/v1/projects/a/next"), http.StatusNoContent)
}

func TestAPISubmitErrors(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 2)
	ts := s.ts
	task := next(t, s.lab, "a")
	path := "/api/v1/projects/a/items/" + task.Item.ID + "/annotations"

	tests := []struct {
		name      string
		path      string
		body      string
		status    int
		code      string
		field     string
		inMessage string
	}{
		{"invalid option", path, `{"values": {"sentiment": "meh"}}`, 422, loupe.EINVALID, "values.sentiment", "meh"},
		{"option of the wrong type", path, `{"values": {"sentiment": 3}}`, 422, loupe.EINVALID, "values.sentiment", ""},
		{"unknown block", path, `{"values": {"sentiment": "positive", "mood": "x"}}`, 422, loupe.EINVALID, "values.mood", "mood"},
		{"required value missing", path, `{"values": {}}`, 422, loupe.EINVALID, "values.sentiment", "required"},
		{"required value null", path, `{"values": {"sentiment": null}}`, 422, loupe.EINVALID, "values.sentiment", "required"},
		{"no values", path, `{"client_id": "x"}`, 422, loupe.EINVALID, "values", ""},
		{"unknown body field", path, `{"values": {"sentiment": "positive"}, "sentimnet": "positive"}`, 422, loupe.EINVALID, "sentimnet", "sentimnet"},
		{"values not an object", path, `{"values": "positive"}`, 422, loupe.EINVALID, "values", ""},
		{"base_version not a number", path, `{"values": {"sentiment": "positive"}, "base_version": "1"}`, 422, loupe.EINVALID, "base_version", ""},
		{"negative base_version", path, `{"values": {"sentiment": "positive"}, "base_version": -1}`, 422, loupe.EINVALID, "base_version", ""},
		{"base_version with nothing to edit", path, `{"values": {"sentiment": "positive"}, "base_version": 1}`, 422, loupe.EINVALID, "base_version", ""},
		{"client_id too long", path, `{"values": {"sentiment": "positive"}, "client_id": "` + strings.Repeat("c", 65) + `"}`, 422, loupe.EINVALID, "client_id", ""},
		{"bad JSON", path, `{"values": {"sentiment": "positive"}`, 400, loupe.EINVALID, "", ""},
		{"not JSON", path, `values=positive`, 400, loupe.EINVALID, "", ""},
		{"empty body", path, ``, 400, loupe.EINVALID, "", ""},
		{"two JSON values", path, `{"values": {"sentiment": "positive"}} {"values": {}}`, 400, loupe.EINVALID, "", ""},
		{"unknown item", "/api/v1/projects/a/items/no-such-item/annotations", `{"values": {"sentiment": "positive"}}`, 404, loupe.ENOTFOUND, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.counts()
			r := s.lab.postJSON(tt.path, tt.body)
			wantStatus(t, r, tt.status)
			e := decodeBody[apiError](t, r)
			if e.Error.Code != tt.code {
				t.Errorf("error code %q, want %q", e.Error.Code, tt.code)
			}
			if e.Error.Field != tt.field {
				t.Errorf("error field %q, want %q (message %q)", e.Error.Field, tt.field, e.Error.Message)
			}
			if !strings.Contains(e.Error.Message, tt.inMessage) || e.Error.Message == "" {
				t.Errorf("error message %q, want it to mention %q", e.Error.Message, tt.inMessage)
			}
			sameCounts(t, tt.name, before, ts.counts())
		})
	}
}

func TestAPISubmitVersions(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 2)
	ts := s.ts
	task := next(t, s.lab, "a")
	path := "/api/v1/projects/a/items/" + task.Item.ID + "/annotations"

	r := s.lab.postJSON(path, `{"values": {"sentiment": "positive"}}`)
	wantStatus(t, r, http.StatusCreated)
	first := decodeBody[annotationBody](t, r)
	if first.ID == "" || first.Version != 1 || first.ItemID != task.Item.ID || first.User != "lab" || first.Values["sentiment"] != "positive" {
		t.Errorf("first annotation %+v, want an id, version 1, item %s, user lab, sentiment positive", first, task.Item.ID)
	}

	steps := []struct {
		name    string
		body    string
		status  int
		version int // of the stored annotation after the step
	}{
		{"first annotation sent again without base_version", `{"values": {"sentiment": "negative"}}`, 409, 1},
		{"edit of version 1", `{"values": {"sentiment": "negative"}, "base_version": 1}`, 201, 2},
		{"stale edit of version 1", `{"values": {"sentiment": "neutral"}, "base_version": 1}`, 409, 2},
		{"edit of a future version", `{"values": {"sentiment": "neutral"}, "base_version": 7}`, 409, 2},
		{"edit sent without base_version", `{"values": {"sentiment": "neutral"}}`, 409, 2},
		{"edit of version 2", `{"values": {"sentiment": "neutral"}, "base_version": 2}`, 201, 3},
	}
	for _, st := range steps {
		r := s.lab.postJSON(path, st.body)
		if r.Status != st.status {
			t.Fatalf("%s: status %d, want %d; body:\n%s", st.name, r.Status, st.status, r.Body)
		}
		if st.status == http.StatusConflict {
			if e := decodeBody[apiError](t, r); e.Error.Code != loupe.ECONFLICT || e.Error.Field != "base_version" {
				t.Errorf("%s: error %+v, want code conflict on base_version", st.name, e.Error)
			}
		} else {
			a := decodeBody[annotationBody](t, r)
			if a.ID != first.ID || a.Version != st.version {
				t.Errorf("%s: annotation %s version %d, want %s version %d", st.name, a.ID, a.Version, first.ID, st.version)
			}
		}
	}
	lines := exportLines(t, s.admin, "a")
	if len(lines) != 1 || len(lines[0].Annotations) != 1 {
		t.Fatalf("export: %+v, want one item with one annotation", lines)
	}
	if a := lines[0].Annotations[0]; a.Version != 3 || a.Values["sentiment"] != "neutral" {
		t.Errorf("exported annotation version %d values %v, want version 3 neutral", a.Version, a.Values)
	}
	// Every version is kept.
	if n := ts.count("annotation_versions", ""); n != 3 {
		t.Errorf("%d annotation versions, want 3", n)
	}
}

func TestAPISubmitIdempotent(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 3)
	ts := s.ts
	task := next(t, s.lab, "a")
	path := "/api/v1/projects/a/items/" + task.Item.ID + "/annotations"
	body := `{"values": {"sentiment": "positive"}, "client_id": "3f1c2e1a-retry"}`

	r := s.lab.postJSON(path, body)
	wantStatus(t, r, http.StatusCreated)
	first := decodeBody[annotationBody](t, r)
	if r.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("first submission has Idempotent-Replayed %q, want none", r.Header.Get("Idempotent-Replayed"))
	}
	for i := range 3 {
		r := s.lab.postJSON(path, body)
		wantStatus(t, r, http.StatusOK)
		if got := r.Header.Get("Idempotent-Replayed"); got != "true" {
			t.Errorf("retry %d: Idempotent-Replayed %q, want true", i, got)
		}
		if again := decodeBody[annotationBody](t, r); again.ID != first.ID || again.Version != 1 {
			t.Errorf("retry %d: annotation %s version %d, want %s version 1", i, again.ID, again.Version, first.ID)
		}
	}
	// The same client id from another labeler, or for another item, is not
	// a retry.
	ts.user("lab2", loupe.RoleMember)
	ts.member(s.p, "lab2", annotate.RoleLabeler)
	lab2 := ts.signIn("lab2")
	other := next(t, lab2, "a")
	r = lab2.postJSON("/api/v1/projects/a/items/"+other.Item.ID+"/annotations", body)
	wantStatus(t, r, http.StatusConflict)
	if e := decodeBody[apiError](t, r); e.Error.Field != "client_id" {
		t.Errorf("reused client_id: error field %q, want client_id", e.Error.Field)
	}

	// A double click: the same submission many times at once stores one.
	task2 := next(t, s.lab, "a")
	path2 := "/api/v1/projects/a/items/" + task2.Item.ID + "/annotations"
	body2 := `{"values": {"sentiment": "negative"}, "client_id": "double-click"}`
	const n = 8
	statuses := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, ts.URL+path2, strings.NewReader(body2))
			req.Header.Set("Content-Type", "application/json")
			r, err := s.lab.try(req)
			if err != nil {
				errs[i] = err
				return
			}
			statuses[i] = r.Status
		})
	}
	wg.Wait()
	created := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		switch statuses[i] {
		case http.StatusCreated:
			created++
		case http.StatusOK:
		default:
			t.Errorf("concurrent submission %d: status %d, want 201 or 200", i, statuses[i])
		}
	}
	if created != 1 {
		t.Errorf("%d of %d concurrent identical submissions answered 201, want 1", created, n)
	}

	lines := exportLines(t, s.admin, "a")
	if len(lines) != 2 {
		t.Fatalf("export has %d items, want 2", len(lines))
	}
	for _, l := range lines {
		if len(l.Annotations) != 1 || l.Annotations[0].Version != 1 {
			t.Errorf("export of item %s: %+v, want exactly one annotation at version 1", l.ID, l.Annotations)
		}
	}
	if n := ts.count("annotation_versions", ""); n != 2 {
		t.Errorf("%d annotation versions, want 2", n)
	}
}

func TestAPIExport(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("mgr", loupe.RoleMember)
	ts.user("lab", loupe.RoleMember)
	p := ts.project("a", sentimentConfig, nil)
	ts.importItems(p, reviews(3))
	ts.member(p, "mgr", annotate.RoleManager)
	ts.member(p, "lab", annotate.RoleLabeler)
	mgr, lab := ts.signIn("mgr"), ts.signIn("lab")

	// Nothing annotated: an empty export.
	r := mgr.get("/api/v1/projects/a/export?format=jsonl")
	wantStatus(t, r, http.StatusOK)
	if r.Body != "" {
		t.Errorf("export with no annotations: %q, want empty", r.Body)
	}

	task := next(t, lab, "a")
	wantStatus(t, lab.postJSON("/api/v1/projects/a/items/"+task.Item.ID+"/annotations", `{"values": {"sentiment": "negative"}}`), http.StatusCreated)

	for _, path := range []string{"/api/v1/projects/a/export?format=jsonl", "/api/v1/projects/a/export", "/projects/a/export?format=jsonl"} {
		r := mgr.get(path)
		wantStatus(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-ndjson") {
			t.Errorf("GET %s: Content-Type %q, want application/x-ndjson", path, ct)
		}
		if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".jsonl") {
			t.Errorf("GET %s: Content-Disposition %q, want an attachment named .jsonl", path, cd)
		}
		if !strings.HasSuffix(r.Body, "\n") || strings.Count(r.Body, "\n") != 1 {
			t.Errorf("GET %s: body %q, want exactly one line", path, r.Body)
		}
	}
	lines := exportLines(t, mgr, "a")
	if len(lines) != 1 {
		t.Fatalf("export has %d lines, want 1", len(lines))
	}
	l := lines[0]
	if l.ID != task.Item.ID || l.ExternalID == nil || *l.ExternalID != "r0" || l.Data["review"] != "review number 0" {
		t.Errorf("export line %+v, want item %s (r0) with its data", l, task.Item.ID)
	}
	if len(l.Annotations) != 1 || l.Annotations[0].User != "lab" || l.Annotations[0].Version != 1 || l.Annotations[0].Values["sentiment"] != "negative" {
		t.Errorf("exported annotations %+v, want one by lab, version 1, sentiment negative", l.Annotations)
	}

	for _, format := range []string{"xml", "JSONL", "xlsx"} {
		r := mgr.get("/api/v1/projects/a/export?format=" + format)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		e := decodeBody[apiError](t, r)
		if e.Error.Field != "format" || !strings.Contains(e.Error.Message, "jsonl") || !strings.Contains(e.Error.Message, format) {
			t.Errorf("format %s: error %+v, want field format and a message naming %s and the known format jsonl", format, e.Error, format)
		}
	}
}

func TestAPIImport(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("mgr", loupe.RoleMember)
	p := ts.project("a", sentimentConfig, nil)
	ts.member(p, "mgr", annotate.RoleManager)
	mgr := ts.signIn("mgr")
	path := "/api/v1/projects/a/items"

	good := `{"id": "x1", "data": {"review": "first"}}
{"review": "second, a flat object"}

{"id": 3, "data": {"review": "third"}}
`
	type counts struct{ Added, Unchanged int }
	r := mgr.do(http.MethodPost, path, strings.NewReader(good), "Content-Type", "application/x-ndjson")
	wantStatus(t, r, http.StatusOK)
	if got := decodeBody[counts](t, r); got != (counts{3, 0}) {
		t.Errorf("import: %+v, want 3 added", got)
	}
	// Importing the same file again adds nothing.
	r = mgr.do(http.MethodPost, path, strings.NewReader(good), "Content-Type", "application/jsonl")
	wantStatus(t, r, http.StatusOK)
	if got := decodeBody[counts](t, r); got != (counts{0, 3}) {
		t.Errorf("second import: %+v, want 3 unchanged", got)
	}
	if n := ts.count("items", ""); n != 3 {
		t.Fatalf("%d items, want 3", n)
	}

	bad := []struct {
		name, body string
		lines      []string
	}{
		{"bad JSON on line 2", "{\"review\": \"ok\"}\n{\"review\": \"broken\"\n{\"review\": \"ok too\"}\n", []string{"line 2"}},
		{"field missing on line 3", "{\"review\": \"a\"}\n{\"review\": \"b\"}\n{\"text\": \"c\"}\n", []string{"line 3", "review"}},
		{"two bad lines", "[1]\n{\"review\": \"b\"}\nnull\n", []string{"line 1", "line 3"}},
		{"an id clash", "{\"id\": \"x1\", \"data\": {\"review\": \"other\"}}\n", []string{"line 1", "x1"}},
		{"a duplicate id", "{\"id\": \"d\", \"data\": {\"review\": \"a\"}}\n{\"id\": \"d\", \"data\": {\"review\": \"b\"}}\n", []string{"line 2"}},
		{"invalid UTF-8", "{\"review\": \"ok\"}\n{\"review\": \"\xff\"}\n", []string{"line 2"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.counts()
			r := mgr.do(http.MethodPost, path, strings.NewReader(tt.body), "Content-Type", "application/x-ndjson")
			wantStatus(t, r, http.StatusUnprocessableEntity)
			e := decodeBody[apiError](t, r)
			for _, want := range tt.lines {
				if !strings.Contains(e.Error.Message, want) {
					t.Errorf("error message %q, want it to name %q", e.Error.Message, want)
				}
			}
			sameCounts(t, tt.name, before, ts.counts())
		})
	}

	// A multipart upload works too; an unknown media type does not.
	upload, ctype := multipartFile(`{"review": "uploaded"}` + "\n")
	r = mgr.do(http.MethodPost, path, strings.NewReader(upload), "Content-Type", ctype)
	wantStatus(t, r, http.StatusOK)
	if got := decodeBody[counts](t, r); got != (counts{1, 0}) {
		t.Errorf("multipart import: %+v, want 1 added", got)
	}
	before := ts.counts()
	r = mgr.do(http.MethodPost, path, strings.NewReader(`{"review": "x"}`), "Content-Type", "application/xml")
	wantStatus(t, r, http.StatusUnsupportedMediaType)
	sameCounts(t, "import as application/xml", before, ts.counts())
}
