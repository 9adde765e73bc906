package learn

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestAccuracyRisesWithLabels trains on more and more labeled examples of
// generated text (4 topics of unequal size that share some words, 6% of
// the labels wrong) and checks accuracy (single-label) or micro-F1
// (multi-label) against the true labels of 2000 held-out texts, averaged
// over three generated corpora.
func TestAccuracyRisesWithLabels(t *testing.T) {
	for _, multi := range []bool{false, true} {
		name := map[bool]string{false: "single", true: "multi"}[multi]
		t.Run(name, func(t *testing.T) {
			sizes := []int{10, 50, 200, 1000}
			got := make([]float64, len(sizes))
			chance := 0.0
			for _, seed := range []uint64{1, 2, 3} {
				for i, n := range sizes {
					g := newCorpus(seed, 4)
					var tr, test []example
					if multi {
						tr, test = g.multi(n), g.multi(2000)
					} else {
						tr, test = g.single(n), g.single(2000)
					}
					got[i] += evaluate(train(g, multi, tr), test).quality / 3
					if i == 0 {
						// Chance is the best constant guess: the most
						// common topic (40% of texts) for single-label;
						// every label for multi-label.
						if multi {
							chance += markAll(test) / 3
						} else {
							chance += 0.4 / 3
						}
					}
				}
			}
			for i, n := range sizes {
				t.Logf("%s, %4d labels: %s %.3f (chance %.3f)", name, n, map[bool]string{false: "accuracy", true: "micro-F1"}[multi], got[i], chance)
			}
			for i := 1; i < len(sizes); i++ {
				if got[i] <= got[i-1] {
					t.Errorf("%d labels: %.3f, not above %.3f at %d labels", sizes[i], got[i], got[i-1], sizes[i-1])
				}
			}
			if got[1] < chance+0.05 {
				t.Errorf("50 labels: %.3f, not above chance (%.3f)", got[1], chance)
			}
			floor := map[bool]float64{false: 0.85, true: 0.80}[multi]
			if got[3] < floor {
				t.Errorf("1000 labels: %.3f, want at least %.2f", got[3], floor)
			}
		})
	}
}

// markAll returns the micro-F1 of marking every label of every example.
func markAll(test []example) float64 {
	present, all := 0.0, 0.0
	for _, e := range test {
		present += float64(len(e.truth))
		all += 4
	}
	precision := present / all
	return 2 * precision / (precision + 1)
}

// TestCalibration checks that scores behave like probabilities on
// held-out generated data (three corpora, 1000 examples learned each): suggestions scored in [0.6, 0.8) are right
// about 70% of the time, and the calibration error is small.
func TestCalibration(t *testing.T) {
	for _, multi := range []bool{false, true} {
		cal := newCalibration(10)
		for _, seed := range []uint64{1, 2, 3} {
			g := newCorpus(seed, 4)
			var tr, test []example
			if multi {
				tr, test = g.multi(1000), g.multi(2000)
			} else {
				tr, test = g.single(1000), g.single(2000)
			}
			cal.merge(evaluate(train(g, multi, tr), test).cal)
		}
		for _, band := range [][2]float64{{0.6, 0.8}, {0.8, 0.9}, {0.9, 1}} {
			rate, n := cal.rate(band[0], band[1])
			t.Logf("multi=%v: %4d scored in [%.1f, %.1f): %.3f right", multi, n, band[0], band[1], rate)
			if n < 100 {
				t.Errorf("multi=%v: only %d predictions in [%.1f, %.1f)", multi, n, band[0], band[1])
			}
			if rate < band[0]-0.1 || rate > band[1]+0.1 {
				t.Errorf("multi=%v: predictions scored in [%.1f, %.1f) were right %.3f of the time", multi, band[0], band[1], rate)
			}
		}
		t.Logf("multi=%v: calibration error %.3f", multi, cal.ece())
		if e := cal.ece(); e > 0.07 {
			t.Errorf("multi=%v: calibration error %.3f, want at most 0.07", multi, e)
		}
	}
}

