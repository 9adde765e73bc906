package learn

import (
	"math"
	"slices"
	"sort"
	"sync"
)

// BucketBits fixes the number of hash buckets features are counted in:
// 1<<BucketBits. It bounds the memory of a classifier whatever the size of
// the texts, and is part of the snapshot format.
const BucketBits = 18

// Smoothing and calibration.
//
// Naive Bayes counts every word as independent evidence, and a word also
// appears in two bigrams, so its raw probabilities are too sure: on
// generated data (TestTemperature) its suggestions scored in [0.6, 0.8)
// were right only 47% of the time (51% multi-label), and its mean
// calibration error was 0.10 (0.16). The summed log-likelihood of a text's
// features is therefore divided by a temperature before it becomes a
// probability (the label prior is not): with the temperatures below those
// suggestions are right 69% (72%) of the time, and the calibration error
// is 0.06 (0.07). Tempering by the number of words instead fitted no
// better. A multi-label model needs more tempering: a text's words of the
// other labels count as evidence too, and "absent" is a mixture of topics,
// which naive Bayes models worst. The temperatures were fitted on
// generated data only; real text, whose words depend on each other more,
// may want more.
const (
	// Alpha is the Lidstone smoothing added to every feature count.
	Alpha = 0.25
	// SingleTemperature tempers a single-label classifier.
	SingleTemperature = 3.0
	// MultiTemperature tempers a multi-label classifier.
	MultiTemperature = 4.0
)

// Scored is a label with its probability.
type Scored struct {
	Label string
	P     float64
}

// Classifier suggests labels for a choice or multichoice block from text.
//
// It is a multinomial naive Bayes classifier over the distinct (each
// counted once per text) lower-cased words and word pairs (bigrams) of a
// text, hashed into 1<<BucketBits buckets with
// FNV-1a. With one label per example (a choice block) it is a multinomial
// model over the labels; with several (a multichoice block) it is one
// present/absent model per label. Counts are whole numbers, so Unlearn
// undoes Learn exactly.
//
// A Classifier is safe for concurrent use.
type Classifier struct {
	mu     sync.RWMutex
	labels []string
	col    map[string]int // label → column
	multi  bool
	width  int // len(labels)+1: a column per label, then one for all examples

	// rows[r*width+j] counts the examples of label j holding the feature
	// whose bucket maps to row r; column len(labels) counts all examples.
	rows   []uint32
	row    map[uint32]int32
	docs   []int   // examples per column
	tokens []int64 // feature occurrences per column (the sum of its rows)
	vocab  int     // buckets seen in at least one example held now

	temperature float64      // a field, not the constant, so that tests can vary it
	logA        [256]float64 // log(n + Alpha) for small n
	scratch     sync.Pool    // of *scratch
}

// NewClassifier returns an empty classifier over labels, for one label per
// example, or several when multi is true. Duplicate labels count once.
func NewClassifier(labels []string, multi bool) *Classifier {
	c := &Classifier{col: map[string]int{}, multi: multi, row: map[uint32]int32{}, temperature: SingleTemperature}
	if multi {
		c.temperature = MultiTemperature
	}
	for _, l := range labels {
		if _, ok := c.col[l]; !ok {
			c.col[l] = len(c.labels)
			c.labels = append(c.labels, l)
		}
	}
	c.width = len(c.labels) + 1
	c.docs = make([]int, c.width)
	c.tokens = make([]int64, c.width)
	for i := range c.logA {
		c.logA[i] = math.Log(float64(i) + Alpha)
	}
	return c
}

// Labels returns the classifier's labels, in the order it was given them.
func (c *Classifier) Labels() []string { return slices.Clone(c.labels) }

// Multi reports whether an example may carry several labels.
func (c *Classifier) Multi() bool { return c.multi }

// Examples returns how many examples the classifier holds.
func (c *Classifier) Examples() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.docs[len(c.labels)]
}

// columns returns the columns of the known labels among labels: at most one
// (the first known) for a single-label classifier.
func (c *Classifier) columns(labels []string) []int {
	var cols []int
	for _, l := range labels {
		j, ok := c.col[l]
		if !ok || slices.Contains(cols, j) {
			continue
		}
		cols = append(cols, j)
		if !c.multi {
			break
		}
	}
	return cols
}

