package web_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

// host returns the host:port the test server listens on.
func (ts *testServer) host() string {
	u, _ := url.Parse(ts.URL)
	return u.Host
}

// mutation is a state-changing request a CSRF attacker would want to forge.
type mutation struct {
	name string
	send func(c *client, header ...string) *response
	ok   int // the status when the request is allowed
}

func TestCSRFRefusesCrossOriginRequests(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 3)
	ts := s.ts
	host := ts.host()
	form := parseLabelForm(t, s.lab.get("/projects/a/label").Body)
	task := decodeBody[struct {
		Item struct{ ID string } `json:"item"`
	}](t, s.admin.get("/api/v1/projects/a/next"))

	mutations := []mutation{
		{"form submit", func(c *client, h ...string) *response {
			return s.lab.postForm(form.Action, form.values("sentiment", "positive"), h...)
		}, http.StatusSeeOther},
		{"form skip", func(c *client, h ...string) *response {
			return s.lab.postForm("/projects/a/items/"+form.ItemID+"/skip", nil, h...)
		}, http.StatusSeeOther},
		{"API submit", func(c *client, h ...string) *response {
			return s.admin.postJSON("/api/v1/projects/a/items/"+task.Item.ID+"/annotations", `{"values": {"sentiment": "negative"}}`, h...)
		}, http.StatusCreated},
		{"API import as text/plain", func(c *client, h ...string) *response {
			h = append([]string{"Content-Type", "text/plain"}, h...)
			return s.admin.do(http.MethodPost, "/api/v1/projects/a/items", strings.NewReader(`{"review": "forged"}`+"\n"), h...)
		}, http.StatusOK},
		{"add member", func(c *client, h ...string) *response {
			return s.admin.postForm("/projects/a/members", url.Values{"user": {"admin"}, "role": {"labeler"}}, h...)
		}, http.StatusSeeOther},
		{"create user", func(c *client, h ...string) *response {
			return s.admin.postForm("/admin/users", url.Values{"name": {"mallory"}, "role": {"admin"}, "password": {"mallory-password"}}, h...)
		}, http.StatusSeeOther},
		{"sign in", func(c *client, h ...string) *response {
			return ts.client().login("lab", testPassword, h...)
		}, http.StatusSeeOther},
		{"sign out", func(c *client, h ...string) *response {
			return s.lab.postForm("/logout", nil, h...)
		}, http.StatusSeeOther},
	}
	refused := []struct {
		name   string
		header []string
	}{
		{"Sec-Fetch-Site: cross-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"Sec-Fetch-Site: same-site (a sibling subdomain)", []string{"Sec-Fetch-Site", "same-site"}},
		{"cross-site with a same-host Origin", []string{"Sec-Fetch-Site", "cross-site", "Origin", "http://" + host}},
		{"Origin: null", []string{"Origin", "null"}},
		{"Origin of another host", []string{"Origin", "http://evil.example"}},
		{"Origin of another port", []string{"Origin", "http://127.0.0.1:1"}},
		{"Origin of a sibling subdomain", []string{"Host", "app.loupe.test", "Origin", "http://evil.loupe.test"}},
	}
	for _, m := range mutations {
		for _, h := range refused {
			before := ts.counts()
			r := m.send(nil, h.header...)
			if r.Status != http.StatusForbidden {
				t.Errorf("%s with %s: status %d, want 403", m.name, h.name, r.Status)
			}
			if c := findCookie(r, "loupe_session"); c != nil {
				t.Errorf("%s with %s: set a session cookie", m.name, h.name)
			}
			sameCounts(t, m.name+" with "+h.name, before, ts.counts())
		}
	}
	// The refused requests left the labeler signed in and the item open.
	wantStatus(t, s.lab.get("/api/v1/me"), http.StatusOK)
	if n := ts.count("annotations", ""); n != 0 {
		t.Fatalf("%d annotations after refused requests, want 0", n)
	}

	// The same requests from the same origin go through.
	allowed := []struct {
		name   string
		header []string
	}{
		{"Sec-Fetch-Site: same-origin", []string{"Sec-Fetch-Site", "same-origin"}},
		{"same-host Origin", []string{"Origin", "http://" + host}},
		{"no browser headers", nil},
	}
	for i, m := range mutations {
		if m.name == "form skip" {
			continue // the form submit annotates the item first
		}
		h := allowed[i%len(allowed)]
		if r := m.send(nil, h.header...); r.Status != m.ok {
			t.Errorf("%s with %s: status %d, want %d; body:\n%s", m.name, h.name, r.Status, m.ok, abbrev(r.Body))
		}
	}
}

