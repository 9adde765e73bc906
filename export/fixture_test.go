package export_test

// The fixed project the format tests export: everyKind is one interface
// holding every block kind an export maps, and four items that exercise
// what the writers must get right.
//
// Interface (block name: kind, over which field):
//
//	text (display, field text)           image (display, field image)
//	objects: boxes over image, labels car, person
//	sentiment: choice positive/negative/neutral
//	topics: multichoice price/quality/delivery
//	entities: spans over text, labels PER/ORG/LOC
//	summary: textbox (multiline)         quality: rating 1–5
//	order: ranking over candidates (a list of three texts, ids "0" "1" "2")
//	prompt (text), pair response_a/response_b, preference: pairwise (tie allowed)
//	messages (chat)                      helpful: thumbs
//	note: comment                        flag: flag ambiguous/offensive (with a note)
//	check: verdict on sentiment
//
// Every item holds every field the blocks read, plus width and height
// (the image's size in pixels, which coco reads) and a number field delta
// (negative in item-2, for the CSV number rule).
//
// Items (created 2026-03-02T09:00:00Z, one hour apart):
//
//	item-1 "rev-001": two annotations (alice, bob) that agree except on
//	  topics; predictions for sentiment (accepted by alice) and entities
//	  (edited by alice); state approved with an "approve" review of alice.
//	item-2 external id `=cmd|' /C calc'!A0`: hostile data — its text starts
//	  with "=", holds quotes, a newline and <script>; a comment value
//	  starting with "=HYPERLINK(" and a summary starting with "@"; delta -2;
//	  one annotation (carol) that accepted a boxes prediction; a flag.
//	item-3 (no external id): two annotations (alice, carol) that tie on
//	  sentiment (positive vs negative) and agree on the rest.
//	item-4 "rev-004": three annotations (alice, bob, carol); a "reject"
//	  review of bob's and an "adjudicate" review that set the final answer
//	  (State approved, Final set); a topics prediction bob edited; a
//	  pairwise tie (which Label Studio cannot say).
//
// Every value is validated through the interface (ValidateValues) when the
// fixture is built, so it stays right as block rules change, and is stored
// in canonical form, as storage gives it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/export"
)

// everyKindConfig is the config of the everyKind project.
const everyKindConfig = `title: Every kind
blocks:
  - {type: text, field: text}
  - {type: image, field: image}
  - {type: boxes, name: objects, field: image, labels: [car, person]}
  - {type: choice, name: sentiment, options: [positive, negative, neutral]}
  - {type: multichoice, name: topics, options: [price, quality, delivery]}
  - {type: spans, name: entities, field: text, labels: [PER, ORG, LOC]}
  - {type: textbox, name: summary, multiline: true}
  - {type: rating, name: quality, scale: 5}
  - {type: ranking, name: order, field: candidates}
  - {type: text, field: prompt}
  - {type: pair, left: response_a, right: response_b}
  - {type: pairwise, name: preference, allow_tie: true}
  - {type: chat, field: messages}
  - {type: thumbs, name: helpful}
  - {type: comment, name: note}
  - {type: flag, name: flag, note: true, reasons: [ambiguous, offensive]}
  - {type: verdict, name: check, target: sentiment}
`

// fixtureT0 is when the fixture's first item was made.
var fixtureT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// parseInterface compiles a config, failing the test on an error.
func parseInterface(t testing.TB, config string) *blocks.Interface {
	t.Helper()
	cfg, err := blocks.ParseConfig([]byte(config))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return cfg.Interface()
}

// fixtureMeta is the Meta of a fixture project.
func fixtureMeta(in *blocks.Interface, slug, title string) *export.Meta {
	return &export.Meta{Project: slug, Title: title, Interface: in, ConfigVersion: 3,
		CreatedAt: time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)}
}

// fixtureItem builds records whose values are checked by the interface.
type fixtureItem struct {
	t    testing.TB
	in   *blocks.Interface
	rec  *export.Record
	data map[string]any
}

func newItem(t testing.TB, in *blocks.Interface, id, ext string, seq int64, data map[string]any) *fixtureItem {
	t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	// Decode again, as storage and the writers see data: numbers as
	// float64.
	var m map[string]any
	json.Unmarshal(raw, &m)
	if err := in.CheckData(m); err != nil {
		t.Fatalf("fixture item %s: %v", id, err)
	}
	return &fixtureItem{t: t, in: in, data: m,
		rec: &export.Record{ItemID: id, ExternalID: ext, Seq: seq, Data: raw}}
}

