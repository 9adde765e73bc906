package learn

import (
	"slices"
	"sort"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Span is a labeled stretch of a text. Start and End count Unicode code
// points (as the spans block, Python and spaCy do), End exclusive; Text is
// the text between them. Score is a suggestion's confidence, from 0 to 1;
// Learn ignores it.
type Span struct {
	Start int     `json:"start"`
	End   int     `json:"end"`
	Label string  `json:"label"`
	Text  string  `json:"text"`
	Score float64 `json:"score,omitempty"`
}

// MaxPhraseWords is the most words a learned phrase may have; longer spans
// are not learned.
const MaxPhraseWords = 8

// CaseMismatchDiscount multiplies the score of a suggestion found only by
// ignoring case ("apple" for a learned "Apple"), which is weaker evidence.
const CaseMismatchDiscount = 0.8

// SpanSuggester suggests spans for a spans block: a dictionary of the
// phrases labelers marked, with how often each carried each label and how
// often it was left unmarked in the texts where it was marked.
//
// Phrases are sequences of words (as the Classifier splits them, with a
// trailing "'s" split off so that "Anna's" holds "Anna"); the text
// between two words is kept, with runs of white space as one space, so
// "New York" matches "New  York" but not "New-York". A phrase is looked up
// as written first, then ignoring case.
//
// A SpanSuggester is safe for concurrent use.
type SpanSuggester struct {
	mu     sync.RWMutex
	labels []string
	col    map[string]int
	// exact and lower map a phrase (as written, and lower-cased) to its
	// counts: one per label, then the times it was left unlabeled in a
	// text where it was labeled.
	exact map[string][]uint32
	lower map[string][]uint32
	// prefixes counts, for every word prefix of a lower-cased phrase
	// (the phrase included), the phrases that start with it, so that
	// Suggest stops extending a match as soon as nothing can follow.
	prefixes map[string]uint32
	examples int
	scratch  sync.Pool // of *spanScratch
}

// NewSpanSuggester returns an empty span suggester for labels. Duplicate
// labels count once.
func NewSpanSuggester(labels []string) *SpanSuggester {
	s := &SpanSuggester{col: map[string]int{}, exact: map[string][]uint32{}, lower: map[string][]uint32{}, prefixes: map[string]uint32{}}
	for _, l := range labels {
		if _, ok := s.col[l]; !ok {
			s.col[l] = len(s.labels)
			s.labels = append(s.labels, l)
		}
	}
	return s
}

// Labels returns the suggester's labels, in the order it was given them.
func (s *SpanSuggester) Labels() []string { return slices.Clone(s.labels) }

// Examples returns how many texts the suggester has learned.
func (s *SpanSuggester) Examples() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.examples
}

// Phrases returns how many distinct phrases (as written) it knows.
func (s *SpanSuggester) Phrases() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.exact)
}

// Learn adds the accepted spans of a text. A span is learned as the
// phrase of the words wholly inside it; spans with offsets outside the
// text, with a label the suggester does not know, with no word or with
// more than MaxPhraseWords words are skipped. Every other occurrence of a
// learned phrase in the text that no span touches counts as a time the
// phrase was not an entity.
func (s *SpanSuggester) Learn(text string, spans []Span) {
	ex, lo := s.contributions(text, spans)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.examples++
	for k, d := range ex {
		add(s.exact, k, d)
	}
	for k, d := range lo {
		if add(s.lower, k, d) {
			s.prefixesOf(k, 1)
		}
	}
}

// Unlearn removes a text learned before with the same spans, leaving the
// suggester exactly as if it had never learned it. It returns
// ErrNotLearned, and changes nothing, when the counts show that no such
// text was learned.
func (s *SpanSuggester) Unlearn(text string, spans []Span) error {
	ex, lo := s.contributions(text, spans)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.examples == 0 || !holds(s.exact, ex) || !holds(s.lower, lo) {
		return ErrNotLearned
	}
	s.examples--
	for k, d := range ex {
		sub(s.exact, k, d)
	}
	for k, d := range lo {
		if sub(s.lower, k, d) {
			s.prefixesOf(k, -1)
		}
	}
	return nil
}

