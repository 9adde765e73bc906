package web_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

// labelPage gets the labeling page and reads its form.
func labelPage(t *testing.T, c *client, path string) (*response, labelForm) {
	t.Helper()
	r := c.get(path)
	wantStatus(t, r, http.StatusOK)
	return r, parseLabelForm(t, r.Body)
}

func TestLabelFormFlow(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("lab", loupe.RoleMember)
	ts.user("admin", loupe.RoleAdmin)
	admin := ts.tokenClient(ts.token("admin"))
	p := ts.project("a", twoChoiceConfig, nil)
	ts.importItems(p, `{"id": "r0", "data": {"review": "Tom & Jerry <b>loved</b> it \"a lot\""}}
{"id": "r1", "data": {"review": "second"}}
{"id": "r2", "data": {"review": "third"}}
{"id": "r3", "data": {"review": "fourth"}}
`)
	ts.member(p, "lab", annotate.RoleLabeler)
	lab := ts.signIn("lab")
	ids := ts.itemIDs(p)

	// The first item, its text escaped.
	r, f0 := labelPage(t, lab, "/projects/a/label")
	if f0.ItemID != ids[0] || f0.BaseVersion != "0" || f0.ClientID == "" {
		t.Fatalf("first form %+v, want item %s, base_version 0 and a client id", f0, ids[0])
	}
	if want := `Tom &amp; Jerry &lt;b&gt;loved&lt;/b&gt; it &#34;a lot&#34;`; !strings.Contains(r.Body, want) {
		t.Errorf("labeling page does not show the text escaped as %q:\n%s", want, abbrev(r.Body))
	}
	if strings.Contains(r.Body, "<b>loved</b>") {
		t.Errorf("labeling page holds the item's markup unescaped")
	}

	// Invalid answers re-render the page with 422, keeping valid answers
	// and storing nothing.
	invalid := []struct {
		name    string
		form    url.Values
		keepTop string
	}{
		{"unknown option", f0.values("sentiment", "furious", "topic", "price"), "price"},
		{"required answer missing", f0.values("topic", "quality"), "quality"},
		{"two options for one choice", func() url.Values {
			v := f0.values("topic", "delivery")
			v["b.sentiment"] = []string{"positive", "negative"}
			return v
		}(), "delivery"},
	}
	for _, tt := range invalid {
		before := ts.counts()
		r := lab.postForm(f0.Action, tt.form)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if alertText(r.Body) == "" {
			t.Errorf("%s: the page shows no error", tt.name)
		}
		if !strings.Contains(r.Body, `aria-invalid="true"`) {
			t.Errorf("%s: no block is marked invalid", tt.name)
		}
		if got := checkedOption(r.Body, "topic"); got != tt.keepTop {
			t.Errorf("%s: topic checked %q after the error, want the answer %q kept", tt.name, got, tt.keepTop)
		}
		if f := parseLabelForm(t, r.Body); f.ItemID != ids[0] || f.BaseVersion != "0" {
			t.Errorf("%s: re-rendered form %+v, want item %s at base_version 0", tt.name, f, ids[0])
		}
		sameCounts(t, tt.name, before, ts.counts())
	}

	// A valid answer is stored and leads to the next item.
	r = lab.postForm(f0.Action, f0.values("sentiment", "positive", "topic", "price"))
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/projects/a/label" {
		t.Errorf("after submitting: Location %q, want /projects/a/label", loc)
	}
	r, f1 := labelPage(t, lab, "/projects/a/label")
	if f1.ItemID != ids[1] {
		t.Fatalf("second item %s, want %s", f1.ItemID, ids[1])
	}
	if !strings.Contains(r.Body, `href="/projects/a/items/`+ids[0]+`"`) {
		t.Errorf("second item's page has no link back to the first")
	}
	wantStatus(t, lab.postForm(f1.Action, f1.values("sentiment", "negative")), http.StatusSeeOther)

	// Editing the first item: two tabs open it at version 1.
	r, tab1 := labelPage(t, lab, "/projects/a/items/"+ids[0])
	_, tab2 := labelPage(t, lab, "/projects/a/items/"+ids[0])
	if tab1.BaseVersion != "1" || checkedOption(r.Body, "sentiment") != "positive" || checkedOption(r.Body, "topic") != "price" {
		t.Fatalf("item page base_version %s, sentiment %q, topic %q; want 1, positive, price",
			tab1.BaseVersion, checkedOption(r.Body, "sentiment"), checkedOption(r.Body, "topic"))
	}
	r = lab.postForm(tab1.Action, tab1.values("sentiment", "negative", "topic", "price"))
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/projects/a/items/"+ids[1] {
		t.Errorf("after editing the first item: Location %q, want the next one, /projects/a/items/%s", loc, ids[1])
	}
	if v := exportVersion(t, admin, ids[0]); v.Version != 2 || v.Values["sentiment"] != "negative" {
		t.Errorf("after the edit: version %d %v, want version 2 negative", v.Version, v.Values)
	}

	// The second tab is stale: 409, its answer kept, nothing stored.
	before := ts.counts()
	r = lab.postForm(tab2.Action, tab2.values("sentiment", "neutral", "topic", "quality"))
	wantStatus(t, r, http.StatusConflict)
	sameCounts(t, "a stale edit", before, ts.counts())
	if got := checkedOption(r.Body, "sentiment"); got != "neutral" {
		t.Errorf("after 409: sentiment checked %q, want the answer neutral kept", got)
	}
	if got := checkedOption(r.Body, "topic"); got != "quality" {
		t.Errorf("after 409: topic checked %q, want the answer quality kept", got)
	}
	if alertText(r.Body) == "" {
		t.Errorf("after 409: the page explains nothing")
	}
	// Saving it is a deliberate second step, based on the new version.
	again := parseLabelForm(t, r.Body)
	if again.BaseVersion != "2" {
		t.Errorf("after 409: base_version %s, want 2", again.BaseVersion)
	}
	wantStatus(t, lab.postForm(again.Action, again.values("sentiment", "neutral", "topic", "quality")), http.StatusSeeOther)
	if v := exportVersion(t, admin, ids[0]); v.Version != 3 || v.Values["sentiment"] != "neutral" {
		t.Errorf("after saving again: version %d %v, want version 3 neutral", v.Version, v.Values)
	}

	// Skipping: the third item is passed over and not offered again.
	_, f2 := labelPage(t, lab, "/projects/a/label")
	if f2.ItemID != ids[2] {
		t.Fatalf("third item %s, want %s", f2.ItemID, ids[2])
	}
	r = lab.postForm("/projects/a/items/"+f2.ItemID+"/skip", nil)
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/projects/a/label" {
		t.Errorf("after skipping: Location %q, want /projects/a/label", loc)
	}
	_, f3 := labelPage(t, lab, "/projects/a/label")
	if f3.ItemID != ids[3] {
		t.Errorf("after skipping: item %s, want %s", f3.ItemID, ids[3])
	}
	// An annotated item cannot be skipped.
	before = ts.counts()
	wantStatus(t, lab.postForm("/projects/a/items/"+ids[0]+"/skip", nil), http.StatusConflict)
	sameCounts(t, "skipping an annotated item", before, ts.counts())

	wantStatus(t, lab.postForm(f3.Action, f3.values("sentiment", "neutral")), http.StatusSeeOther)
	r = lab.get("/projects/a/label")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.Body, `id="queue-empty"`) {
		t.Errorf("with every item done or skipped, the labeling page does not say so:\n%s", abbrev(r.Body))
	}
	pr := decodeBody[map[string]int](t, lab.get("/api/v1/projects/a/progress"))
	if pr["my_done"] != 3 || pr["my_skipped"] != 1 {
		t.Errorf("progress %v, want my_done 3 and my_skipped 1", pr)
	}
}

