package export_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/export"
	"go.yaml.in/yaml/v3"
)

// hfExport runs an export into a DirSink in a new temporary folder and
// returns its files by name, and the manifest.
func hfExport(t testing.TB, meta *export.Meta, recs export.Records, spec export.Spec) (map[string][]byte, *export.Manifest) {
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

// hfGolden compares got with testdata/NAME, rewriting it with -update.
func hfGolden(t testing.TB, name string, got []byte) {
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

// hfCase is one project exported as hf.
type hfCase struct {
	name  string
	build func(t testing.TB) (*export.Meta, export.Records)
	spec  export.Spec
	// want holds, per file, the rows it must have.
	want map[string]int
}

var hfCases = []hfCase{
	// Pairwise preferences, split: item-1 prefers A, item-2 B, item-3
	// has no preference, item-4 is a tie.
	// splitSpec puts item-1 and item-4 in train, item-2 in validation,
	// item-3 in test.
	{name: "every-kind", build: everyKind, spec: splitSpec("hf", export.AggregateMajority),
		want: map[string]int{"train.jsonl": 1, "validation.jsonl": 1, "test.jsonl": 0}},
	{name: "sentiment", build: sentimentProject, spec: export.Spec{Format: "hf", Aggregate: export.AggregateMajority},
		want: map[string]int{"data.jsonl": 3}},
	{name: "sentiment-every", build: sentimentProject, spec: export.Spec{Format: "hf", Aggregate: export.AggregateEvery},
		want: map[string]int{"data.jsonl": 4}},
	{name: "tags", build: tagsProject, spec: export.Spec{Format: "hf"}, want: map[string]int{"data.jsonl": 2}},
	{name: "tickets", build: ticketsProject, spec: export.Spec{Format: "hf"}, want: map[string]int{"data.jsonl": 2}},
	{name: "ner", build: spansOnly, spec: export.Spec{Format: "hf"}, want: map[string]int{"data.jsonl": 2}},
	{name: "chat", build: chatProject, spec: export.Spec{Format: "hf"}, want: map[string]int{"data.jsonl": 2}},
	{name: "chat-thumbs", build: chatThumbsProject, spec: export.Spec{Format: "hf", Aggregate: export.AggregateEvery},
		want: map[string]int{"data.jsonl": 4}},
	{name: "answer-thumbs", build: answerThumbsProject, spec: export.Spec{Format: "hf"}, want: map[string]int{"data.jsonl": 1}},
	{name: "ranking", build: rankingProject, spec: export.Spec{Format: "hf"}, want: map[string]int{"data.jsonl": 3}},
}

func TestHFGolden(t *testing.T) {
	for _, tc := range hfCases {
		t.Run(tc.name, func(t *testing.T) {
			meta, recs := tc.build(t)
			files, m := hfExport(t, meta, recs, tc.spec)
			var names []string
			for _, f := range m.Files {
				names = append(names, f.Name)
			}
			wantNames := []string{"README.md"}
			for name := range tc.want {
				wantNames = append(wantNames, name)
			}
			sort.Strings(wantNames)
			if strings.Join(names, " ") != strings.Join(wantNames, " ") {
				t.Fatalf("files %v, want %v", names, wantNames)
			}
			for _, name := range names {
				got := files[name]
				hfGolden(t, "hf-"+tc.name+"."+name+".golden", got)
				if n := tc.want[name]; strings.HasSuffix(name, ".jsonl") && len(lines(t, got)) != n {
					t.Errorf("%s holds %d rows, want %d", name, len(lines(t, got)), n)
				}
			}
			checkCard(t, files)
		})
	}
}

// lines returns the JSON objects of a JSONL file, checking each is one.
func lines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %s", len(out)+1, err, sc.Bytes())
		}
		out = append(out, m)
	}
	return out
}

