package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/export"
	"github.com/loupehq/loupe/storage"
	"github.com/loupehq/loupe/web"
)

// exportJob is an export job as the API reports it.
type exportJob struct {
	ID          string           `json:"id"`
	Status      string           `json:"status"`
	Format      string           `json:"format"`
	Snapshot    string           `json:"snapshot"`
	ItemsRead   int              `json:"items_read"`
	Manifest    *export.Manifest `json:"manifest"`
	Error       string           `json:"error"`
	StatusURL   string           `json:"status_url"`
	DownloadURL string           `json:"download_url"`
}

// annotateAll has the labeler "lab" of project a answer n items through
// the API, cycling through the sentiments.
func annotateAll(t *testing.T, lab *client, n int) {
	t.Helper()
	for i := range n {
		task := next(t, lab, "a")
		answer := []string{"positive", "negative", "neutral"}[i%3]
		wantStatus(t, lab.postJSON("/api/v1/projects/a/items/"+task.Item.ID+"/annotations", `{"values": {"sentiment": "`+answer+`"}}`), http.StatusCreated)
	}
}

// startJob starts an export job through the API and returns it.
func startJob(t *testing.T, c *client, slug string, body any) exportJob {
	t.Helper()
	r := c.postJSON("/api/v1/projects/"+slug+"/exports", body)
	wantStatus(t, r, http.StatusAccepted)
	j := decodeBody[exportJob](t, r)
	if j.ID == "" || j.StatusURL != "/api/v1/projects/"+slug+"/exports/"+j.ID || r.Header.Get("Location") != j.StatusURL {
		t.Fatalf("started job %+v (Location %q), want an id and its status_url", j, r.Header.Get("Location"))
	}
	return j
}

// waitJob polls a job's status until it is done or failed.
func waitJob(t *testing.T, c *client, statusURL string) exportJob {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := c.get(statusURL)
		wantStatus(t, r, http.StatusOK)
		j := decodeBody[exportJob](t, r)
		if j.Status == "done" || j.Status == "failed" {
			return j
		}
		if j.Status != "queued" && j.Status != "running" {
			t.Fatalf("job status %q, want queued, running, done or failed", j.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after 20 s", j.ID, j.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// unzip reads a zip download into name → content, in archive order.
func unzip(t *testing.T, body string) (map[string][]byte, []string) {
	t.Helper()
	zr, err := zip.NewReader(strings.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("download is not a zip: %v", err)
	}
	files := map[string][]byte{}
	var order []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("zip entry %s: %v", f.Name, err)
		}
		files[f.Name] = b
		order = append(order, f.Name)
	}
	return files, order
}

// checkZip checks that a zip holds exactly the files its manifest lists,
// with their sizes and SHA-256, and the manifest itself; it returns the
// manifest.
func checkZip(t *testing.T, body string) (*export.Manifest, map[string][]byte) {
	t.Helper()
	files, order := unzip(t, body)
	raw, ok := files["manifest.json"]
	if !ok {
		t.Fatalf("zip holds %v, no manifest.json", order)
	}
	if order[len(order)-1] != "manifest.json" {
		t.Errorf("zip entries %v: manifest.json is not last", order)
	}
	var m export.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if len(files) != len(m.Files)+1 {
		t.Errorf("zip holds %v; manifest lists %+v (and itself)", order, m.Files)
	}
	for _, f := range m.Files {
		b, ok := files[f.Name]
		if !ok {
			t.Errorf("manifest lists %s, the zip lacks it", f.Name)
			continue
		}
		if sha(b) != f.SHA256 || int64(len(b)) != f.Bytes {
			t.Errorf("%s: %d bytes, SHA-256 %s; manifest says %d bytes, %s", f.Name, len(b), sha(b), f.Bytes, f.SHA256)
		}
	}
	return &m, files
}

func TestExportPage(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 3)
	r := s.admin.get("/projects/a/export")
	wantStatus(t, r, http.StatusOK)
	checkNoXSS(t, r)
	formats := export.Formats()
	if len(formats) < 2 {
		t.Fatalf("only %d export formats registered", len(formats))
	}
	for _, name := range formats {
		if !strings.Contains(r.Body, `<option value="`+name+`"`) {
			t.Errorf("the export page has no option for the format %s", name)
		}
		f, _ := export.LookupFormat(name)
		if f.Doc != "" && !strings.Contains(r.Body, template(f.Doc)) {
			t.Errorf("the export page does not describe %s (%q)", name, f.Doc)
		}
	}
	if !regexp.MustCompile(`<option value="jsonl" selected>`).MatchString(r.Body) {
		t.Errorf("jsonl is not the format chosen by default")
	}
	for _, want := range []string{`name="state" value="approved"`, `name="reviewed"`, `name="flagged"`, `name="labeler"`, `name="since"`, `name="until"`,
		`name="min_agreement"`, `name="has_feedback"`, `name="aggregate"`, `name="split"`, `name="seed"`, `<option value="sentiment">`, `name="snapshot"`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("the export page lacks %s", want)
		}
	}
	// The project page links to it instead of a direct download.
	r = s.admin.get("/projects/a")
	if !strings.Contains(r.Body, `href="/projects/a/export"`) || strings.Contains(r.Body, "export?format=") {
		t.Errorf("the project page does not link the export page")
	}
	// The streamed download is still there for links that name a format.
	r = s.admin.get("/projects/a/export?format=jsonl")
	wantStatus(t, r, http.StatusOK)
	if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("GET /projects/a/export?format=jsonl: Content-Disposition %q, want an attachment", cd)
	}
}

