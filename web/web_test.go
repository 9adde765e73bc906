package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/storage"
	"github.com/loupehq/loupe/web"
)

// testPassword is every test user's password. Its argon2id hash is made
// once per test binary: hashing is deliberately slow.
const testPassword = "correct-horse-battery-staple"

var (
	hashOnce sync.Once
	testHash string
)

func passwordHash(tb testing.TB) string {
	tb.Helper()
	hashOnce.Do(func() {
		h, err := loupe.HashPassword(testPassword)
		if err != nil {
			panic(err)
		}
		testHash = h
	})
	return testHash
}

const sentimentConfig = `title: Sentiment
overlap: 1
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
    required: true
`

// twoChoiceConfig has a second, optional block, so that a page re-rendered
// after an error can be checked to keep the answers that were valid.
const twoChoiceConfig = `title: Topics
overlap: 1
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
    required: true
  - type: choice
    name: topic
    options: [price, quality, delivery]
`

// clock is a settable time source shared by the server and the store.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// options change how newTestServer builds its server.
type options struct {
	SecureCookies bool
	TLS           bool
	MaxBody       int64
	MaxImport     int64
	Keys          [][]byte // session keys; one fresh key when nil
	Suggester     web.Suggester
}

// testServer is a web.Server over a real SQLite file, served by httptest.
type testServer struct {
	t     *testing.T
	URL   string
	DB    *storage.DB
	Srv   *web.Server
	HTTP  *httptest.Server
	Clock *clock
	Keys  [][]byte
	Temp  string  // where uploads are spooled
	raw   *sql.DB // a read-only connection for counting rows
}

func newKey(tb testing.TB) []byte {
	tb.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		tb.Fatal(err)
	}
	return k
}

// newTestServer starts a server on a new database in t.TempDir(). Both are
// closed at cleanup.
func newTestServer(t *testing.T, opts options) *testServer {
	t.Helper()
	clk := &clock{now: time.Now().UTC().Truncate(time.Second)}
	path := filepath.Join(t.TempDir(), "loupe.db")
	db, err := storage.Open(path, storage.Options{Now: clk.Now})
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatalf("open raw reader: %v", err)
	}
	t.Cleanup(func() { raw.Close() })

	keys := opts.Keys
	if keys == nil {
		keys = [][]byte{newKey(t)}
	}
	temp := t.TempDir()
	srv, err := web.New(db, web.Config{SessionKeys: keys, SecureCookies: opts.SecureCookies, Suggester: opts.Suggester,
		MaxBody: opts.MaxBody, MaxImport: opts.MaxImport, Now: clk.Now, TempDir: temp})
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	var hs *httptest.Server
	if opts.TLS {
		hs = httptest.NewTLSServer(srv)
	} else {
		hs = httptest.NewServer(srv)
	}
	t.Cleanup(hs.Close)
	return &testServer{t: t, URL: hs.URL, DB: db, Srv: srv, HTTP: hs, Clock: clk, Keys: keys, Temp: temp, raw: raw}
}

