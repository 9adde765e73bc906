package annotate_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

func TestImportFormats(t *testing.T) {
	got := annotate.ImportFormats()
	want := []string{"csv", "folder", "json", "jsonl", "labelstudio", "prodigy", "text", "tsv"}
	if !slices.Equal(got, want) {
		t.Errorf("ImportFormats() = %v, want %v", got, want)
	}
	_, err := annotate.NewItemReader("xml", strings.NewReader(""), annotate.ReadOptions{})
	if msg := loupe.ErrorMessage(err); loupe.ErrorCode(err) != loupe.EINVALID || msg != `unknown import format "xml"; known formats: csv, folder, json, jsonl, labelstudio, prodigy, text, tsv` {
		t.Errorf("unknown format: %v", err)
	}
	if _, err := annotate.NewItemReader("folder", strings.NewReader(""), annotate.ReadOptions{}); loupe.ErrorCode(err) != loupe.EINVALID {
		t.Errorf("folder as a stream: %v, want EINVALID", err)
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		name, head, want string
	}{
		{"items.csv", "id,text\n", "csv"},
		{"ITEMS.CSV", "", "csv"},
		{"items.tsv", "id\ttext\n", "tsv"},
		{"items.tab", "", "tsv"},
		{"lines.txt", "[not json]", "text"},
		{`C:\data\lines.txt`, "hello", "text"},
		{"items.jsonl", `{"text": "a"}`, "jsonl"},
		{"items.ndjson", "", "jsonl"},
		{"items.jsonl", `{"data": {"text": "a"}, "id": "1", "predictions": []}`, "jsonl"},
		{"export.jsonl", `{"id":"u1","external_id":null,"data":{"t":"a"},"annotations":[{"user":"al","values":{}}]}`, "jsonl"},
		{"items.json", `[{"text": "a"}, {"text": "b"}]`, "json"},
		{"items.json", "", "json"},
		{"items.json", "\xef\xbb\xbf  \n[{\"data\": {\"text\": \"a\"}, \"annotations\": []}]", "labelstudio"},
		{"tasks.json", `[{"id": 1, "data": {"text": "a"}, "predictions": [{"result": []}]}]`, "labelstudio"},
		// Loupe's own export, wrapped in an array, keeps Loupe's reader.
		{"export.json", `[{"id": "u1", "external_id": "a", "data": {"text": "a"}, "annotations": []}]`, "json"},
		// A head cut in the middle of the first element still tells.
		{"tasks.json", `[{"id": 1, "meta": {"a": [1, {"b": 2}]}, "data": {"text": "a"}, "annotations": [{"result": [{"from`, "labelstudio"},
		// Label Studio writes data after the annotations: a head that ends
		// before it is enough.
		{"export.json", `[{"id": 1, "annotations": [{"id": 1, "result": []}], "drafts": [], "data": {"text": "a very long te`, "labelstudio"},
		{"items.json", `[{"text": "a very long te`, "json"},
		{"tasks.jsonl", `{"id": 1, "data": {"text": "a"}, "annotations": [], "inner_id": 1}`, "labelstudio"},
		{"news.jsonl", `{"text": "a", "spans": [], "_input_hash": 1}`, "prodigy"},
		{"news.jsonl", `{"text": "a", "answer": "accept"}`, "prodigy"},
		{"news.jsonl", `{"text": "a", "accept": ["x"]}`, "prodigy"},
		{"qa.jsonl", `{"text": "Who wrote it?", "answer": "Ada"}`, "jsonl"},
		{"news.json", `{"text": "a", "_input_hash": 12}`, "prodigy"},
		{"upload", `  [{"text": "a"}]`, "json"},
		{"upload", `{"text": "a"}`, "jsonl"},
	}
	for _, tt := range tests {
		got, err := annotate.DetectFormat(tt.name, []byte(tt.head))
		if err != nil || got != tt.want {
			t.Errorf("DetectFormat(%q, %q) = %q, %v; want %q", tt.name, tt.head, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ name, head, msg string }{
		{"items.xml", "<items/>", `cannot tell the format of "items.xml" from its name or its content; give one; known formats: csv, folder, json, jsonl, labelstudio, prodigy, text, tsv`},
		{"", "hello", `cannot tell the format of the file from its content; give one; known formats: csv, folder, json, jsonl, labelstudio, prodigy, text, tsv`},
		{"notes", "", `cannot tell the format of "notes" from its name or its content; give one; known formats: csv, folder, json, jsonl, labelstudio, prodigy, text, tsv`},
	} {
		_, err := annotate.DetectFormat(tt.name, []byte(tt.head))
		if loupe.ErrorCode(err) != loupe.EINVALID || loupe.ErrorMessage(err) != tt.msg {
			t.Errorf("DetectFormat(%q, %q): %v\nwant EINVALID %q", tt.name, tt.head, err, tt.msg)
		}
	}
}