// template escapes text as html/template does in a page.
func template(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;")
	return r.Replace(s)
}

func TestExportJobRunsToDone(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 12)
	annotateAll(t, s.lab, 10)
	admin := s.admin

	// One file: served as it is.
	j := startJob(t, admin, "a", map[string]any{"format": "jsonl"})
	j = waitJob(t, admin, j.StatusURL)
	if j.Status != "done" || j.Manifest == nil || j.Error != "" {
		t.Fatalf("job %+v, want done with a manifest", j)
	}
	if j.Manifest.Items != 10 || j.Manifest.Rows != 10 || j.ItemsRead != 10 || len(j.Manifest.Files) != 1 || j.Manifest.Files[0].Name != "data.jsonl" {
		t.Errorf("manifest %+v (items read %d), want 10 items and rows in data.jsonl", j.Manifest, j.ItemsRead)
	}
	if j.DownloadURL != j.StatusURL+"/download" {
		t.Errorf("download_url %q, want %q", j.DownloadURL, j.StatusURL+"/download")
	}
	for _, path := range []string{j.DownloadURL, "/projects/a/exports/" + j.ID + "/download"} {
		r := admin.get(path)
		wantStatus(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-ndjson") {
			t.Errorf("GET %s: Content-Type %q, want application/x-ndjson", path, ct)
		}
		if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="a-`) || !strings.HasSuffix(cd, `.jsonl"`) {
			t.Errorf("GET %s: Content-Disposition %q, want an attachment a-….jsonl", path, cd)
		}
		if got := sha([]byte(r.Body)); got != j.Manifest.Files[0].SHA256 || int64(len(r.Body)) != j.Manifest.Files[0].Bytes {
			t.Errorf("GET %s: %d bytes, SHA-256 %s; the manifest says %d, %s", path, len(r.Body), got, j.Manifest.Files[0].Bytes, j.Manifest.Files[0].SHA256)
		}
		if n := strings.Count(r.Body, "\n"); n != 10 {
			t.Errorf("GET %s: %d lines, want 10", path, n)
		}
	}
	// The export is in the project's history.
	if n := s.ts.count("events", "kind = 'export.made' AND payload LIKE ?", `%"job":"`+j.ID+`"%`); n != 1 {
		t.Errorf("the job's export is recorded %d times in the history, want 1", n)
	}

	// A split: a folder of files, served as a zip with its manifest.
	j = startJob(t, admin, "a", map[string]any{"format": "csv", "split": "train=0.5,test=0.5", "seed": 3, "aggregate": "latest"})
	j = waitJob(t, admin, j.StatusURL)
	if j.Status != "done" {
		t.Fatalf("split job %+v, want done", j)
	}
	r := admin.get(j.DownloadURL)
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/zip" {
		t.Errorf("split download: Content-Type %q, want application/zip", ct)
	}
	m, files := checkZip(t, r.Body)
	if m.Rows != 10 || m.Splits["train"] == nil || m.Splits["test"] == nil || m.Splits["train"].Rows+m.Splits["test"].Rows != 10 {
		t.Errorf("split manifest %+v, want 10 rows in train and test", m)
	}
	if !slices.EqualFunc(m.Files, j.Manifest.Files, func(a, b export.File) bool { return a == b }) {
		t.Errorf("the zip's manifest lists %+v, the job's %+v", m.Files, j.Manifest.Files)
	}
	if _, ok := files["train.csv"]; !ok {
		t.Errorf("zip lacks train.csv")
	}

	// A format of several files (hf: a file per split and a card).
	j = startJob(t, admin, "a", map[string]any{"format": "hf", "split": "train=0.8,validation=0.1,test=0.1", "seed": 1})
	j = waitJob(t, admin, j.StatusURL)
	if j.Status != "done" {
		t.Fatalf("hf job %+v, want done", j)
	}
	r = admin.get("/projects/a/exports/" + j.ID + "/download")
	wantStatus(t, r, http.StatusOK)
	checkZip(t, r.Body)

	// The page lists the jobs with their download links and counts.
	r = admin.get("/projects/a/export")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.Body, `href="/projects/a/exports/`+j.ID+`/download"`) || !strings.Contains(r.Body, "10 items, 10 rows") {
		t.Errorf("the export page does not list the finished jobs:\n%s", abbrev(r.Body))
	}
	// And the API.
	list := decodeBody[struct{ Exports []exportJob }](t, admin.get("/api/v1/projects/a/exports"))
	if len(list.Exports) != 3 || list.Exports[0].ID != j.ID {
		t.Errorf("GET /exports: %d jobs (first %s), want 3, newest first (%s)", len(list.Exports), list.Exports[0].ID, j.ID)
	}
}

func TestSnapshotFromPageDownloadsAgainByteForByte(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 12)
	annotateAll(t, s.lab, 9)
	admin := s.admin

	form := url.Values{"format": {"hf"}, "aggregate": {"majority"}, "split": {"train=0.6,validation=0.2,test=0.2"}, "seed": {"42"},
		"stratify": {"sentiment"}, "snapshot": {"v1"}, "state": {"annotated"}}
	r := admin.postForm("/projects/a/export", form)
	wantStatus(t, r, http.StatusSeeOther)
	loc := r.Header.Get("Location")
	id, ok := strings.CutPrefix(loc, "/projects/a/export#job-")
	if !ok {
		t.Fatalf("after starting the export: Location %q, want the export page at the job", loc)
	}
	r = admin.get("/projects/a/export")
	if !strings.Contains(r.Body, `id="job-`+id+`"`) || !strings.Contains(r.Body, `src="/static/export.js"`) && !strings.Contains(r.Body, "done") {
		t.Errorf("the export page does not show the job started:\n%s", abbrev(r.Body))
	}
	j := waitJob(t, admin, "/api/v1/projects/a/exports/"+id)
	if j.Status != "done" || j.Snapshot != "v1" {
		t.Fatalf("snapshot job %+v, want done", j)
	}
	first := admin.get("/projects/a/exports/" + id + "/download")
	wantStatus(t, first, http.StatusOK)
	if cd := first.Header.Get("Content-Disposition"); cd != `attachment; filename="a-v1.zip"` {
		t.Errorf("snapshot download: Content-Disposition %q", cd)
	}
	m, _ := checkZip(t, first.Body)
	if m.Snapshot != "v1" || m.Items != 9 {
		t.Errorf("snapshot manifest %+v, want snapshot v1 of 9 items", m)
	}

	// More work arrives: a new answer, and an edit of an answer the
	// snapshot holds.
	annotateAll(t, s.lab, 2)
	ids := s.ts.itemIDs(s.p)
	if r := s.lab.postJSON("/api/v1/projects/a/items/"+ids[0]+"/annotations", `{"values": {"sentiment": "neutral"}, "base_version": 1}`); r.Status >= 300 {
		t.Fatalf("edit: %s\n%s", r, r.Body)
	}

	// The page lists the snapshot with a link that exports it again.
	r = admin.get("/projects/a/export")
	if !strings.Contains(r.Body, `data-snapshot="v1"`) || !strings.Contains(r.Body, `href="/projects/a/snapshots/v1/download"`) {
		t.Fatalf("the export page does not list the snapshot:\n%s", abbrev(r.Body))
	}
	for _, path := range []string{"/projects/a/snapshots/v1/download", "/api/v1/projects/a/snapshots/v1/download"} {
		again := admin.get(path)
		wantStatus(t, again, http.StatusOK)
		if again.Body != first.Body {
			_, a := unzip(t, first.Body)
			_, b := unzip(t, again.Body)
			t.Errorf("GET %s: %d bytes (entries %v), not the %d bytes (entries %v) the job gave", path, len(again.Body), b, len(first.Body), a)
		}
		if ct := again.Header.Get("Content-Type"); ct != "application/zip" {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
	}
	snaps := decodeBody[struct {
		Snapshots []struct {
			Name        string          `json:"name"`
			Manifest    export.Manifest `json:"manifest"`
			DownloadURL string          `json:"download_url"`
		}
	}](t, admin.get("/api/v1/projects/a/snapshots"))
	if len(snaps.Snapshots) != 1 || snaps.Snapshots[0].Name != "v1" || snaps.Snapshots[0].Manifest.Items != 9 ||
		snaps.Snapshots[0].DownloadURL != "/api/v1/projects/a/snapshots/v1/download" {
		t.Errorf("GET /snapshots: %+v", snaps.Snapshots)
	}
	// A plain export sees the new work.
	j = waitJob(t, admin, startJob(t, admin, "a", map[string]any{"format": "jsonl", "filter": map[string]any{"states": []string{"annotated"}}}).StatusURL)
	if j.Manifest == nil || j.Manifest.Items != 11 {
		t.Errorf("export after the snapshot: %+v, want 11 items", j.Manifest)
	}

	// A single-file snapshot is a zip too, with its manifest.
	j = waitJob(t, admin, startJob(t, admin, "a", map[string]any{"format": "jsonl", "snapshot": "v2"}).StatusURL)
	first = admin.get(j.DownloadURL)
	wantStatus(t, first, http.StatusOK)
	checkZip(t, first.Body)
	annotateAll(t, s.lab, 1)
	if again := admin.get("/api/v1/projects/a/snapshots/v2/download"); again.Body != first.Body {
		t.Errorf("snapshot v2 downloaded again differs from its job's zip")
	}
	// The name is taken now.
	r = admin.postJSON("/api/v1/projects/a/exports", map[string]any{"format": "jsonl", "snapshot": "v2"})
	wantStatus(t, r, http.StatusConflict)
	if e := decodeBody[apiError](t, r); e.Error.Field != "snapshot" {
		t.Errorf("snapshot name taken: error %+v, want the field snapshot", e.Error)
	}
	wantStatus(t, admin.get("/api/v1/projects/a/snapshots/nope/download"), http.StatusNotFound)
}

func TestExportRefusesBadSpecs(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 3)
	annotateAll(t, s.lab, 2)
	admin := s.admin

	api := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"unknown format", `{"format": "xml"}`, 422, "format"},
		{"a format the blocks do not fit", `{"format": "coco"}`, 422, "format"},
		{"unknown aggregation", `{"aggregate": "mean"}`, 422, "aggregate"},
		{"split that does not add up", `{"split": "train=0.5"}`, 422, "split"},
		{"split without ratios", `{"split": "train,test"}`, 422, "split"},
		{"stratify by a block that is not there", `{"split": "train=0.5,test=0.5", "stratify": "password"}`, 422, "stratify"},
		{"stratify without a split", `{"stratify": "sentiment"}`, 422, "stratify"},
		{"seed without a split", `{"seed": 4}`, 422, "seed"},
		{"seed as text", `{"split": "train=0.5,test=0.5", "seed": "four"}`, 422, "seed"},
		{"unknown state", `{"filter": {"states": ["done"]}}`, 422, "state"},
		{"agreement over 1", `{"filter": {"min_agreement": 2}}`, 422, "min_agreement"},
		{"since not a date", `{"filter": {"since": "last week"}}`, 422, "since"},
		{"empty date range", `{"filter": {"since": "2026-02-01", "until": "2026-01-01"}}`, 422, "since"},
		{"unknown filter field", `{"filter": {"password": "x"}}`, 422, "password"},
		{"bad snapshot name", `{"snapshot": "../../etc"}`, 422, "snapshot"},
		{"not JSON", `{"format": `, 400, ""},
	}
	for _, tt := range api {
		r := admin.postJSON("/api/v1/projects/a/exports", tt.body)
		if r.Status != tt.status {
			t.Errorf("%s: status %d, want %d; body:\n%s", tt.name, r.Status, tt.status, r.Body)
			continue
		}
		if e := decodeBody[apiError](t, r); tt.field != "" && e.Error.Field != tt.field {
			t.Errorf("%s: error %+v, want the field %s", tt.name, e.Error, tt.field)
		}
	}

	page := []struct {
		name   string
		form   url.Values
		status int
		field  string
	}{
		{"bad split", url.Values{"format": {"jsonl"}, "split": {"train=0.9,test=0.9"}}, 422, "split"},
		{"agreement not a number", url.Values{"format": {"jsonl"}, "min_agreement": {"most"}}, 400, "min_agreement"},
		{"until not a date", url.Values{"format": {"jsonl"}, "until": {"soon"}}, 400, "until"},
		{"yolo on text", url.Values{"format": {"yolo"}}, 422, "format"},
		{"a field that is not one", url.Values{"format": {"jsonl"}, "order": {"password"}}, 400, "order"},
	}
	for _, tt := range page {
		r := admin.postForm("/projects/a/export", tt.form)
		if r.Status != tt.status {
			t.Errorf("page, %s: status %d, want %d; body:\n%s", tt.name, r.Status, tt.status, abbrev(r.Body))
			continue
		}
		if m := regexp.MustCompile(`role="alert" id="export-error" data-field="([^"]*)"`).FindStringSubmatch(r.Body); m == nil || m[1] != tt.field {
			t.Errorf("page, %s: alert %v (%q), want it about %s", tt.name, m, alertText(r.Body), tt.field)
		}
		if !regexp.MustCompile(`name="`+tt.field+`"[^>]*aria-invalid="true"`).MatchString(r.Body) && tt.field != "order" {
			t.Errorf("page, %s: the field %s is not marked invalid", tt.name, tt.field)
		}
		// The form keeps what was entered.
		for k, v := range tt.form {
			if k != "format" && k != "order" && !strings.Contains(r.Body, `value="`+v[0]+`"`) {
				t.Errorf("page, %s: the form lost %s=%s", tt.name, k, v[0])
			}
		}
	}
	// Nothing started.
	if list := decodeBody[struct{ Exports []exportJob }](t, admin.get("/api/v1/projects/a/exports")); len(list.Exports) != 0 {
		t.Errorf("%d jobs after refused requests, want none", len(list.Exports))
	}

	// The streamed download reads the same parameters.
	stream := []struct {
		query  string
		status int
		field  string
	}{
		{"format=jsonl&state=done", 422, "state"},
		{"format=jsonl&reviewed=maybe", 400, "reviewed"},
		{"format=jsonl&since=yesterday", 400, "since"},
		{"format=jsonl&min_agreement=x", 400, "min_agreement"},
		{"format=jsonl&limit=5", 400, "limit"},
		{"format=jsonl&split=train%3D0.5%2Ctest%3D0.5", 422, "split"},
		{"format=jsonl&snapshot=v1", 422, "snapshot"},
		{"format=hf", 422, "format"},
		{"format=csv&aggregate=avg", 422, "aggregate"},
	}
	for _, tt := range stream {
		r := admin.get("/api/v1/projects/a/export?" + tt.query)
		if r.Status != tt.status {
			t.Errorf("GET export?%s: status %d, want %d; body:\n%s", tt.query, r.Status, tt.status, abbrev(r.Body))
			continue
		}
		if e := decodeBody[apiError](t, r); e.Error.Field != tt.field {
			t.Errorf("GET export?%s: error %+v, want the field %s", tt.query, e.Error, tt.field)
		}
	}
}