func TestCSRFWithSecureCookies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts options
	}{
		{"TLS and SecureCookies", options{TLS: true, SecureCookies: true}},
		{"SecureCookies behind a TLS proxy", options{SecureCookies: true}},
		{"TLS", options{TLS: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, tt.opts)
			ts.user("admin", loupe.RoleAdmin)
			p := ts.project("a", sentimentConfig, nil)
			ts.importItems(p, reviews(2))
			admin := ts.tokenClient(ts.token("admin"))
			id := ts.itemIDs(p)[0]
			path := "/api/v1/projects/a/items/" + id + "/annotations"

			before := ts.counts()
			r := admin.postJSON(path, `{"values": {"sentiment": "positive"}}`, "Origin", "http://"+ts.host())
			if r.Status != http.StatusForbidden {
				t.Errorf("POST with Origin http://%s on an https site: status %d, want 403", ts.host(), r.Status)
			}
			r = ts.client().login("admin", testPassword, "Origin", "http://"+ts.host())
			if r.Status != http.StatusForbidden {
				t.Errorf("sign-in with Origin http://%s on an https site: status %d, want 403", ts.host(), r.Status)
			}
			sameCounts(t, "requests from an http origin", before, ts.counts())

			// The site's own https origin is allowed.
			path = "/api/v1/projects/a/items/" + ts.itemIDs(p)[1] + "/annotations"
			r = admin.postJSON(path, `{"values": {"sentiment": "positive"}}`, "Origin", "https://"+ts.host())
			wantStatus(t, r, http.StatusCreated)
		})
	}
}

func TestJSONAPIRequiresJSONContentType(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 2)
	ts := s.ts
	task := decodeBody[struct {
		Item struct{ ID string } `json:"item"`
	}](t, s.lab.get("/api/v1/projects/a/next"))
	submit := "/api/v1/projects/a/items/" + task.Item.ID + "/annotations"
	body := `{"values": {"sentiment": "positive"}}`

	tests := []struct {
		name   string
		client *client
		method string
		path   string
		body   string
		ctype  string
	}{
		{"submit as text/plain", s.lab, http.MethodPost, submit, body, "text/plain"},
		{"submit as text/plain;charset=utf-8", s.lab, http.MethodPost, submit, body, "text/plain;charset=UTF-8"},
		{"submit as a form", s.lab, http.MethodPost, submit, "values=x", "application/x-www-form-urlencoded"},
		{"submit as multipart", s.lab, http.MethodPost, submit, "--x\r\n\r\n" + body + "\r\n--x--\r\n", "multipart/form-data; boundary=x"},
		{"submit without a type", s.lab, http.MethodPost, submit, body, ""},
		{"submit as application/jsonx", s.lab, http.MethodPost, submit, body, "application/jsonx"},
		{"create project as text/plain", s.admin, http.MethodPost, "/api/v1/projects", `{"slug": "p2", "config": "title: P2\nblocks:\n  - type: text\n    field: review\n"}`, "text/plain"},
		{"set member as a form", s.admin, http.MethodPut, "/api/v1/projects/a/members/admin", `{"role": "labeler"}`, "application/x-www-form-urlencoded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.counts()
			r := tt.client.do(tt.method, tt.path, strings.NewReader(tt.body), "Content-Type", tt.ctype)
			wantStatus(t, r, http.StatusUnsupportedMediaType)
			if e := decodeBody[apiError](t, r); e.Error.Code != loupe.EUNSUPPORTED {
				t.Errorf("error code %q, want %q", e.Error.Code, loupe.EUNSUPPORTED)
			}
			sameCounts(t, tt.name, before, ts.counts())
		})
	}
	// Control: the same submission as JSON is stored.
	wantStatus(t, s.lab.do(http.MethodPost, submit, strings.NewReader(body), "Content-Type", "application/json; charset=utf-8"), http.StatusCreated)
}

