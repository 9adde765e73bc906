package annotate_test

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/loupehq/loupe/annotate"
)

// A line of Loupe's full export record (export.AppendRecord) imports its
// data, external id, annotations and predictions; the rest of the record
// (state, split, reviews, feedback, final) is accepted and not imported.
func TestJSONLExportRecord(t *testing.T) {
	in := `{"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","external_id":"note-1","data":{"text":"Mia flew to Oslo"},"state":"approved","split":"train",` +
		`"annotations":[{"id":"a1","user":"mia","author":"rev","version":2,"config_version":1,"values":{"sentiment":"positive","ents":[{"start":0,"end":3,"label":"PER","text":"Mia"}]},` +
		`"suggestions":[{"block":"sentiment","model":"m","value":"positive","outcome":"accepted"}],"lead_ms":900,"created_at":"2026-03-01T10:00:00.5Z","updated_at":"2026-03-01T10:05:00Z"},` +
		`{"id":"a2","user":"ola","version":1,"config_version":1,"values":{},"lead_ms":0,"created_at":"2026-03-02T08:00:00Z","updated_at":"2026-03-02T08:00:00Z"}],` +
		`"predictions":[{"id":"p1","block":"sentiment","model":"clf","version":"7","score":0.75,"value":"negative","source":"import","created_at":"2026-02-01T00:00:00Z"},` +
		`{"id":"p2","block":"ents","model":"ner","version":"","value":[{"start":12,"end":16,"label":"LOC","text":"Oslo"}],"source":"live","created_at":"2026-02-01T00:00:00Z"}],` +
		`"reviews":[{"id":"r1","reviewer":"rev","verdict":"approve","created_at":"2026-03-03T00:00:00Z"}],` +
		`"feedback":[{"id":"f1","model":"clf","version":"7","comment":"fine","created_at":"2026-03-03T00:00:00Z"}],"final":{"sentiment":"positive"}}
{"id":"0190a1b2-0000-7e5f-8a9b-0c1d2e3f4a5b","external_id":null,"data":{"text":"no id here"},"annotations":[]}
{"id":"legacy-7","data":{"text":"an id and no external_id"},"annotations":[]}
`
	recs, msgs := readItems(t, "jsonl", in, annotate.ReadOptions{})
	wantMessages(t, "export record", msgs, nil)
	if len(recs) != 3 {
		t.Fatalf("got %d items, want 3", len(recs))
	}
	r := recs[0]
	if r.ExternalID != "note-1" || string(r.DataJSON) != `{"text":"Mia flew to Oslo"}` || len(r.Annotations) != 2 || len(r.Predictions) != 2 {
		t.Fatalf("record = %+v", r)
	}
	a := r.Annotations[0]
	if a.User != "mia" || !a.CreatedAt.Equal(time.Date(2026, 3, 1, 10, 0, 0, 5e8, time.UTC)) || string(a.Values["sentiment"]) != `"positive"` || a.LSResults != nil {
		t.Errorf("annotation 0 = %+v", a)
	}
	if a := r.Annotations[1]; a.User != "ola" || len(a.Values) != 0 {
		t.Errorf("annotation 1 = %+v", a)
	}
	p := r.Predictions[0]
	if p.Model != "clf" || p.Version != "7" || p.Score == nil || *p.Score != 0.75 || len(p.Values) != 1 || string(p.Values["sentiment"]) != `"negative"` {
		t.Errorf("prediction 0 = %+v", p)
	}
	if p := r.Predictions[1]; p.Model != "ner" || p.Version != "" || p.Score != nil || len(p.Values["ents"]) == 0 {
		t.Errorf("prediction 1 = %+v", p)
	}
	if recs[1].ExternalID != "" {
		t.Errorf("external_id null gave id %q: an item without an external id must stay known by its content", recs[1].ExternalID)
	}
	if recs[2].ExternalID != "legacy-7" {
		t.Errorf("without external_id, id gives %q, want legacy-7", recs[2].ExternalID)
	}

	// Against the project: values are checked and made canonical.
	in2 := mustInterface(t, importConfig)
	if err := r.Resolve(in2); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got, _ := json.Marshal(r.Annotations[0].Values); string(got) != `{"ents":[{"start":0,"end":3,"label":"PER","text":"Mia"}],"sentiment":"positive"}` {
		t.Errorf("resolved values = %s", got)
	}
}

