package main

// Tests of every CLI command, run in-process through runCLI, each on its
// own database file.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/storage"
)

const cliConfig = `title: Product review sentiment
overlap: 1
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
    required: true
`

const cliSlug = "product-review-sentiment"

// cliDB returns the path of a fresh database file for one test.
func cliDB(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "loupe.db")
}

// writeTemp writes content to a file named name in a temporary directory
// and returns its path.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustCLI runs a command that must succeed and returns its standard output.
func mustCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, stdin, args...)
	if code != 0 {
		t.Fatalf("loupe %s = exit %d, want 0\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// wantCLI runs a command that must exit with code and say each of want on
// standard error; nothing may go to standard output.
func wantCLI(t *testing.T, code int, want []string, stdin string, args ...string) {
	t.Helper()
	got, out, errOut := runCLI(t, stdin, args...)
	if got != code {
		t.Errorf("loupe %s = exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, out, errOut)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("loupe %s: stderr %q does not say %q", strings.Join(args, " "), errOut, w)
		}
	}
	if strings.Contains(errOut, "panic") || strings.Contains(errOut, "goroutine ") {
		t.Errorf("loupe %s panicked:\n%s", strings.Join(args, " "), errOut)
	}
	if code != 0 && out != "" {
		t.Errorf("loupe %s failed but wrote to stdout: %q", strings.Join(args, " "), out)
	}
}

// openStore opens the database file for a look at what a command did.
func openStore(t *testing.T, path string) *storage.DB {
	t.Helper()
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// getMe calls GET /api/v1/me with a bearer token and returns the status
// and the user's name.
func getMe(t *testing.T, base, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	json.NewDecoder(resp.Body).Decode(&me)
	return resp.StatusCode, me.Name + "/" + me.Role
}

var passwordLine = regexp.MustCompile(`Password \(shown once\): (\S+)`)

func TestCLIUserAdd(t *testing.T) {
	db := cliDB(t)
	out := mustCLI(t, "", "user", "add", "alice", "--role", "admin", "--db", db)
	m := passwordLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("user add without --password-stdin printed %q, want the generated password", out)
	}
	generated := m[1]
	if len(generated) < loupe.MinPasswordLen || strings.Count(out, generated) != 1 {
		t.Errorf("generated password %q: want ≥ %d characters, printed once in %q", generated, loupe.MinPasswordLen, out)
	}
	// With --password-stdin the first line is the password (CRLF too), and
	// it is never echoed.
	out = mustCLI(t, "correct horse battery\r\nsecond line\n", "user", "add", "bob", "--role", "member", "--password-stdin", "--db", db)
	if strings.Contains(out, "correct horse") || !strings.Contains(out, "bob") {
		t.Errorf("user add --password-stdin printed %q: want bob named and no password", out)
	}

	for _, c := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  []string
	}{
		{"short password", "short\n", []string{"user", "add", "carol", "--role", "member", "--password-stdin"}, 1, []string{"at least 8 characters"}},
		{"empty password", "", []string{"user", "add", "carol", "--role", "member", "--password-stdin"}, 1, []string{"at least 8 characters"}},
		{"300-byte password", strings.Repeat("p", 300) + "\n", []string{"user", "add", "carol", "--role", "member", "--password-stdin"}, 1, []string{"longer than 256 bytes"}},
		{"duplicate", "", []string{"user", "add", "alice", "--role", "member"}, 1, []string{`user "alice" already exists`}},
		{"duplicate in other case", "", []string{"user", "add", "ALICE", "--role", "member"}, 1, []string{"already exists"}},
		{"missing role", "", []string{"user", "add", "carol"}, 2, []string{"--role is required"}},
		{"unknown role", "", []string{"user", "add", "carol", "--role", "boss"}, 1, []string{`"boss"`, "admin or member"}},
		{"missing name", "", []string{"user", "add", "--role", "member"}, 2, []string{"takes 1 argument"}},
		{"unknown flag", "", []string{"user", "add", "carol", "--role", "member", "--pasword-stdin"}, 2, []string{"pasword-stdin"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantCLI(t, c.code, c.want, c.stdin, append(c.args, "--db", db)...)
		})
	}

	store := openStore(t, db)
	if _, err := store.UserByName(context.Background(), "carol"); loupe.ErrorCode(err) != loupe.ENOTFOUND {
		t.Errorf("after failed adds, carol: err = %v, want ENOTFOUND", err)
	}
	store.Close()

	// Both can sign in with their passwords, with their roles.
	s := startServerOn(t, db)
	for _, u := range []struct{ name, password, role string }{{"alice", generated, "admin"}, {"bob", "correct horse battery", "member"}} {
		c := signIn(t, s.URL(), u.name, u.password)
		resp, err := c.Get(s.URL() + "/api/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"role":"`+u.role+`"`) {
			t.Errorf("%s /api/v1/me = %s, want role %s", u.name, b, u.role)
		}
	}
}

func TestCLIUserDisableEnable(t *testing.T) {
	db := cliDB(t)
	mustCLI(t, "dana-password\n", "user", "add", "dana", "--role", "member", "--password-stdin", "--db", db)
	token := strings.TrimSpace(mustCLI(t, "", "token", "create", "dana", "--db", db))
	s := startServerOn(t, db)
	session := signIn(t, s.URL(), "dana", "dana-password")
	sessionMe := func() int {
		resp, err := session.Get(s.URL() + "/api/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code, who := getMe(t, s.URL(), token); code != 200 || who != "dana/member" {
		t.Fatalf("token before disable: %d %s", code, who)
	}

	// The CLI writes the file the running server uses.
	if out := mustCLI(t, "", "user", "disable", "dana", "--db", db); !strings.Contains(out, "dana is disabled") {
		t.Errorf("user disable printed %q", out)
	}
	if code, _ := getMe(t, s.URL(), token); code != http.StatusUnauthorized {
		t.Errorf("token of a disabled user: %d, want 401", code)
	}
	if code := sessionMe(); code != http.StatusUnauthorized {
		t.Errorf("session of a disabled user: %d, want 401", code)
	}
	resp, err := http.PostForm(s.URL()+"/login", url.Values{"name": {"dana"}, "password": {"dana-password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path == "/" || resp.StatusCode == http.StatusOK {
		t.Errorf("a disabled user signed in: %d at %s", resp.StatusCode, resp.Request.URL.Path)
	}

	if out := mustCLI(t, "", "user", "enable", "dana", "--db", db); !strings.Contains(out, "dana is enabled") {
		t.Errorf("user enable printed %q", out)
	}
	if code, _ := getMe(t, s.URL(), token); code != 200 {
		t.Errorf("token after enable: %d, want 200", code)
	}
	if code := sessionMe(); code != http.StatusUnauthorized {
		t.Errorf("a session ended by disable works again after enable: %d, want 401", code)
	}

	wantCLI(t, 1, []string{`user "nobody" not found`}, "", "user", "disable", "nobody", "--db", db)
	wantCLI(t, 1, []string{`user "nobody" not found`}, "", "user", "enable", "nobody", "--db", db)
	wantCLI(t, 2, []string{"takes 1 argument"}, "", "user", "disable", "--db", db)
}

func TestCLIProjectCreate(t *testing.T) {
	db := cliDB(t)
	config := writeTemp(t, "sentiment.yaml", cliConfig)
	if out := mustCLI(t, "", "project", "create", "--config", config, "--db", db); out != cliSlug+"\n" {
		t.Errorf("project create printed %q, want the slug %q", out, cliSlug)
	}
	if out := mustCLI(t, "", "project", "create", "--config", config, "--slug", "second-copy", "--db", db); out != "second-copy\n" {
		t.Errorf("project create --slug printed %q, want second-copy", out)
	}
	jsonConfig := writeTemp(t, "p.json", `{"title": "JSON config", "blocks": [{"type": "text", "field": "t"},
		{"type": "choice", "name": "c", "options": ["a", "b"]}]}`)
	if out := mustCLI(t, "", "project", "create", "--config", jsonConfig, "--db", db); out != "json-config\n" {
		t.Errorf("project create from JSON printed %q, want json-config", out)
	}

	badOptions := writeTemp(t, "bad.yaml", "title: Bad\noverlap: 1\nblocks:\n  - type: text\n    field: review\n  - type: choice\n    name: s\n    options: 3\n")
	badType := writeTemp(t, "bad2.yaml", "title: Bad\nblocks:\n  - type: text\n    field: review\n  - type: chioce\n    name: s\n")
	badOverlap := writeTemp(t, "bad3.yaml", "title: Bad\noverlap: -2\nblocks:\n  - type: text\n    field: review\n")
	for _, c := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"duplicate slug", []string{"--config", config}, 1, []string{cliSlug, "already exists"}},
		{"bad options", []string{"--config", badOptions}, 1, []string{"bad.yaml:8:14: blocks[1].options"}},
		{"unknown block type", []string{"--config", badType}, 1, []string{"bad2.yaml:5:11: blocks[1].type", "chioce", "choice"}},
		{"bad overlap", []string{"--config", badOverlap}, 1, []string{"bad3.yaml:2:1: overlap"}},
		{"missing file", []string{"--config", filepath.Join(t.TempDir(), "nope.yaml")}, 1, []string{"nope.yaml"}},
		{"missing --config", nil, 2, []string{"--config or --template is required"}},
		{"stray argument", []string{"--config", config, "extra"}, 2, []string{"takes 0 argument"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantCLI(t, c.code, c.want, "", append(append([]string{"project", "create"}, c.args...), "--db", db)...)
		})
	}
	store := openStore(t, db)
	if _, err := store.ProjectBySlug(context.Background(), "bad"); loupe.ErrorCode(err) != loupe.ENOTFOUND {
		t.Errorf("a refused config made a project: %v", err)
	}
}

func TestCLIProjectAddMember(t *testing.T) {
	db := cliDB(t)
	mustCLI(t, "", "user", "add", "erin", "--role", "member", "--db", db)
	mustCLI(t, "", "project", "create", "--config", writeTemp(t, "p.yaml", cliConfig), "--db", db)
	if out := mustCLI(t, "", "project", "add-member", cliSlug, "erin", "--role", "labeler", "--db", db); !strings.Contains(out, "erin is a labeler of "+cliSlug) {
		t.Errorf("add-member printed %q", out)
	}
	// Flags may come first, and a second add changes the role.
	mustCLI(t, "", "project", "add-member", "--role", "manager", "--db", db, cliSlug, "erin")
	for _, c := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"bad role", []string{cliSlug, "erin", "--role", "boss"}, 1, []string{`"boss"`, "labeler, reviewer or manager"}},
		{"global role", []string{cliSlug, "erin", "--role", "admin"}, 1, []string{`"admin"`}},
		{"unknown user", []string{cliSlug, "nobody", "--role", "labeler"}, 1, []string{`user "nobody" not found`}},
		{"unknown project", []string{"nope", "erin", "--role", "labeler"}, 1, []string{`project "nope" not found`}},
		{"missing role", []string{cliSlug, "erin"}, 2, []string{"--role is required"}},
		{"missing user", []string{cliSlug, "--role", "labeler"}, 2, []string{"takes 2 argument"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantCLI(t, c.code, c.want, "", append(append([]string{"project", "add-member"}, c.args...), "--db", db)...)
		})
	}
	store := openStore(t, db)
	p, err := store.ProjectBySlug(context.Background(), cliSlug)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := store.Members(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].UserName != "erin" || ms[0].Role != "manager" {
		t.Errorf("members = %+v, want erin as the one manager", ms)
	}
}

