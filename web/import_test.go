package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

// importResult is the API's answer to an import.
type importResult struct {
	Added       int    `json:"added"`
	Unchanged   int    `json:"unchanged"`
	Predictions int    `json:"predictions"`
	Annotations int    `json:"annotations"`
	Format      string `json:"format"`
}

// itemData returns the project's items, external id → the data's review
// field, and their count.
func (ts *testServer) itemData(projectID string) (map[string]string, int) {
	ts.t.Helper()
	rows, err := ts.raw.Query(`SELECT coalesce(external_id, ''), data FROM items WHERE project_id = ? ORDER BY seq`, projectID)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer rows.Close()
	out, n := map[string]string{}, 0
	for rows.Next() {
		var id, data string
		if err := rows.Scan(&id, &data); err != nil {
			ts.t.Fatal(err)
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			ts.t.Fatalf("item %s data %q: %v", id, data, err)
		}
		if id == "" {
			id = fmt.Sprintf("#%d", n)
		}
		out[id], _ = d["review"].(string)
		n++
	}
	if err := rows.Err(); err != nil {
		ts.t.Fatal(err)
	}
	return out, n
}

func newImportSetup(t *testing.T, opts options) (*testServer, *annotate.Project, *client) {
	t.Helper()
	ts := newTestServer(t, opts)
	ts.user("mgr", loupe.RoleMember)
	p := ts.project("a", sentimentConfig, nil)
	ts.member(p, "mgr", annotate.RoleManager)
	return ts, p, ts.signIn("mgr")
}

func TestImportPageReadsEveryFormat(t *testing.T) {
	t.Parallel()
	ts, p, mgr := newImportSetup(t, options{})
	r := mgr.get("/projects/a/import")
	wantStatus(t, r, http.StatusOK)
	for _, f := range []string{"jsonl", "json", "csv", "tsv", "text", "labelstudio", "prodigy"} {
		if !strings.Contains(r.Body, `<option value="`+f+`"`) {
			t.Errorf("the import page offers no format %s", f)
		}
	}
	for _, d := range annotate.DedupeModes {
		if !strings.Contains(r.Body, `<option value="`+d+`"`) {
			t.Errorf("the import page offers no dedupe mode %s", d)
		}
	}

	uploads := []struct {
		name, file, content string
		fields              [][3]string
		wantFormat          string
		want                map[string]string // external id → review
	}{
		{"CSV with a quoted newline", "reviews.csv", "id,review\nc1,\"line one\nline two\"\nc2,plain\n", nil, "csv",
			map[string]string{"c1": "line one\nline two", "c2": "plain"}},
		{"TSV", "reviews.tsv", "id\treview\nt1\ttabbed\n", nil, "tsv", map[string]string{"t1": "tabbed"}},
		{"Label Studio tasks", "project-1-at-2026.json",
			`[{"id": 71, "data": {"review": "from label studio"}, "annotations": [], "predictions": [{"model_version": "m1", "score": 0.9, "result": [{"from_name": "sentiment", "to_name": "review", "type": "choices", "value": {"choices": ["positive"]}}]}]}]`,
			nil, "labelstudio", map[string]string{"71": "from label studio"}},
		{"JSONL with a format forced", "items.data", `{"id": "j1", "data": {"review": "forced"}}` + "\n",
			[][3]string{{"format", "", "jsonl"}}, "jsonl", map[string]string{"j1": "forced"}},
	}
	for _, tt := range uploads {
		t.Run(tt.name, func(t *testing.T) {
			parts := append([][3]string{}, tt.fields...)
			parts = append(parts, [3]string{"file", tt.file, tt.content}, [3]string{"dedupe", "", "id"})
			body, ctype := multipartBody(parts...)
			r := mgr.do(http.MethodPost, "/projects/a/import", strings.NewReader(body), "Content-Type", ctype)
			wantStatus(t, r, http.StatusSeeOther)
			page := mgr.get("/projects/a")
			if !strings.Contains(page.Body, "from "+tt.wantFormat+".") {
				t.Errorf("the project page does not say the file was read as %s:\n%s", tt.wantFormat, abbrev(page.Body))
			}
			got, _ := ts.itemData(p.ID)
			for id, review := range tt.want {
				if got[id] != review {
					t.Errorf("item %s: review %q, want %q", id, got[id], review)
				}
			}
		})
	}
	if n := ts.count("predictions", ""); n != 1 {
		t.Errorf("%d predictions after the Label Studio import, want 1", n)
	}

	// Plain text: one item a line, into the interface's text field.
	body, ctype := multipartBody([3]string{"file", "notes.txt", "first note\nsecond note\n"})
	wantStatus(t, mgr.do(http.MethodPost, "/projects/a/import", strings.NewReader(body), "Content-Type", ctype), http.StatusSeeOther)
	got, n := ts.itemData(p.ID)
	if n != 7 || !strings.Contains(fmt.Sprint(got), "second note") {
		t.Errorf("after the text import: %d items %v, want 7 with the notes", n, got)
	}

	// Formats that cannot be read or told are refused on the form.
	refused := []struct {
		name      string
		parts     [][3]string
		inMessage []string
	}{
		{"an unknown format", [][3]string{{"format", "", "xlsx"}, {"file", "a.csv", "review\nx\n"}}, []string{"format", "xlsx", "csv", "labelstudio"}},
		{"a folder", [][3]string{{"format", "", "folder"}, {"file", "a.csv", "review\nx\n"}}, []string{"format", "loupe import"}},
		{"a file that tells nothing", [][3]string{{"file", "blob.bin", "\x00\x01binary"}}, []string{"format", "blob.bin"}},
		{"an unknown dedupe mode", [][3]string{{"dedupe", "", "fuzzy"}, {"file", "a.csv", "review\nx\n"}}, []string{"dedupe", "fuzzy"}},
	}
	for _, tt := range refused {
		before := ts.counts()
		body, ctype := multipartBody(tt.parts...)
		r := mgr.do(http.MethodPost, "/projects/a/import", strings.NewReader(body), "Content-Type", ctype)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		for _, want := range tt.inMessage {
			if msg := alertText(r.Body); !strings.Contains(msg, want) {
				t.Errorf("%s: message %q, want it to mention %q", tt.name, msg, want)
			}
		}
		sameCounts(t, tt.name, before, ts.counts())
	}
}