// Every line of the export's golden file imports again, with all its
// annotations.
func TestJSONLReadsExportGolden(t *testing.T) {
	f, err := os.Open("../export/testdata/export.jsonl.golden")
	if err != nil {
		t.Skipf("no export golden file: %v", err)
	}
	defer f.Close()
	var want []int
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var b strings.Builder
	for sc.Scan() {
		var rec struct{ Annotations []json.RawMessage }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		want = append(want, len(rec.Annotations))
		b.Write(sc.Bytes())
		b.WriteByte('\n')
	}
	recs, msgs := readItems(t, "jsonl", b.String(), annotate.ReadOptions{})
	wantMessages(t, "golden", msgs, nil)
	if len(recs) != len(want) {
		t.Fatalf("%d items, want %d", len(recs), len(want))
	}
	for i, r := range recs {
		if len(r.Annotations) != want[i] {
			t.Errorf("line %d: %d annotations, want %d", r.Line, len(r.Annotations), want[i])
		}
	}
}

func TestJSONLRecordErrors(t *testing.T) {
	tests := []struct{ line, msg string }{
		{`{"data": {"t": "x"}, "external_id": 1.5}`, `line 1: external_id: a numeric id must be a whole number`},
		{`{"data": {"t": "x"}, "annotations": {}}`, `line 1: annotations must be a list of annotations, got {}`},
		{`{"data": {"t": "x"}, "annotations": ["a"]}`, `line 1: annotations[0] must be an object, got "a"`},
		{`{"data": {"t": "x"}, "annotations": [{"user": "u"}]}`, `line 1: annotations[0]: needs values (Loupe's shape: {"user", "values": {BLOCK: VALUE}, "created_at"}) or result (Label Studio's: {"completed_by", "result": [...], "created_at"})`},
		{`{"data": {"t": "x"}, "annotations": [{"values": {}, "result": []}]}`, `line 1: annotations[0]: has both values (Loupe's shape) and result (Label Studio's); give one`},
		{`{"data": {"t": "x"}, "annotations": [{"values": {}, "mood": 1}]}`, `line 1: annotations[0]: unknown key "mood"; an annotation in Loupe's shape has user, values and created_at (and the other keys of Loupe's export)`},
		{`{"data": {"t": "x"}, "annotations": [{"values": []}]}`, `line 1: annotations[0]: values must be an object from block name to value, got []`},
		{`{"data": {"t": "x"}, "annotations": [{"values": {}, "user": 3}]}`, `line 1: annotations[0]: user must be a string, got 3`},
		{`{"data": {"t": "x"}, "annotations": [{"values": {}, "user": "a\tb"}]}`, `line 1: annotations[0]: user holds a control character`},
		{`{"data": {"t": "x"}, "annotations": [{"values": {}, "created_at": "yesterday"}]}`, `line 1: annotations[0]: created_at must be a time such as "2026-01-02T15:04:05Z", got "yesterday"`},
		{`{"data": {"t": "x"}, "predictions": [{"block": "s", "model": "m"}]}`, `line 1: predictions[0]: value is required: the model's value for block "s"`},
		{`{"data": {"t": "x"}, "predictions": [{"block": "", "model": "m", "value": 1}]}`, `line 1: predictions[0]: block must name the block the value is for, got ""`},
		{`{"data": {"t": "x"}, "predictions": [{"block": "s", "value": 1}]}`, `line 1: predictions[0]: model is required: the name of the model, a non-empty string`},
		{`{"data": {"t": "x"}, "predictions": [{"block": "s", "model": "m", "value": 1, "outcome": "x"}]}`, `line 1: predictions[0]: unknown key "outcome"; a prediction row of Loupe's export has block, model, version, score and value`},
		{`{"data": {"t": "x"}, "predictions": [{"block": "s", "model": "m", "value": 1, "score": 3}]}`, `line 1: predictions[0]: score must be between 0 and 1, got 3`},
	}
	for _, tt := range tests {
		_, msgs := readItems(t, "jsonl", tt.line, annotate.ReadOptions{})
		wantMessages(t, tt.line, msgs, []string{tt.msg})
	}
}