func TestStreamedExportFilters(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("admin", loupe.RoleAdmin)
	ts.user("ann", loupe.RoleMember)
	ts.user("bob", loupe.RoleMember)
	p := ts.project("a", strings.Replace(sentimentConfig, "overlap: 1", "overlap: 2", 1), nil)
	ts.importItems(p, `{"id": "r0", "data": {"review": "one"}, "annotations": [{"user": "ann", "values": {"sentiment": "positive"}}, {"user": "bob", "values": {"sentiment": "negative"}}]}
{"id": "r1", "data": {"review": "two"}, "annotations": [{"user": "ann", "values": {"sentiment": "positive"}}]}
{"id": "r2", "data": {"review": "three"}}
`)
	admin := ts.signIn("admin")

	lines := func(query string) []exportLine {
		t.Helper()
		r := admin.get("/api/v1/projects/a/export?" + query)
		wantStatus(t, r, http.StatusOK)
		var out []exportLine
		for _, l := range strings.Split(strings.TrimSpace(r.Body), "\n") {
			if l == "" {
				continue
			}
			var e exportLine
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("export?%s: %v", query, err)
			}
			out = append(out, e)
		}
		return out
	}
	if got := lines("format=jsonl"); len(got) != 2 {
		t.Errorf("unfiltered: %d items, want 2", len(got))
	}
	got := lines("format=jsonl&labeler=bob")
	if len(got) != 1 || len(got[0].Annotations) != 1 || got[0].Annotations[0].User != "bob" {
		t.Errorf("labeler=bob: %+v, want one item with bob's annotation alone", got)
	}
	if got := lines("format=jsonl&min_agreement=1"); len(got) != 0 {
		t.Errorf("min_agreement=1: %d items, want 0 (the one item answered twice disagrees)", len(got))
	}
	if got := lines("format=jsonl&since=2000-01-01&until=2000-01-02"); len(got) != 0 {
		t.Errorf("a past day: %d items, want 0", len(got))
	}
	r := admin.get("/api/v1/projects/a/export?format=csv&aggregate=latest&state=annotated,in_review")
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !strings.Contains(r.Body, "sentiment") {
		t.Errorf("csv: Content-Type %q, body %q", ct, r.Body)
	}
	if n := ts.count("events", "kind = 'export.made' AND payload LIKE '%labelers bob%'"); n != 1 {
		t.Errorf("the filtered export is recorded %d times with its filter, want 1", n)
	}
}