// TestTemperature shows how the temperatures were chosen: on held-out
// generated data of three kinds (clear topics with 6% of the labels wrong,
// faint topics with 2%, clear topics with none), three seeds and three
// training sizes (50, 200, 1000), the chosen temperature has a mean
// calibration error within 0.015 of the best on a grid, and suggestions
// it scores in [0.6, 0.8) are right 65–75% of the time. Untempered naive
// Bayes (temperature 1) is far worse.
func TestTemperature(t *testing.T) {
	if testing.Short() {
		t.Skip("fits temperatures")
	}
	grid := []float64{1, 2, 3, 4, 5, 6, 8}
	for _, multi := range []bool{false, true} {
		ece := make([]float64, len(grid))
		mid := make([]float64, len(grid))
		runs := 0.0
		for _, kind := range []struct{ pTopic, noise float64 }{{0.3, 0.06}, {0.15, 0.02}, {0.3, 0}} {
			for _, seed := range []uint64{1, 2, 3} {
				for _, n := range []int{50, 200, 1000} {
					g := newCorpus(seed, 4)
					g.pTopic, g.noiseRate = kind.pTopic, kind.noise
					var tr, test []example
					if multi {
						tr, test = g.multi(n), g.multi(1500)
					} else {
						tr, test = g.single(n), g.single(1500)
					}
					c := train(g, multi, tr)
					for i, temp := range grid {
						c.temperature = temp
						cal := evaluate(c, test).cal
						ece[i] += cal.ece()
						r, _ := cal.rate(0.6, 0.8)
						mid[i] += r
					}
					runs++
				}
			}
		}
		chosen := map[bool]float64{false: SingleTemperature, true: MultiTemperature}[multi]
		t.Logf("multi=%v, over %v runs:", multi, runs)
		for i, temp := range grid {
			ece[i] /= runs
			mid[i] /= runs
			t.Logf("  temperature %2v: calibration error %.3f, scored [0.6, 0.8) right %.3f", temp, ece[i], mid[i])
		}
		i := slices.Index(grid, chosen)
		if best := slices.Min(ece); ece[i] > best+0.015 {
			t.Errorf("multi=%v: temperature %v has mean calibration error %.3f; the best on the grid has %.3f", multi, chosen, ece[i], best)
		}
		if mid[i] < 0.65 || mid[i] > 0.75 {
			t.Errorf("multi=%v: temperature %v: scored [0.6, 0.8) right %.3f", multi, chosen, mid[i])
		}
		if ece[0] < ece[i]+0.03 {
			t.Errorf("multi=%v: untempered naive Bayes (%.3f) is about as calibrated as tempered (%.3f)", multi, ece[0], ece[i])
		}
	}
}