func TestGETNeverMutates(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 3)
	ts := s.ts
	ids := ts.itemIDs(s.p)

	// A GET on a route that only takes POST (or PUT, DELETE) is refused.
	postOnly := []string{
		"/logout",
		"/projects",
		"/projects/a/items/" + ids[0] + "/annotations",
		"/projects/a/items/" + ids[0] + "/skip",
		"/projects/a/members/lab/remove",
		"/admin/users/lab/disable",
		"/api/v1/projects/a/items/" + ids[0] + "/annotations",
		"/api/v1/projects/a/items/" + ids[0] + "/skip",
		"/api/v1/projects/a/predictions",
		"/api/v1/projects/a/feedback",
		"/api/v1/projects/a/items/" + ids[0] + "/reviews",
	}
	before := ts.counts()
	for _, path := range postOnly {
		// The admin may post to every one of these routes: a GET is 405.
		r := s.admin.get(path + "?b.sentiment=positive&role=manager")
		if r.Status != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d, want 405", r, r.Status)
		}
		// The labeler may be refused for their role first.
		r = s.lab.get(path + "?b.sentiment=positive&role=manager")
		if r.Status != http.StatusMethodNotAllowed && r.Status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 405 or 403", r, r.Status)
		}
	}
	sameCounts(t, "GETs on POST routes", before, ts.counts())
	wantStatus(t, s.lab.get("/api/v1/me"), http.StatusOK)

	// Opening the labeling page leases an item; it never annotates or
	// skips one, and opening it again takes no second item.
	for range 3 {
		wantStatus(t, s.lab.get("/projects/a/label?b.sentiment=positive"), http.StatusOK)
	}
	if n := ts.count("assignments", "status = 'leased'"); n != 1 {
		t.Errorf("leases after opening the labeling page 3 times: %d, want 1", n)
	}
	if n := ts.count("assignments", "status != 'leased'"); n != 0 {
		t.Errorf("assignments done or skipped after GETs: %d, want 0", n)
	}
	for range 2 {
		wantStatus(t, s.lab.get("/api/v1/projects/a/next"), http.StatusOK)
	}
	if n := ts.count("annotations", ""); n != 0 {
		t.Errorf("annotations after GETs: %d, want 0", n)
	}
	if n := ts.count("assignments", ""); n != 1 {
		t.Errorf("assignments after GETs of /label and /next: %d, want 1", n)
	}
}

// XSS payloads that must never reach a page unescaped.
var xssPayloads = []string{
	`<img src=x onerror=alert(1)>`,
	`<svg onload=alert(1)>`,
	`javascript:alert(1)`,
	`</script><script>alert(1)</script>`,
	`"><script>alert(1)</script>`,
	`' onmouseover='alert(1)`,
}

var (
	scriptTagRE   = regexp.MustCompile(`(?i)<script[^>]*>`)
	handlerRE     = regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`)
	quotedValueRE = regexp.MustCompile(`="[^"]*"`)
	jsURLRE       = regexp.MustCompile(`(?i)(href|src|action|formaction)\s*=\s*["']?\s*javascript:`)
)

// checkNoXSS fails the test when a page holds a payload unescaped, a script
// that is not a file of /static, an event handler attribute, or a
// javascript: URL.
func checkNoXSS(t *testing.T, r *response) {
	t.Helper()
	for _, p := range xssPayloads {
		if strings.ContainsAny(p, `<>"'`) && strings.Contains(r.Body, p) {
			t.Errorf("%s: page holds %q unescaped", r, p)
		}
	}
	for _, tag := range scriptTagRE.FindAllString(r.Body, -1) {
		if !strings.Contains(tag, `src="/static/`) {
			t.Errorf("%s: page has a script that is not a static file: %s", r, tag)
		}
	}
	// Text inside a quoted attribute value (a filter echoed into its
	// input) cannot start a handler: look outside the quotes.
	if m := handlerRE.FindString(quotedValueRE.ReplaceAllString(r.Body, `=""`)); m != "" {
		t.Errorf("%s: page has an event handler attribute: %s", r, m)
	}
	if m := jsURLRE.FindString(r.Body); m != "" {
		t.Errorf("%s: page has a javascript: URL: %s", r, m)
	}
}

func checkSecurityHeaders(t *testing.T, r *response) {
	t.Helper()
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("%s: Content-Security-Policy %q, want script-src 'self'", r, csp)
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: Content-Security-Policy %q allows inline or eval'd script", r, csp)
	}
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", r, got)
	}
}