// values validates a submission and returns it as canonical JSON.
func (it *fixtureItem) values(v map[string]any) json.RawMessage {
	it.t.Helper()
	in := map[string]json.RawMessage{}
	for k, x := range v {
		b, err := json.Marshal(x)
		if err != nil {
			it.t.Fatal(err)
		}
		in[k] = b
	}
	out, err := it.in.ValidateValues(in, it.data)
	if err != nil {
		it.t.Fatalf("fixture item %s: %v", it.rec.ItemID, err)
	}
	b, _ := json.Marshal(out)
	return b
}

// value validates one block's value.
func (it *fixtureItem) value(block string, v any) json.RawMessage {
	it.t.Helper()
	var m map[string]json.RawMessage
	json.Unmarshal(it.values(map[string]any{block: v}), &m)
	return m[block]
}

// annotate adds an annotation made at the given minute after the item's
// time; shown maps blocks to the predictions the labeler was shown.
func (it *fixtureItem) annotate(id, user string, minute int, v map[string]any, shown ...*export.Prediction) *export.Annotation {
	it.t.Helper()
	at := fixtureT0.Add(time.Duration(it.rec.Seq-1)*time.Hour + time.Duration(minute)*time.Minute)
	a := export.Annotation{ID: id, User: user, Version: 1, ConfigVersion: 3, Values: it.values(v),
		LeadMS: int64(4000 + 1500*minute), CreatedAt: at, UpdatedAt: at.Add(30 * time.Second)}
	if len(shown) > 0 {
		m := map[string]any{}
		for _, p := range shown {
			m[p.Block] = map[string]any{"id": p.ID, "model": p.Model, "version": p.ModelVersion, "score": p.Score, "value": p.Value}
		}
		a.Shown, _ = json.Marshal(m)
	}
	it.rec.Annotations = append(it.rec.Annotations, a)
	return &it.rec.Annotations[len(it.rec.Annotations)-1]
}

// predict adds a model's prediction for one block.
func (it *fixtureItem) predict(id, block, model, version string, score float64, v any) *export.Prediction {
	it.t.Helper()
	s := score
	p := export.Prediction{ID: id, Block: block, Model: model, ModelVersion: version, Score: &s,
		Value: it.value(block, v), Source: "import", CreatedAt: fixtureT0.Add(time.Duration(it.rec.Seq-1) * time.Hour)}
	it.rec.Predictions = append(it.rec.Predictions, p)
	return &it.rec.Predictions[len(it.rec.Predictions)-1]
}

// review adds a reviewer's verdict.
func (it *fixtureItem) review(id, reviewer, verdict, annotation, comment string, minute int, v map[string]any) {
	it.t.Helper()
	r := export.Review{ID: id, Reviewer: reviewer, Verdict: verdict, AnnotationID: annotation, Comment: comment,
		CreatedAt: fixtureT0.Add(time.Duration(it.rec.Seq-1)*time.Hour + time.Duration(minute)*time.Minute)}
	if v != nil {
		r.Values = it.values(v)
	}
	it.rec.Reviews = append(it.rec.Reviews, r)
}

// span returns the span of the first occurrence of s in the item's text
// field, in code points.
func (it *fixtureItem) span(field, s, label string) map[string]any {
	it.t.Helper()
	text := it.data[field].(string)
	i := strings.Index(text, s)
	if i < 0 {
		it.t.Fatalf("fixture item %s: %q not in %q", it.rec.ItemID, s, text)
	}
	start := len([]rune(text[:i]))
	return map[string]any{"start": start, "end": start + len([]rune(s)), "label": label}
}