func TestAPIImportFormats(t *testing.T) {
	t.Parallel()
	ts, p, mgr := newImportSetup(t, options{})
	path := "/api/v1/projects/a/items"

	bodies := []struct {
		name, query, ctype, body string
		wantFormat               string
		added                    int
	}{
		{"CSV body", "", "text/csv", "id,review\nk1,csv body\n", "csv", 1},
		{"TSV body", "", "text/tab-separated-values", "review\tnote\ntsv body\tx\n", "tsv", 1},
		{"JSON array", "", "application/json", `[{"review": "array one"}, {"review": "array two"}]`, "json", 2},
		{"plain text", "", "text/plain", "a line of text\nanother line\n", "text", 2},
		{"JSONL as text/plain", "", "text/plain", `{"id": "k2", "data": {"review": "jsonl as text"}}` + "\n", "jsonl", 1},
		{"text forced with ?format=", "?format=text", "text/plain", `{"review": "a line that looks like JSON"}` + "\n", "text", 1},
		{"Label Studio JSONL", "", "application/x-ndjson", `{"id": 9, "data": {"review": "ls line"}, "annotations": [], "predictions": [], "inner_id": 1}` + "\n", "labelstudio", 1},
	}
	for _, tt := range bodies {
		r := mgr.do(http.MethodPost, path+tt.query, strings.NewReader(tt.body), "Content-Type", tt.ctype)
		wantStatus(t, r, http.StatusOK)
		res := decodeBody[importResult](t, r)
		if res.Format != tt.wantFormat || res.Added != tt.added {
			t.Errorf("%s: %+v, want %d added as %s", tt.name, res, tt.added, tt.wantFormat)
		}
	}
	got, _ := ts.itemData(p.ID)
	if got["k1"] != "csv body" || got["k2"] != "jsonl as text" || got["9"] != "ls line" {
		t.Errorf("items after the imports: %v", got)
	}

	// A multipart upload with the format and dedupe as fields, or in
	// the query string.
	csv := "review\nsame one\nsame two\n"
	upload := func(query string, parts ...[3]string) importResult {
		t.Helper()
		body, ctype := multipartBody(parts...)
		r := mgr.do(http.MethodPost, path+query, strings.NewReader(body), "Content-Type", ctype)
		wantStatus(t, r, http.StatusOK)
		return decodeBody[importResult](t, r)
	}
	if res := upload("", [3]string{"file", "x.csv", csv}); res.Added != 2 || res.Format != "csv" {
		t.Errorf("CSV upload: %+v, want 2 added", res)
	}
	if res := upload("?dedupe=hash", [3]string{"file", "x.csv", csv}); res.Added != 0 || res.Unchanged != 2 {
		t.Errorf("the same CSV again, dedupe=hash: %+v, want 2 unchanged", res)
	}
	if res := upload("", [3]string{"file", "x.csv", csv}, [3]string{"dedupe", "", "none"}); res.Added != 2 {
		t.Errorf("the same CSV again, dedupe=none: %+v, want 2 added", res)
	}
	if res := upload("?format=jsonl", [3]string{"format", "", "text"}, [3]string{"file", "x.csv", "{\"review\": 1}\n"}); res.Format != "text" || res.Added != 1 {
		t.Errorf("format field over the query: %+v, want text", res)
	}

	refused := []struct {
		name, query, ctype, body string
		status                   int
		field                    string
	}{
		{"unknown format", "?format=xml", "text/plain", "x\n", 422, "format"},
		{"unknown dedupe", "?dedupe=maybe", "text/csv", "review\nx\n", 422, "dedupe"},
		{"a body type that says nothing", "", "application/octet-stream", "review\nx\n", 415, ""},
		{"JSON that tells nothing", "", "application/json", "42", 422, ""},
	}
	for _, tt := range refused {
		before := ts.counts()
		r := mgr.do(http.MethodPost, path+tt.query, strings.NewReader(tt.body), "Content-Type", tt.ctype)
		if r.Status != tt.status {
			t.Errorf("%s: status %d, want %d; body:\n%s", tt.name, r.Status, tt.status, r.Body)
			continue
		}
		if e := decodeBody[apiError](t, r); tt.field != "" && e.Error.Field != tt.field {
			t.Errorf("%s: error %+v, want the field %s", tt.name, e.Error, tt.field)
		}
		sameCounts(t, tt.name, before, ts.counts())
	}
}

