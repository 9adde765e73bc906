package learn

import (
	"strings"
	"testing"
)

// text50 returns a generated text of exactly 50 words.
func text50(g *corpus) string {
	var words []string
	for len(words) < 50 {
		words = append(words, strings.Fields(g.text([]int{0}))...)
	}
	return strings.Join(words[:50], " ")
}

func benchClassifier(b *testing.B, multi bool) (*Classifier, []example) {
	g := newCorpus(11, 4)
	var ex []example
	if multi {
		ex = g.multi(2000)
	} else {
		ex = g.single(2000)
	}
	return train(g, multi, ex[:1000]), ex
}

func BenchmarkLearn(b *testing.B) {
	c, ex := benchClassifier(b, false)
	b.ResetTimer()
	for i := range b.N {
		c.Learn(ex[i%len(ex)].text, ex[i%len(ex)].given)
	}
}

func BenchmarkUnlearnLearn(b *testing.B) {
	c, ex := benchClassifier(b, false)
	b.ResetTimer()
	for i := range b.N {
		e := ex[i%1000]
		c.Unlearn(e.text, e.given)
		c.Learn(e.text, e.given)
	}
}

func BenchmarkPredict50Words(b *testing.B) {
	c, _ := benchClassifier(b, false)
	text := text50(newCorpus(12, 4))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.Predict(text)
	}
}

func BenchmarkPredictMulti50Words(b *testing.B) {
	c, _ := benchClassifier(b, true)
	text := text50(newCorpus(12, 4))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.Predict(text)
	}
}

func BenchmarkMarshal(b *testing.B) {
	c, _ := benchClassifier(b, false)
	b.ResetTimer()
	var snap []byte
	for range b.N {
		snap, _ = c.MarshalBinary()
	}
	b.ReportMetric(float64(len(snap)), "snapshot-bytes")
}

func BenchmarkUnmarshal(b *testing.B) {
	c, _ := benchClassifier(b, false)
	snap, _ := c.MarshalBinary()
	d := NewClassifier(c.Labels(), false)
	b.ResetTimer()
	for range b.N {
		if err := d.UnmarshalBinary(snap); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSuggest50Words(b *testing.B) {
	g := newCorpus(13, 4)
	s := NewSpanSuggester([]string{"A", "B", "C", "D"})
	// Learn 1000 texts, each with a two-word phrase of its topic marked.
	for i, e := range g.single(1000) {
		p := g.phrases[i%4][i%10]
		text := e.text + " " + p
		s.Learn(text, []Span{span(text, p, s.labels[i%4])})
	}
	text := text50(g) + " " + g.phrases[1][0]
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.Suggest(text)
	}
}

func BenchmarkSpanLearn(b *testing.B) {
	g := newCorpus(13, 4)
	s := NewSpanSuggester([]string{"A", "B", "C", "D"})
	ex := g.single(1000)
	b.ResetTimer()
	for i := range b.N {
		p := g.phrases[i%4][i%10]
		text := ex[i%1000].text + " " + p
		s.Learn(text, []Span{span(text, p, "A")})
	}
}
