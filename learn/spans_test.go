package learn

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// span returns the span of the first occurrence of phrase in text, in
// code points.
func span(text, phrase, label string) Span {
	i := strings.Index(text, phrase)
	if i < 0 {
		panic(phrase + " not in " + text)
	}
	start := utf8.RuneCountInString(text[:i])
	return Span{Start: start, End: start + utf8.RuneCountInString(phrase), Label: label, Text: phrase}
}

// spansOf returns the spans of phrases, each at its first occurrence.
func spansOf(text string, labeled ...string) []Span {
	var out []Span
	for i := 0; i < len(labeled); i += 2 {
		out = append(out, span(text, labeled[i], labeled[i+1]))
	}
	return out
}

// brief renders suggestions as "LABEL:text@start-end".
func brief(spans []Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, fmt.Sprintf("%s:%s@%d-%d", s.Label, s.Text, s.Start, s.End))
	}
	return out
}

// checkSpans checks what every suggestion must satisfy: in text order,
// not overlapping, Text exactly the code points between Start and End,
// on word boundaries, with a score in (0, 1].
func checkSpans(t *testing.T, text string, spans []Span) {
	t.Helper()
	// byteAt[i] is where code point i starts (text may be invalid
	// UTF-8, whose bad bytes count one code point each).
	var byteAt []int
	for i := range text {
		byteAt = append(byteAt, i)
	}
	byteAt = append(byteAt, len(text))
	bounds := map[int]bool{}
	for _, tok := range tokenize(text, nil, true) {
		bounds[tok.r0], bounds[-tok.r1-1] = true, true
	}
	end := 0
	for _, s := range spans {
		if s.Start < end {
			t.Errorf("%q: span %v overlaps or precedes the one before", text, s)
		}
		if s.Start < 0 || s.End >= len(byteAt) || s.Start >= s.End || text[byteAt[s.Start]:byteAt[s.End]] != s.Text {
			t.Fatalf("%q: span %v: text at its offsets is not its Text", text, s)
		}
		if !bounds[s.Start] || !bounds[-s.End-1] {
			t.Errorf("%q: span %v is not on word boundaries", text, s)
		}
		if s.Score <= 0 || s.Score > 1 {
			t.Errorf("%q: span %v: score out of range", text, s)
		}
		end = s.End
	}
}

