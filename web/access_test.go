package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

// accessSetup is two projects: "a" (Alpha) and "b" (Bravo), with an admin,
// a labeler and a reviewer of A, a manager of B, and a member of nothing.
type accessSetup struct {
	ts       *testServer
	a, b     *annotate.Project
	idsA     []string
	idsB     []string
	admin    *client
	lab      *client // labeler of A
	labToken *client // the same labeler, with an API token
	rev      *client // reviewer of A
	mgrB     *client // manager of B
	nobody   *client // a member of no project
}

const bravoConfig = `title: Bravo secret project
overlap: 1
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
`

func newAccessSetup(t *testing.T) *accessSetup {
	t.Helper()
	ts := newTestServer(t, options{})
	ts.user("admin", loupe.RoleAdmin)
	for _, name := range []string{"lab", "rev", "mgrb", "nobody"} {
		ts.user(name, loupe.RoleMember)
	}
	s := &accessSetup{ts: ts}
	s.a = ts.project("a", sentimentConfig, nil)
	s.b = ts.project("b", bravoConfig, nil)
	ts.importItems(s.a, reviews(3))
	ts.importItems(s.b, `{"id": "b1", "data": {"review": "bravo-item-text one"}}
{"id": "b2", "data": {"review": "bravo-item-text two"}}
`)
	ts.member(s.a, "lab", annotate.RoleLabeler)
	ts.member(s.a, "rev", annotate.RoleReviewer)
	ts.member(s.b, "mgrb", annotate.RoleManager)
	s.idsA, s.idsB = ts.itemIDs(s.a), ts.itemIDs(s.b)
	s.admin, s.lab, s.rev, s.mgrB, s.nobody = ts.signIn("admin"), ts.signIn("lab"), ts.signIn("rev"), ts.signIn("mgrb"), ts.signIn("nobody")
	s.labToken = ts.tokenClient(ts.token("lab"))

	// B has an annotation, so that there is something to leak.
	wantStatus(t, s.mgrB.get("/api/v1/projects/b/next"), http.StatusOK)
	wantStatus(t, s.mgrB.postJSON("/api/v1/projects/b/items/"+s.idsB[0]+"/annotations", `{"values": {"sentiment": "negative"}}`), http.StatusCreated)
	return s
}

// req is one request of a table.
type req struct {
	method, path string
	body         string
	ctype        string
}

func (r req) String() string { return r.method + " " + r.path }

func (r req) send(c *client) *response {
	var body io.Reader
	var header []string
	if r.body != "" || r.method != http.MethodGet {
		body = strings.NewReader(r.body)
	}
	if r.ctype != "" {
		header = []string{"Content-Type", r.ctype}
	}
	return c.do(r.method, r.path, body, header...)
}

func multipartFile(content string) (string, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "items.jsonl")
	io.WriteString(fw, content)
	mw.Close()
	return buf.String(), mw.FormDataContentType()
}

// projectRoutes returns every page and API route of a project, with the
// given item id where a route takes one.
func projectRoutes(slug, itemID string) []req {
	form := "application/x-www-form-urlencoded"
	upload, uploadType := multipartFile(`{"review": "planted"}` + "\n")
	p, api := "/projects/"+slug, "/api/v1/projects/"+slug
	return []req{
		{"GET", p, "", ""},
		{"GET", p + "/", "", ""},
		{"GET", p + "/label", "", ""},
		{"GET", p + "/items/" + itemID, "", ""},
		{"POST", p + "/items/" + itemID + "/annotations", "b.sentiment=positive&base_version=0", form},
		{"POST", p + "/items/" + itemID + "/skip", "", form},
		{"GET", p + "/members", "", ""},
		{"POST", p + "/members", "user=lab&role=manager", form},
		{"POST", p + "/members/mgrb/remove", "", form},
		{"POST", p + "/members/lab/remove", "", form},
		{"GET", p + "/import", "", ""},
		{"POST", p + "/import", upload, uploadType},
		{"GET", p + "/export", "", ""},
		{"GET", p + "/export?format=jsonl", "", ""},
		{"GET", api, "", ""},
		{"GET", api + "/", "", ""},
		{"GET", api + "/progress", "", ""},
		{"GET", api + "/next", "", ""},
		{"GET", api + "/items/" + itemID, "", ""},
		{"POST", api + "/items", `{"review": "planted"}` + "\n", "application/x-ndjson"},
		{"POST", api + "/items/" + itemID + "/annotations", `{"values": {"sentiment": "positive"}}`, "application/json"},
		{"POST", api + "/items/" + itemID + "/skip", "", "application/json"},
		{"GET", api + "/members", "", ""},
		{"PUT", api + "/members/lab", `{"role": "manager"}`, "application/json"},
		{"DELETE", api + "/members/mgrb", "", ""},
		{"GET", api + "/export?format=jsonl", "", ""},
	}
}

