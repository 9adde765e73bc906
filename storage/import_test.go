package storage_test

import (
	"context"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

func importErr(t *testing.T, f *fixture, jsonl string) error {
	t.Helper()
	_, err := f.db.ImportItems(context.Background(), f.project, annotate.NewItemDecoder(strings.NewReader(jsonl)), annotate.ImportOptions{})
	return err
}

func itemCount(t *testing.T, f *fixture) int {
	t.Helper()
	p, err := f.db.ProjectBySlug(context.Background(), f.project.Slug)
	if err != nil {
		t.Fatal(err)
	}
	return p.ItemCount
}

// A bad line fails the whole import with its line number, and nothing of
// the file is stored.
func TestImportAtomic(t *testing.T) {
	f := newFixture(t, sentimentConfig, 0, 0)
	long := `{"review": "` + strings.Repeat("x", 100<<10) + `"}`
	tests := []struct {
		name, file string
		want       []string
	}{
		{"not json", "{\"review\": \"a\"}\nnot json\n", []string{"line 2: not a JSON object"}},
		{"array", "[1, 2]\n", []string{"line 1: not a JSON object: expected an object, got array"}},
		{"missing field", "{\"review\": \"a\"}\n{\"text\": \"b\"}\n", []string{`line 2: field "review" is missing`}},
		{"null field", "{\"review\": null}\n", []string{`line 1: field "review" is missing`}},
		{"bad utf8", "{\"review\": \"a\xff\"}\n", []string{"line 1: not valid UTF-8"}},
		{"nul byte", "{\"review\": \"a\x00\"}\n", []string{"line 1: holds a NUL byte"}},
		{"two values", "{\"review\": \"a\"} {\"review\": \"b\"}\n", []string{"line 1: more than one JSON value"}},
		{"dup id", "{\"id\": \"x\", \"data\": {\"review\": \"a\"}}\n{\"id\": \"x\", \"data\": {\"review\": \"b\"}}\n", []string{`line 2: id "x" is also on line 1`}},
		{"bad id", "{\"id\": [1], \"data\": {\"review\": \"a\"}}\n", []string{"line 1: id: must be a string or a whole number"}},
		{"deep", strings.Repeat("[", 20000) + "\n", []string{"line 1: JSON is nested deeper than 64 levels"}},
		{"many errors", strings.Repeat("x\n", 30), []string{"30 problems", "line 1:", "line 20:", "… and 10 more bad lines"}},
		{"good then long then bad", "{\"review\": \"ok\"}\n" + long + "\n{\n", []string{"line 3: not a JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := importErr(t, f, tt.file)
			if loupe.ErrorCode(err) != loupe.EINVALID {
				t.Fatalf("err = %v, want EINVALID", err)
			}
			msg := loupe.ErrorMessage(err)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
			if n := itemCount(t, f); n != 0 {
				t.Errorf("%d items stored after a failed import", n)
			}
		})
	}
}

func TestImportIdempotent(t *testing.T) {
	f := newFixture(t, sentimentConfig, 0, 0)
	file := "\xef\xbb\xbf{\"id\": \"a\", \"data\": {\"review\": \"one\"}}\r\n\r\n{\"id\": 7, \"data\": {\"review\": \"two\", \"stars\": \"4\"}}\r\n{\"review\": \"flat\", \"n\": 12345678901234567890}\n{\"review\": \"flat\", \"n\": 12345678901234567890}\n"
	res := mustImport(t, f.db, f.project, file)
	if res.Added != 3 || res.Unchanged != 1 {
		t.Errorf("first import: %+v, want 3 added, 1 unchanged", res)
	}
	res = mustImport(t, f.db, f.project, file)
	if res.Added != 0 || res.Unchanged != 4 {
		t.Errorf("re-import: %+v, want 0 added, 4 unchanged", res)
	}
	if n := itemCount(t, f); n != 3 {
		t.Errorf("items = %d, want 3", n)
	}
	err := importErr(t, f, "{\"id\": \"a\", \"data\": {\"review\": \"changed\"}}\n")
	if !strings.Contains(loupe.ErrorMessage(err), `line 1: an item with id "a" already exists with other data`) {
		t.Errorf("changed item: %v", err)
	}
	// Numbers keep their digits; ids given as numbers become text.
	task, err := f.db.Next(context.Background(), f.project, f.admin.ID)
	if err != nil || task.Item.ExternalID != "a" {
		t.Fatalf("first item: %+v %v", task, err)
	}
}

// A 10 MB item, far past bufio.Scanner's 64 KiB default, imports whole.
func TestImportLargeItem(t *testing.T) {
	f := newFixture(t, sentimentConfig, 0, 0)
	big := strings.Repeat("word ", 2<<20)
	res := mustImport(t, f.db, f.project, `{"review": "`+big+`"}`)
	if res.Added != 1 {
		t.Fatalf("added %d", res.Added)
	}
	task, err := f.db.Next(context.Background(), f.project, f.admin.ID)
	if err != nil || task.Item.Data["review"] != big {
		t.Errorf("large item did not round-trip: %v", err)
	}
	tooBig := `{"review": "` + strings.Repeat("x", annotate.MaxItemBytes) + `"}`
	if err := importErr(t, f, tooBig); !strings.Contains(loupe.ErrorMessage(err), "line 1: line is longer than") {
		t.Errorf("oversized line: %v", err)
	}
}