func TestStoredXSSIsEscaped(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("admin", loupe.RoleAdmin)
	ts.user("lab", loupe.RoleMember)
	config := `title: "</script><script>alert(1)</script>"
description: "<img src=x onerror=alert(1)>"
instructions: "<svg onload=alert(1)>"
overlap: 1
blocks:
  - type: text
    field: review
    label: "<svg onload=alert(1)>"
  - type: choice
    name: sentiment
    label: "<img src=x onerror=alert(1)>"
    help: "javascript:alert(1)"
    options:
      - value: positive
        label: "</script><script>alert(1)</script>"
      - negative
`
	p := ts.project("xss", config, nil)
	var items strings.Builder
	for i, payload := range xssPayloads {
		q := jsonString(payload)
		items.WriteString(`{"id": ` + jsonString(payload+itoa(i)) + `, "data": {"review": ` + q + `}}` + "\n")
	}
	res := ts.importItems(p, items.String())
	if res.Added != len(xssPayloads) {
		t.Fatalf("imported %d items, want %d", res.Added, len(xssPayloads))
	}
	ts.member(p, "lab", annotate.RoleLabeler)
	admin, lab := ts.signIn("admin"), ts.signIn("lab")

	var pages []*response
	// Each item on the labeling page, in turn; each is then annotated.
	for i := range xssPayloads {
		r := lab.get("/projects/xss/label")
		wantStatus(t, r, http.StatusOK)
		pages = append(pages, r)
		f := parseLabelForm(t, r.Body)
		if i == 0 {
			// The item's text is on the page, escaped.
			if want := "&lt;img src=x onerror=alert(1)&gt;"; !strings.Contains(r.Body, want) {
				t.Errorf("labeling page does not show the first item's text escaped as %q:\n%s", want, abbrev(r.Body))
			}
		}
		// An invalid answer re-renders the page with the item.
		r = lab.postForm(f.Action, f.values("sentiment", xssPayloads[i]))
		wantStatus(t, r, http.StatusUnprocessableEntity)
		pages = append(pages, r)
		wantStatus(t, lab.postForm(f.Action, f.values("sentiment", "positive")), http.StatusSeeOther)
	}
	for _, id := range ts.itemIDs(p) {
		pages = append(pages, admin.get("/projects/xss/items/"+id), lab.get("/projects/xss/items/"+id))
	}
	for _, path := range []string{"/", "/projects/xss", "/projects/xss/label", "/projects/xss/members", "/projects/xss/import"} {
		pages = append(pages, admin.get(path))
	}
	pages = append(pages,
		admin.get("/projects/"+url.PathEscape(`<svg onload=alert(1)>`)),
		admin.get("/no/"+url.PathEscape(`<img src=x onerror=alert(1)>`)),
		ts.client().get("/login?next="+url.QueryEscape(`"><script>alert(1)</script>`)),
		admin.postForm("/projects", url.Values{"slug": {"x"}, "config": {"title: \"<svg onload=alert(1)>\"\nblocks: [{type: bogus, name: \"<img src=x onerror=alert(1)>\"}]"}}),
	)
	for _, r := range pages {
		if r.Status >= 500 {
			t.Errorf("%s: status %d", r, r.Status)
		}
		checkNoXSS(t, r)
		checkSecurityHeaders(t, r)
	}

	// JSON answers escape <, > and &, so that they are inert even if read
	// as HTML.
	ids := ts.itemIDs(p)
	jsonResponses := []*response{
		admin.get("/api/v1/projects"),
		admin.get("/api/v1/projects/xss"),
		admin.get("/api/v1/projects/xss/items/" + ids[0]),
		admin.get("/api/v1/projects/xss/items/" + ids[3]),
		admin.get("/api/v1/projects/xss/export?format=jsonl"),
		admin.get("/projects/xss/export?format=jsonl"),
		admin.get("/api/v1/" + url.PathEscape(`<svg onload=alert(1)>`)),
		admin.get("/api/v1/projects/xss/export?format=" + url.QueryEscape(`<svg onload=alert(1)>`)),
		admin.postJSON("/api/v1/projects/xss/items/"+ids[0]+"/annotations", `{"<img src=x>": 1}`),
	}
	for _, r := range jsonResponses {
		if strings.ContainsAny(r.Body, "<>") {
			t.Errorf("%s: JSON body holds < or > unescaped:\n%s", r, abbrev(r.Body))
		}
		if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
			t.Errorf("%s: Content-Type %q, want a JSON type", r, ct)
		}
		checkSecurityHeaders(t, r)
	}
	if exp := jsonResponses[4].Body; !strings.Contains(exp, `\u003cimg src=x onerror=alert(1)\u003e`) {
		t.Errorf("export does not hold the first item's text escaped:\n%s", abbrev(exp))
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	s := newLabelSetup(t, options{}, sentimentConfig, 1)
	for _, r := range []*response{
		s.ts.client().get("/login"),
		s.ts.client().get("/"),
		s.ts.client().get("/static/loupe.css"),
		s.ts.client().get("/api/v1/me"),
		s.lab.get("/projects/a/label"),
		s.lab.get("/projects/nope"),
		s.lab.get("/api/v1/projects/nope"),
		s.lab.get("/logout"),
		s.lab.postJSON("/api/v1/projects/a/items/x/annotations", `{`),
	} {
		checkSecurityHeaders(t, r)
	}
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	for _, tt := range []struct{ path, file, ctype string }{
		{"/static/loupe.css", "static/loupe.css", "text/css"},
		{"/static/label.js", "static/label.js", "text/javascript"},
	} {
		r := ts.client().get(tt.path)
		wantStatus(t, r, http.StatusOK)
		want, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		if r.Body != string(want) {
			t.Errorf("GET %s: body differs from %s", tt.path, tt.file)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", tt.path, ct, tt.ctype)
		}
		checkSecurityHeaders(t, r)
	}
}

