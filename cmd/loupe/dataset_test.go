package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/export"
)

// labelAll answers every open item of the project as the user, taking the
// values in turn.
func labelAll(t *testing.T, db, user string, values ...string) {
	t.Helper()
	store := openStore(t, db)
	defer store.Close()
	ctx := context.Background()
	p, err := store.ProjectBySlug(ctx, cliSlug)
	if err != nil {
		t.Fatal(err)
	}
	u, err := store.UserByName(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		task, err := store.Next(ctx, p, u.ID)
		if err != nil || task == nil {
			return
		}
		sub := &annotate.Submission{ItemID: task.Item.ID, Values: map[string]json.RawMessage{"sentiment": json.RawMessage(`"` + values[i%len(values)] + `"`)}}
		if _, _, err := store.Submit(ctx, p, annotate.Access{User: u, Role: "labeler"}, sub); err != nil {
			t.Fatal(err)
		}
	}
}

// readManifest reads DIR/manifest.json and checks each file it lists
// against the bytes on disk.
func readManifest(t *testing.T, dir string) export.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m export.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		data, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(data)) != f.Bytes {
			t.Errorf("%s: %d bytes, sha256 %x; the manifest says %d, %s", f.Name, len(data), sum, f.Bytes, f.SHA256)
		}
	}
	return m
}

func dirBytes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func TestCLIImportFormats(t *testing.T) {
	db := cliDB(t)
	mustCLI(t, "", "project", "create", "--config", writeTemp(t, "p.yaml", cliConfig), "--db", db)

	// CSV: detected from the name; a quoted newline; the id column.
	csvFile := writeTemp(t, "items.csv", "id,review,stars\nc1,\"two\nlines\",4\nc2,plain,5\n")
	if out := mustCLI(t, "", "import", "--project", cliSlug, csvFile, "--db", db); !strings.Contains(out, "Imported 2 items") || !strings.Contains(out, "(csv;") {
		t.Errorf("csv import printed %q", out)
	}
	// Plain text, one item a line, into the interface's text field.
	if out := mustCLI(t, "", "import", "--project", cliSlug, writeTemp(t, "lines.txt", "first line\n\nsecond line\n"), "--db", db); !strings.Contains(out, "Imported 2 items") {
		t.Errorf("text import printed %q", out)
	}
	// A bad CSV row names its line; nothing is imported.
	bad := writeTemp(t, "bad.csv", "id,review\nc3,ok\nc4,ok,extra\n")
	wantCLI(t, 1, []string{"line 3", "nothing was imported"}, "", "import", "--project", cliSlug, bad, "--db", db)
	// A forced unknown format lists the known ones; a bad dedupe mode is a usage error.
	wantCLI(t, 1, []string{"known formats", "labelstudio", "prodigy"}, "", "import", "--project", cliSlug, "--format", "xml", csvFile, "--db", db)
	wantCLI(t, 2, []string{"--dedupe", "id, hash, none"}, "", "import", "--project", cliSlug, "--dedupe", "maybe", csvFile, "--db", db)
	// dedupe none adds a copy of every line without an id.
	if out := mustCLI(t, "", "import", "--project", cliSlug, "--dedupe", "none", writeTemp(t, "again.txt", "first line\n"), "--db", db); !strings.Contains(out, "Imported 1 item") {
		t.Errorf("dedupe none printed %q", out)
	}
	if n := itemCount(t, db, cliSlug); n != 5 {
		t.Errorf("project has %d items, want 5", n)
	}
}