func TestNoDataAndEmptyText(t *testing.T) {
	labels := []string{"pos", "neg", "neutral"}
	single, multi := NewClassifier(labels, false), NewClassifier(labels, true)
	for _, p := range single.Predict("anything at all") {
		if p.P != 1.0/3 {
			t.Errorf("untrained single: %s = %v, want 1/3", p.Label, p.P)
		}
	}
	for _, p := range multi.Predict("anything at all") {
		if p.P != 0.5 {
			t.Errorf("untrained multi: %s = %v, want 0.5", p.Label, p.P)
		}
	}
	if m := single.Margin("x"); m != 0 {
		t.Errorf("untrained single margin = %v, want 0", m)
	}
	for range 6 {
		single.Learn("a fine film", []string{"pos"})
		multi.Learn("a fine film", []string{"pos"})
	}
	for range 2 {
		single.Learn("a poor film", []string{"neg"})
		multi.Learn("a poor film", []string{"neg", "neutral"})
	}
	// An empty text, or one of unseen words only, gets the smoothed
	// prior: (examples of the label + 1) / (examples + labels).
	wantSingle := map[string]float64{"pos": 7.0 / 11, "neg": 3.0 / 11, "neutral": 1.0 / 11}
	wantMulti := map[string]float64{"pos": 7.0 / 10, "neg": 3.0 / 10, "neutral": 3.0 / 10}
	for _, text := range []string{"", "   ", "zebra quantum"} {
		for _, p := range single.Predict(text) {
			if math.Abs(p.P-wantSingle[p.Label]) > 1e-12 {
				t.Errorf("single %q: %s = %v, want %v", text, p.Label, p.P, wantSingle[p.Label])
			}
		}
		for _, p := range multi.Predict(text) {
			if math.Abs(p.P-wantMulti[p.Label]) > 1e-12 {
				t.Errorf("multi %q: %s = %v, want %v", text, p.Label, p.P, wantMulti[p.Label])
			}
		}
	}
	p := single.Predict("a fine film")
	sum := 0.0
	for _, s := range p {
		sum += s.P
	}
	if math.Abs(sum-1) > 1e-12 || p[0].Label != "pos" || !slices.IsSortedFunc(p, func(a, b Scored) int { return -cmpFloat(a.P, b.P) }) {
		t.Errorf("Predict = %v: want sorted, summing to 1, pos first", p)
	}
	if p := multi.Predict("a poor film"); p[0].Label == "pos" || p[2].Label != "pos" {
		t.Errorf("multi Predict(a poor film) = %v: want neg and neutral above pos", p)
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestUnknownLabels(t *testing.T) {
	c := NewClassifier([]string{"a", "b"}, false)
	c.Learn("some text", []string{"zzz"})
	c.Learn("some text", nil)
	if n := c.Examples(); n != 0 {
		t.Errorf("single-label learned %d examples without a known label, want 0", n)
	}
	c.Learn("some text", []string{"zzz", "b", "a"}) // the first known label
	if p := c.Predict("some text"); p[0].Label != "b" {
		t.Errorf("Predict = %v, want b first", p)
	}
	m := NewClassifier([]string{"a", "b"}, true)
	m.Learn("some text", nil)
	m.Learn("some text", []string{"zzz", "a", "a"})
	if n := m.Examples(); n != 2 {
		t.Errorf("multi-label Examples = %d, want 2", n)
	}
}

// probes are texts to compare predictions on.
func probes(g *corpus) []string {
	var out []string
	for _, e := range g.single(30) {
		out = append(out, e.text)
	}
	return append(out, "", "unseen words only", strings.Repeat(g.topics[0][0]+" ", 40))
}

func samePredictions(t *testing.T, what string, a, b *Classifier, texts []string) {
	t.Helper()
	for _, text := range texts {
		pa, pb := a.Predict(text), b.Predict(text)
		if !slices.Equal(pa, pb) { // exactly: bit for bit
			t.Fatalf("%s: predictions differ on %q:\n%v\n%v", what, text, pa, pb)
		}
	}
}

func snapshot(t *testing.T, m interface{ MarshalBinary() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUnlearn checks that Unlearn restores the exact state: an edited
// annotation (Unlearn the old version, Learn the new) leaves the
// classifier as if only the new version had been learned.
func TestUnlearn(t *testing.T) {
	for _, multi := range []bool{false, true} {
		g := newCorpus(4, 4)
		var base, extra []example
		if multi {
			base, extra = g.multi(300), g.multi(50)
		} else {
			base, extra = g.single(300), g.single(50)
		}
		texts := probes(g)
		c := train(g, multi, base)
		before := snapshot(t, c)
		for _, e := range extra {
			c.Learn(e.text, e.given)
		}
		for _, e := range slices.Backward(extra) {
			if err := c.Unlearn(e.text, e.given); err != nil {
				t.Fatal(err)
			}
		}
		if after := snapshot(t, c); !bytes.Equal(before, after) {
			t.Errorf("multi=%v: state after Learn then Unlearn differs", multi)
		}
		samePredictions(t, "learn then unlearn", c, train(g, multi, base), texts)

		// Edit: the first example's label changes.
		edited := slices.Clone(base)
		edited[0].given = []string{g.names[(slices.Index(g.names, base[0].given[0])+1)%4]}
		if err := c.Unlearn(base[0].text, base[0].given); err != nil {
			t.Fatal(err)
		}
		c.Learn(edited[0].text, edited[0].given)
		fresh := train(g, multi, edited)
		samePredictions(t, "edit", c, fresh, texts)
		if c.Examples() != fresh.Examples() || !bytes.Equal(snapshot(t, c), snapshot(t, fresh)) {
			t.Errorf("multi=%v: edited classifier differs from one trained on the edited data", multi)
		}

		// Forgetting what was never learned is refused and changes nothing.
		before = snapshot(t, c)
		if err := c.Unlearn("words never seen anywhere", []string{g.names[0]}); !errors.Is(err, ErrNotLearned) {
			t.Errorf("multi=%v: Unlearn of unseen words = %v, want ErrNotLearned", multi, err)
		}
		if !multi {
			wrong := g.names[(slices.Index(g.names, edited[1].given[0])+2)%4]
			if err := c.Unlearn(edited[1].text, []string{wrong}); !errors.Is(err, ErrNotLearned) {
				t.Errorf("Unlearn with another label = %v, want ErrNotLearned", err)
			}
		}
		if !bytes.Equal(before, snapshot(t, c)) {
			t.Errorf("multi=%v: a refused Unlearn changed the state", multi)
		}
	}
	empty := NewClassifier([]string{"a"}, false)
	if err := empty.Unlearn("x", []string{"a"}); !errors.Is(err, ErrNotLearned) {
		t.Errorf("Unlearn on an empty classifier = %v, want ErrNotLearned", err)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, multi := range []bool{false, true} {
		g := newCorpus(5, 4)
		var tr []example
		if multi {
			tr = g.multi(500)
		} else {
			tr = g.single(500)
		}
		c := train(g, multi, tr)
		b := snapshot(t, c)
		if !bytes.Equal(b, snapshot(t, c)) {
			t.Errorf("multi=%v: two snapshots of one state differ", multi)
		}
		d := NewClassifier(g.names, multi)
		if err := d.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		samePredictions(t, "round trip", c, d, probes(g))
		if d.Examples() != 500 || !bytes.Equal(b, snapshot(t, d)) {
			t.Errorf("multi=%v: the restored classifier's snapshot differs", multi)
		}
		// It goes on learning and forgetting like the original.
		for _, e := range g.single(20) {
			c.Learn(e.text, e.given)
			d.Learn(e.text, e.given)
		}
		if err := d.Unlearn(tr[0].text, tr[0].given); err != nil {
			t.Errorf("multi=%v: Unlearn after restore: %v", multi, err)
		}
		c.Unlearn(tr[0].text, tr[0].given)
		samePredictions(t, "learning after restore", c, d, probes(g))
		t.Logf("multi=%v: snapshot of 500 examples: %d bytes", multi, len(b))
	}
}

// TestSnapshotLabelsChange loads a snapshot into a classifier whose
// config dropped a label and added one: it is as if it had been trained
// without the dropped label, and the new one starts at zero.
func TestSnapshotLabelsChange(t *testing.T) {
	for _, multi := range []bool{false, true} {
		g := newCorpus(6, 4)
		var tr []example
		if multi {
			tr = g.multi(400)
		} else {
			tr = g.single(400)
		}
		old := train(g, multi, tr)
		labels := []string{"new", g.names[3], g.names[0], g.names[2]} // B dropped, reordered
		got := NewClassifier(labels, multi)
		if err := got.UnmarshalBinary(snapshot(t, old)); err != nil {
			t.Fatal(err)
		}
		want := NewClassifier(labels, multi)
		for _, e := range tr {
			want.Learn(e.text, e.given) // Learn ignores B, as the config does
		}
		samePredictions(t, "labels changed", got, want, probes(g))
		if got.Examples() != want.Examples() {
			t.Errorf("multi=%v: Examples = %d, want %d", multi, got.Examples(), want.Examples())
		}
		for _, p := range got.Predict(tr[0].text) {
			if p.Label == "new" && p.P > 0.05 {
				t.Errorf("multi=%v: a label with no examples scores %v", multi, p.P)
			}
		}
	}
}

func TestSnapshotErrors(t *testing.T) {
	c := NewClassifier([]string{"a", "b"}, false)
	c.Learn("good film", []string{"a"})
	c.Learn("bad film", []string{"b"})
	good := snapshot(t, c)
	versioned := bytes.Clone(good)
	versioned[4] = ClassifierSnapshotVersion + 1
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	spans, _ := NewSpanSuggester([]string{"a"}).MarshalBinary()
	tests := []struct {
		name  string
		b     []byte
		multi bool
		want  error
	}{
		{"empty", nil, false, ErrSnapshot},
		{"garbage", []byte("hello, world"), false, ErrSnapshot},
		{"truncated", good[:len(good)-3], false, ErrSnapshot},
		{"damaged", flipped, false, ErrSnapshot},
		{"a span snapshot", spans, false, ErrSnapshot},
		{"future version", versioned, false, ErrSnapshotVersion},
		{"single into multi", good, true, ErrSnapshotMismatch},
	}
	for _, tt := range tests {
		d := NewClassifier([]string{"a", "b"}, tt.multi)
		d.Learn("keep me", []string{"a"})
		before := snapshot(t, d)
		err := d.UnmarshalBinary(tt.b)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		if !bytes.Equal(before, snapshot(t, d)) {
			t.Errorf("%s: a refused snapshot changed the classifier", tt.name)
		}
		t.Logf("%s: %v", tt.name, err)
	}
}

// TestMargin checks that texts mixing two topics get lower margins than
// texts of one topic, which is what the uncertainty queue relies on.
func TestMargin(t *testing.T) {
	for _, multi := range []bool{false, true} {
		g := newCorpus(7, 4)
		var tr []example
		if multi {
			tr = g.multi(1000)
		} else {
			tr = g.single(1000)
		}
		c := train(g, multi, tr)
		var clear, mixed float64
		lower := 0
		const n = 300
		for i := range n {
			a, b := i%4, (i+2)%4 // topics that share no words
			one := g.text([]int{a})
			two := g.text([]int{a, b})
			if multi {
				// Multi-label: a text of one clear topic is sure of
				// every label; one that is half noise is not.
				g.pTopic = 0.08
				two = g.text([]int{a})
				g.pTopic = 0.3
			}
			mc, mm := c.Margin(one), c.Margin(two)
			clear += mc / n
			mixed += mm / n
			if mm < mc {
				lower++
			}
		}
		t.Logf("multi=%v: mean margin %.3f for clear texts, %.3f for ambiguous ones; ambiguous lower in %d of %d pairs", multi, clear, mixed, lower, n)
		if mixed >= clear-0.15 || lower < n*2/3 {
			t.Errorf("multi=%v: ambiguous texts do not have clearly lower margins", multi)
		}
	}
	c := NewClassifier([]string{"a", "b", "c"}, false)
	if got := c.MarginOf([]Scored{{"a", 0.2}, {"b", 0.5}, {"c", 0.3}}); math.Abs(got-0.2) > 1e-12 {
		t.Errorf("MarginOf unsorted = %v, want 0.2", got)
	}
	m := NewClassifier([]string{"a", "b"}, true)
	if got := m.MarginOf([]Scored{{"a", 0.9}, {"b", 0.4}}); math.Abs(got-0.2) > 1e-12 {
		t.Errorf("multi MarginOf = %v, want 0.2", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	g := newCorpus(8, 4)
	c := train(g, false, g.single(200))
	ex := g.single(400)
	done := make(chan bool)
	for w := range 4 {
		go func() {
			for _, e := range ex[w*100 : (w+1)*100] {
				c.Learn(e.text, e.given)
				c.Predict(e.text)
			}
			done <- true
		}()
	}
	for range 4 {
		<-done
	}
	if n := c.Examples(); n != 600 {
		t.Errorf("Examples = %d, want 600", n)
	}
}
