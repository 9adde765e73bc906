package export_test

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/loupehq/loupe/export"
)

// readCoNLL parses an export into sentences of [token, tag] pairs,
// checking that each line has two columns and tags are BIO.
func readCoNLL(t *testing.T, b []byte) [][][2]string {
	t.Helper()
	var out [][][2]string
	var cur [][2]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" {
			if len(cur) == 0 {
				t.Errorf("line %d: an empty sentence", n)
			}
			out = append(out, cur)
			cur = nil
			continue
		}
		f := strings.Split(line, " ")
		if len(f) != 2 || f[0] == "" {
			t.Fatalf("line %d: %q is not TOKEN TAG", n, line)
		}
		tag := f[1]
		if tag != "O" && !strings.HasPrefix(tag, "B-") && !strings.HasPrefix(tag, "I-") {
			t.Errorf("line %d: tag %q is not BIO", n, tag)
		}
		if strings.HasPrefix(tag, "I-") && (len(cur) == 0 || cur[len(cur)-1][1][2:] != tag[2:]) {
			t.Errorf("line %d: %s does not follow a tag of its label", n, tag)
		}
		cur = append(cur, [2]string{f[0], tag})
	}
	if len(cur) > 0 {
		t.Errorf("the last sentence has no blank line after it")
	}
	return out
}

func tagged(s [][2]string) string {
	var b strings.Builder
	for _, p := range s {
		b.WriteString(p[0] + "/" + p[1] + " ")
	}
	return strings.TrimSpace(b.String())
}

func TestCoNLLGolden(t *testing.T) {
	meta, recs := everyKind(t)
	got := exportStream(t, meta, recs, export.Spec{Format: "conll"})
	matchGolden(t, "conll.golden", got)
	sents := readCoNLL(t, got)
	want := []string{
		"Alice/B-PER Smith/I-PER joined/O Acme/B-ORG Corp/I-ORG in/O Paris/B-LOC ./O",
		`=/O SUM/O (/O 1/O +/O 2/O )/O "/O quoted/O "/O ,/O said/O Bob/B-PER ,/O </O script/O >/O alert/O (/O 1/O )/O </O //O script/O >/O in/O Berlin/B-LOC ./O`,
		"Carol/B-PER from/O Globex/B-ORG visited/O London/B-LOC ./O",
		"Dan/B-PER Brown/I-PER flew/O from/O Rome/B-LOC to/O Oslo/B-LOC ./O",
	}
	if len(sents) != len(want) {
		t.Fatalf("%d sentences, want %d", len(sents), len(want))
	}
	for i := range want {
		if got := tagged(sents[i]); got != want[i] {
			t.Errorf("item %d:\n got %s\nwant %s", i+1, got, want[i])
		}
	}
}

// Spans that cut a token tag the whole token; non-ASCII text counts code
// points; a row without spans is all O.
func TestCoNLLTokens(t *testing.T) {
	meta, recs := spansOnly(t)
	got := exportStream(t, meta, recs, export.Spec{Format: "conll"})
	matchGolden(t, "conll_spans.golden", got)
	sents := readCoNLL(t, got)
	want := []string{
		"Zoë/B-PER Müller/I-PER (/O ACME/B-ORG -/O Corp/O )/O moved/O to/O São/B-LOC Paulo/I-LOC ,/O Brazil/O ./O",
		"Nothing/O here/O ./O Really/O ./O",
	}
	if len(sents) != len(want) {
		t.Fatalf("%d sentences, want %d:\n%s", len(sents), len(want), got)
	}
	for i := range want {
		if got := tagged(sents[i]); got != want[i] {
			t.Errorf("item %d:\n got %s\nwant %s", i+1, got, want[i])
		}
	}

	// Two labelers who disagree: with majority the item is left out (a
	// tie), with every each annotation is a sentence.
	in := meta.Interface
	it := newItem(t, in, "t-1", "", 1, map[string]any{"text": "Ada Lovelace"})
	it.annotate("ta-1", "alice", 1, map[string]any{"entities": []any{it.span("text", "Ada Lovelace", "PER")}})
	it.annotate("ta-2", "bob", 2, map[string]any{"entities": []any{it.span("text", "Lovelace", "ORG")}})
	if got := exportStream(t, meta, export.Records{it.rec}, export.Spec{Format: "conll"}); len(got) != 0 {
		t.Errorf("a tied item was written:\n%s", got)
	}
	sents = readCoNLL(t, exportStream(t, meta, export.Records{it.rec}, export.Spec{Format: "conll", Aggregate: export.AggregateEvery}))
	if len(sents) != 2 || tagged(sents[0]) != "Ada/B-PER Lovelace/I-PER" || tagged(sents[1]) != "Ada/O Lovelace/B-ORG" {
		t.Errorf("every: %v", sents)
	}
}

// Overlapping spans: a token stays in the span it is in.
func TestCoNLLOverlap(t *testing.T) {
	in := parseInterface(t, "title: x\nblocks:\n  - {type: spans, name: e, field: text, allow_overlap: true, labels: [ORG, LOC, MISC]}\n")
	it := newItem(t, in, "o-1", "", 1, map[string]any{"text": "Bank of New York Mellon"})
	it.annotate("oa-1", "alice", 1, map[string]any{"e": []any{
		it.span("text", "Bank of New York", "ORG"), it.span("text", "New York Mellon", "MISC"), it.span("text", "York", "LOC")}})
	sents := readCoNLL(t, exportStream(t, fixtureMeta(in, "x", "X"), export.Records{it.rec}, export.Spec{Format: "conll"}))
	if got := tagged(sents[0]); got != "Bank/B-ORG of/I-ORG New/I-ORG York/I-ORG Mellon/B-MISC" {
		t.Errorf("overlap: %s", got)
	}
}

func TestCoNLLSplitsAndCheck(t *testing.T) {
	meta, recs := everyKind(t)
	files, _ := exportFiles(t, meta, recs, splitSpec("conll", ""))
	want := map[string]int{"train.conll": 2, "validation.conll": 1, "test.conll": 1}
	if len(files) != len(want) {
		t.Errorf("files %v", mapKeys(files))
	}
	for name, n := range want {
		if got := len(readCoNLL(t, files[name])); got != n {
			t.Errorf("%s: %d sentences, want %d", name, got, n)
		}
	}
	checkRefused(t, "conll", choiceOnlyConfig, "conll", "needs a spans block", "sentiment")
	checkRefused(t, "conll", chatOnlyConfig, "needs a spans block", "helpful")
}
