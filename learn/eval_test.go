package learn

import (
	"math"
	"slices"
)

// train returns a classifier over g's labels that learned examples.
func train(g *corpus, multi bool, examples []example) *Classifier {
	c := NewClassifier(g.names, multi)
	for _, e := range examples {
		c.Learn(e.text, e.given)
	}
	return c
}

// calibration sums predictions by score: per bin of width 1/len, how many
// predictions fell in it, their summed scores, and how many were right.
type calibration struct {
	n, sum, right []float64
	loss          float64 // summed negative log-likelihood
}

func newCalibration(bins int) *calibration {
	return &calibration{n: make([]float64, bins), sum: make([]float64, bins), right: make([]float64, bins)}
}

func (c *calibration) add(p float64, right bool) {
	b := min(len(c.n)-1, int(p*float64(len(c.n))))
	c.n[b]++
	c.sum[b] += p
	if right {
		c.right[b]++
		c.loss -= math.Log(max(p, 1e-12))
	} else {
		c.loss -= math.Log(max(1-p, 1e-12))
	}
}

func (c *calibration) merge(o *calibration) {
	for b := range c.n {
		c.n[b] += o.n[b]
		c.sum[b] += o.sum[b]
		c.right[b] += o.right[b]
	}
	c.loss += o.loss
}

// ece is the expected calibration error: the mean gap between score and
// accuracy, weighted by how many predictions each bin holds.
func (c *calibration) ece() float64 {
	total, gap := 0.0, 0.0
	for b := range c.n {
		total += c.n[b]
		gap += math.Abs(c.sum[b] - c.right[b])
	}
	return gap / total
}

// rate returns the share of right predictions among those scored in
// [lo, hi), and how many there were.
func (c *calibration) rate(lo, hi float64) (float64, int) {
	n, right := 0.0, 0.0
	for b := range c.n {
		if x := float64(b) / float64(len(c.n)); x >= lo-1e-9 && x < hi-1e-9 {
			n += c.n[b]
			right += c.right[b]
		}
	}
	return right / max(n, 1), int(n)
}

// evaluation is how a classifier did on held-out examples: accuracy of
// its top label (single-label) or micro-averaged F1 of the labels scored
// at least 0.5 (multi-label), against the true labels; and calibration of
// its scores against the labels a labeler gave (which is what a
// suggestion is judged by): the top label's score for single-label, every
// label's score for multi-label.
type evaluation struct {
	quality float64
	cal     *calibration
}

func evaluate(c *Classifier, test []example) evaluation {
	ev := evaluation{cal: newCalibration(10)}
	var right, tp, fp, fn float64
	for _, e := range test {
		p := c.Predict(e.text)
		if !c.Multi() {
			if p[0].Label == e.truth[0] {
				right++
			}
			ev.cal.add(p[0].P, p[0].Label == e.given[0])
			continue
		}
		for _, s := range p {
			has := slices.Contains(e.truth, s.Label)
			switch {
			case s.P >= 0.5 && has:
				tp++
			case s.P >= 0.5:
				fp++
			case has:
				fn++
			}
			ev.cal.add(s.P, slices.Contains(e.given, s.Label))
		}
	}
	if c.Multi() {
		ev.quality = 2 * tp / max(2*tp+fp+fn, 1)
	} else {
		ev.quality = right / float64(len(test))
	}
	return ev
}