func TestCLIImportFolder(t *testing.T) {
	db := cliDB(t)
	mustCLI(t, "", "project", "create", "--config", writeTemp(t, "p.yaml", `title: Photos
blocks:
  - type: image
    field: image
  - type: choice
    name: kind
    options: [cat, dog]
`), "--db", db)
	dir := t.TempDir()
	png := []byte("\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 32))
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "a.png"), png, 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "b.png"), png, 0o644)
	os.WriteFile(filepath.Join(dir, "notes.md"), []byte("not media"), 0o644)
	media := filepath.Join(t.TempDir(), "media")
	out := mustCLI(t, "", "import", "--project", "photos", dir, "--media-root", media, "--db", db)
	if !strings.Contains(out, "Imported 2 items") || !strings.Contains(out, "(folder;") {
		t.Errorf("folder import printed %q", out)
	}
	for _, rel := range []string{"a.png", "sub/b.png"} {
		if b, err := os.ReadFile(filepath.Join(media, "photos", rel)); err != nil || !bytes.Equal(b, png) {
			t.Errorf("media %s: %v", rel, err)
		}
	}
	// A symlink pointing out of the folder is refused, and nothing is imported.
	secret := writeTemp(t, "secret.png", string(png))
	if err := os.Symlink(secret, filepath.Join(dir, "escape.png")); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	wantCLI(t, 1, []string{"escape.png", "nothing was imported"}, "", "import", "--project", "photos", dir, "--media-root", media, "--db", db)
	if _, err := os.Stat(filepath.Join(media, "photos", "escape.png")); err == nil {
		t.Errorf("the symlink's target was copied into the media folder")
	}
}

func TestCLIExportFormatsSplitsAndSnapshots(t *testing.T) {
	db := cliDB(t)
	mustCLI(t, "", "project", "create", "--config", writeTemp(t, "p.yaml", cliConfig), "--db", db)
	var items strings.Builder
	for i := range 40 {
		items.WriteString(`{"id":"r` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `","data":{"review":"=cmd|' /C calc'!A0 review ` + string(rune('a'+i%26)) + `"}}` + "\n")
	}
	mustCLI(t, "", "import", "--project", cliSlug, writeTemp(t, "i.jsonl", items.String()), "--db", db)
	mustCLI(t, "", "user", "add", "finn", "--role", "member", "--db", db)
	mustCLI(t, "", "project", "add-member", cliSlug, "finn", "--role", "labeler", "--db", db)
	labelAll(t, db, "finn", "positive", "negative", "neutral", "positive")

	// CSV to stdout: formula cells are inert.
	out := mustCLI(t, "", "export", "--project", cliSlug, "--format", "csv", "--db", db)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 41 {
		t.Fatalf("csv export: %d rows, %v", len(rows), err)
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if strings.HasPrefix(cell, "=") {
				t.Errorf("csv cell %q would run as a formula", cell)
			}
		}
	}

	// A split needs a folder; with one, each split gets its file and the
	// manifest checks out.
	wantCLI(t, 2, []string{"--out DIR"}, "", "export", "--project", cliSlug, "--split", "train=0.8,test=0.2", "--db", db)
	wantCLI(t, 1, []string{"add up to"}, "", "export", "--project", cliSlug, "--split", "train=0.8,test=0.3", "--out", filepath.Join(t.TempDir(), "x"), "--db", db)
	split := filepath.Join(t.TempDir(), "split")
	before := len(exportEvents(t, db))
	mustCLI(t, "", "export", "--project", cliSlug, "--format", "jsonl", "--split", "train=0.75,test=0.25", "--seed", "3", "--out", split, "--db", db)
	m := readManifest(t, split)
	if m.Items != 40 || m.Splits["train"].Rows+m.Splits["test"].Rows != 40 || m.Splits["test"].Rows == 0 || len(m.Files) != 2 {
		t.Errorf("split manifest: %+v", m)
	}
	if made := exportEvents(t, db); len(made) != before+1 || !strings.Contains(string(made[0].Payload), `"split":"train=0.75,test=0.25"`) {
		t.Errorf("the split export was not recorded in the history (%d events before, %d after)", before, len(made))
	}
	// hf writes a folder with its dataset card.
	hf := filepath.Join(t.TempDir(), "hf")
	mustCLI(t, "", "export", "--project", cliSlug, "--format", "hf", "--out", hf, "--db", db)
	if files := dirBytes(t, hf); !strings.Contains(files["README.md"], "sentiment") || files["manifest.json"] == "" {
		t.Errorf("hf export holds %d files; README.md: %.200q", len(files), files["README.md"])
	}
	// A format that cannot express the project says what it needs.
	wantCLI(t, 1, []string{"spans"}, "", "export", "--project", cliSlug, "--format", "conll", "--db", db)

	// A snapshot exported again after more work is the same bytes; a
	// second snapshot differs from it by the new items.
	snap := filepath.Join(t.TempDir(), "v1")
	mustCLI(t, "", "export", "--project", cliSlug, "--format", "hf", "--split", "train=0.8,validation=0.2", "--seed", "9", "--state", "annotated", "--snapshot", "v1", "--out", snap, "--db", db)
	first := dirBytes(t, snap)
	mustCLI(t, "", "import", "--project", cliSlug, writeTemp(t, "more.txt", "a new review\nanother new review\n"), "--db", db)
	labelAll(t, db, "finn", "negative")
	again := filepath.Join(t.TempDir(), "v1-again")
	mustCLI(t, "", "export", "--project", cliSlug, "--snapshot", "v1", "--out", again, "--db", db)
	second := dirBytes(t, again)
	if len(second) != len(first) {
		t.Errorf("re-export has %d files, want %d", len(second), len(first))
	}
	for name, b := range first {
		if second[name] != b {
			t.Errorf("%s differs on re-export", name)
		}
	}
	wantCLI(t, 1, []string{"already exists"}, "", "export", "--project", cliSlug, "--snapshot", "v1", "--format", "csv", "--out", filepath.Join(t.TempDir(), "x"), "--db", db)
	mustCLI(t, "", "export", "--project", cliSlug, "--snapshot", "v2", "--out", filepath.Join(t.TempDir(), "v2"), "--db", db)
	code, diff, errOut := runCLI(t, "", "snapshot", "diff", "--project", cliSlug, "v1", "v2", "--db", db)
	if code != 0 || strings.Count(diff, "added") != 2 || !strings.Contains(errOut, "2 added, 0 removed, 0 changed") {
		t.Errorf("snapshot diff = %d:\n%s%s", code, diff, errOut)
	}
	if list := mustCLI(t, "", "snapshot", "list", "--project", cliSlug, "--db", db); !strings.Contains(list, "v1\t") || !strings.Contains(list, "v2\t") {
		t.Errorf("snapshot list:\n%s", list)
	}
}