// add adds d to m[k] and reports whether k is new.
func add(m map[string][]uint32, k string, d []uint32) bool {
	c, ok := m[k]
	if !ok {
		c = make([]uint32, len(d))
		m[k] = c
	}
	for i, n := range d {
		c[i] += n
	}
	return !ok
}

// sub subtracts d from m[k], deletes k when all its counts are zero (a
// phrase counts as unlabeled only in texts where it was also labeled, so
// that is when no label count is left), and reports whether it did.
func sub(m map[string][]uint32, k string, d []uint32) bool {
	c := m[k]
	for i, n := range d {
		c[i] -= n
	}
	for _, n := range c {
		if n != 0 {
			return false
		}
	}
	delete(m, k)
	return true
}

// holds reports whether m holds at least the counts in ds.
func holds(m map[string][]uint32, ds map[string][]uint32) bool {
	for k, d := range ds {
		c, ok := m[k]
		if !ok {
			return false
		}
		for i, n := range d {
			if c[i] < n {
				return false
			}
		}
	}
	return true
}

// prefixesOf adds delta to the count of every word prefix of the
// lower-cased phrase k.
func (s *SpanSuggester) prefixesOf(k string, delta int) {
	for _, t := range tokenize(k, nil, true) {
		p := k[:t.b1]
		n := int(s.prefixes[p]) + delta
		if n <= 0 {
			delete(s.prefixes, p)
		} else {
			s.prefixes[p] = uint32(n)
		}
	}
}

// contributions returns what learning text with spans adds to the exact
// and the lower-cased dictionaries. It reads only its arguments and the
// fixed labels, so Learn and Unlearn of the same text always agree.
func (s *SpanSuggester) contributions(text string, spans []Span) (exact, lower map[string][]uint32) {
	sc := s.getScratch()
	defer s.scratch.Put(sc)
	toks := tokenize(text, sc.toks[:0], true)
	sc.toks = toks
	L := len(s.labels)
	exact, lower = map[string][]uint32{}, map[string][]uint32{}
	nr := utf8.RuneCountInString(text)
	// covered[t+1]-covered[t] is 1 when a span touches word t.
	covered := make([]int, len(toks)+1)
	lengths := 0 // bit n set: a phrase of n words was learned
	for _, sp := range spans {
		if sp.Start < 0 || sp.End > nr || sp.Start >= sp.End {
			continue
		}
		// Words the span touches are covered, whatever its label, so
		// that they do not count as unlabeled occurrences.
		a := sort.Search(len(toks), func(i int) bool { return toks[i].r1 > sp.Start })
		for t := a; t < len(toks) && toks[t].r0 < sp.End; t++ {
			covered[t+1] = 1
		}
		j, ok := s.col[sp.Label]
		if !ok {
			continue
		}
		// The phrase is the words wholly inside the span.
		for a < len(toks) && toks[a].r0 < sp.Start {
			a++
		}
		b := a
		for b < len(toks) && toks[b].r1 <= sp.End {
			b++
		}
		if b == a || b-a > MaxPhraseWords {
			continue
		}
		k := string(appendKey(nil, text, toks[a:b]))
		lk := string(appendLower(nil, k))
		if exact[k] == nil {
			exact[k] = make([]uint32, L+1)
		}
		if lower[lk] == nil {
			lower[lk] = make([]uint32, L+1)
		}
		exact[k][j]++
		lower[lk][j]++
		lengths |= 1 << (b - a)
	}
	for t := range toks {
		covered[t+1] += covered[t]
	}
	// Count the occurrences of the learned phrases that no span touches:
	// every run of n words, for each length n learned.
	var key, lkey []byte
	for n := 1; n <= MaxPhraseWords; n++ {
		if lengths&(1<<n) == 0 {
			continue
		}
		for i := 0; i+n <= len(toks); i++ {
			if covered[i+n] != covered[i] {
				continue
			}
			key = appendKey(key[:0], text, toks[i:i+n])
			if c := exact[string(key)]; c != nil {
				c[L]++
			}
			lkey = appendLower(lkey[:0], string(key))
			if c := lower[string(lkey)]; c != nil {
				c[L]++
			}
		}
	}
	return exact, lower
}

