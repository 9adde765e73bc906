package export_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/export"
)

// spacyLine is one line of a spacy export.
type spacyLine struct {
	Text  string `json:"text"`
	Spans []struct {
		Start int    `json:"start"`
		End   int    `json:"end"`
		Label string `json:"label"`
	} `json:"spans"`
	Options []struct{ ID, Text string } `json:"options"`
	Accept  []string                    `json:"accept"`
	Answer  string                      `json:"answer"`
	Meta    map[string]string           `json:"meta"`
}

func readJSONL[T any](t *testing.T, b []byte) []T {
	t.Helper()
	var out []T
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var v T
		d := json.NewDecoder(bytes.NewReader(line))
		d.DisallowUnknownFields()
		if err := d.Decode(&v); err != nil {
			t.Fatalf("line %d does not parse: %v\n%s", i+1, err, line)
		}
		out = append(out, v)
	}
	return out
}

func TestSpacyGolden(t *testing.T) {
	meta, recs := everyKind(t)
	got := exportStream(t, meta, recs, export.Spec{Format: "spacy"})
	matchGolden(t, "spacy.golden", got)
	lines := readJSONL[spacyLine](t, got)
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4", len(lines))
	}
	for i, l := range lines {
		var data map[string]any
		json.Unmarshal(recs[i].Data, &data)
		text := []rune(data["text"].(string))
		if l.Text != string(text) {
			t.Errorf("line %d: text %q", i+1, l.Text)
		}
		for _, sp := range l.Spans {
			if sp.Start < 0 || sp.End > len(text) || sp.Start >= sp.End {
				t.Errorf("line %d: span %+v outside the text", i+1, sp)
			}
		}
		if len(l.Options) != 3 || l.Options[0].ID != "positive" {
			t.Errorf("line %d: options %+v", i+1, l.Options)
		}
	}
	if s := lines[1].Spans; len(s) != 2 || string([]rune(lines[1].Text)[s[1].Start:s[1].End]) != "Berlin" || s[1].Label != "LOC" {
		t.Errorf("item-2 spans %+v", s)
	}
	wantAccept := [][]string{{"positive"}, {"negative"}, {}, {"neutral"}}
	wantAnswer := []string{"accept", "accept", "ignore", "accept"} // item-3 ties on sentiment
	for i, l := range lines {
		if !reflect.DeepEqual(l.Accept, wantAccept[i]) || l.Answer != wantAnswer[i] {
			t.Errorf("line %d: accept %q answer %q, want %q %q", i+1, l.Accept, l.Answer, wantAccept[i], wantAnswer[i])
		}
	}
	if lines[1].Meta["id"] != `=cmd|' /C calc'!A0` || lines[2].Meta["id"] != "item-3" || lines[2].Meta["item_id"] != "item-3" {
		t.Errorf("meta %v %v", lines[1].Meta, lines[2].Meta)
	}
}

func TestSpacyProjects(t *testing.T) {
	// Spans only: no options, no accept.
	meta, recs := spansOnly(t)
	got := exportStream(t, meta, recs, export.Spec{Format: "spacy", Aggregate: export.AggregateEvery})
	matchGolden(t, "spacy_spans.golden", got)
	if bytes.Contains(got, []byte(`"accept":`)) || bytes.Contains(got, []byte(`"options":`)) {
		t.Errorf("a spans-only export holds accept or options:\n%s", got)
	}
	lines := readJSONL[spacyLine](t, got)
	if len(lines) != 2 || len(lines[0].Spans) != 3 || lines[1].Spans == nil || len(lines[1].Spans) != 0 || lines[0].Meta["user"] != "alice" {
		t.Errorf("lines %+v", lines)
	}

	// Text classification: the text is the text block's field.
	in := parseInterface(t, choiceOnlyConfig)
	it := newItem(t, in, "c-1", "", 1, map[string]any{"review": "Great\nkettle"})
	it.annotate("ca-1", "alice", 1, map[string]any{"sentiment": "positive"})
	lines = readJSONL[spacyLine](t, exportStream(t, fixtureMeta(in, "s", "S"), export.Records{it.rec}, export.Spec{Format: "spacy"}))
	if len(lines) != 1 || lines[0].Text != "Great\nkettle" || !reflect.DeepEqual(lines[0].Accept, []string{"positive"}) || lines[0].Spans != nil {
		t.Errorf("classification line %+v", lines)
	}
}

func TestSpacySplits(t *testing.T) {
	meta, recs := everyKind(t)
	files, _ := exportFiles(t, meta, recs, splitSpec("spacy", export.AggregateEvery))
	want := map[string]int{"train.jsonl": 5, "validation.jsonl": 1, "test.jsonl": 2}
	if len(files) != len(want) {
		t.Errorf("files %v, want %v", mapKeys(files), want)
	}
	for name, n := range want {
		lines := readJSONL[spacyLine](t, files[name])
		if len(lines) != n {
			t.Errorf("%s: %d lines, want %d", name, len(lines), n)
		}
		for _, l := range lines {
			if l.Meta["split"] != strings.TrimSuffix(name, ".jsonl") || l.Meta["user"] == "" {
				t.Errorf("%s: meta %v", name, l.Meta)
			}
		}
	}
}

// checkRefused asserts that a format refuses a project with EINVALID and
// a message holding each of want.
func checkRefused(t *testing.T, format, config string, want ...string) {
	t.Helper()
	f, err := export.LookupFormat(format)
	if err != nil {
		t.Fatal(err)
	}
	in := parseInterface(t, config)
	err = f.Check(in)
	if loupe.ErrorCode(err) != loupe.EINVALID {
		t.Fatalf("%s accepts the project: %v", format, err)
	}
	msg := loupe.ErrorMessage(err)
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("%s: message %q does not say %q", format, msg, w)
		}
	}
	// Run refuses it before writing anything.
	spec := export.Spec{Format: format}
	if _, err := spec.Check(in); loupe.ErrorMessage(err) != msg {
		t.Errorf("Spec.Check: %v", err)
	}
}

func TestSpacyCheck(t *testing.T) {
	checkRefused(t, "spacy", chatOnlyConfig, "spacy needs a spans block", "choice or multichoice", "helpful")
	checkRefused(t, "spacy", "title: x\nblocks:\n  - {type: chat, field: messages}\n  - {type: choice, name: c, options: [a, b]}\n",
		"text or markdown block", `"c"`)
	for _, ok := range []string{spansOnlyConfig, choiceOnlyConfig, everyKindConfig} {
		f, _ := export.LookupFormat("spacy")
		if err := f.Check(parseInterface(t, ok)); err != nil {
			t.Errorf("spacy refuses %s: %v", ok, err)
		}
	}
}
