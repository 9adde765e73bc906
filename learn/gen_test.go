package learn

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// corpus generates labeled texts: each topic has its own words and
// two-word phrases (some words shared with the next topic, so that
// topics overlap), and every text is mostly noise words shared by all
// topics. Words are made-up syllable strings, drawn with Zipf-like
// frequencies, so that the data looks like text to the tokeniser: a
// vocabulary with a long tail, and words that come in pairs.
type corpus struct {
	rng     *rand.Rand
	topics  [][]string // words of each topic
	phrases [][]string // two-word phrases of each topic, "w1 w2"
	noise   []string
	names   []string
	// pTopic is the chance that a word of a text comes from its topics.
	pTopic float64
	// noiseRate is the chance that a label is wrong (single-label: a
	// random other label; multi-label: a flipped option).
	noiseRate float64
	// weights are the topics' shares of single-label texts.
	weights []float64
}

// newCorpus returns a generator of k topics, seeded for repeatable tests.
func newCorpus(seed uint64, k int) *corpus {
	c := &corpus{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), pTopic: 0.3, noiseRate: 0.06}
	seen := map[string]bool{}
	word := func() string {
		syl := []string{"ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "ve", "zu", "bra", "dri", "fen", "gol", "har", "jut", "kes", "lum", "mor", "nix", "pol", "qua", "sel", "tam", "vor", "wyn"}
		for {
			n := 2 + c.rng.IntN(2)
			var b strings.Builder
			for range n {
				b.WriteString(syl[c.rng.IntN(len(syl))])
			}
			if w := b.String(); !seen[w] {
				seen[w] = true
				return w
			}
		}
	}
	for range 300 {
		c.noise = append(c.noise, word())
	}
	for i := range k {
		var ws, ps []string
		for range 50 {
			ws = append(ws, word())
		}
		for range 10 {
			ps = append(ps, word()+" "+word())
		}
		c.topics = append(c.topics, ws)
		c.phrases = append(c.phrases, ps)
		c.names = append(c.names, "topic"+string(rune('A'+i)))
		c.weights = append(c.weights, float64(k-i)) // unbalanced: A is the most common
	}
	// Topics overlap: each lends 10 of its words to the next.
	for i := range k {
		next := (i + 1) % k
		c.topics[next] = append(c.topics[next], c.topics[i][:10]...)
	}
	return c
}

// zipf draws an index in [0, n) with probability about 1/(i+1).
func (c *corpus) zipf(n int) int {
	// Inverse of the continuous approximation: i = n^u − 1.
	return min(n-1, int(math.Pow(float64(n+1), c.rng.Float64()))-1)
}

// text returns a text of 8–30 words on the given topics.
func (c *corpus) text(topics []int) string {
	n := 8 + c.rng.IntN(23)
	words := make([]string, 0, n+1)
	for len(words) < n {
		if c.rng.Float64() >= c.pTopic {
			words = append(words, c.noise[c.zipf(len(c.noise))])
			continue
		}
		t := topics[c.rng.IntN(len(topics))]
		if c.rng.Float64() < 0.2 {
			words = append(words, c.phrases[t][c.zipf(len(c.phrases[t]))])
		} else {
			words = append(words, c.topics[t][c.zipf(len(c.topics[t]))])
		}
	}
	return strings.Join(words, " ")
}

// example is a generated text with its true labels and the labels a
// (sometimes wrong) labeler gave it.
type example struct {
	text         string
	truth, given []string
}

// single returns n single-label examples.
func (c *corpus) single(n int) []example {
	out := make([]example, n)
	total := 0.0
	for _, w := range c.weights {
		total += w
	}
	for i := range out {
		u, t := c.rng.Float64()*total, 0
		for u >= c.weights[t] {
			u -= c.weights[t]
			t++
		}
		given := t
		if c.rng.Float64() < c.noiseRate {
			given = (t + 1 + c.rng.IntN(len(c.names)-1)) % len(c.names)
		}
		out[i] = example{c.text([]int{t}), []string{c.names[t]}, []string{c.names[given]}}
	}
	return out
}

// multi returns n multi-label examples: each option is present with
// chance 0.3, at least one per text.
func (c *corpus) multi(n int) []example {
	out := make([]example, n)
	for i := range out {
		var on []int
		for len(on) == 0 {
			for t := range c.names {
				if c.rng.Float64() < 0.3 {
					on = append(on, t)
				}
			}
		}
		var truth, given []string
		for t, name := range c.names {
			has := slices.Contains(on, t)
			if has {
				truth = append(truth, name)
			}
			if has != (c.rng.Float64() < c.noiseRate) {
				given = append(given, name)
			}
		}
		out[i] = example{c.text(on), truth, given}
	}
	return out
}