// appendKey appends the phrase of words ws of text: the words and the
// text between them (see appendSep).
func appendKey(dst []byte, text string, ws []token) []byte {
	for i, t := range ws {
		if i > 0 {
			dst = appendSep(dst, text[ws[i-1].b1:t.b0])
		}
		dst = append(dst, text[t.b0:t.b1]...)
	}
	return dst
}

// appendSep appends the text between two words of a phrase, with every
// run of white space written as one space.
func appendSep(dst []byte, sep string) []byte {
	space := false
	for _, r := range sep {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			dst = append(dst, ' ')
			space = false
		}
		dst = utf8.AppendRune(dst, r)
	}
	if space {
		dst = append(dst, ' ')
	}
	return dst
}

// Suggest returns the learned phrases found in text, as spans in text
// order that never overlap: at each word the longest learned phrase
// starting there wins, and the search goes on after it. A phrase matches
// whole words only ("Anna" is not found in "Annapolis"). Each span has the
// label the phrase carried most often, scored (c + 0.5) / (n + 1), where c
// is how often it carried that label and n how often it was seen in the
// texts where it was labeled (labeled or not), times CaseMismatchDiscount
// when it matched only ignoring case. Callers hide spans below their
// threshold.
func (s *SpanSuggester) Suggest(text string) []Span {
	sc := s.getScratch()
	defer s.scratch.Put(sc)
	toks := tokenize(text, sc.toks[:0], true)
	sc.toks = toks
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Span
	ex, lo, ends := sc.exact, sc.lower, sc.ends
	for i := 0; i < len(toks); {
		// Extend the phrase a word at a time while some learned phrase
		// starts with it; ends[n-1] is where the n-word phrase ends in
		// ex (as written) and lo (lower-cased).
		ex, lo, ends = ex[:0], lo[:0], ends[:0]
		for n := 1; n <= MaxPhraseWords && i+n <= len(toks); n++ {
			start := len(ex)
			if n > 1 {
				ex = appendSep(ex, text[toks[i+n-2].b1:toks[i+n-1].b0])
			}
			ex = append(ex, text[toks[i+n-1].b0:toks[i+n-1].b1]...)
			lo = appendLower(lo, string(ex[start:]))
			if s.prefixes[string(lo)] == 0 {
				break
			}
			ends = append(ends, [2]int{len(ex), len(lo)})
		}
		matched := 0
		for n := len(ends); n >= 1 && matched == 0; n-- {
			counts, discount := s.exact[string(ex[:ends[n-1][0]])], 1.0
			if counts == nil {
				counts, discount = s.lower[string(lo[:ends[n-1][1]])], CaseMismatchDiscount
			}
			if counts == nil {
				continue
			}
			j, score := s.best(counts)
			first, last := toks[i], toks[i+n-1]
			out = append(out, Span{Start: first.r0, End: last.r1, Label: s.labels[j], Text: text[first.b0:last.b1], Score: score * discount})
			matched = n
		}
		i += max(matched, 1)
	}
	sc.exact, sc.lower, sc.ends = ex, lo, ends
	return out
}

// best returns the label a phrase carried most often (the first in label
// order on a tie) and its score.
func (s *SpanSuggester) best(counts []uint32) (int, float64) {
	L := len(s.labels)
	j, seen := 0, float64(counts[L])
	for k, n := range counts[:L] {
		seen += float64(n)
		if n > counts[j] {
			j = k
		}
	}
	return j, (float64(counts[j]) + 0.5) / (seen + 1)
}

// spanScratch holds the buffers of one call, reused across calls.
type spanScratch struct {
	toks         []token
	exact, lower []byte
	ends         [][2]int
}

func (s *SpanSuggester) getScratch() *spanScratch {
	if sc, ok := s.scratch.Get().(*spanScratch); ok {
		return sc
	}
	return new(spanScratch)
}