// checkNoLeak fails the test when a response shows anything of project B.
func checkNoLeak(t *testing.T, what string, r *response) {
	t.Helper()
	for _, secret := range []string{"Bravo", "bravo-item-text", "mgrb"} {
		if strings.Contains(r.Body, secret) {
			t.Errorf("%s: response shows %q:\n%s", what, secret, abbrev(r.Body))
		}
	}
}

func TestCrossProjectAccessIsNotFound(t *testing.T) {
	t.Parallel()
	s := newAccessSetup(t)
	ts := s.ts

	var cases []req
	// Every route of B, with an item of B.
	cases = append(cases, projectRoutes("b", s.idsB[0])...)
	// Routes of A (where the labeler works) with an item of B.
	for _, r := range projectRoutes("a", s.idsB[0]) {
		if strings.Contains(r.path, "/items/") {
			cases = append(cases, r)
		}
	}
	users := []struct {
		name string
		c    *client
	}{
		{"labeler of A", s.lab},
		{"labeler of A with a token", s.labToken},
		{"reviewer of A", s.rev},
		{"member of no project", s.nobody},
	}
	for _, u := range users {
		for _, rq := range cases {
			before := ts.counts()
			r := rq.send(u.c)
			// On A's routes a reviewer may be refused for their role first.
			onA := strings.HasPrefix(strings.TrimPrefix(rq.path, "/api/v1"), "/projects/a/")
			if r.Status != http.StatusNotFound && !(onA && r.Status == http.StatusForbidden) {
				t.Errorf("%s: %s: status %d, want 404; body:\n%s", u.name, rq, r.Status, abbrev(r.Body))
			}
			checkNoLeak(t, u.name+": "+rq.String(), r)
			sameCounts(t, u.name+": "+rq.String(), before, ts.counts())
		}
	}
	// A project that does not exist answers the same as one the user may
	// not see.
	for _, rq := range []req{{"GET", "/projects/zzz", "", ""}, {"GET", "/api/v1/projects/zzz", "", ""}} {
		if r := rq.send(s.lab); r.Status != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", rq, r.Status)
		}
	}

	// Lists show only the user's projects.
	r := s.lab.get("/api/v1/projects")
	wantStatus(t, r, http.StatusOK)
	list := decodeBody[struct {
		Projects []struct{ Slug string } `json:"projects"`
	}](t, r)
	if len(list.Projects) != 1 || list.Projects[0].Slug != "a" {
		t.Errorf("GET /api/v1/projects as labeler of A: %+v, want only a", list.Projects)
	}
	checkNoLeak(t, "project list", r)
	r = s.lab.get("/")
	wantStatus(t, r, http.StatusOK)
	checkNoLeak(t, "projects page", r)
	r = s.nobody.get("/api/v1/projects")
	if list := decodeBody[struct{ Projects []any }](t, r); len(list.Projects) != 0 {
		t.Errorf("GET /api/v1/projects as a member of nothing: %d projects, want 0", len(list.Projects))
	}

	// B is untouched: its manager still sees one annotation by mgrb.
	lines := exportLines(t, s.mgrB, "b")
	if len(lines) != 1 || len(lines[0].Annotations) != 1 || lines[0].Annotations[0].User != "mgrb" {
		t.Errorf("export of B after refused requests: %+v, want one annotation by mgrb", lines)
	}
}