// rawGet sends a request line exactly as given, so that the path reaches
// the server without any client cleaning it.
func rawGet(t *testing.T, ts *testServer, target string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", ts.host())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET "+target+" HTTP/1.1\r\nHost: "+ts.host()+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestStaticPathTraversal(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	// What files outside web/static would show.
	secrets := []string{"module github.com/loupehq/loupe", "package web", "{{define", "{{template", "root:x:0:0", "CREATE TABLE"}
	targets := []string{
		"/static/../go.mod",
		"/static/../../go.mod",
		"/static/..%2fgo.mod",
		"/static/..%2f..%2fgo.mod",
		"/static/%2e%2e/%2e%2e/go.mod",
		"/static/%2e%2e%2f%2e%2e%2fgo.mod",
		"/static%2f..%2fgo.mod",
		"/static%2f..%2f..%2fgo.mod",
		"/static%2f..%2f",
		"/static/..\\..\\go.mod",
		"/static/..%5c..%5cgo.mod",
		"/static/....//....//go.mod",
		"/static/%252e%252e/%252e%252e/go.mod",
		"/static/../server.go",
		"/static/../templates/layout.html",
		"/static/..%2ftemplates%2flayout.html",
		"/static/../../storage/migrations/0001_init.sql",
		"/static//etc/passwd",
		"/static/../../../../../../../../etc/passwd",
		"/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
		"/static/..;/go.mod",
		"/static/.%00./go.mod",
	}
	for _, target := range targets {
		resp, body := rawGet(t, ts, target)
		// Follow redirects a few steps: wherever they lead, never a file
		// from outside web/static.
		for i := 0; i < 3 && resp.StatusCode >= 300 && resp.StatusCode < 400; i++ {
			loc, err := resp.Location()
			if err != nil {
				break
			}
			resp, body = rawGet(t, ts, loc.RequestURI())
		}
		if resp.StatusCode == http.StatusOK {
			t.Errorf("GET %s: status 200, want 404 or a redirect; body:\n%s", target, abbrev(body))
		}
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("GET %s: body holds %q: a file outside web/static was served", target, s)
			}
		}
	}
}

// unsized hides a reader's length, so that the client sends it chunked,
// without a Content-Length.
func unsized(s string) io.Reader { return struct{ io.Reader }{strings.NewReader(s)} }