// fixtureData is the data every everyKind item shares, with text and the
// image given.
func fixtureData(text, image string, extra map[string]any) map[string]any {
	d := map[string]any{
		"text":       text,
		"image":      image,
		"width":      640,
		"height":     480,
		"candidates": []string{"Boil water first.", "Use a kettle.", "Microwave it."},
		"prompt":     "How do I make tea?",
		"response_a": "Boil water, add the tea, wait three minutes.",
		"response_b": "Tea is a drink.",
		"messages": []map[string]string{
			{"role": "user", "content": "How do I make tea?"},
			{"role": "assistant", "content": "Boil water, add the tea, wait three minutes."},
		},
		"delta": 1.5,
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// everyKind returns the everyKind project (see the top of this file) and
// its four records, new on each call.
func everyKind(t testing.TB) (*export.Meta, export.Records) {
	t.Helper()
	in := parseInterface(t, everyKindConfig)

	// item-1: two agreeing labelers, suggestions accepted and edited.
	i1 := newItem(t, in, "item-1", "rev-001", 1, fixtureData("Alice Smith joined Acme Corp in Paris.", "photos/street.jpg", nil))
	pSent := i1.predict("pred-1", "sentiment", "sentiment-bert", "v1", 0.91, "positive")
	pEnt := i1.predict("pred-2", "entities", "ner-small", "2026-02", 0.62,
		[]any{i1.span("text", "Alice", "PER"), i1.span("text", "Acme Corp", "ORG")})
	common1 := map[string]any{
		"sentiment":  "positive",
		"entities":   []any{i1.span("text", "Alice Smith", "PER"), i1.span("text", "Acme Corp", "ORG"), i1.span("text", "Paris", "LOC")},
		"objects":    []any{map[string]any{"x": 0.1, "y": 0.2, "width": 0.25, "height": 0.5, "label": "person"}, map[string]any{"x": 0.5, "y": 0.55, "width": 0.4, "height": 0.3, "label": "car"}},
		"summary":    "Alice joined Acme.",
		"quality":    4,
		"order":      []string{"1", "0", "2"},
		"preference": map[string]any{"choice": "A"},
		"helpful":    "up",
		"check":      map[string]any{"verdict": "accept"},
	}
	v1 := clone(common1)
	v1["topics"] = []string{"price", "quality"}
	a1 := i1.annotate("ann-1", "alice", 5, v1, pSent, pEnt)
	v2 := clone(common1)
	v2["topics"] = []string{"quality"}
	v2["note"] = "Looks right."
	i1.annotate("ann-2", "bob", 12, v2)
	i1.rec.State = "approved"
	i1.review("rev-1", "rita", "approve", a1.ID, "", 20, nil)

	// item-2: hostile data and values.
	i2 := newItem(t, in, "item-2", `=cmd|' /C calc'!A0`, 2, fixtureData(
		"=SUM(1+2) \"quoted\", said Bob,\n<script>alert(1)</script> in Berlin.", "https://img.example/a b/cat.png",
		map[string]any{"delta": -2, "width": 800, "height": 600, "source": "+evil", "tags": []string{"x", "=y"}}))
	pBox := i2.predict("pred-3", "objects", "detr", "1.0", 0.77,
		[]any{map[string]any{"x": 0.125, "y": 0.25, "width": 0.5, "height": 0.5, "label": "car"}})
	i2.annotate("ann-3", "carol", 3, map[string]any{
		"sentiment":  "negative",
		"topics":     []string{"delivery"},
		"entities":   []any{i2.span("text", "Bob", "PER"), i2.span("text", "Berlin", "LOC")},
		"objects":    []any{map[string]any{"x": 0.125, "y": 0.25, "width": 0.5, "height": 0.5, "label": "car"}},
		"summary":    "@SUM(A1)\r\nsecond line",
		"quality":    1,
		"order":      []string{"2", "1", "0"},
		"preference": map[string]any{"choice": "B"},
		"helpful":    "down",
		"note":       `=HYPERLINK("http://evil","x")`,
		"flag":       map[string]any{"reason": "offensive", "note": "-1 script in text"},
		"check":      map[string]any{"verdict": "reject", "reason": "wrong\ttab"},
	}, pBox)
	i2.rec.State = "annotated"

	// item-3: a tie on sentiment.
	i3 := newItem(t, in, "item-3", "", 3, fixtureData("Carol from Globex visited London.", "photos/park.png", nil))
	common3 := map[string]any{
		"topics":   []string{"quality"},
		"entities": []any{i3.span("text", "Carol", "PER"), i3.span("text", "Globex", "ORG"), i3.span("text", "London", "LOC")},
		"objects":  []any{map[string]any{"x": 0, "y": 0, "width": 1, "height": 1, "label": "person"}},
		"quality":  3,
		"order":    []string{"0", "1", "2"},
	}
	v3a := clone(common3)
	v3a["sentiment"] = "positive"
	i3.annotate("ann-4", "alice", 2, v3a)
	v3b := clone(common3)
	v3b["sentiment"] = "negative"
	i3.annotate("ann-5", "carol", 4, v3b)
	i3.rec.State = "annotated"

	// item-4: three labelers, a rejection, an adjudicated final.
	i4 := newItem(t, in, "item-4", "rev-004", 4, fixtureData("Dan Brown flew from Rome to Oslo.", "photos/street.jpg", nil))
	pTop := i4.predict("pred-4", "topics", "topics-lr", "3", 0.55, []string{"price"})
	base4 := map[string]any{
		"sentiment":  "neutral",
		"entities":   []any{i4.span("text", "Dan Brown", "PER"), i4.span("text", "Rome", "LOC"), i4.span("text", "Oslo", "LOC")},
		"objects":    []any{map[string]any{"x": 0.3, "y": 0.1, "width": 0.2, "height": 0.6, "label": "person"}},
		"quality":    5,
		"order":      []string{"0", "2", "1"},
		"preference": map[string]any{"choice": "tie"},
		"topics":     []string{"price"},
	}
	i4.annotate("ann-6", "alice", 1, base4)
	vb := clone(base4)
	vb["topics"] = []string{"price", "delivery"}
	vb["sentiment"] = "negative"
	b4 := i4.annotate("ann-7", "bob", 6, vb, pTop)
	i4.annotate("ann-8", "carol", 9, clone(base4))
	i4.review("rev-2", "rita", "reject", b4.ID, "Not negative: the text states facts.", 15, nil)
	final := clone(base4)
	final["summary"] = "Dan flew to Oslo."
	i4.review("rev-3", "rita", "adjudicate", "", "Final answer.", 16, final)
	i4.rec.Final = i4.values(final)
	i4.rec.State = "approved"

	return fixtureMeta(in, "every-kind", "Every kind"), export.Records{i1.rec, i2.rec, i3.rec, i4.rec}
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// spansOnlyConfig is a project with a text and a spans block only.
const spansOnlyConfig = `title: NER
blocks:
  - {type: text, field: text}
  - {type: spans, name: entities, field: text, labels: [PER, ORG, LOC]}
`

// choiceOnlyConfig is a text classification project: no spans, no boxes.
const choiceOnlyConfig = `title: Sentiment
blocks:
  - {type: text, field: review}
  - {type: choice, name: sentiment, options: [positive, negative]}
`

// chatOnlyConfig is a project with no text field and no labeling block
// that spacy, conll, coco or yolo could express.
const chatOnlyConfig = `title: Chat
blocks:
  - {type: chat, field: messages}
  - {type: thumbs, name: helpful}
`

// spansOnly returns a spans-only project with two items: one whose spans
// cut tokens and hold non-ASCII text, one with no spans.
func spansOnly(t testing.TB) (*export.Meta, export.Records) {
	t.Helper()
	in := parseInterface(t, spansOnlyConfig)
	a := newItem(t, in, "s-1", "ner-1", 1, map[string]any{"text": "Zoë Müller (ACME-Corp) moved to São Paulo, Brazil."})
	a.annotate("sa-1", "alice", 1, map[string]any{"entities": []any{
		a.span("text", "Zoë Müller", "PER"),
		a.span("text", "ACME", "ORG"),    // ends at '-', a token of its own
		a.span("text", "o Paulo", "LOC"), // cuts the token São
	}})
	b := newItem(t, in, "s-2", "ner-2", 2, map[string]any{"text": "Nothing  here.\n\tReally."})
	b.annotate("sa-2", "bob", 1, map[string]any{})
	return fixtureMeta(in, "ner", "NER"), export.Records{a.rec, b.rec}
}

// exportFiles runs an export of recs into a DirSink in a new temporary
// folder and returns its files by name, and the manifest.
func exportFiles(t testing.TB, meta *export.Meta, recs export.Records, spec export.Spec) (map[string][]byte, *export.Manifest) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	sink, err := export.NewDirSink(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := export.Run(context.Background(), recs, spec, meta, sink, export.Options{})
	if err != nil {
		sink.Abort()
		t.Fatalf("export %s: %v", spec.Format, err)
	}
	if err := sink.Commit(); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range m.Files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Name)))
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = b
	}
	return files, m
}