func TestLabelerCannotManage(t *testing.T) {
	t.Parallel()
	s := newAccessSetup(t)
	ts := s.ts
	var manage []req
	for _, r := range projectRoutes("a", s.idsA[0]) {
		if strings.Contains(r.path, "/members") || strings.Contains(r.path, "/import") || strings.Contains(r.path, "/export") ||
			r.method == http.MethodPost && strings.HasSuffix(r.path, "/items") {
			manage = append(manage, r)
		}
	}
	if len(manage) < 10 {
		t.Fatalf("only %d manager routes found", len(manage))
	}
	for _, c := range []*client{s.lab, s.labToken, s.rev} {
		for _, rq := range manage {
			before := ts.counts()
			r := rq.send(c)
			if r.Status != http.StatusForbidden {
				t.Errorf("%s as a labeler or reviewer: status %d, want 403; body:\n%s", rq, r.Status, abbrev(r.Body))
			}
			sameCounts(t, rq.String(), before, ts.counts())
		}
	}
	if n := ts.count("project_members", "project_id = ? AND role = 'labeler'", s.a.ID); n != 1 {
		t.Errorf("labelers of A: %d, want 1", n)
	}
}

func TestLabelerSeesOnlyTheirItems(t *testing.T) {
	t.Parallel()
	s := newAccessSetup(t)
	ts := s.ts
	task := decodeBody[struct {
		Item struct{ ID string } `json:"item"`
	}](t, s.lab.get("/api/v1/projects/a/next"))
	var other string
	for _, id := range s.idsA {
		if id != task.Item.ID {
			other = id
			break
		}
	}
	tests := []struct {
		rq   req
		want int
	}{
		{req{"GET", "/projects/a/items/" + other, "", ""}, http.StatusNotFound},
		{req{"GET", "/api/v1/projects/a/items/" + other, "", ""}, http.StatusNotFound},
		{req{"POST", "/projects/a/items/" + other + "/annotations", "b.sentiment=positive", "application/x-www-form-urlencoded"}, http.StatusNotFound},
		{req{"POST", "/api/v1/projects/a/items/" + other + "/annotations", `{"values": {"sentiment": "positive"}}`, "application/json"}, http.StatusForbidden},
		{req{"GET", "/api/v1/projects/a/items/not-an-item", "", ""}, http.StatusNotFound},
	}
	for _, tt := range tests {
		before := ts.counts()
		if r := tt.rq.send(s.lab); r.Status != tt.want {
			t.Errorf("%s: status %d, want %d; body:\n%s", tt.rq, r.Status, tt.want, abbrev(r.Body))
		}
		sameCounts(t, tt.rq.String(), before, ts.counts())
	}
	// The item the queue gave them is theirs to open.
	wantStatus(t, s.lab.get("/projects/a/items/"+task.Item.ID), http.StatusOK)
	wantStatus(t, s.lab.get("/api/v1/projects/a/items/"+task.Item.ID), http.StatusOK)
}

func TestReviewerCannotLabel(t *testing.T) {
	t.Parallel()
	s := newAccessSetup(t)
	ts := s.ts
	before := ts.counts()
	for _, rq := range []req{
		{"GET", "/projects/a/label", "", ""},
		{"GET", "/api/v1/projects/a/next", "", ""},
		{"POST", "/api/v1/projects/a/items/" + s.idsA[0] + "/annotations", `{"values": {"sentiment": "positive"}}`, "application/json"},
		{"POST", "/projects/a/items/" + s.idsA[0] + "/annotations", "b.sentiment=positive", "application/x-www-form-urlencoded"},
		{"POST", "/projects/a/items/" + s.idsA[0] + "/skip", "", "application/x-www-form-urlencoded"},
	} {
		if r := rq.send(s.rev); r.Status != http.StatusForbidden {
			t.Errorf("%s as a reviewer: status %d, want 403", rq, r.Status)
		}
	}
	sameCounts(t, "a reviewer's labeling requests", before, ts.counts())
	// A reviewer may look at any item.
	wantStatus(t, s.rev.get("/projects/a/items/"+s.idsA[2]), http.StatusOK)
}