func TestResolveAnnotationsErrors(t *testing.T) {
	in := mustInterface(t, importConfig)
	tests := []struct{ line, msg string }{
		{`{"data": {"text": "Mia"}, "annotations": [{"values": {}}, {"user": "ola", "values": {"sentiment": "meh"}}]}`,
			`line 1: annotations[1] (user "ola"): values.sentiment: "meh" is not one of the options ("positive", "negative")`},
		{`{"data": {"text": "Mia"}, "annotations": [{"values": {"mood": 1}}]}`,
			`line 1: annotations[0]: values.mood: no block is named "mood"; blocks with values: sentiment, topics, ents, quality`},
		{`{"data": {"text": "Mia"}, "annotations": [{"values": {"ents": [{"start": 0, "end": 9, "label": "PER"}]}}]}`,
			`line 1: annotations[0]: values.ents: span 1 (PER, 0–9) is outside the text, which is 3 characters long`},
		{`{"data": {"text": "Mia"}, "annotations": [{"was_cancelled": true, "result": []}, {"completed_by": 4, "result": [{"from_name": "mood", "type": "choices", "value": {"choices": ["a"]}}]}]}`,
			`line 1: annotations[1] (user "4"): a Label Studio result names from_name "mood", but no block is named "mood"; blocks with values: sentiment, topics, ents, quality`},
	}
	for _, tt := range tests {
		recs, msgs := readItems(t, "jsonl", tt.line, annotate.ReadOptions{})
		if len(msgs) > 0 || len(recs) != 1 {
			t.Fatalf("%s: %v", tt.line, msgs)
		}
		err := recs[0].Resolve(in)
		var got []string
		if err != nil {
			got = []string{errMessage(err)}
		}
		wantMessages(t, tt.line, got, []string{tt.msg})
	}
}

// Limits: each is an error for its line, and reading goes on.
func TestJSONLLimits(t *testing.T) {
	deep := func(n int) string {
		return `{"a": ` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}`
	}
	long := `{"text": "` + strings.Repeat("x", annotate.MaxItemBytes) + `"}`
	in := strings.Join([]string{
		`{"text": "first"}`,
		long,
		"{\"text\": \"nul\x00\"}",
		`{"text": "escaped nul \u0000"}`,
		`{"text": "escaped backslash then u0000: \\u0000"}`,
		"{\"text\": \"bad \xff\"}",
		deep(64),
		deep(65),
		deep(10000),
		`{"text": "last"}`,
	}, "\n")
	recs, msgs := readItems(t, "jsonl", in, annotate.ReadOptions{})
	wantMessages(t, "limits", msgs, []string{
		"line 2: line is longer than 16777216 bytes",
		"line 3: holds a NUL byte",
		`line 4: holds a NUL character (\u0000)`,
		"line 6: not valid UTF-8",
		"line 8: JSON is nested deeper than 64 levels",
		"line 9: JSON is nested deeper than 64 levels",
	})
	var lines []int
	for _, r := range recs {
		lines = append(lines, r.Line)
	}
	if len(lines) != 4 || lines[0] != 1 || lines[1] != 5 || lines[2] != 7 || lines[3] != 10 {
		t.Errorf("items on lines %v, want [1 5 7 10]", lines)
	}
}