// user creates a user whose password is testPassword.
func (ts *testServer) user(name, role string) *loupe.User {
	ts.t.Helper()
	u, err := ts.DB.CreateUser(context.Background(), name, role, passwordHash(ts.t))
	if err != nil {
		ts.t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

// project creates a project from a config; creator may be nil.
func (ts *testServer) project(slug, config string, creator *loupe.User) *annotate.Project {
	ts.t.Helper()
	cfg, err := blocks.ParseConfig([]byte(config))
	if err != nil {
		ts.t.Fatalf("ParseConfig: %v", err)
	}
	p, err := ts.DB.CreateProject(context.Background(), slug, config, cfg, creator)
	if err != nil {
		ts.t.Fatalf("CreateProject(%s): %v", slug, err)
	}
	return p
}

func (ts *testServer) importItems(p *annotate.Project, jsonl string) annotate.ImportResult {
	ts.t.Helper()
	res, err := ts.DB.ImportItems(context.Background(), p, annotate.NewItemDecoder(strings.NewReader(jsonl)), annotate.ImportOptions{})
	if err != nil {
		ts.t.Fatalf("ImportItems: %v", err)
	}
	return res
}

func (ts *testServer) member(p *annotate.Project, name, role string) {
	ts.t.Helper()
	if err := ts.DB.SetMember(context.Background(), p.ID, name, role); err != nil {
		ts.t.Fatalf("SetMember(%s, %s): %v", name, role, err)
	}
}

func (ts *testServer) token(name string) string {
	ts.t.Helper()
	tok, err := ts.DB.CreateToken(context.Background(), name, "test")
	if err != nil {
		ts.t.Fatalf("CreateToken(%s): %v", name, err)
	}
	return tok
}

// itemIDs returns the ids of the project's items in import order.
func (ts *testServer) itemIDs(p *annotate.Project) []string {
	ts.t.Helper()
	rows, err := ts.raw.Query(`SELECT id FROM items WHERE project_id = ? ORDER BY seq`, p.ID)
	if err != nil {
		ts.t.Fatalf("item ids: %v", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			ts.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		ts.t.Fatal(err)
	}
	return ids
}

// countedTables are the tables whose row counts show a request's side
// effects.
var countedTables = []string{"users", "sessions", "api_tokens", "projects", "project_configs", "project_members",
	"items", "assignments", "annotations", "annotation_versions", "predictions", "events", "reviews"}

// counts returns the number of rows of each counted table.
func (ts *testServer) counts() map[string]int {
	ts.t.Helper()
	out := map[string]int{}
	for _, table := range countedTables {
		var n int
		if err := ts.raw.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
			ts.t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

// count returns the number of rows of a table matching a condition.
func (ts *testServer) count(table, where string, args ...any) int {
	ts.t.Helper()
	q := `SELECT count(*) FROM ` + table
	if where != "" {
		q += ` WHERE ` + where
	}
	var n int
	if err := ts.raw.QueryRow(q, args...).Scan(&n); err != nil {
		ts.t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// sameCounts fails the test when any table's row count changed.
func sameCounts(t *testing.T, what string, before, after map[string]int) {
	t.Helper()
	for _, table := range countedTables {
		if before[table] != after[table] {
			t.Errorf("%s: rows in %s went from %d to %d; want no change", what, table, before[table], after[table])
		}
	}
}

// client is an HTTP client with its own cookie jar. It never follows
// redirects, so that tests see them.
//
// It sends requests with the transport directly, not an http.Client, so
// that a Location header a browser would accept but Go cannot parse still
// reaches the test.
type client struct {
	t     *testing.T
	ts    *testServer
	rt    http.RoundTripper
	jar   http.CookieJar
	token string // sent as a bearer token when set
}

func (ts *testServer) client() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	return &client{t: ts.t, ts: ts, rt: ts.HTTP.Client().Transport, jar: jar}
}

// tokenClient returns a client that authenticates with a bearer token.
func (ts *testServer) tokenClient(token string) *client {
	c := ts.client()
	c.token = token
	return c
}

// signIn returns a client signed in as name (with testPassword).
func (ts *testServer) signIn(name string) *client {
	ts.t.Helper()
	c := ts.client()
	resp := c.login(name, testPassword)
	if resp.Status != http.StatusSeeOther {
		ts.t.Fatalf("sign in as %s: status %d, want 303; body:\n%s", name, resp.Status, resp.Body)
	}
	if c.sessionCookie() == "" {
		ts.t.Fatalf("sign in as %s: no session cookie", name)
	}
	return c
}

// response is a read response.
type response struct {
	Status int
	Header http.Header
	Body   string
	Resp   *http.Response
}

func (r *response) String() string {
	return r.Resp.Request.Method + " " + r.Resp.Request.URL.RequestURI() + " → " + r.Resp.Status
}

// do sends a request. header holds name, value pairs; "Host" sets the
// request's Host.
func (c *client) do(method, path string, body io.Reader, header ...string) *response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.ts.URL+path, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	return c.send(req)
}

func (c *client) send(req *http.Request) *response {
	c.t.Helper()
	r, err := c.try(req)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// try sends a request and reads the response. Unlike send it may be
// called from any goroutine.
func (c *client) try(req *http.Request) (*response, error) {
	for _, ck := range c.jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	if cs := resp.Cookies(); len(cs) > 0 {
		c.jar.SetCookies(req.URL, cs)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", req.Method, req.URL.Path, err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: string(b), Resp: resp}, nil
}

func (c *client) get(path string, header ...string) *response {
	c.t.Helper()
	return c.do(http.MethodGet, path, nil, header...)
}

func (c *client) postForm(path string, form url.Values, header ...string) *response {
	c.t.Helper()
	header = append([]string{"Content-Type", "application/x-www-form-urlencoded"}, header...)
	return c.do(http.MethodPost, path, strings.NewReader(form.Encode()), header...)
}

// postJSON posts v as JSON; a string or []byte is sent as it is.
func (c *client) postJSON(path string, v any, header ...string) *response {
	c.t.Helper()
	var body []byte
	switch v := v.(type) {
	case string:
		body = []byte(v)
	case []byte:
		body = v
	default:
		var err error
		if body, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	header = append([]string{"Content-Type", "application/json"}, header...)
	return c.do(http.MethodPost, path, bytes.NewReader(body), header...)
}

func (c *client) login(name, password string, header ...string) *response {
	c.t.Helper()
	return c.postForm("/login", url.Values{"name": {name}, "password": {password}}, header...)
}

// sessionCookie returns the value of the session cookie in the jar.
func (c *client) sessionCookie() string {
	u, _ := url.Parse(c.ts.URL)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == "loupe_session" {
			return ck.Value
		}
	}
	return ""
}

// withCookie returns a new client (no jar) that sends the session cookie
// value on every request: a replayed or forged cookie.
func (ts *testServer) withCookie(value string) *client {
	c := ts.client()
	u, _ := url.Parse(ts.URL)
	c.jar.SetCookies(u, []*http.Cookie{{Name: "loupe_session", Value: value, Path: "/"}})
	return c
}

// apiError is the JSON API's error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

func decodeBody[T any](t *testing.T, r *response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
		t.Fatalf("%s: body is not the JSON expected: %v\n%s", r, err, r.Body)
	}
	return v
}

func wantStatus(t *testing.T, r *response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: status %d, want %d; body:\n%s", r, r.Status, want, abbrev(r.Body))
	}
}

func abbrev(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

// hiddenField returns the value of a hidden input of a form in a page.
func hiddenField(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no field %q in page:\n%s", name, abbrev(body))
	}
	return html.UnescapeString(m[1])
}

var alertRE = regexp.MustCompile(`(?s)class="error" role="alert">(.*?)</`)

// alertText returns the page's first error message, unescaped.
func alertText(body string) string {
	m := alertRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// checkedOption returns the value of the checked radio button of a block,
// or "" when none is checked.
func checkedOption(body, block string) string {
	re := regexp.MustCompile(`<input type="radio" name="b\.` + regexp.QuoteMeta(block) + `" value="([^"]*)"[^>]* checked`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// labelForm is what the labeling page's form holds.
type labelForm struct {
	Action      string
	ItemID      string
	ClientID    string
	BaseVersion string
	Started     string
}

var actionRE = regexp.MustCompile(`<form id="label-form" class="label-form" method="post" action="([^"]*)"`)

// parseLabelForm reads the labeling form of a page.
func parseLabelForm(t *testing.T, body string) labelForm {
	t.Helper()
	m := actionRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no labeling form in page:\n%s", abbrev(body))
	}
	action := html.UnescapeString(m[1])
	item := strings.TrimSuffix(action[strings.Index(action, "/items/")+len("/items/"):], "/annotations")
	return labelForm{Action: action, ItemID: item, ClientID: hiddenField(t, body, "client_id"),
		BaseVersion: hiddenField(t, body, "base_version"), Started: hiddenField(t, body, "started")}
}

// values returns the form to post with the given block answers.
func (f labelForm) values(answers ...string) url.Values {
	v := url.Values{"client_id": {f.ClientID}, "base_version": {f.BaseVersion}, "started": {f.Started}}
	for i := 0; i+1 < len(answers); i += 2 {
		v.Set("b."+answers[i], answers[i+1])
	}
	return v
}

// exportLine is one line of a JSONL export.
type exportLine struct {
	ID          string         `json:"id"`
	ExternalID  *string        `json:"external_id"`
	Data        map[string]any `json:"data"`
	Annotations []struct {
		ID      string            `json:"id"`
		User    string            `json:"user"`
		Version int               `json:"version"`
		Values  map[string]string `json:"values"`
	} `json:"annotations"`
}

// exportLines exports the project through the API and parses each line.
func exportLines(t *testing.T, c *client, slug string) []exportLine {
	t.Helper()
	r := c.get("/api/v1/projects/" + slug + "/export?format=jsonl")
	wantStatus(t, r, http.StatusOK)
	var out []exportLine
	for i, line := range strings.Split(strings.TrimSuffix(r.Body, "\n"), "\n") {
		if line == "" {
			continue
		}
		var l exportLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("export line %d is not JSON: %v\n%s", i+1, err, line)
		}
		out = append(out, l)
	}
	return out
}

// reviews returns n JSONL items r0..r(n-1).
func reviews(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(`{"id": "r` + itoa(i) + `", "data": {"review": "review number ` + itoa(i) + `"}}` + "\n")
	}
	return b.String()
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// labelSetup is a server with an admin, a labeler "lab" of project "a"
// holding n items, and signed-in clients for both.
type labelSetup struct {
	ts    *testServer
	admin *client
	lab   *client
	p     *annotate.Project
}

func newLabelSetup(t *testing.T, opts options, config string, n int) *labelSetup {
	t.Helper()
	ts := newTestServer(t, opts)
	ts.user("admin", loupe.RoleAdmin)
	ts.user("lab", loupe.RoleMember)
	p := ts.project("a", config, nil)
	if n > 0 {
		ts.importItems(p, reviews(n))
	}
	ts.member(p, "lab", annotate.RoleLabeler)
	return &labelSetup{ts: ts, admin: ts.signIn("admin"), lab: ts.signIn("lab"), p: p}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	r := ts.client().get("/healthz")
	wantStatus(t, r, http.StatusOK)
	if r.Body != "ok" {
		t.Errorf("GET /healthz body = %q, want %q", r.Body, "ok")
	}
}

func TestNewRefusesShortSessionKey(t *testing.T) {
	t.Parallel()
	db, err := storage.Open(filepath.Join(t.TempDir(), "loupe.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, keys := range [][][]byte{nil, {}, {make([]byte, 31)}} {
		if _, err := web.New(db, web.Config{SessionKeys: keys}); err == nil {
			t.Errorf("web.New with session keys %v: got no error, want one", keys)
		}
	}
}