func TestSuggestFindsLearnedEntities(t *testing.T) {
	s := NewSpanSuggester([]string{"PER", "LOC", "ORG"})
	for _, ex := range []struct {
		text    string
		labeled []string
	}{
		{"Anna Berg moved to Tromsø in May.", []string{"Anna Berg", "PER", "Tromsø", "LOC"}},
		{"Anna met the board of the New York Times.", []string{"Anna", "PER", "New York Times", "ORG"}},
		{"She flew from New York to York.", []string{"New York", "LOC", "York", "LOC"}},
		{"Apple sells apples; Apple is big.", []string{"Apple", "ORG"}},
		{"我在東京工作", []string{"東京", "LOC"}},
	} {
		s.Learn(ex.text, spansOf(ex.text, ex.labeled...))
	}
	tests := []struct {
		text string
		want []string
	}{
		// Offsets count code points: "🚀" is one, "ø" is one.
		{"🚀 Anna Berg is in Tromsø 🎉 today", []string{"PER:Anna Berg@2-11", "LOC:Tromsø@18-24"}},
		// Whole words only: no "Anna" in "Annapolis", no "York" in "Yorkshire".
		{"Annapolis and Yorkshire, Anna!", []string{"PER:Anna@25-29"}},
		// The longest phrase wins, and matches never overlap.
		{"The New York Times in New York, not York", []string{"ORG:New York Times@4-18", "LOC:New York@22-30", "LOC:York@36-40"}},
		// White space between words may differ; other separators may
		// not ("New-York" is not the phrase, though "York" is a word).
		{"New  York\nTimes and New-York", []string{"ORG:New  York\nTimes@0-15", "LOC:York@24-28"}},
		// A possessive 's is not part of the name.
		{"Anna's flat in Tromsø's centre", []string{"PER:Anna@0-4", "LOC:Tromsø@15-21"}},
		{"去東京吧", []string{"LOC:東京@1-3"}},
		{"Nothing to see here", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got := s.Suggest(tt.text)
		checkSpans(t, tt.text, got)
		if !slices.Equal(brief(got), tt.want) {
			t.Errorf("Suggest(%q) = %q, want %q", tt.text, brief(got), tt.want)
		}
	}
}

func TestSuggestScores(t *testing.T) {
	s := NewSpanSuggester([]string{"PER", "LOC", "ORG"})
	for range 3 {
		text := "Tromsø is cold."
		s.Learn(text, spansOf(text, "Tromsø", "LOC"))
	}
	// "Jordan" is a person twice and a country once.
	for _, ex := range [][]string{{"Jordan scored.", "PER"}, {"Jordan passed.", "PER"}, {"Jordan is a country.", "LOC"}} {
		s.Learn(ex[0], spansOf(ex[0], "Jordan", ex[1]))
	}
	// "May" was marked once and left unmarked twice where it was marked.
	text := "May may come in May or June, May said."
	s.Learn(text, []Span{{Start: 29, End: 32, Label: "PER", Text: "May"}})
	score := func(text string) (string, float64) {
		got := s.Suggest(text)
		if len(got) != 1 {
			t.Fatalf("Suggest(%q) = %v, want one span", text, got)
		}
		return got[0].Label, got[0].Score
	}
	for _, tt := range []struct {
		text, label string
		score       float64
	}{
		{"In Tromsø.", "LOC", 3.5 / 4},   // always marked: (3 + 0.5) / (3 + 1)
		{"Jordan!", "PER", 2.5 / 4},      // marked PER 2 of 3 times
		{"May", "PER", 1.5 / 4},          // marked 1 of the 3 times "May" was seen
		{"TROMSØ", "LOC", 0.8 * 3.5 / 4}, // only ignoring case: discounted
	} {
		label, got := score(tt.text)
		if label != tt.label || fmt.Sprintf("%.6f", got) != fmt.Sprintf("%.6f", tt.score) {
			t.Errorf("Suggest(%q) = %s %.4f, want %s %.4f", tt.text, label, got, tt.label, tt.score)
		}
	}
	// The verb "may" is found only ignoring case, where "may" was seen
	// four times and marked once: (1 + 0.5) / (4 + 1), discounted.
	if label, got := score("it may rain"); label != "PER" || fmt.Sprintf("%.6f", got) != fmt.Sprintf("%.6f", 0.8*1.5/5) {
		t.Errorf("lower-case may: %s %.4f, want PER %.4f", label, got, 0.8*1.5/5)
	}
}

// TestSuggestNeverOverlaps learns random phrases of shared words and
// checks the suggestions' invariants on random texts.
func TestSuggestNeverOverlaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	vocab := []string{"Anna", "anna", "Berg", "New", "York", "new", "Tromsø", "🚀", "東", "京", "de", "la", "Cruz", "O'Neil", "it's", "Ünal", "x"}
	seps := []string{" ", "  ", ", ", "-", "\n", "", " — "}
	phrase := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(seps[rng.IntN(len(seps))])
			}
			b.WriteString(vocab[rng.IntN(len(vocab))])
		}
		return b.String()
	}
	s := NewSpanSuggester([]string{"A", "B", "C"})
	for range 200 {
		text := phrase(4 + rng.IntN(20))
		var spans []Span
		runes := []rune(text)
		for range rng.IntN(4) {
			a := rng.IntN(len(runes))
			b := a + 1 + rng.IntN(min(len(runes)-a, 12))
			spans = append(spans, Span{Start: a, End: b, Label: []string{"A", "B", "C"}[rng.IntN(3)]})
		}
		s.Learn(text, spans)
	}
	if s.Phrases() == 0 {
		t.Fatal("nothing learned")
	}
	found := 0
	for range 500 {
		text := phrase(1 + rng.IntN(30))
		got := s.Suggest(text)
		found += len(got)
		checkSpans(t, text, got)
	}
	if found < 100 {
		t.Errorf("only %d suggestions in 500 texts", found)
	}
}