// Learn adds an example: a text and its labels. Labels the classifier does
// not know are ignored. A single-label classifier learns the first known
// label only, and ignores an example with none; a multi-label classifier
// learns an example with no known label as one where every label is
// absent.
func (c *Classifier) Learn(text string, labels []string) {
	cols := c.columns(labels)
	if !c.multi && len(cols) == 0 {
		return
	}
	sc := c.getScratch()
	defer c.scratch.Put(sc)
	feats := sc.features(text)
	all := len(c.labels)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range feats {
		r, ok := c.row[f]
		if !ok {
			r = int32(len(c.rows) / c.width)
			c.row[f] = r
			c.rows = append(c.rows, make([]uint32, c.width)...)
		}
		base := int(r) * c.width
		for _, j := range cols {
			c.rows[base+j]++
		}
		if c.rows[base+all] == 0 {
			c.vocab++
		}
		c.rows[base+all]++
	}
	for _, j := range append(cols, all) {
		c.docs[j]++
		c.tokens[j] += int64(len(feats))
	}
}

// Unlearn removes an example learned before with the same text and labels,
// leaving the classifier exactly as if it had never learned it. It returns
// ErrNotLearned, and changes nothing, when the counts show that no such
// example is held.
func (c *Classifier) Unlearn(text string, labels []string) error {
	cols := c.columns(labels)
	if !c.multi && len(cols) == 0 {
		return nil // Learn ignored it too
	}
	sc := c.getScratch()
	defer c.scratch.Put(sc)
	feats := sc.features(text)
	all := len(c.labels)
	cols = append(cols, all)
	c.mu.Lock()
	defer c.mu.Unlock()
	// Check everything first, so that a refused Unlearn changes nothing.
	for _, j := range cols {
		if c.docs[j] < 1 || c.tokens[j] < int64(len(feats)) {
			return ErrNotLearned
		}
	}
	for _, f := range feats {
		r, ok := c.row[f]
		if !ok {
			return ErrNotLearned
		}
		for _, j := range cols {
			if c.rows[int(r)*c.width+j] == 0 {
				return ErrNotLearned
			}
		}
	}
	for _, f := range feats {
		base := int(c.row[f]) * c.width
		for _, j := range cols {
			c.rows[base+j]--
		}
		if c.rows[base+all] == 0 {
			c.vocab--
		}
	}
	for _, j := range cols {
		c.docs[j]--
		c.tokens[j] -= int64(len(feats))
	}
	return nil
}

// Predict returns every label with its probability, most probable first
// (ties in the order of the labels). For a single-label classifier the
// probabilities sum to 1; for a multi-label one each is the probability
// that the label is present. With no examples learned they are uniform
// (0.5 each for multi-label); a text with no known words gets the share
// of each label among the examples (smoothed).
func (c *Classifier) Predict(text string) []Scored {
	sc := c.getScratch()
	defer c.scratch.Put(sc)
	feats := sc.features(text)
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Scored, len(c.labels))
	for j, l := range c.labels {
		out[j].Label = l
	}
	if c.multi {
		c.predictMulti(feats, out)
	} else {
		c.predictSingle(feats, out)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].P > out[b].P })
	return out
}

func (c *Classifier) log(n uint32) float64 {
	if n < uint32(len(c.logA)) {
		return c.logA[n]
	}
	return math.Log(float64(n) + Alpha)
}

func (c *Classifier) predictSingle(feats []uint32, out []Scored) {
	L, all := len(c.labels), len(c.labels)
	if L == 0 {
		return
	}
	if c.docs[all] == 0 {
		for j := range out {
			out[j].P = 1 / float64(L)
		}
		return
	}
	ll := make([]float64, L)
	m := 0 // features seen in training
	for _, f := range feats {
		r, ok := c.row[f]
		if !ok {
			continue
		}
		row := c.rows[int(r)*c.width : int(r+1)*c.width]
		if row[all] == 0 {
			continue
		}
		m++
		for j := range L {
			ll[j] += c.log(row[j])
		}
	}
	v := Alpha * float64(c.vocab)
	s := 1 / c.temperature
	logN := math.Log(float64(c.docs[all] + L))
	best := math.Inf(-1)
	for j := range L {
		ll[j] -= float64(m) * math.Log(float64(c.tokens[j])+v)
		ll[j] = math.Log(float64(c.docs[j]+1)) - logN + s*ll[j]
		best = max(best, ll[j])
	}
	sum := 0.0
	for j := range L {
		out[j].P = math.Exp(ll[j] - best)
		sum += out[j].P
	}
	for j := range L {
		out[j].P /= sum
	}
}