func TestBodyLimits(t *testing.T) {
	t.Parallel()
	const maxBody, maxImport = 2048, 8192
	s := newLabelSetup(t, options{MaxBody: maxBody, MaxImport: maxImport}, sentimentConfig, 2)
	ts := s.ts
	form := parseLabelForm(t, s.lab.get("/projects/a/label").Body)
	submit := "/api/v1/projects/a/items/" + form.ItemID + "/annotations"
	bigJSON := `{"values": {"sentiment": "` + strings.Repeat("x", maxBody) + `"}}`
	bigForm := form.values("sentiment", strings.Repeat("x", maxBody)).Encode()
	bigItems := strings.Repeat(`{"review": "`+strings.Repeat("y", 100)+`"}`+"\n", maxImport/100)
	bigUpload := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"items.jsonl\"\r\n\r\n" + bigItems + "\r\n--b--\r\n"

	tests := []struct {
		name    string
		c       *client
		path    string
		body    func() io.Reader
		ctype   string
		wantAPI bool
	}{
		{"API submit, declared length", s.lab, submit, func() io.Reader { return strings.NewReader(bigJSON) }, "application/json", true},
		{"API submit, chunked", s.lab, submit, func() io.Reader { return unsized(bigJSON) }, "application/json", true},
		{"form submit, declared length", s.lab, form.Action, func() io.Reader { return strings.NewReader(bigForm) }, "application/x-www-form-urlencoded", false},
		{"form submit, chunked", s.lab, form.Action, func() io.Reader { return unsized(bigForm) }, "application/x-www-form-urlencoded", false},
		{"sign in, chunked", s.ts.client(), "/login", func() io.Reader {
			return unsized("name=lab&password=" + strings.Repeat("x", maxBody))
		}, "application/x-www-form-urlencoded", false},
		{"API import, declared length", s.admin, "/api/v1/projects/a/items", func() io.Reader { return strings.NewReader(bigItems) }, "application/x-ndjson", true},
		{"API import, chunked", s.admin, "/api/v1/projects/a/items", func() io.Reader { return unsized(bigItems) }, "application/x-ndjson", true},
		{"import page, declared length", s.admin, "/projects/a/import", func() io.Reader { return strings.NewReader(bigUpload) }, "multipart/form-data; boundary=b", false},
		{"import page, chunked", s.admin, "/projects/a/import", func() io.Reader { return unsized(bigUpload) }, "multipart/form-data; boundary=b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.counts()
			r := tt.c.do(http.MethodPost, tt.path, tt.body(), "Content-Type", tt.ctype)
			if r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("%s: status %d, want 413; body:\n%s", r, r.Status, abbrev(r.Body))
			}
			if tt.wantAPI && r.Status == http.StatusRequestEntityTooLarge {
				if e := decodeBody[apiError](t, r); e.Error.Code != loupe.ETOOLARGE {
					t.Errorf("error code %q, want %q", e.Error.Code, loupe.ETOOLARGE)
				}
			}
			sameCounts(t, tt.name, before, ts.counts())
		})
	}
	// The server still answers, and a body within the limit is taken.
	r := s.lab.postJSON(submit, `{"values": {"sentiment": "positive"}, "client_id": "`+strings.Repeat("c", 60)+`"}`)
	wantStatus(t, r, http.StatusCreated)
}

// unreadable is a request body that fails the test when read: the server
// must refuse a declared length over its limit without reading any of it.
type unreadable struct {
	t    *testing.T
	name string
}

func (u unreadable) Read([]byte) (int, error) {
	u.t.Errorf("%s: the server read the body of a request declared over the limit", u.name)
	return 0, io.ErrUnexpectedEOF
}

func TestDeclaredLengthOverLimitIsNotRead(t *testing.T) {
	t.Parallel()
	const maxBody, maxImport = 1024, 4096
	ts := newTestServer(t, options{MaxBody: maxBody, MaxImport: maxImport})
	ts.user("admin", loupe.RoleAdmin)
	p := ts.project("a", sentimentConfig, nil)
	ts.importItems(p, reviews(1))
	token := ts.token("admin")
	id := ts.itemIDs(p)[0]

	tests := []struct {
		name, path, ctype string
		length            int64
	}{
		{"API submit", "/api/v1/projects/a/items/" + id + "/annotations", "application/json", maxBody + 1},
		{"API submit, 1 GB", "/api/v1/projects/a/items/" + id + "/annotations", "application/json", 1 << 30},
		{"API import", "/api/v1/projects/a/items", "application/x-ndjson", maxImport + 1},
		{"sign in", "/login", "application/x-www-form-urlencoded", maxBody + 1},
		{"form submit", "/projects/a/items/" + id + "/annotations", "application/x-www-form-urlencoded", maxBody + 1},
		{"import page", "/projects/a/import", "multipart/form-data; boundary=b", maxImport + 1},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPost, tt.path, unreadable{t, tt.name})
		req.ContentLength = tt.length
		req.Header.Set("Content-Type", tt.ctype)
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		ts.Srv.ServeHTTP(w, req)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with Content-Length %d: status %d, want 413", tt.name, tt.length, w.Code)
		}
	}
	if n := ts.count("items", ""); n != 1 {
		t.Errorf("%d items after refused imports, want 1", n)
	}
}