func TestExportJobsAreTheProjectsOwn(t *testing.T) {
	t.Parallel()
	s := newAccessSetup(t)
	ts := s.ts
	admin := ts.signIn("admin")
	j := waitJob(t, admin, startJob(t, admin, "a", map[string]any{"format": "jsonl"}).StatusURL)
	other := waitJob(t, admin, startJob(t, admin, "b", map[string]any{"format": "jsonl", "snapshot": "b1"}).StatusURL)
	if j.Status != "done" || other.Status != "done" {
		t.Fatalf("jobs %+v %+v, want done", j, other)
	}

	// A's job through B's routes, and unknown ids, are not found, even
	// for an admin who sees both.
	for _, path := range []string{
		"/api/v1/projects/b/exports/" + j.ID,
		"/api/v1/projects/b/exports/" + j.ID + "/download",
		"/projects/b/exports/" + j.ID + "/download",
		"/api/v1/projects/a/exports/00000000-0000-4000-8000-000000000000",
		"/api/v1/projects/a/exports/" + other.ID,
		"/api/v1/projects/a/exports/..%2f..%2fetc/download",
		"/projects/a/snapshots/b1/download",
		"/api/v1/projects/a/snapshots/b1/download",
	} {
		if r := admin.get(path); r.Status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, r.Status)
		}
	}
	if list := decodeBody[struct{ Exports []exportJob }](t, admin.get("/api/v1/projects/b/exports")); len(list.Exports) != 1 || list.Exports[0].ID != other.ID {
		t.Errorf("B's jobs: %+v, want B's one", list.Exports)
	}

	// Who may not export A: its labeler and reviewer are refused (403),
	// B's manager and a member of nothing do not find it (404).
	routes := []req{
		{"GET", "/projects/a/export", "", ""},
		{"POST", "/projects/a/export", "format=jsonl", "application/x-www-form-urlencoded"},
		{"GET", "/projects/a/exports/" + j.ID + "/download", "", ""},
		{"POST", "/api/v1/projects/a/exports", `{"format": "jsonl"}`, "application/json"},
		{"GET", "/api/v1/projects/a/exports", "", ""},
		{"GET", "/api/v1/projects/a/exports/" + j.ID, "", ""},
		{"GET", "/api/v1/projects/a/exports/" + j.ID + "/download", "", ""},
		{"GET", "/api/v1/projects/a/snapshots", "", ""},
		{"GET", "/projects/a/snapshots/a1/download", "", ""},
		{"GET", "/api/v1/projects/a/snapshots/a1/download", "", ""},
	}
	users := []struct {
		name   string
		c      *client
		status int
	}{
		{"labeler of A", s.lab, http.StatusForbidden},
		{"labeler of A with a token", s.labToken, http.StatusForbidden},
		{"reviewer of A", s.rev, http.StatusForbidden},
		{"manager of B", s.mgrB, http.StatusNotFound},
		{"member of nothing", s.nobody, http.StatusNotFound},
	}
	for _, u := range users {
		for _, rq := range routes {
			r := rq.send(u.c)
			if r.Status != u.status {
				t.Errorf("%s: %s: status %d, want %d", u.name, rq, r.Status, u.status)
			}
			if strings.Contains(r.Body, j.ID) {
				t.Errorf("%s: %s: the response names A's job", u.name, rq)
			}
		}
	}
	if list := decodeBody[struct{ Exports []exportJob }](t, admin.get("/api/v1/projects/a/exports")); len(list.Exports) != 1 {
		t.Errorf("A has %d jobs after refused requests, want 1", len(list.Exports))
	}
}