// hfCard is the part of a dataset card's front matter the tests read.
type hfCard struct {
	PrettyName string `yaml:"pretty_name"`
	Configs    []struct {
		ConfigName string `yaml:"config_name"`
		DataFiles  []struct {
			Split string `yaml:"split"`
			Path  string `yaml:"path"`
		} `yaml:"data_files"`
	} `yaml:"configs"`
	DatasetInfo struct {
		Features []map[string]any `yaml:"features"`
		Splits   []struct {
			Name        string `yaml:"name"`
			NumExamples int    `yaml:"num_examples"`
		} `yaml:"splits"`
	} `yaml:"dataset_info"`
}

// checkCard reads README.md's front matter as YAML and checks it against
// the files: every split's file exists and holds num_examples rows, and
// every row has exactly the features' columns, class labels in range.
func checkCard(t *testing.T, files map[string][]byte) {
	t.Helper()
	readme := files["README.md"]
	front, ok := strings.CutPrefix(string(readme), "---\n")
	front, _, ok2 := strings.Cut(front, "\n---\n")
	if !ok || !ok2 {
		t.Fatalf("README.md has no front matter:\n%s", readme)
	}
	var card hfCard
	if err := yaml.Unmarshal([]byte(front), &card); err != nil {
		t.Fatalf("front matter is not YAML: %v\n%s", err, front)
	}
	if len(card.Configs) != 1 || card.Configs[0].ConfigName != "default" {
		t.Fatalf("configs %+v", card.Configs)
	}
	dataFiles := card.Configs[0].DataFiles
	if len(dataFiles) != len(card.DatasetInfo.Splits) || len(dataFiles) != len(files)-1 {
		t.Fatalf("data_files %+v, splits %+v, %d files", dataFiles, card.DatasetInfo.Splits, len(files))
	}
	features := map[string]map[string]any{}
	for _, f := range card.DatasetInfo.Features {
		features[f["name"].(string)] = f
	}
	for i, f := range dataFiles {
		if card.DatasetInfo.Splits[i].Name != f.Split {
			t.Errorf("split %d: data_files names %q, splits %q", i, f.Split, card.DatasetInfo.Splits[i].Name)
		}
		b, ok := files[f.Path]
		if !ok {
			t.Fatalf("split %s: no file %s", f.Split, f.Path)
		}
		rows := lines(t, b)
		if n := card.DatasetInfo.Splits[i].NumExamples; n != len(rows) {
			t.Errorf("split %s: num_examples %d, file holds %d rows", f.Split, n, len(rows))
		}
		if !strings.Contains(string(readme), "| "+f.Split+" | "+strings.ReplaceAll(f.Path, "_", `\_`)+" | ") {
			t.Errorf("the card's body does not list split %s", f.Split)
		}
		for j, row := range rows {
			if len(row) != len(features) {
				t.Errorf("%s row %d has columns %v, features %d", f.Path, j+1, hfKeys(row), len(features))
			}
			for name, v := range row {
				feat, ok := features[name]
				if !ok {
					t.Errorf("%s row %d: column %q is not a feature", f.Path, j+1, name)
					continue
				}
				checkFeature(t, f.Path, j+1, name, feat, v)
			}
		}
	}
}