// itemCount returns how many items the project holds.
func itemCount(t *testing.T, db, slug string) int {
	t.Helper()
	store, err := storage.Open(db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p, err := store.ProjectBySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return p.ItemCount
}

func TestCLIImport(t *testing.T) {
	db := cliDB(t)
	mustCLI(t, "", "project", "create", "--config", writeTemp(t, "p.yaml", cliConfig), "--db", db)

	bad := writeTemp(t, "bad.jsonl", `{"review": "fine"}`+"\n"+`{"data": {"review": "also fine"}, "id": "r2"}`+"\n"+`{"review": "broken",`+"\n"+`{"review": "after"}`+"\n")
	wantCLI(t, 1, []string{"line 3", "nothing was imported"}, "", "import", "--project", cliSlug, bad, "--db", db)
	if n := itemCount(t, db, cliSlug); n != 0 {
		t.Errorf("after a failed import the project has %d items, want 0", n)
	}
	twoBad := writeTemp(t, "two.jsonl", `{"review": "ok"}`+"\n"+`[1, 2]`+"\n"+`{"review": "ok too"}`+"\n"+`"text"`+"\n")
	wantCLI(t, 1, []string{"line 2", "line 4"}, "", "import", "--project", cliSlug, twoBad, "--db", db)

	good := writeTemp(t, "good.jsonl", "\ufeff"+`{"review": "one"}`+"\r\n"+`{"data": {"review": "two"}, "id": "r2"}`+"\r\n\r\n"+`{"review": "three"}`+"\n")
	if out := mustCLI(t, "", "import", "--project", cliSlug, good, "--db", db); !strings.Contains(out, "Imported 3 items") {
		t.Errorf("import printed %q, want 3 items imported", out)
	}
	if out := mustCLI(t, "", "import", "--project", cliSlug, good, "--db", db); !strings.Contains(out, "Imported 0 items") || !strings.Contains(out, "3 already present") {
		t.Errorf("re-import printed %q, want 0 imported, 3 already present", out)
	}
	if out := mustCLI(t, `{"review": "from stdin"}`+"\n", "import", "--project", cliSlug, "-", "--db", db); !strings.Contains(out, "Imported 1 item") {
		t.Errorf("import from stdin printed %q", out)
	}
	if n := itemCount(t, db, cliSlug); n != 4 {
		t.Errorf("project has %d items, want 4", n)
	}
	// An id already present with other data is refused, changing nothing.
	clash := writeTemp(t, "clash.jsonl", `{"review": "new"}`+"\n"+`{"data": {"review": "changed"}, "id": "r2"}`+"\n")
	wantCLI(t, 1, []string{"line 2", "r2"}, "", "import", "--project", cliSlug, clash, "--db", db)
	if n := itemCount(t, db, cliSlug); n != 4 {
		t.Errorf("after a refused import the project has %d items, want 4", n)
	}

	wantCLI(t, 1, []string{`project "nope" not found`}, "", "import", "--project", "nope", good, "--db", db)
	wantCLI(t, 1, []string{"missing.jsonl"}, "", "import", "--project", cliSlug, filepath.Join(t.TempDir(), "missing.jsonl"), "--db", db)
	wantCLI(t, 2, []string{"--project is required"}, "", "import", good, "--db", db)
	wantCLI(t, 2, []string{"give the items FILE or DIR (or --predictions FILE)"}, "", "import", "--project", cliSlug, "--db", db)
}

func TestCLIExport(t *testing.T) {
	db := cliDB(t)
	mustCLI(t, "", "project", "create", "--config", writeTemp(t, "p.yaml", cliConfig), "--db", db)
	mustCLI(t, "", "import", "--project", cliSlug, writeTemp(t, "i.jsonl", `{"data": {"review": "great <b>"}, "id": "a"}`+"\n"+`{"review": "bad"}`+"\n"+`{"review": "meh"}`+"\n"), "--db", db)
	mustCLI(t, "", "user", "add", "finn", "--role", "member", "--db", db)
	mustCLI(t, "", "project", "add-member", cliSlug, "finn", "--role", "labeler", "--db", db)
	func() {
		store := openStore(t, db)
		defer store.Close()
		ctx := context.Background()
		p, err := store.ProjectBySlug(ctx, cliSlug)
		if err != nil {
			t.Fatal(err)
		}
		u, err := store.UserByName(ctx, "finn")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{`"positive"`, `"negative"`} {
			task, err := store.Next(ctx, p, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			sub := &annotate.Submission{ItemID: task.Item.ID, Values: map[string]json.RawMessage{"sentiment": json.RawMessage(v)}}
			if _, _, err := store.Submit(ctx, p, annotate.Access{User: u, Role: "labeler"}, sub); err != nil {
				t.Fatal(err)
			}
		}
	}()

	out := mustCLI(t, "", "export", "--project", cliSlug, "--format", "jsonl", "--db", db)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("export wrote %d lines, want 2 (the annotated items):\n%s", len(lines), out)
	}
	var got []string
	for _, l := range lines {
		var rec struct {
			ExternalID  *string        `json:"external_id"`
			Data        map[string]any `json:"data"`
			Annotations []struct {
				User    string            `json:"user"`
				Version int               `json:"version"`
				Values  map[string]string `json:"values"`
			} `json:"annotations"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("export line %q: %v", l, err)
		}
		if len(rec.Annotations) != 1 || rec.Annotations[0].User != "finn" || rec.Annotations[0].Version != 1 {
			t.Errorf("export line %s: want one annotation by finn at version 1", l)
			continue
		}
		got = append(got, rec.Data["review"].(string)+"="+rec.Annotations[0].Values["sentiment"])
	}
	if strings.Join(got, ",") != "great <b>=positive,bad=negative" {
		t.Errorf("exported %v, want great <b>=positive, bad=negative", got)
	}
	if strings.Contains(out, "<b>") {
		t.Errorf("export holds a raw <b>, want it escaped: %s", lines[0])
	}
	// The default format is jsonl.
	if again := mustCLI(t, "", "export", "--project", cliSlug, "--db", db); again != out {
		t.Errorf("export without --format differs from --format jsonl")
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "out.jsonl")
	code, stdout, stderr := runCLI(t, "", "export", "--project", cliSlug, "--out", file, "--db", db)
	if code != 0 || stdout != "" || !strings.Contains(stderr, "Exported 2 rows") {
		t.Errorf("export --out = %d %q %q, want 0, nothing on stdout and a count on stderr", code, stdout, stderr)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != out {
		t.Errorf("export --out wrote %q (%v), want what stdout got", b, err)
	}

	// A failed export leaves no file, and never replaces one.
	missing := filepath.Join(dir, "xlsx.out")
	wantCLI(t, 1, []string{`unknown export format "xlsx"`, "known formats: ", "csv", "hf", "jsonl", "labelstudio", "parquet"}, "", "export", "--project", cliSlug, "--format", "xlsx", "--out", missing, "--db", db)
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("export with an unknown format left %s (%v)", missing, err)
	}
	wantCLI(t, 1, []string{`project "nope" not found`}, "", "export", "--project", "nope", "--out", file, "--db", db)
	if b, _ := os.ReadFile(file); string(b) != out {
		t.Errorf("a failed export changed the existing %s", file)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("export directory holds %v, want only out.jsonl (no temporary files left)", names)
	}
	wantCLI(t, 1, []string{"no-such-dir"}, "", "export", "--project", cliSlug, "--out", filepath.Join(dir, "no-such-dir", "x.jsonl"), "--db", db)
	wantCLI(t, 2, []string{"--project is required"}, "", "export", "--db", db)
}

func TestCLITokenCreate(t *testing.T) {
	db := cliDB(t)
	mustCLI(t, "", "user", "add", "gus", "--role", "member", "--db", db)
	out := mustCLI(t, "", "token", "create", "gus", "--name", "ci script", "--db", db)
	token := strings.TrimSpace(out)
	if !strings.HasPrefix(token, loupe.TokenPrefix) || strings.Count(out, "\n") != 1 {
		t.Fatalf("token create printed %q, want one token line", out)
	}
	s := startServerOn(t, db)
	if code, who := getMe(t, s.URL(), token); code != 200 || who != "gus/member" {
		t.Errorf("/api/v1/me with the token = %d %s, want 200 gus", code, who)
	}
	// A token made while the server runs works at once.
	second := strings.TrimSpace(mustCLI(t, "", "token", "create", "gus", "--db", db))
	if second == token {
		t.Error("two tokens are equal")
	}
	if code, _ := getMe(t, s.URL(), second); code != 200 {
		t.Errorf("a token created while serving: %d, want 200", code)
	}
	if code, _ := getMe(t, s.URL(), token[:len(token)-1]+"x"); code != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d, want 401", code)
	}
	wantCLI(t, 1, []string{`user "nobody" not found`}, "", "token", "create", "nobody", "--db", db)
	wantCLI(t, 2, []string{"takes 1 argument"}, "", "token", "create", "--db", db)
}

func TestCLIHelp(t *testing.T) {
	db := cliDB(t)
	for _, cmd := range [][]string{{"serve"}, {"user", "add"}, {"user", "disable"}, {"user", "enable"},
		{"project", "create"}, {"project", "add-member"}, {"import"}, {"export"}, {"token", "create"}} {
		code, out, errOut := runCLI(t, "", append(cmd, "--help", "--db", db)...)
		usage := "Usage: loupe " + strings.Join(cmd, " ")
		if cmd[0] == "serve" {
			usage = "Usage: loupe [serve]"
		}
		if code != 0 || errOut != "" || !strings.Contains(out, usage) {
			t.Errorf("loupe %s --help = exit %d, stdout %q, stderr %q; want exit 0 and %q on stdout", strings.Join(cmd, " "), code, out, errOut, usage)
		}
		// The usage once, and each flag with its description (dbFlag's here).
		if n := strings.Count(out, usage); n != 1 || !strings.Contains(out, "the SQLite database") {
			t.Errorf("loupe %s --help prints the usage %d times and lists no flags: %q", strings.Join(cmd, " "), n, out)
		}
		if code, _, _ := runCLI(t, "", append(cmd, "-h")...); code != 0 {
			t.Errorf("loupe %s -h = exit %d, want 0", strings.Join(cmd, " "), code)
		}
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"user", "--help"}, {"project", "--help"}, {"token", "--help"}} {
		code, out, _ := runCLI(t, "", args...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("loupe %s = %d %q, want 0 and the usage", strings.Join(args, " "), code, out)
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("--help created the database file (%v)", err)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	db := cliDB(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"frob"}, `unknown command "frob"`},
		{[]string{"user"}, "user needs a subcommand"},
		{[]string{"user", "frob"}, `unknown command "user frob"`},
		{[]string{"project", "delete"}, `unknown command "project delete"`},
		{[]string{"token"}, "token needs a subcommand"},
		{[]string{"import", "--bogus", "--project", "x", "f", "--db", db}, "-bogus"},
		{[]string{"export", "--db", db, "--project"}, "-project"},
		{[]string{"serve", "--db", db, "--addr"}, "-addr"},
		{[]string{"serve", "extra", "--db", db}, "takes 0 argument"},
	} {
		// A usage error goes to stderr only: stdout may be a file being
		// written, as with export.
		wantCLI(t, 2, []string{c.want}, "", c.args...)
	}
}

// TestCLIServeRefuses: the server refuses, with a clear error and without
// panicking or damaging anything, a file that is not a database and a
// database it cannot write.
func TestCLIServeRefuses(t *testing.T) {
	serveArgs := func(path string) []string {
		return []string{"serve", "--addr", "127.0.0.1:0", "--db", path, "--no-demo", "--log-level", "warn"}
	}
	t.Run("not a database", func(t *testing.T) {
		garbage := bytes.Repeat([]byte("this is not a database, just text\n"), 200)
		for _, content := range [][]byte{garbage, append([]byte("SQLite format 3\x00"), garbage...)} {
			path := filepath.Join(t.TempDir(), "loupe.db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			wantCLI(t, 1, []string{path, "not a Loupe database"}, "", serveArgs(path)...)

			cfg, err := ParseServeFlags(serveArgs(path)[1:], &Env{Stdout: io.Discard, Getenv: func(string) string { return "" }})
			if err != nil {
				t.Fatal(err)
			}
			m := &Main{Config: cfg}
			if err := m.Run(context.Background(), &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}); err == nil {
				t.Error("Main.Run on a file that is not a database succeeded")
			}
			if err := m.Close(); err != nil {
				t.Errorf("Close after a failed Run: %v", err)
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, content) {
				t.Error("the server changed a file that is not a database")
			}
		}
	})

	t.Run("read-only", func(t *testing.T) {
		if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
			t.Skipf("directory permissions do not make a directory read-only on %s", runtime.GOOS)
		}
		root := t.TempDir()
		// Set up three cases: a new database in a read-only directory, a
		// database whose directory is read-only (no -wal can be made), and
		// a read-only database file.
		newDir := filepath.Join(root, "new")
		oldDir := filepath.Join(root, "old")
		roFile := filepath.Join(root, "rofile")
		for _, d := range []string{newDir, oldDir, roFile} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			mustCLI(t, "", "user", "add", "someone", "--role", "admin", "--db", filepath.Join(d, "loupe.db"))
		}
		os.Remove(filepath.Join(newDir, "loupe.db"))
		os.Chmod(filepath.Join(oldDir, "loupe.db"), 0o666)
		os.Chmod(filepath.Join(roFile, "loupe.db"), 0o444)
		for _, d := range []string{newDir, oldDir} {
			os.Chmod(d, 0o555)
			t.Cleanup(func() { os.Chmod(d, 0o755) })
		}
		cases := []struct {
			name, path string
			want       []string
		}{
			{"new file in read-only directory", filepath.Join(newDir, "loupe.db"), []string{"permission denied"}},
			{"read-only directory", filepath.Join(oldDir, "loupe.db"), []string{"read-only"}},
			{"read-only file", filepath.Join(roFile, "loupe.db"), []string{"read-only"}},
		}
		if os.Geteuid() != 0 {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					wantCLI(t, 1, append(c.want, c.path), "", serveArgs(c.path)...)
				})
			}
			return
		}
		// Root ignores permissions: run the server as nobody in a child
		// process instead (the test binary re-executed through setpriv).
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Skip("running as root, and setpriv (util-linux) is not installed to drop privileges; cannot make a directory read-only")
		}
		for _, d := range []string{filepath.Dir(root), root} {
			os.Chmod(d, 0o755)
		}
		bin := filepath.Join(root, "loupe.test")
		exe, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, exe, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				cmd := helperCommand(bin, serveArgs(c.path), setpriv, "--reuid=65534", "--regid=65534", "--clear-groups")
				stdin, err := cmd.StdinPipe()
				if err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err = cmd.Run()
				stdin.Close()
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 1 {
					t.Errorf("serve as nobody on %s: %v, want exit status 1\nstdout: %s\nstderr: %s", c.path, err, &stdout, &stderr)
				}
				for _, w := range append(c.want, c.path) {
					if !strings.Contains(stderr.String(), w) {
						t.Errorf("serve on %s: stderr %q does not say %q", c.path, &stderr, w)
					}
				}
				if strings.Contains(stderr.String(), "panic") || strings.Contains(stdout.String(), "Loupe is running") {
					t.Errorf("serve on %s: %s%s", c.path, &stdout, &stderr)
				}
			})
		}
	})
}