func TestExportJobsNeedSameOrigin(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 2)
	host := s.ts.host()
	cross := [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "null"},
		{"Origin", "http://evil.example"},
		{"Sec-Fetch-Site", "same-site"},
	}
	for _, h := range cross {
		if r := s.admin.postForm("/projects/a/export", url.Values{"format": {"jsonl"}}, h...); r.Status != http.StatusForbidden {
			t.Errorf("export form with %v: status %d, want 403", h, r.Status)
		}
		if r := s.admin.postJSON("/api/v1/projects/a/exports", `{"format": "jsonl"}`, h...); r.Status != http.StatusForbidden {
			t.Errorf("API export with %v: status %d, want 403", h, r.Status)
		}
	}
	// A form (or text/plain) cannot forge the JSON body.
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		r := s.admin.do(http.MethodPost, "/api/v1/projects/a/exports", strings.NewReader(`{"format": "jsonl"}`), "Content-Type", ct)
		wantStatus(t, r, http.StatusUnsupportedMediaType)
	}
	if list := decodeBody[struct{ Exports []exportJob }](t, s.admin.get("/api/v1/projects/a/exports")); len(list.Exports) != 0 {
		t.Fatalf("%d jobs after cross-origin requests, want none", len(list.Exports))
	}
	// GET never starts one.
	wantStatus(t, s.admin.get("/projects/a/export?state=approved"), http.StatusOK)
	if r := s.admin.get("/api/v1/projects/a/exports/download"); r.Status != http.StatusNotFound {
		t.Errorf("GET of an unknown job: %d", r.Status)
	}
	// The same requests from the site itself go through.
	wantStatus(t, s.admin.postForm("/projects/a/export", url.Values{"format": {"jsonl"}}, "Origin", "http://"+host), http.StatusSeeOther)
	wantStatus(t, s.admin.postJSON("/api/v1/projects/a/exports", `{"format": "jsonl"}`, "Sec-Fetch-Site", "same-origin"), http.StatusAccepted)
}