func (c *Classifier) predictMulti(feats []uint32, out []Scored) {
	L, all := len(c.labels), len(c.labels)
	n := c.docs[all]
	if n == 0 {
		for j := range out {
			out[j].P = 0.5
		}
		return
	}
	ll := make([]float64, L)
	m := 0
	for _, f := range feats {
		r, ok := c.row[f]
		if !ok {
			continue
		}
		row := c.rows[int(r)*c.width : int(r+1)*c.width]
		t := row[all]
		if t == 0 {
			continue
		}
		m++
		for j := range L {
			ll[j] += c.log(row[j]) - c.log(t-row[j])
		}
	}
	v := Alpha * float64(c.vocab)
	s := 1 / c.temperature
	for j := range L {
		pos, neg := float64(c.tokens[j]), float64(c.tokens[all]-c.tokens[j])
		ll[j] += float64(m) * (math.Log(neg+v) - math.Log(pos+v))
		logit := math.Log(float64(c.docs[j]+1)) - math.Log(float64(n-c.docs[j]+1)) + s*ll[j]
		out[j].P = 1 / (1 + math.Exp(-logit))
	}
}

// Margin returns how sure the classifier is about text, from 0 (a toss-up)
// to 1: for a single-label classifier the difference between the two most
// probable labels, for a multi-label one the least sure label's
// |P − 0.5|·2. The uncertainty queue puts the lowest margins first.
func (c *Classifier) Margin(text string) float64 { return c.MarginOf(c.Predict(text)) }

// MarginOf returns the margin (see Margin) of scores as Predict returned
// them, for a caller that already has them.
func (c *Classifier) MarginOf(scores []Scored) float64 {
	if c.multi {
		m := 1.0
		for _, s := range scores {
			m = min(m, math.Abs(s.P-0.5)*2)
		}
		return m
	}
	switch len(scores) {
	case 0:
		return 0
	case 1:
		return 1
	}
	top, second := scores[0].P, scores[1].P
	if second > top { // not sorted as Predict sorts
		top, second = second, top
	}
	for _, s := range scores[2:] {
		if s.P > top {
			top, second = s.P, top
		} else if s.P > second {
			second = s.P
		}
	}
	return top - second
}

// scratch holds the buffers of one text's features, reused across calls.
type scratch struct {
	toks  []token
	lower []byte
	ends  []int // end of each lower-cased word in lower
	feats []uint32
}

// getScratch takes buffers from the pool, or makes new ones.
func (c *Classifier) getScratch() *scratch {
	if s, ok := c.scratch.Get().(*scratch); ok {
		return s
	}
	return new(scratch)
}

// features returns the distinct buckets of text's lower-cased words and
// word pairs, sorted. It reuses sc's buffers: the result is valid until the
// next call.
func (sc *scratch) features(text string) []uint32 {
	sc.toks = tokenize(text, sc.toks[:0], false)
	sc.lower, sc.ends, sc.feats = sc.lower[:0], sc.ends[:0], sc.feats[:0]
	for _, t := range sc.toks {
		sc.lower = appendLower(sc.lower, text[t.b0:t.b1])
		sc.ends = append(sc.ends, len(sc.lower))
	}
	start := 0
	var prev uint64
	for i, end := range sc.ends {
		h := fnvBytes(fnvOffset, sc.lower[start:end])
		sc.feats = append(sc.feats, fold(h, BucketBits))
		if i > 0 {
			// A bigram hashes as "first second": continue the first
			// word's hash over a space and the second word.
			b := fnvBytes(fnvByte(prev, ' '), sc.lower[start:end])
			sc.feats = append(sc.feats, fold(b, BucketBits))
		}
		prev, start = h, end
	}
	slices.Sort(sc.feats)
	sc.feats = slices.Compact(sc.feats)
	return sc.feats
}