func TestImportReportsEveryBadLine(t *testing.T) {
	t.Parallel()
	ts, _, mgr := newImportSetup(t, options{})

	// The page: a JSONL file with lines 2 and 4 bad.
	jsonl := "{\"review\": \"fine\"}\n{\"review\": \n{\"review\": \"fine too\"}\n{\"text\": \"no review\"}\n"
	body, ctype := multipartBody([3]string{"file", "items.jsonl", jsonl})
	before := ts.counts()
	r := mgr.do(http.MethodPost, "/projects/a/import", strings.NewReader(body), "Content-Type", ctype)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	msg := alertText(r.Body)
	for _, want := range []string{"nothing was imported", "2 problems", "line 2", "line 4", "review"} {
		if !strings.Contains(msg, want) {
			t.Errorf("page report %q, want it to mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "line 1") || strings.Contains(msg, "line 3") {
		t.Errorf("page report %q names a good line", msg)
	}
	sameCounts(t, "bad JSONL upload", before, ts.counts())

	// The API: a CSV body with rows 3 and 5 bad.
	csv := "id,review\na,ok\nb,too,many\nc,fine\nd\n"
	r = mgr.do(http.MethodPost, "/api/v1/projects/a/items", strings.NewReader(csv), "Content-Type", "text/csv")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	e := decodeBody[apiError](t, r)
	for _, want := range []string{"2 problems", "line 3", "line 5"} {
		if !strings.Contains(e.Error.Message, want) {
			t.Errorf("API report %q, want it to mention %q", e.Error.Message, want)
		}
	}
	if e.Error.Code != loupe.EINVALID {
		t.Errorf("API report code %q, want %q", e.Error.Code, loupe.EINVALID)
	}

	// Many bad lines: the first ones, then a count of the rest.
	var many strings.Builder
	many.WriteString("review\n")
	for i := range 30 {
		fmt.Fprintf(&many, "ok %d\nbad,%d\n", i, i)
	}
	r = mgr.do(http.MethodPost, "/api/v1/projects/a/items", strings.NewReader(many.String()), "Content-Type", "text/csv")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	e = decodeBody[apiError](t, r)
	if !strings.Contains(e.Error.Message, "line 3:") || !strings.Contains(e.Error.Message, "30 problems") || !strings.Contains(e.Error.Message, "10 more") {
		t.Errorf("report of 30 bad lines: %q, want the first ones with their numbers and a count of the rest", e.Error.Message)
	}
	if n := ts.count("items", ""); n != 0 {
		t.Errorf("%d items after failed imports, want 0", n)
	}
}

func TestImportSizeLimit(t *testing.T) {
	t.Parallel()
	const maxImport = 4096
	ts, _, mgr := newImportSetup(t, options{MaxImport: maxImport})
	csv := "review\n" + strings.Repeat(strings.Repeat("x", 99)+"\n", 2*maxImport/100)
	upload, uploadType := multipartBody([3]string{"file", "big.csv", csv})
	tests := []struct {
		name, path, ctype string
		body              func() string
		chunked, api      bool
	}{
		{"page upload", "/projects/a/import", uploadType, func() string { return upload }, false, false},
		{"page upload, chunked", "/projects/a/import", uploadType, func() string { return upload }, true, false},
		{"API CSV body", "/api/v1/projects/a/items", "text/csv", func() string { return csv }, false, true},
		{"API CSV body, chunked", "/api/v1/projects/a/items", "text/csv", func() string { return csv }, true, true},
		{"API upload, chunked", "/api/v1/projects/a/items", uploadType, func() string { return upload }, true, true},
	}
	for _, tt := range tests {
		before := ts.counts()
		var r *response
		if tt.chunked {
			r = mgr.do(http.MethodPost, tt.path, unsized(tt.body()), "Content-Type", tt.ctype)
		} else {
			r = mgr.do(http.MethodPost, tt.path, strings.NewReader(tt.body()), "Content-Type", tt.ctype)
		}
		if r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: status %d, want 413; body:\n%s", tt.name, r.Status, abbrev(r.Body))
		}
		if tt.api && r.Status == http.StatusRequestEntityTooLarge {
			if e := decodeBody[apiError](t, r); e.Error.Code != loupe.ETOOLARGE {
				t.Errorf("%s: code %q, want %q", tt.name, e.Error.Code, loupe.ETOOLARGE)
			}
		}
		sameCounts(t, tt.name, before, ts.counts())
	}
	// A file within the limit is taken.
	r := mgr.do(http.MethodPost, "/api/v1/projects/a/items", strings.NewReader("review\nsmall\n"), "Content-Type", "text/csv")
	wantStatus(t, r, http.StatusOK)
}