// gatedStore holds every export until the test lets it go, to watch jobs
// wait their turn.
type gatedStore struct {
	*storage.DB
	mu      sync.Mutex
	started []string // the formats of the exports begun, in order
	release chan struct{}
}

func (g *gatedStore) Export(ctx context.Context, p *annotate.Project, spec export.Spec, opt export.Target) (*export.Manifest, error) {
	g.mu.Lock()
	g.started = append(g.started, spec.Format)
	g.mu.Unlock()
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.DB.Export(ctx, p, spec, opt)
}

func (g *gatedStore) begun() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.started)
}

func TestExportJobsTakeTurns(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("admin", loupe.RoleAdmin)
	p := ts.project("a", sentimentConfig, nil)
	ts.importItems(p, reviews(3))
	gs := &gatedStore{DB: ts.DB, release: make(chan struct{})}
	dir := filepath.Join(t.TempDir(), "exports")
	srv, err := web.New(gs, web.Config{SessionKeys: [][]byte{newKey(t)}, ExportDir: dir, TempDir: t.TempDir(), Now: ts.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	admin := &client{t: t, ts: &testServer{t: t, URL: hs.URL, HTTP: hs}, rt: hs.Client().Transport, jar: ts.client().jar, token: ts.token("admin")}

	formats := []string{"jsonl", "csv", "labelstudio", "spacy"}
	var jobs []exportJob
	for _, f := range formats {
		if slices.Contains(export.Formats(), f) {
			jobs = append(jobs, startJob(t, admin, "a", map[string]any{"format": f}))
		}
	}
	if len(jobs) < 4 {
		t.Skipf("only %d of the formats %v are registered", len(jobs), formats)
	}
	status := func(j exportJob) string { return decodeBody[exportJob](t, admin.get(j.StatusURL)).Status }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("two exports to begin", func() bool { return len(gs.begun()) == 2 })
	time.Sleep(50 * time.Millisecond) // a third would begin now if it could
	if got := gs.begun(); len(got) != 2 || !slices.Contains(got, "jsonl") || !slices.Contains(got, "csv") {
		t.Fatalf("exports begun %v, want the first two alone", got)
	}
	if st := []string{status(jobs[0]), status(jobs[1]), status(jobs[2]), status(jobs[3])}; !slices.Equal(st, []string{"running", "running", "queued", "queued"}) {
		t.Errorf("statuses %v, want two running and two queued", st)
	}
	// Labelers are not held up meanwhile.
	wantStatus(t, admin.get("/api/v1/projects/a/next"), http.StatusOK)

	gs.release <- struct{}{}
	waitFor("the third export to begin", func() bool { return len(gs.begun()) == 3 })
	if got := gs.begun(); got[2] != "labelstudio" {
		t.Errorf("exports begun %v: the third is not the one started third", got)
	}
	gs.release <- struct{}{}
	gs.release <- struct{}{}
	waitFor("the fourth export to begin", func() bool { return len(gs.begun()) == 4 })
	gs.release <- struct{}{}
	for _, j := range jobs {
		if got := waitJob(t, admin, j.StatusURL); got.Status != "done" {
			t.Errorf("job %s (%s): %+v, want done", j.ID, j.Format, got)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("%d entries in the export folder, want 4 job folders", len(entries))
	}

	// A job running at shutdown is stopped; every folder is removed.
	j := startJob(t, admin, "a", map[string]any{"format": "jsonl"})
	waitFor("the last export to begin", func() bool { return len(gs.begun()) == 5 })
	srv.Close()
	if got := waitJob(t, admin, j.StatusURL); got.Status != "failed" || !strings.Contains(got.Error, "shut down") {
		t.Errorf("job running at shutdown: %+v, want failed for the shutdown", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d entries left in the export folder after Close, want 0", len(entries))
	}
	r := admin.postJSON("/api/v1/projects/a/exports", `{"format": "jsonl"}`)
	wantStatus(t, r, http.StatusConflict)
}

func TestExportJobsExpire(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 2)
	annotateAll(t, s.lab, 1)
	admin := s.ts.tokenClient(s.ts.token("admin")) // sessions expire meanwhile
	j := waitJob(t, admin, startJob(t, admin, "a", map[string]any{"format": "jsonl"}).StatusURL)
	wantStatus(t, admin.get(j.DownloadURL), http.StatusOK)
	s.ts.Clock.Add(23 * time.Hour)
	wantStatus(t, admin.get(j.DownloadURL), http.StatusOK)
	s.ts.Clock.Add(2 * time.Hour)
	for _, path := range []string{j.StatusURL, j.DownloadURL} {
		if r := admin.get(path); r.Status != http.StatusNotFound {
			t.Errorf("GET %s a day after: status %d, want 404", path, r.Status)
		}
	}
	t.Cleanup(func() { s.ts.Srv.Close() })
}

func TestExportJobDownloadWhileRunning(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("admin", loupe.RoleAdmin)
	p := ts.project("a", sentimentConfig, nil)
	ts.importItems(p, reviews(2))
	gs := &gatedStore{DB: ts.DB, release: make(chan struct{})}
	srv, err := web.New(gs, web.Config{SessionKeys: [][]byte{newKey(t)}, TempDir: t.TempDir(), Now: ts.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	admin := &client{t: t, ts: &testServer{t: t, URL: hs.URL, HTTP: hs}, rt: hs.Client().Transport, jar: ts.client().jar, token: ts.token("admin")}
	j := startJob(t, admin, "a", map[string]any{"format": "jsonl"})
	r := admin.get(j.StatusURL + "/download")
	wantStatus(t, r, http.StatusConflict)
	if e := decodeBody[apiError](t, r); !strings.Contains(e.Error.Message, "running") {
		t.Errorf("download while running: %+v", e.Error)
	}
	close(gs.release)
	if got := waitJob(t, admin, j.StatusURL); got.Status != "done" {
		t.Errorf("job %+v, want done", got)
	}
}

// The streamed export sends its first bytes before it has read the whole
// project.
func TestStreamedExportFlushesEarly(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 0)
	const n = 5000
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id": "r%d", "data": {"review": "review number %d"}, "annotations": [{"user": "lab", "values": {"sentiment": "positive"}}]}`+"\n", i, i)
	}
	if res := s.ts.importItems(s.p, b.String()); res.Added != n || res.Annotations != n {
		t.Fatalf("import: %+v, want %d items and annotations", res, n)
	}
	req, _ := http.NewRequest(http.MethodGet, s.ts.URL+"/api/v1/projects/a/export?format=jsonl", nil)
	for _, ck := range s.admin.jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	start := time.Now()
	resp, err := s.ts.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 1)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("first byte after %s, want within 1 s", d)
	}
	rest, _ := io.ReadAll(resp.Body)
	if lines := bytes.Count(rest, []byte("\n")); lines != n {
		t.Errorf("%d lines, want %d", lines, n)
	}
}

func TestExportJobsKeptPerProject(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 2)
	annotateAll(t, s.lab, 1)
	var first exportJob
	for i := range 52 {
		j := waitJob(t, s.admin, startJob(t, s.admin, "a", map[string]any{"format": "jsonl"}).StatusURL)
		if i == 0 {
			first = j
		}
	}
	list := decodeBody[struct{ Exports []exportJob }](t, s.admin.get("/api/v1/projects/a/exports"))
	if len(list.Exports) != 50 {
		t.Errorf("%d jobs kept, want 50", len(list.Exports))
	}
	if r := s.admin.get(first.DownloadURL); r.Status != http.StatusNotFound {
		t.Errorf("the oldest job's download: status %d, want 404", r.Status)
	}
	t.Cleanup(func() { s.ts.Srv.Close() })
}