func TestCLIGenerate(t *testing.T) {
	db := cliDB(t)
	mustCLI(t, "", "project", "create", "--config", writeTemp(t, "p.yaml", cliConfig+`  - type: multichoice
    name: topics
    options: [price, quality, delivery]
  - type: rating
    name: stars
    scale: 5
  - type: comment
    name: note
`), "--db", db)
	out := mustCLI(t, "", "generate", "--project", cliSlug, "--items", "3000", "--annotated", "2500", "--labelers", "4", "--db", db)
	if !strings.Contains(out, "Generated 3000 items and 2500 annotations") {
		t.Errorf("generate printed %q", out)
	}
	if n := itemCount(t, db, cliSlug); n != 3000 {
		t.Errorf("project has %d items, want 3000", n)
	}
	// The generated answers are valid, spread over the labelers, and export.
	exported := mustCLI(t, "", "export", "--project", cliSlug, "--format", "jsonl", "--aggregate", "every", "--db", db)
	users := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(exported), "\n") {
		var rec struct {
			Annotations []struct {
				User   string                     `json:"user"`
				Values map[string]json.RawMessage `json:"values"`
			} `json:"annotations"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil || len(rec.Annotations) != 1 || len(rec.Annotations[0].Values) != 4 {
			t.Fatalf("exported line %s (%v): want one annotation with 4 values", line, err)
		}
		users[rec.Annotations[0].User]++
	}
	if len(users) != 4 || users["gen-1"] == 0 {
		t.Errorf("annotations by %v, want gen-1 … gen-4", users)
	}
	// Again: new items, not duplicates of the first run.
	mustCLI(t, "", "generate", "--project", cliSlug, "--items", "10", "--db", db)
	if n := itemCount(t, db, cliSlug); n != 3010 {
		t.Errorf("after a second run the project has %d items, want 3010", n)
	}
	wantCLI(t, 2, []string{"--annotated (5) is more than --items (2)"}, "", "generate", "--project", cliSlug, "--items", "2", "--annotated", "5", "--db", db)
	mustCLI(t, "", "project", "create", "--config", writeTemp(t, "q.yaml", "title: Spans only\nblocks:\n  - {type: text, field: text}\n  - {type: spans, name: ents, field: text, labels: [A], required: true}\n"), "--db", db)
	wantCLI(t, 1, []string{`the required block "ents" is a spans`}, "", "generate", "--project", "spans-only", "--db", db)
}
