package annotate_test

import (
	"strings"
	"testing"

	"github.com/loupehq/loupe/annotate"
)

func TestJSONArray(t *testing.T) {
	in := "\xef\xbb\xbf[\n" +
		`  {"id": "a", "data": {"text": "one"}, "predictions": [{"model": "m", "values": {"sentiment": "positive"}}]},` + "\n" +
		`  {"text": "flat, with a bracket ] and a brace } in a string \" and an escaped quote"},` + "\n" +
		"  {\n    \"external_id\": 9,\n    \"data\": {\"text\": \"three\"},\n    \"annotations\": [{\"user\": \"mia\", \"values\": {}}]\n  }\n" +
		"]\n"
	recs, msgs := readItems(t, "json", in, annotate.ReadOptions{})
	wantMessages(t, "good array", msgs, nil)
	if len(recs) != 3 {
		t.Fatalf("got %d items, want 3", len(recs))
	}
	for i, want := range []struct {
		line int
		id   string
		data string
	}{
		{2, "a", `{"text":"one"}`},
		{3, "", `{"text":"flat, with a bracket ] and a brace } in a string \" and an escaped quote"}`},
		{4, "9", `{"text":"three"}`},
	} {
		r := recs[i]
		if r.Line != want.line || r.ExternalID != want.id || string(r.DataJSON) != want.data {
			t.Errorf("item %d: line %d id %q data %s; want line %d id %q data %s", i, r.Line, r.ExternalID, r.DataJSON, want.line, want.id, want.data)
		}
	}
	if len(recs[0].Predictions) != 1 || len(recs[2].Annotations) != 1 {
		t.Errorf("predictions %v, annotations %v", recs[0].Predictions, recs[2].Annotations)
	}
	// The same item as JSONL has the same hash.
	jl, _ := readItems(t, "jsonl", `{"id": "a", "data": {"text": "one"}}`, annotate.ReadOptions{})
	if jl[0].Hash != recs[0].Hash {
		t.Error("an item's hash depends on the format it came in")
	}
	if recs, msgs := readItems(t, "json", " [ ] ", annotate.ReadOptions{}); len(recs)+len(msgs) != 0 {
		t.Errorf("empty array: %v %v", recs, msgs)
	}
	if recs, msgs := readItems(t, "json", "", annotate.ReadOptions{}); len(recs)+len(msgs) != 0 {
		t.Errorf("empty file: %v %v", recs, msgs)
	}
}

func TestJSONArrayErrors(t *testing.T) {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	tests := []struct {
		name, in string
		items    int
		msgs     []string
	}{
		{"bad elements, reading goes on",
			"[\n{\"text\": \"ok\"},\n42,\n{\"data\": {}},\n{\"a\":\n  tru},\n\"s\", null,\n" + `{"a": ` + deep + "},\n{\"text\": \"nul \\u0000\"},\n{\"text\": \"end\"}\n]",
			2, []string{
				"line 3: not a JSON object: expected an object, got number",
				"line 4: data is empty",
				"line 5: not a JSON object: invalid character '}' in literal true (expecting 'e') (line 6, column 6)",
				"line 7: not a JSON object: expected an object, got string",
				"line 7: expected a JSON object, got null",
				"line 8: JSON is nested deeper than 64 levels",
				`line 9: holds a NUL character (\u0000)`,
			}},
		{"not an array", `{"text": "x"}`, 0, []string{`line 1: expected a JSON array of items ([{…}, {…}]), got "{"; the rest of the file cannot be read`}},
		{"missing comma", "[{\"a\": 1}\n {\"a\": 2}]", 1, []string{`line 2: expected , or ] after an item, got "{"; the rest of the file cannot be read`}},
		{"trailing comma", `[{"a": 1},]`, 1, []string{"line 1: a comma before ]: JSON allows none after the last item"}},
		{"two commas", `[{"a": 1},,{"a": 2}]`, 1, []string{`line 1: expected an item, got ","; the rest of the file cannot be read`}},
		{"unclosed", "[{\"a\": 1},\n{\"a\": [2}]", 1, []string{`line 2: invalid JSON: "}" where "]" was expected; the rest of the file cannot be read`}},
		{"ends inside an item", "[{\"a\": 1},\n{\"a\": \"open", 1, []string{"line 2: the file ends inside the item that starts on this line; the rest of the file cannot be read"}},
		{"ends inside the array", "[{\"a\": 1}\n", 1, []string{"line 2: the file ends before the array does (no closing ]); the rest of the file cannot be read"}},
		{"more after the end", "[{\"a\": 1}]\n[]", 1, []string{`line 2: "[" after the end of the array; the rest of the file cannot be read`}},
	}
	for _, tt := range tests {
		recs, msgs := readItems(t, "json", tt.in, annotate.ReadOptions{})
		wantMessages(t, tt.name, msgs, tt.msgs)
		if len(recs) != tt.items {
			t.Errorf("%s: %d items, want %d", tt.name, len(recs), tt.items)
		}
	}
}

// An element over MaxItemBytes is refused without being held, and the next
// one is read.
func TestJSONArrayLongElement(t *testing.T) {
	in := `[{"text": "` + strings.Repeat("y", annotate.MaxItemBytes) + `"},` + "\n" + `{"text": "after"}]`
	recs, msgs := readItems(t, "json", in, annotate.ReadOptions{})
	wantMessages(t, "long element", msgs, []string{"line 1: item is longer than 16777216 bytes"})
	if len(recs) != 1 || recs[0].Line != 2 {
		t.Errorf("items %v, want the one on line 2", recs)
	}
}