// exportStream runs a single-file export into a StreamSink and returns
// its bytes.
func exportStream(t testing.TB, meta *export.Meta, recs export.Records, spec export.Spec) []byte {
	t.Helper()
	var buf bytes.Buffer
	sink := export.NewStreamSink(&buf)
	if _, err := export.Run(context.Background(), recs, spec, meta, sink, export.Options{}); err != nil {
		t.Fatalf("export %s: %v", spec.Format, err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// matchGolden compares got with testdata/NAME, rewriting it with -update.
func matchGolden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./export/ -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update if the change is meant):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// goldenFiles writes a folder export as one golden text: each file as
// "== NAME ==" and its contents, in name order.
func goldenFiles(files map[string][]byte) []byte {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&b, "== %s ==\n", n)
		b.Write(files[n])
		if len(files[n]) > 0 && files[n][len(files[n])-1] != '\n' {
			b.WriteString("\n")
		}
	}
	return b.Bytes()
}

// splitSpec is a three-way split of the fixture, seed 20: item-1 and
// item-4 in train, item-2 in validation, item-3 in test.
func splitSpec(format, aggregate string) export.Spec {
	return export.Spec{Format: format, Aggregate: aggregate, Split: &export.Split{Seed: 20,
		Parts: []export.SplitPart{{Name: "train", Ratio: 0.5}, {Name: "validation", Ratio: 0.25}, {Name: "test", Ratio: 0.25}}}}
}