func TestAdminOnlyRoutes(t *testing.T) {
	t.Parallel()
	s := newAccessSetup(t)
	ts := s.ts
	config := "title: New\nblocks:\n  - type: text\n    field: review\n"
	createBody, _ := json.Marshal(map[string]string{"slug": "new", "config": config})
	tests := []req{
		{"GET", "/admin/users", "", ""},
		{"POST", "/admin/users", "name=mallory&role=admin&password=mallory-password", "application/x-www-form-urlencoded"},
		{"POST", "/admin/users/lab/disable", "", "application/x-www-form-urlencoded"},
		{"POST", "/admin/users/admin/disable", "", "application/x-www-form-urlencoded"},
		{"GET", "/projects/new", "", ""},
		{"POST", "/projects", url.Values{"slug": {"new"}, "config": {config}}.Encode(), "application/x-www-form-urlencoded"},
		{"POST", "/api/v1/projects", string(createBody), "application/json"},
	}
	for _, c := range []*client{s.lab, s.labToken, s.mgrB} {
		for _, rq := range tests {
			before := ts.counts()
			r := rq.send(c)
			if r.Status != http.StatusForbidden {
				t.Errorf("%s as a member: status %d, want 403", rq, r.Status)
			}
			sameCounts(t, rq.String(), before, ts.counts())
		}
	}
	wantStatus(t, s.lab.get("/api/v1/me"), http.StatusOK)
	// Control: the admin may.
	wantStatus(t, s.admin.get("/admin/users"), http.StatusOK)
	wantStatus(t, tests[6].send(s.admin), http.StatusCreated)
}

func TestBearerTokens(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("lab", loupe.RoleMember)
	ts.user("gone", loupe.RoleMember)
	p := ts.project("a", sentimentConfig, nil)
	ts.importItems(p, reviews(1))
	ts.member(p, "lab", annotate.RoleLabeler)
	token := ts.token("lab")
	goneToken := ts.token("gone")

	c := ts.tokenClient(token)
	me := decodeBody[struct{ Name string }](t, c.get("/api/v1/me"))
	if me.Name != "lab" {
		t.Errorf("GET /api/v1/me with lab's token: name %q, want lab", me.Name)
	}
	task := decodeBody[struct {
		Item struct{ ID string } `json:"item"`
	}](t, c.get("/api/v1/projects/a/next"))
	wantStatus(t, c.postJSON("/api/v1/projects/a/items/"+task.Item.ID+"/annotations", `{"values": {"sentiment": "positive"}}`), http.StatusCreated)

	if err := ts.DB.SetUserDisabled(context.Background(), "gone", true); err != nil {
		t.Fatal(err)
	}
	changed := []byte(token)
	changed[len(changed)-1] ^= 1
	session := ts.signIn("lab").sessionCookie()
	tests := []struct {
		name, auth string
	}{
		{"unknown token", "Bearer " + loupe.NewToken()},
		{"one character changed", "Bearer " + string(changed)},
		{"truncated", "Bearer " + token[:len(token)-1]},
		{"extended", "Bearer " + token + "A"},
		{"no prefix", "Bearer " + strings.TrimPrefix(token, loupe.TokenPrefix)},
		{"not a token", "Bearer abc"},
		{"empty bearer", "Bearer "},
		{"no scheme", token},
		{"basic auth", "Basic " + base64.StdEncoding.EncodeToString([]byte("lab:"+testPassword))},
		{"disabled user's token", "Bearer " + goneToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/api/v1/me", "/api/v1/projects/a/export"} {
				r := ts.client().get(path, "Authorization", tt.auth)
				if r.Status != http.StatusUnauthorized {
					t.Errorf("GET %s with Authorization %q: status %d, want 401", path, tt.auth, r.Status)
					continue
				}
				if e := decodeBody[apiError](t, r); e.Error.Code != loupe.EUNAUTHORIZED {
					t.Errorf("error code %q, want %q", e.Error.Code, loupe.EUNAUTHORIZED)
				}
			}
			// A bad token is not rescued by a good session cookie.
			r := ts.withCookie(session).get("/api/v1/me", "Authorization", tt.auth)
			if r.Status != http.StatusUnauthorized {
				t.Errorf("bad token with a valid cookie: status %d, want 401", r.Status)
			}
		})
	}
	if n := ts.count("annotations", ""); n != 1 {
		t.Errorf("%d annotations, want 1", n)
	}
}