type exportedAnnotation struct {
	Version int
	Values  map[string]string
}

// exportVersion returns an item's one exported annotation; c must be
// allowed to export project "a".
func exportVersion(t *testing.T, c *client, itemID string) exportedAnnotation {
	t.Helper()
	for _, l := range exportLines(t, c, "a") {
		if l.ID == itemID {
			if len(l.Annotations) != 1 {
				t.Fatalf("item %s has %d annotations in the export, want 1", itemID, len(l.Annotations))
			}
			return exportedAnnotation{l.Annotations[0].Version, l.Annotations[0].Values}
		}
	}
	t.Fatalf("item %s is not in the export", itemID)
	return exportedAnnotation{}
}

// multipartBody builds a multipart body from parts: name, filename (""
// for a plain field), content.
func multipartBody(parts ...[3]string) (string, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		if p[1] != "" {
			w, _ = mw.CreateFormFile(p[0], p[1])
		} else {
			w, _ = mw.CreateFormField(p[0])
		}
		io.WriteString(w, p[2])
	}
	mw.Close()
	return buf.String(), mw.FormDataContentType()
}

func TestImportPage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("mgr", loupe.RoleMember)
	p := ts.project("a", sentimentConfig, nil)
	ts.member(p, "mgr", annotate.RoleManager)
	mgr := ts.signIn("mgr")

	r := mgr.get("/projects/a/import")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.Body, `enctype="multipart/form-data"`) || !strings.Contains(r.Body, `name="file"`) {
		t.Errorf("import page has no upload form:\n%s", abbrev(r.Body))
	}

	body, ctype := multipartBody([3]string{"file", "items.jsonl", reviews(3)})
	r = mgr.do(http.MethodPost, "/projects/a/import", strings.NewReader(body), "Content-Type", ctype)
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/projects/a" {
		t.Errorf("after the import: Location %q, want /projects/a", loc)
	}
	if n := ts.count("items", ""); n != 3 {
		t.Fatalf("%d items after the upload, want 3", n)
	}
	r = mgr.get("/projects/a")
	if !strings.Contains(r.Body, "Imported 3 items") {
		t.Errorf("the project page after the import does not report it:\n%s", abbrev(r.Body))
	}

	many := make([][3]string, 0, 1001)
	for i := range 1000 {
		many = append(many, [3]string{fmt.Sprintf("field%d", i), "", "x"})
	}
	many = append(many, [3]string{"file", "items.jsonl", `{"review": "hidden behind many parts"}` + "\n"})
	manyBody, manyType := multipartBody(many...)
	noFile, noFileType := multipartBody([3]string{"note", "", "no file here"})
	badLine, badLineType := multipartBody([3]string{"file", "items.jsonl", "{\"review\": \"ok\"}\n{\"review\": \n"})
	_, otherBoundary := multipartBody()

	refused := []struct {
		name, body, ctype string
		status            int
		inMessage         string
	}{
		{"1000 parts before the file", manyBody, manyType, http.StatusUnprocessableEntity, "file"},
		{"no file part", noFile, noFileType, http.StatusUnprocessableEntity, "file"},
		{"empty multipart", "--b--\r\n", "multipart/form-data; boundary=b", http.StatusUnprocessableEntity, "file"},
		{"a bad line", badLine, badLineType, http.StatusUnprocessableEntity, "line 2"},
		// Malformed bodies: any 4xx but 413 will do.
		{"boundary mismatch", body, otherBoundary, 0, ""},
		{"truncated body", body[:len(body)/2], ctype, 0, ""},
		{"no boundary", body, "multipart/form-data", 0, ""},
		{"not multipart", reviews(1), "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, ""},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.counts()
			r := mgr.do(http.MethodPost, "/projects/a/import", strings.NewReader(tt.body), "Content-Type", tt.ctype)
			if tt.status == 0 && (r.Status < 400 || r.Status >= 500 || r.Status == http.StatusRequestEntityTooLarge) {
				t.Errorf("status %d, want a 4xx; body:\n%s", r.Status, abbrev(r.Body))
			} else if tt.status != 0 && r.Status != tt.status {
				t.Errorf("status %d, want %d; body:\n%s", r.Status, tt.status, abbrev(r.Body))
			}
			if msg := alertText(r.Body); !strings.Contains(msg, tt.inMessage) {
				t.Errorf("message %q, want it to mention %q", msg, tt.inMessage)
			}
			sameCounts(t, tt.name, before, ts.counts())
		})
	}
	// Every spooled upload was removed.
	left, err := os.ReadDir(ts.Temp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("%d spooled files left in the temporary directory, want 0", len(left))
	}
}