// checkFeature checks a value against its feature: class labels are in
// range (or -1), sequences are lists.
func checkFeature(t *testing.T, file string, row int, name string, feat map[string]any, v any) {
	t.Helper()
	names := func(x any) int {
		m, _ := x.(map[string]any)
		cl, _ := m["class_label"].(map[string]any)
		ns, _ := cl["names"].(map[string]any)
		return len(ns)
	}
	inRange := func(x any, n int, allowNone bool) {
		f, ok := x.(float64)
		if !ok || f != float64(int(f)) || f >= float64(n) || f < 0 && !(allowNone && f == -1) {
			t.Errorf("%s row %d: %s = %v is not a class label of %d names", file, row, name, x, n)
		}
	}
	switch {
	case names(feat["dtype"]) > 0:
		inRange(v, names(feat["dtype"]), true)
	case feat["sequence"] != nil:
		list, ok := v.([]any)
		if !ok {
			t.Errorf("%s row %d: %s = %v is not a list", file, row, name, v)
		}
		if n := names(feat["sequence"]); n > 0 {
			for _, x := range list {
				inRange(x, n, false)
			}
		}
	case feat["list"] != nil:
		list, ok := v.([]any)
		if !ok {
			t.Errorf("%s row %d: %s = %v is not a list", file, row, name, v)
		}
		for _, x := range list {
			m, ok := x.(map[string]any)
			if !ok || len(m) != 2 || m["role"] == nil || m["content"] == nil {
				t.Errorf("%s row %d: %s holds %v, not {role, content}", file, row, name, x)
			}
		}
	case feat["dtype"] == "string":
		if _, ok := v.(string); !ok && v != nil {
			t.Errorf("%s row %d: %s = %v is not a string", file, row, name, v)
		}
	case feat["dtype"] == "bool":
		if _, ok := v.(bool); !ok && v != nil {
			t.Errorf("%s row %d: %s = %v is not a bool", file, row, name, v)
		}
	case feat["dtype"] == "int64":
		if f, ok := v.(float64); v != nil && (!ok || f != float64(int(f))) {
			t.Errorf("%s row %d: %s = %v is not an int", file, row, name, v)
		}
	default:
		t.Errorf("%s row %d: %s has an unknown feature %v", file, row, name, feat)
	}
}

func hfKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestHFRows checks the values that matter in each shape, beyond the
// goldens.
func TestHFRows(t *testing.T) {
	read := func(t *testing.T, build func(testing.TB) (*export.Meta, export.Records), spec export.Spec, file string) []map[string]any {
		meta, recs := build(t)
		files, _ := hfExport(t, meta, recs, spec)
		return lines(t, files[file])
	}
	t.Run("preference", func(t *testing.T) {
		rows := read(t, everyKind, export.Spec{Format: "hf"}, "data.jsonl")
		// item-1 chose A, item-2 B; item-3 gave none, item-4 tied.
		if len(rows) != 2 {
			t.Fatalf("rows %v", rows)
		}
		a, b := "Boil water, add the tea, wait three minutes.", "Tea is a drink."
		if rows[0]["id"] != "rev-001" || rows[0]["chosen"] != a || rows[0]["rejected"] != b {
			t.Errorf("row 1 %v", rows[0])
		}
		if rows[1]["id"] != `=cmd|' /C calc'!A0` || rows[1]["chosen"] != b || rows[1]["rejected"] != a {
			t.Errorf("row 2 %v", rows[1])
		}
		if !strings.HasSuffix(rows[0]["prompt"].(string), "\n\nHow do I make tea?") {
			t.Errorf("prompt %q", rows[0]["prompt"])
		}
	})
	t.Run("tokens", func(t *testing.T) {
		rows := read(t, spansOnly, export.Spec{Format: "hf"}, "data.jsonl")
		got := map[string]string{}
		tags := []string{"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"}
		toks := rows[0]["tokens"].([]any)
		ner := rows[0]["ner_tags"].([]any)
		if len(toks) != len(ner) {
			t.Fatalf("%d tokens, %d tags", len(toks), len(ner))
		}
		for i, tok := range toks {
			got[tok.(string)] = tags[int(ner[i].(float64))]
		}
		for tok, tag := range map[string]string{"Zoë": "B-PER", "Müller": "I-PER", "ACME": "B-ORG", "Corp": "O", "São": "B-LOC", "Paulo": "I-LOC", "Brazil": "O", "(": "O"} {
			if got[tok] != tag {
				t.Errorf("%s tagged %s, want %s (tokens %v)", tok, got[tok], tag, got)
			}
		}
		if rows[1]["id"] != "ner-2" || len(rows[1]["tokens"].([]any)) != 5 {
			t.Errorf("row 2 %v", rows[1])
		}
		for _, x := range rows[1]["ner_tags"].([]any) {
			if x.(float64) != 0 {
				t.Errorf("row 2 without spans has tags %v", rows[1]["ner_tags"])
			}
		}
	})
	t.Run("thumbs", func(t *testing.T) {
		rows := read(t, chatThumbsProject, export.Spec{Format: "hf", Aggregate: export.AggregateEvery}, "data.jsonl")
		var fromAPI, down int
		for _, r := range rows {
			if r["source"] == "feedback" {
				fromAPI++
				if r["user"] != nil {
					t.Errorf("feedback row has a user: %v", r)
				}
			}
			if r["label"] == false {
				down++
			}
			prompt, completion := r["prompt"].([]any), r["completion"].([]any)
			if len(prompt) != 1 || len(completion) != 1 || completion[0].(map[string]any)["role"] != "assistant" {
				t.Errorf("row %v", r)
			}
		}
		if fromAPI != 2 || down != 2 {
			t.Errorf("%d rows from the API, %d thumbs down: %v", fromAPI, down, rows)
		}
	})
	t.Run("classification", func(t *testing.T) {
		rows := read(t, sentimentProject, export.Spec{Format: "hf"}, "data.jsonl")
		// positive, negative: 0 and 1; the tie is -1.
		want := []float64{0, -1, 1}
		for i, r := range rows {
			if r["label"] != want[i] {
				t.Errorf("row %d label %v, want %v", i+1, r["label"], want[i])
			}
		}
	})
}

