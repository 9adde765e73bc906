package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/fixtures"
	"github.com/loupehq/loupe/storage"
)

// set-password replaces the hash and ends the user's sessions.
func TestUserSetPassword(t *testing.T) {
	db := filepath.Join(t.TempDir(), "loupe.db")
	if code, _, errOut := runCLI(t, "first-password\n", "user", "add", "carol", "--role", "member", "--password-stdin", "--db", db); code != 0 {
		t.Fatalf("user add: %d %s", code, errOut)
	}
	d, err := storage.Open(db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := d.UserByName(context.Background(), "carol")
	if err := d.CreateSession(context.Background(), &loupe.Session{ID: loupe.HashSecret("s"), UserID: u.ID, ExpiresAt: u.CreatedAt.Add(1e15)}); err != nil {
		t.Fatal(err)
	}
	d.Close()

	code, out, errOut := runCLI(t, "", "user", "set-password", "carol", "--db", db)
	if code != 0 || !strings.Contains(out, "shown once") {
		t.Fatalf("set-password: %d %q %q", code, out, errOut)
	}
	generated := strings.Fields(strings.SplitN(out, "): ", 2)[1])[0]
	d, _ = storage.Open(db, storage.Options{})
	defer d.Close()
	u, _ = d.UserByName(context.Background(), "carol")
	if !loupe.CheckPassword(u.PassHash, generated) || loupe.CheckPassword(u.PassHash, "first-password") {
		t.Error("the new password does not match, or the old one still does")
	}
	if _, err := d.Session(context.Background(), loupe.HashSecret("s")); loupe.ErrorCode(err) != loupe.ENOTFOUND {
		t.Errorf("session survived a password change: %v", err)
	}
	if code, _, errOut := runCLI(t, "short\n", "user", "set-password", "carol", "--password-stdin", "--db", db); code != 1 || !strings.Contains(errOut, "at least 8") {
		t.Errorf("short password: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "user", "set-password", "nobody", "--db", db); code != 1 || !strings.Contains(errOut, `user "nobody" not found`) {
		t.Errorf("unknown user: %d %q", code, errOut)
	}
}

func TestProjectSetConfig(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "loupe.db")
	cfg := filepath.Join(dir, "p.yaml")
	src := "title: Tones\nblocks:\n  - {type: text, field: review}\n  - {type: choice, name: tone, options: [warm, cold]}\n"
	os.WriteFile(cfg, []byte(src), 0o644)
	if code, out, errOut := runCLI(t, "", "project", "create", "--config", cfg, "--db", db); code != 0 || out != "tones\n" {
		t.Fatalf("create: %d %q %q", code, out, errOut)
	}
	os.WriteFile(cfg, []byte(src+"overlap: 2\n"), 0o644)
	if code, out, errOut := runCLI(t, "", "project", "set-config", "tones", "--config", cfg, "--db", db); code != 0 || out != "tones now uses config version 2.\n" {
		t.Fatalf("set-config: %d %q %q", code, out, errOut)
	}
	os.WriteFile(cfg, []byte("title: x\nblocks:\n  - {type: choice, name: c, options: [a]}\n"), 0o644)
	code, _, errOut := runCLI(t, "", "project", "set-config", "tones", "--config", cfg, "--db", db)
	if code != 1 || !strings.Contains(errOut, cfg+":3:29: blocks[0].options: must list at least 2 options") {
		t.Errorf("bad config: %d %q", code, errOut)
	}
	os.WriteFile(cfg, []byte(src), 0o644)
	if code, _, errOut := runCLI(t, "", "project", "set-config", "nope", "--config", cfg, "--db", db); code != 1 || !strings.Contains(errOut, `project "nope" not found`) {
		t.Errorf("unknown project: %d %q", code, errOut)
	}
	d, err := storage.Open(db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p, _ := d.ProjectBySlug(context.Background(), "tones")
	if p.ConfigVersion != 2 || p.Config.Overlap != 2 {
		t.Errorf("project at version %d with overlap %d, want 2 and 2", p.ConfigVersion, p.Config.Overlap)
	}
}

// Every template makes a project, with its demo items and media when asked;
// an unknown template lists the known ones.
func TestProjectCreateTemplate(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "loupe.db")
	for _, name := range fixtures.TemplateNames() {
		if code, out, errOut := runCLI(t, "", "project", "create", "--template", name, "--demo-items", "--db", db); code != 0 || out != name+"\n" {
			t.Fatalf("template %s: %d %q %q", name, code, out, errOut)
		}
	}
	if code, out, errOut := runCLI(t, "", "project", "create", "--template", "ner", "--slug", "ner-empty", "--db", db); code != 0 || out != "ner-empty\n" {
		t.Fatalf("template without items: %d %q %q", code, out, errOut)
	}
	code, _, errOut := runCLI(t, "", "project", "create", "--template", "nope", "--db", db)
	if code != 1 || !strings.Contains(errOut, `unknown template "nope"; templates: chat-feedback, image-boxes`) {
		t.Errorf("unknown template: %d %q", code, errOut)
	}
	if code, _, _ := runCLI(t, "", "project", "create", "--template", "ner", "--config", "x.yaml", "--db", db); code != 2 {
		t.Errorf("--template with --config: exit %d, want 2", code)
	}
	d, err := storage.Open(db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	for slug, items := range map[string]int{"ner": 150, "image-boxes": 20, "ner-empty": 0} {
		p, err := d.ProjectBySlug(ctx, slug)
		if err != nil || p.ItemCount != items {
			t.Errorf("%s: %v items, err %v; want %d", slug, p, err, items)
		}
	}
	png, err := os.ReadFile(filepath.Join(dir, "loupe-media", "image-boxes", "shapes", "001.png"))
	if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Errorf("demo picture not written: %v", err)
	}
	// The llm-rating template includes a library file: the stored config
	// stands alone.
	p, _ := d.ProjectBySlug(ctx, "llm-rating")
	if strings.Contains(p.ConfigSource, "include:") {
		t.Errorf("stored config still includes a file:\n%s", p.ConfigSource)
	}
}

// loupe project validate prints ok with a summary, or every problem as
// FILE:LINE:COL: FIELD: MESSAGE with exit 1; includes resolve next to the
// config, then in the block library.
func TestProjectValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("title: T\nblocks:\n  - {type: markdown, field: answer}\n  - include: response-quality.yaml\n  - include: mine.yaml\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte("- {type: textbox, name: note}\n"), 0o644)
	code, out, errOut := runCLI(t, "", "project", "validate", good)
	if code != 0 || !strings.Contains(out, `good.yaml: ok: "T", 3 blocks with values (quality, issues, note), reads fields answer`) {
		t.Errorf("good config: %d %q %q", code, out, errOut)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("title: T\nblocks:\n  - type: choice\n    name: c\n    options: []\n  - {type: text, feild: a}\n  - include: nowhere.yaml\n"), 0o644)
	code, _, errOut = runCLI(t, "", "project", "validate", bad)
	for _, want := range []string{bad + ":5:5: blocks[0].options: must list at least 2 options", bad + `:6:18: blocks[1].feild: unknown field (did you mean "field"?)`, bad + ":7:5: include: cannot include"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("bad config: exit %d, stderr lacks %q:\n%s", code, want, errOut)
		}
	}
}