func TestSpanUnlearn(t *testing.T) {
	texts := [][]string{
		{"Anna Berg moved to Tromsø.", "Anna Berg", "PER", "Tromsø", "LOC"},
		{"Anna and Anna Berg met in Tromsø, Tromsø.", "Anna", "PER", "Tromsø", "LOC"},
		{"APPLE and Apple", "Apple", "ORG"},
		{"Nothing here.", "Nothing", "X"}, // unknown label: skipped
	}
	learnAll := func(s *SpanSuggester, skip int) {
		for i, x := range texts {
			if i != skip {
				s.Learn(x[0], spansOf(x[0], x[1:]...))
			}
		}
	}
	labels := []string{"PER", "LOC", "ORG"}
	for skip := range texts {
		s := NewSpanSuggester(labels)
		learnAll(s, -1)
		x := texts[skip]
		if err := s.Unlearn(x[0], spansOf(x[0], x[1:]...)); err != nil {
			t.Fatal(err)
		}
		want := NewSpanSuggester(labels)
		learnAll(want, skip)
		if !bytes.Equal(snapshot(t, s), snapshot(t, want)) || s.Examples() != want.Examples() {
			t.Errorf("unlearning text %d: state differs from never learning it", skip)
		}
		for _, probe := range []string{"Anna Berg, Anna, Tromsø, apple, Apple, APPLE"} {
			if a, b := s.Suggest(probe), want.Suggest(probe); !slices.Equal(a, b) {
				t.Errorf("unlearning text %d: Suggest = %v, want %v", skip, a, b)
			}
		}
	}
	s := NewSpanSuggester(labels)
	learnAll(s, -1)
	before := snapshot(t, s)
	if err := s.Unlearn("Anna Berg moved to Tromsø.", spansOf("Anna Berg moved to Tromsø.", "Anna Berg", "LOC")); !errors.Is(err, ErrNotLearned) {
		t.Errorf("Unlearn with the wrong label = %v, want ErrNotLearned", err)
	}
	if !bytes.Equal(before, snapshot(t, s)) {
		t.Error("a refused Unlearn changed the state")
	}
	if err := NewSpanSuggester(labels).Unlearn("x", nil); !errors.Is(err, ErrNotLearned) {
		t.Errorf("Unlearn on an empty suggester = %v, want ErrNotLearned", err)
	}
}

func TestSpanSnapshot(t *testing.T) {
	s := NewSpanSuggester([]string{"PER", "LOC", "ORG"})
	for _, x := range [][]string{
		{"Anna Berg moved to Tromsø.", "Anna Berg", "PER", "Tromsø", "LOC"},
		{"apple and Apple", "Apple", "ORG"},
		{"Ørsted in København", "Ørsted", "ORG", "København", "LOC"},
	} {
		s.Learn(x[0], spansOf(x[0], x[1:]...))
	}
	b := snapshot(t, s)
	probe := "Anna Berg of Ørsted, in København and Tromsø, ate an APPLE"
	r := NewSpanSuggester([]string{"PER", "LOC", "ORG"})
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if a, c := s.Suggest(probe), r.Suggest(probe); !slices.Equal(a, c) || len(a) != 5 {
		t.Errorf("after a round trip Suggest = %v, want %v (5 spans)", c, a)
	}
	if !bytes.Equal(b, snapshot(t, r)) || r.Examples() != 3 {
		t.Error("the restored suggester's snapshot differs")
	}
	// A config that dropped ORG and added MISC.
	d := NewSpanSuggester([]string{"MISC", "LOC", "PER"})
	if err := d.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got := brief(d.Suggest(probe)); !slices.Equal(got, []string{"PER:Anna Berg@0-9", "LOC:København@24-33", "LOC:Tromsø@38-44"}) {
		t.Errorf("after dropping ORG: %q", got)
	}
	versioned := bytes.Clone(b)
	versioned[4] = SpansSnapshotVersion + 1
	damaged := bytes.Clone(b)
	damaged[len(b)/2]++
	for _, tt := range []struct {
		name string
		b    []byte
		want error
	}{
		{"classifier", snapshot(t, NewClassifier([]string{"a"}, false)), ErrSnapshot},
		{"damaged", damaged, ErrSnapshot},
		{"truncated", b[:len(b)-1], ErrSnapshot},
		{"future version", versioned, ErrSnapshotVersion},
	} {
		if err := r.UnmarshalBinary(tt.b); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	if !bytes.Equal(b, snapshot(t, r)) {
		t.Error("a refused snapshot changed the suggester")
	}
}

func TestSpanLearnSkipsBadSpans(t *testing.T) {
	s := NewSpanSuggester([]string{"PER"})
	text := "Anna in Annapolis"
	s.Learn(text, []Span{
		{Start: -1, End: 4, Label: "PER"},
		{Start: 3, End: 99, Label: "PER"},
		{Start: 4, End: 4, Label: "PER"},
		{Start: 8, End: 12, Label: "PER"}, // "Anna" inside "Annapolis": no whole word
		{Start: 0, End: 17, Label: "PER"}, // fine: three words
	})
	if got := brief(s.Suggest(text + ", Anna")); !slices.Equal(got, []string{"PER:Anna in Annapolis@0-17"}) {
		t.Errorf("Suggest = %q", got)
	}
	long := strings.Repeat("word ", MaxPhraseWords+1)
	s.Learn(long, []Span{{Start: 0, End: len(long) - 1, Label: "PER"}})
	if n := s.Phrases(); n != 1 {
		t.Errorf("Phrases = %d, want 1 (a phrase over %d words is not learned)", n, MaxPhraseWords)
	}
}