// TestHFReproducible checks that an export made twice is the same, byte
// for byte.
func TestHFReproducible(t *testing.T) {
	spec := export.Spec{Format: "hf", Split: &export.Split{Parts: []export.SplitPart{{Name: "train", Ratio: 0.7}, {Name: "test", Ratio: 0.3}}, Seed: 3}}
	meta, recs := everyKind(t)
	_, m1 := hfExport(t, meta, recs, spec)
	meta, recs = everyKind(t)
	_, m2 := hfExport(t, meta, recs, spec)
	a, _ := json.Marshal(m1.Files)
	b, _ := json.Marshal(m2.Files)
	if !bytes.Equal(a, b) {
		t.Errorf("two exports differ:\n%s\n%s", a, b)
	}
}

func TestHFCheck(t *testing.T) {
	f, err := export.LookupFormat("hf")
	if err != nil {
		t.Fatal(err)
	}
	if f.Single {
		t.Error("hf writes a folder: a card beside the data")
	}
	for _, tc := range []struct {
		config string
		ok     bool
	}{
		{choiceOnlyConfig, true},
		{spansOnlyConfig, true},
		{chatOnlyConfig, true},
		{everyKindConfig, true},
		{"title: Boxes\nblocks:\n  - {type: image, field: image}\n  - {type: boxes, name: objects, field: image, labels: [car]}\n", false},
		{"title: Thumbs on an image\nblocks:\n  - {type: image, field: image}\n  - {type: thumbs, name: ok}\n", false},
		{"title: Pairwise without a pair\nblocks:\n  - {type: text, field: a}\n  - {type: pairwise, name: pref}\n", false},
	} {
		err := f.Check(parseInterface(t, tc.config))
		if tc.ok != (err == nil) {
			t.Errorf("%s: %v", strings.SplitN(tc.config, "\n", 2)[0], err)
		}
		if err != nil && (loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), "needs a choice or multichoice block")) {
			t.Errorf("error %v", err)
		}
	}
	// A split name with '-' is refused: Hugging Face refuses it.
	meta, recs := sentimentProject(t)
	_, err = export.Run(context.Background(), recs, export.Spec{Format: "hf", Split: &export.Split{Parts: []export.SplitPart{{Name: "dev-a", Ratio: 1}}}},
		meta, &memSink{}, export.Options{})
	if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), "dev-a") {
		t.Errorf("split dev-a: %v", err)
	}
	_, err = export.Run(context.Background(), recs, export.Spec{Format: "hf", Split: &export.Split{Parts: []export.SplitPart{{Name: "all", Ratio: 1}}}},
		meta, &memSink{}, export.Options{})
	if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), `"all"`) {
		t.Errorf("split all: %v", err)
	}
}