// Predictions come with items (Loupe's shape and Label Studio's) or later
// from a predictions file matched by external id; a bad line changes
// nothing and names its line.
func TestImportPredictions(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "loupe.db")
	cfg := filepath.Join(dir, "p.yaml")
	os.WriteFile(cfg, []byte("title: Preds\nblocks:\n  - {type: text, field: review}\n  - {type: choice, name: sentiment, options: [positive, negative]}\n"), 0o644)
	if code, _, errOut := runCLI(t, "", "project", "create", "--config", cfg, "--db", db); code != 0 {
		t.Fatal(errOut)
	}
	items := filepath.Join(dir, "items.jsonl")
	os.WriteFile(items, []byte(`{"id": "a", "data": {"review": "fine"}, "predictions": [{"model": "m", "version": "3", "score": 0.9, "values": {"sentiment": "positive"}}]}
{"id": "b", "data": {"review": "bad"}, "predictions": [{"model_version": "ls-1", "score": 0.6, "result": [{"from_name": "sentiment", "to_name": "review", "type": "choices", "value": {"choices": ["negative"]}}]}]}
{"id": "c", "data": {"review": "meh"}}
`), 0o644)
	code, out, errOut := runCLI(t, "", "import", "--project", "preds", items, "--db", db)
	if code != 0 || !strings.Contains(out, "Imported 3 items into preds from "+items+" (jsonl; 0 already present), with 2 predictions.") {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	more := filepath.Join(dir, "preds.jsonl")
	os.WriteFile(more, []byte(`{"id": "c", "predictions": [{"model": "m", "version": "4", "values": {"sentiment": "negative"}}]}`+"\n"), 0o644)
	if code, out, errOut := runCLI(t, "", "import", "--project", "preds", "--predictions", more, "--db", db); code != 0 || !strings.Contains(out, "Added 1 predictions to 1 items") {
		t.Fatalf("predictions: %d %q %q", code, out, errOut)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"id": "a", "predictions": [{"model": "m", "version": "5", "values": {"sentiment": "positive"}}]}
{"id": "zzz", "predictions": [{"model": "m", "version": "5", "values": {"sentiment": "positive"}}]}
{"id": "b", "predictions": [{"model": "m", "version": "5", "values": {"sentiment": "happy"}}]}
{"id": "b", "predictions": [{"model": "m", "version": "5", "values": {"mood": "x"}}]}
`), 0o644)
	code, _, errOut = runCLI(t, "", "import", "--project", "preds", "--predictions", bad, "--db", db)
	for _, want := range []string{`line 2: no item has id "zzz"`, "line 3: predictions[0]", `"happy" is not one of the options`, "line 4: predictions[0]", `mood`} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("bad predictions: exit %d, stderr lacks %q:\n%s", code, want, errOut)
		}
	}
	d, err := storage.Open(db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	p, _ := d.ProjectBySlug(ctx, "preds")
	var n int
	for _, id := range []string{"a", "b", "c"} {
		it, err := d.ItemByExternalID(ctx, p.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		ps, _ := d.ItemPredictions(ctx, it.ID)
		n += len(ps)
		for _, pr := range ps {
			if pr.Model == "m" && pr.ModelVersion == "5" {
				t.Errorf("a prediction of the refused file was stored: %+v", pr)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d predictions stored, want 3", n)
	}
}

func TestModelStats(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "loupe.db")
	cfg := filepath.Join(dir, "p.yaml")
	os.WriteFile(cfg, []byte("title: Stats\npredictions:\n  models:\n    - {name: learner, type: builtin, fields: [review], blocks: [sentiment]}\nblocks:\n  - {type: text, field: review}\n  - {type: choice, name: sentiment, options: [positive, negative]}\n"), 0o644)
	runCLI(t, "", "project", "create", "--config", cfg, "--db", db)
	if code, out, _ := runCLI(t, "", "model", "stats", "--project", "stats", "--db", db); code != 0 || !strings.Contains(out, "No suggestion of stats has been shown") {
		t.Errorf("empty stats: %d %q", code, out)
	}
	items := filepath.Join(dir, "items.jsonl")
	os.WriteFile(items, []byte("{\"review\": \"a\"}\n{\"review\": \"b\"}\n"), 0o644)
	runCLI(t, "", "import", "--project", "stats", items, "--db", db)
	d, err := storage.Open(db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin, _ := d.CreateUser(ctx, "root", loupe.RoleAdmin, loupe.DummyPasswordHash)
	p, _ := d.ProjectBySlug(ctx, "stats")
	for _, answer := range []string{"positive", "negative"} {
		task, _ := d.Next(ctx, p, admin.ID)
		shown := map[string]json.RawMessage{"sentiment": json.RawMessage(`{"block":"sentiment","model":"learner","version":"n1","value":"positive"}`)}
		if _, _, err := d.Submit(ctx, p, annotate.Access{User: admin}, &annotate.Submission{ItemID: task.Item.ID,
			Values: map[string]json.RawMessage{"sentiment": json.RawMessage(`"` + answer + `"`)}, Shown: shown}); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	code, out, errOut := runCLI(t, "", "model", "stats", "--project", "stats", "--db", db)
	if code != 0 || !strings.Contains(out, "accept rate") || !regexp.MustCompile(`learner\s+n1\s+2\s+1\s+1\s+0\s+50\.0%\s+2\s+50\.0%`).MatchString(out) {
		t.Errorf("stats: %d %q %q", code, out, errOut)
	}
}