// memSink keeps files in memory.
type memSink struct{ files map[string]*bytes.Buffer }

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

func (s *memSink) Create(name string) (io.WriteCloser, error) {
	if s.files == nil {
		s.files = map[string]*bytes.Buffer{}
	}
	b := &bytes.Buffer{}
	s.files[name] = b
	return nopCloser{b}, nil
}

// sentimentProject is a one-choice text classification: three items,
// the second tied.
func sentimentProject(t testing.TB) (*export.Meta, export.Records) {
	in := parseInterface(t, choiceOnlyConfig)
	a := newItem(t, in, "c-1", "r1", 1, map[string]any{"review": "Great kettle."})
	a.annotate("ca-1", "alice", 1, map[string]any{"sentiment": "positive"})
	b := newItem(t, in, "c-2", "", 2, map[string]any{"review": "Meh | \"fine\""})
	b.annotate("ca-2", "alice", 1, map[string]any{"sentiment": "positive"})
	b.annotate("ca-3", "bob", 2, map[string]any{"sentiment": "negative"})
	c := newItem(t, in, "c-3", "r3", 3, map[string]any{"review": "Broke in a week."})
	c.annotate("ca-4", "bob", 1, map[string]any{"sentiment": "negative"})
	return fixtureMeta(in, "sentiment", "Sentiment"), export.Records{a.rec, b.rec, c.rec}
}

// tagsProject is a one-multichoice classification.
func tagsProject(t testing.TB) (*export.Meta, export.Records) {
	in := parseInterface(t, `title: "Tags: review #2"
blocks:
  - {type: markdown, field: body}
  - {type: multichoice, name: tags, options: [{value: price, label: Price}, quality, "yes"]}
`)
	a := newItem(t, in, "t-1", "t1", 1, map[string]any{"body": "*Cheap* but good."})
	a.annotate("ta-1", "alice", 1, map[string]any{"tags": []string{"yes", "price"}})
	b := newItem(t, in, "t-2", "t2", 2, map[string]any{"body": "Nothing to say."})
	b.annotate("ta-2", "alice", 1, map[string]any{})
	return fixtureMeta(in, "tags", "Tags: review #2"), export.Records{a.rec, b.rec}
}

// ticketsProject has two text fields, a choice, a multichoice, a rating
// and a textbox: a column per block.
func ticketsProject(t testing.TB) (*export.Meta, export.Records) {
	in := parseInterface(t, `title: Tickets
blocks:
  - {type: text, field: subject}
  - {type: text, field: body}
  - {type: metadata, fields: [channel]}
  - {type: choice, name: category, options: [billing, bug]}
  - {type: multichoice, name: tags, options: [urgent, angry]}
  - {type: rating, name: label, scale: 3}
  - {type: textbox, name: reason, multiline: false}
`)
	a := newItem(t, in, "k-1", "k1", 1, map[string]any{"subject": "Charged twice", "body": "I paid two times.", "channel": "email"})
	a.annotate("ka-1", "alice", 1, map[string]any{"category": "billing", "tags": []string{"urgent"}, "label": 3, "reason": "Money."})
	b := newItem(t, in, "k-2", "k2", 2, map[string]any{"subject": "Crash", "body": "It crashes.\nOn start.", "channel": "web"})
	b.annotate("ka-2", "bob", 1, map[string]any{"category": "bug"})
	return fixtureMeta(in, "tickets", "Tickets"), export.Records{a.rec, b.rec}
}

// chatProject is a conversation with a rating, a choice and a textbox.
func chatProject(t testing.TB) (*export.Meta, export.Records) {
	in := parseInterface(t, `title: Chat review
blocks:
  - {type: chat, field: messages}
  - {type: rating, name: helpfulness, scale: 5}
  - {type: choice, name: resolved, options: ["yes", "no"]}
  - {type: textbox, name: better, label: A better last answer}
`)
	msgs := []map[string]any{{"role": "user", "content": "Refund?"}, {"role": "assistant", "content": []map[string]any{{"type": "text", "text": "I don't know."}}}}
	a := newItem(t, in, "h-1", "h1", 1, map[string]any{"messages": msgs})
	a.annotate("ha-1", "alice", 1, map[string]any{"helpfulness": 1, "resolved": "no", "better": "Refunds take 5 days."})
	b := newItem(t, in, "h-2", "h2", 2, map[string]any{"messages": []map[string]any{{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}}})
	b.annotate("ha-2", "bob", 1, map[string]any{"helpfulness": 5, "resolved": "yes"})
	return fixtureMeta(in, "chat", "Chat review"), export.Records{a.rec, b.rec}
}

// chatThumbsProject is chatOnlyConfig (a chat and a thumbs) with thumbs
// from labelers and from the feedback API.
func chatThumbsProject(t testing.TB) (*export.Meta, export.Records) {
	in := parseInterface(t, chatOnlyConfig)
	msgs := func(q, a string) []map[string]any {
		return []map[string]any{{"role": "user", "content": q}, {"role": "assistant", "content": a}}
	}
	a := newItem(t, in, "f-1", "f1", 1, map[string]any{"messages": msgs("2+2?", "4")})
	a.annotate("fa-1", "alice", 1, map[string]any{"helpful": "up"})
	a.annotate("fa-2", "bob", 2, map[string]any{"helpful": "up"})
	a.rec.Feedback = []export.Feedback{
		{ID: "fb-1", Model: "demo", Version: "1", RatingBlock: "helpful", Rating: json.RawMessage(`"down"`), Comment: "wrong", CreatedAt: fixtureT0},
		{ID: "fb-2", Model: "demo", Version: "1", Comment: "no rating", CreatedAt: fixtureT0},
	}
	b := newItem(t, in, "f-2", "f2", 2, map[string]any{"messages": msgs("Capital of France?", "Lyon")})
	b.annotate("fa-3", "carol", 1, map[string]any{})
	b.rec.Feedback = []export.Feedback{{ID: "fb-3", Model: "demo", Version: "1", RatingBlock: "helpful", Rating: json.RawMessage(`"down"`), CreatedAt: fixtureT0}}
	return fixtureMeta(in, "chat-thumbs", "Chat thumbs"), export.Records{a.rec, b.rec}
}

// answerThumbsProject shows a question and an answer as text, rated with
// a thumb and commented on.
func answerThumbsProject(t testing.TB) (*export.Meta, export.Records) {
	in := parseInterface(t, `title: Answers
blocks:
  - {type: markdown, field: question}
  - {type: markdown, field: answer}
  - {type: thumbs, name: useful}
  - {type: comment, name: why}
`)
	a := newItem(t, in, "q-1", "q1", 1, map[string]any{"question": "Why is the sky blue?", "answer": "Rayleigh scattering."})
	a.annotate("qa-1", "alice", 1, map[string]any{"useful": "down", "why": "Too short."})
	return fixtureMeta(in, "answers", "Answers"), export.Records{a.rec}
}

// rankingProject ranks three answers: three preference pairs.
func rankingProject(t testing.TB) (*export.Meta, export.Records) {
	in := parseInterface(t, `title: Ranking
blocks:
  - {type: markdown, field: prompt}
  - {type: ranking, name: order, field: responses}
  - {type: rating, name: quality}
`)
	a := newItem(t, in, "g-1", "g1", 1, map[string]any{"prompt": "Water basil?", "responses": []map[string]any{{"id": "a", "text": "Daily."}, {"id": "b", "text": "When dry."}, {"id": "c", "text": "Never."}}})
	a.annotate("ga-1", "alice", 1, map[string]any{"order": []string{"b", "a", "c"}, "quality": 4})
	return fixtureMeta(in, "ranking", "Ranking"), export.Records{a.rec}
}
