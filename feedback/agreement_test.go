package feedback_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/feedback"
)

// agrInterface compiles an interface from the YAML of its blocks.
func agrInterface(t *testing.T, blocksYAML string) *blocks.Interface {
	t.Helper()
	cfg, err := blocks.ParseConfig([]byte("title: agreement\nblocks:\n" + blocksYAML))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return cfg.Interface()
}

// agrTable builds answers for one block from rows of a reliability table:
// one string per labeler, one space-separated value per item, "." for no
// answer. Values are JSON (quote strings).
func agrTable(block string, rows map[string]string) []feedback.ItemAnswers {
	var items []feedback.ItemAnswers
	for labeler, row := range rows {
		for i, v := range strings.Fields(row) {
			for len(items) <= i {
				items = append(items, feedback.ItemAnswers{Item: fmt.Sprint("item", len(items)+1), ByLabeler: map[string]map[string]json.RawMessage{}})
			}
			if v == "." {
				continue
			}
			items[i].ByLabeler[labeler] = map[string]json.RawMessage{block: json.RawMessage(v)}
		}
	}
	return items
}

// agrItem is one item's answers to one block: labeler → JSON value.
func agrItem(block string, values map[string]string) feedback.ItemAnswers {
	it := feedback.ItemAnswers{Item: "item", ByLabeler: map[string]map[string]json.RawMessage{}}
	for labeler, v := range values {
		it.ByLabeler[labeler] = map[string]json.RawMessage{}
		if v != "" {
			it.ByLabeler[labeler][block] = json.RawMessage(v)
		}
	}
	return it
}

func agrBlock(t *testing.T, r *feedback.AgreementReport, name string) *feedback.BlockAgreement {
	t.Helper()
	b, ok := r.Block(name)
	if !ok {
		t.Fatalf("no block %q in the report", name)
	}
	return b
}

// agrNear checks a figure to within 1e-9 (or to the published rounding).
func agrNear(t *testing.T, what string, got feedback.Figure, want, tol float64) {
	t.Helper()
	if !got.Defined() || math.Abs(float64(got)-want) > tol {
		t.Errorf("%s = %v, want %.4f (±%g)", what, got, want, tol)
	}
}

func agrUndefined(t *testing.T, what string, got feedback.Figure) {
	t.Helper()
	if got.Defined() {
		t.Errorf("%s = %v, want undefined", what, got)
	}
}

func agrPair(t *testing.T, b *feedback.BlockAgreement, a, c string) feedback.PairAgreement {
	t.Helper()
	for _, p := range b.Pairs {
		if p.A == a && p.B == c {
			return p
		}
	}
	t.Fatalf("block %s: no pair %s–%s in %+v", b.Block, a, c, b.Pairs)
	return feedback.PairAgreement{}
}

func agrLabeler(t *testing.T, b *feedback.BlockAgreement, name string) feedback.LabelerAgreement {
	t.Helper()
	for _, l := range b.Labelers {
		if l.Labeler == name {
			return l
		}
	}
	t.Fatalf("block %s: no labeler %s", b.Block, name)
	return feedback.LabelerAgreement{}
}

// Krippendorff's alpha, nominal, on the reliability data of K. Krippendorff,
// "Computing Krippendorff's Alpha-Reliability" (2011), University of
// Pennsylvania, https://repository.upenn.edu/asc_papers/43: 4 observers,
// 12 units, values 1–5, with missing values. The paper gives nominal
// α = 0.743; the krippendorff Python package prints the same for this
// matrix (0.743421… unrounded).
func TestAgreementKrippendorff2011(t *testing.T) {
	in := agrInterface(t, "  - {type: rating, name: r, scale: 5}\n")
	items := agrTable("r", map[string]string{
		"A": "1 2 3 3 2 1 4 1 2 . . .",
		"B": "1 2 3 3 2 2 4 1 2 5 . 3",
		"C": ". 3 3 3 2 3 4 2 2 5 1 .",
		"D": "1 2 3 3 2 4 4 1 2 5 1 .",
	})
	b := agrBlock(t, feedback.Agreement(in, items), "r")
	agrNear(t, "alpha", b.KrippendorffAlpha, 0.743, 0.0005)
	agrNear(t, "alpha (exact)", b.KrippendorffAlpha, 0.743421052631579, 1e-9)
	// Unit 12 has one value only: it drops out, leaving 11 units and the
	// paper's n = 40 pairable values.
	if b.Units != 12 || b.PairableUnits != 11 || b.Values != 40 {
		t.Errorf("units, pairable, values = %d, %d, %d; want 12, 11, 40", b.Units, b.PairableUnits, b.Values)
	}
	// Same data, checked by hand: the mean share of agreeing pairs, and
	// Fleiss' kappa with P_e from all 40 values.
	agrNear(t, "percent agreement", b.PercentAgreement, 0.8181818181818182, 1e-9)
	agrNear(t, "fleiss", b.FleissKappa, 0.7607655502392345, 1e-9)
}

// The computational example of the Wikipedia article "Krippendorff's
// alpha" (3 coders, 15 units, missing values), nominal α = 0.691, as the
// README of github.com/dallascard/krippendorff_alpha and the sample of
// the krippendorff Python package reproduce it.
func TestAgreementKrippendorffWikipedia(t *testing.T) {
	in := agrInterface(t, "  - {type: rating, name: r, scale: 5}\n")
	items := agrTable("r", map[string]string{
		"A": ". . . . . 3 4 1 2 1 1 3 3 . 3",
		"B": "1 . 2 1 3 3 4 3 . . . . . . .",
		"C": ". . 2 1 3 4 4 . 2 1 1 3 3 . 4",
	})
	b := agrBlock(t, feedback.Agreement(in, items), "r")
	agrNear(t, "alpha", b.KrippendorffAlpha, 0.691, 0.0005)
}

// Fleiss' kappa on the worked example of the Wikipedia article "Fleiss'
// kappa": 10 subjects, 14 raters each, 5 categories; P̄ = 0.378,
// P_e = 0.213, κ = 0.210 (statsmodels tests its fleiss_kappa against the
// same table: statsmodels/stats/tests/test_inter_rater.py, kappa_wp).
func TestAgreementFleissWikipedia(t *testing.T) {
	in := agrInterface(t, "  - {type: choice, name: c, options: ['1', '2', '3', '4', '5']}\n")
	table := [][5]int{
		{0, 0, 0, 0, 14},
		{0, 2, 6, 4, 2},
		{0, 0, 3, 5, 6},
		{0, 3, 9, 2, 0},
		{2, 2, 8, 1, 1},
		{7, 7, 0, 0, 0},
		{3, 2, 6, 3, 0},
		{2, 5, 3, 2, 2},
		{6, 5, 2, 1, 0},
		{0, 2, 2, 3, 7},
	}
	var items []feedback.ItemAnswers
	for i, row := range table {
		values := map[string]string{}
		rater := 0
		for cat, n := range row {
			for ; n > 0; n-- {
				values[fmt.Sprintf("rater%02d", rater)] = fmt.Sprintf(`"%d"`, cat+1)
				rater++
			}
		}
		it := agrItem("c", values)
		it.Item = fmt.Sprint("subject", i+1)
		items = append(items, it)
	}
	b := agrBlock(t, feedback.Agreement(in, items), "c")
	agrNear(t, "fleiss", b.FleissKappa, 0.210, 0.0005)
	agrNear(t, "fleiss (exact)", b.FleissKappa, 0.20993070442195522, 1e-9)
	agrNear(t, "percent agreement (P̄)", b.PercentAgreement, 0.378, 0.0005)
	if b.PairableUnits != 10 || b.Values != 140 {
		t.Errorf("pairable units, values = %d, %d; want 10, 140", b.PairableUnits, b.Values)
	}
}

// Cohen's kappa on the examples of the Wikipedia article "Cohen's kappa":
// 50 grant proposals read by two readers, yes/yes 20, yes/no 5, no/yes 10,
// no/no 15: p_o = 0.7, p_e = 0.5, κ = 0.4; and the two tables of "same
// percentages but different numbers", κ = 0.1304 and κ = 0.2593.
func TestAgreementCohenWikipedia(t *testing.T) {
	in := agrInterface(t, "  - {type: choice, name: c, options: ['yes', 'no']}\n")
	tests := []struct {
		yy, yn, ny, nn int
		kappa, tol     float64
	}{
		{20, 5, 10, 15, 0.4, 1e-9},
		{45, 15, 25, 15, 0.1304, 0.00005},
		{25, 35, 5, 35, 0.2593, 0.00005},
	}
	for _, tt := range tests {
		var items []feedback.ItemAnswers
		add := func(n int, a, b string) {
			for ; n > 0; n-- {
				items = append(items, agrItem("c", map[string]string{"A": a, "B": b}))
			}
		}
		add(tt.yy, `"yes"`, `"yes"`)
		add(tt.yn, `"yes"`, `"no"`)
		add(tt.ny, `"no"`, `"yes"`)
		add(tt.nn, `"no"`, `"no"`)
		b := agrBlock(t, feedback.Agreement(in, items), "c")
		p := agrPair(t, b, "A", "B")
		agrNear(t, fmt.Sprintf("kappa of %v", tt), p.Kappa, tt.kappa, tt.tol)
		total := tt.yy + tt.yn + tt.ny + tt.nn
		if p.Units != total || p.Items != total || p.Agreed != tt.yy+tt.nn {
			t.Errorf("%v: units, items, agreed = %d, %d, %d", tt, p.Units, p.Items, p.Agreed)
		}
		if got := b.Matrix.Kappa[0][1]; got != p.Kappa || b.Matrix.Kappa[1][0] != p.Kappa {
			t.Errorf("%v: matrix kappa = %v, want %v both ways", tt, got, p.Kappa)
		}
	}
	// The first table by hand, for the other figures: p_o = 0.7; pooled
	// yes = 55/100, so Fleiss' P_e = 0.505 and κ = 0.195/0.495; alpha:
	// 15 disagreeing units give 30 off-diagonal coincidences, n = 100,
	// Σ n_c² = 55² + 45², so α = 1 − 99·30/4950 = 0.4.
	var items []feedback.ItemAnswers
	for i, ab := range []string{"yy", "yn", "ny", "nn"} {
		n := []int{20, 5, 10, 15}[i]
		val := map[byte]string{'y': `"yes"`, 'n': `"no"`}
		for ; n > 0; n-- {
			items = append(items, agrItem("c", map[string]string{"A": val[ab[0]], "B": val[ab[1]]}))
		}
	}
	b := agrBlock(t, feedback.Agreement(in, items), "c")
	agrNear(t, "percent agreement", b.PercentAgreement, 0.7, 1e-9)
	agrNear(t, "fleiss", b.FleissKappa, 0.195/0.495, 1e-9)
	agrNear(t, "alpha", b.KrippendorffAlpha, 0.4, 1e-9)
}

// A small case worked by hand: three labelers, five items, one answered
// by one labeler only and one with a missing answer.
func TestAgreementByHand(t *testing.T) {
	in := agrInterface(t, "  - {type: choice, name: c, options: [x, y]}\n  - {type: thumbs, name: up}\n")
	items := agrTable("c", map[string]string{
		"a": `"x" "x" "x" "y" "y"`,
		"b": `"x" "x" "y" .   "y"`,
		"c": `"x" "y" .   .   "y"`,
	})
	r := feedback.Agreement(in, items)
	if len(r.Blocks) != 1 {
		t.Fatalf("blocks = %+v; want the choice block only (thumbs is a feedback block)", r.Blocks)
	}
	if got, want := strings.Join(r.Labelers, ","), "a,b,c"; got != want || r.Items != 5 {
		t.Errorf("labelers = %s, items = %d; want %s, 5", got, r.Items, want)
	}
	b := agrBlock(t, r, "c")
	if b.Items != 5 || b.Units != 5 || b.PairableUnits != 4 || b.Values != 11 {
		t.Errorf("items, units, pairable, values = %d, %d, %d, %d; want 5, 5, 4, 11", b.Items, b.Units, b.PairableUnits, b.Values)
	}
	// Shares of agreeing pairs: 1, 1/3, 0, (item 4 drops out), 1.
	agrNear(t, "percent agreement", b.PercentAgreement, 7.0/12, 1e-9)
	// x: 6 values, y: 5; P_e = 61/121.
	agrNear(t, "fleiss", b.FleissKappa, (7.0/12-61.0/121)/(1-61.0/121), 1e-9)
	// Off-diagonal coincidences: 2 (item 2) + 2 (item 3); α = 1 − 10·4/60.
	agrNear(t, "alpha", b.KrippendorffAlpha, 1.0/3, 1e-9)

	// a–b share items 1, 2, 3, 5: a x x x y, b x x y y: p_o 3/4, p_e 1/2.
	ab := agrPair(t, b, "a", "b")
	if ab.Units != 4 || ab.Agreed != 3 {
		t.Errorf("a–b units, agreed = %d, %d; want 4, 3", ab.Units, ab.Agreed)
	}
	agrNear(t, "kappa a–b", ab.Kappa, 0.5, 1e-9)
	agrNear(t, "agreement a–b", ab.Agreement, 0.75, 1e-9)
	// a–c share items 1, 2, 5: x x y against x y y: p_o 2/3, p_e 4/9.
	agrNear(t, "kappa a–c", agrPair(t, b, "a", "c").Kappa, 0.4, 1e-9)
	agrNear(t, "kappa b–c", agrPair(t, b, "b", "c").Kappa, 0.4, 1e-9)

	// Consensus. a: item 1 agrees; item 2 the others split (tie, skipped);
	// item 3 b alone says y: disagrees; item 4 nobody else; item 5 agrees.
	tests := []struct {
		labeler                       string
		units, compared, ties, agreed int
	}{
		{"a", 5, 3, 1, 2},
		{"b", 4, 3, 1, 2},
		{"c", 3, 3, 0, 2}, // item 2: a and b say x, c says y
	}
	for _, tt := range tests {
		l := agrLabeler(t, b, tt.labeler)
		if l.Units != tt.units || l.Compared != tt.compared || l.Ties != tt.ties || l.Agreed != tt.agreed {
			t.Errorf("%s: units, compared, ties, agreed = %d, %d, %d, %d; want %d, %d, %d, %d",
				tt.labeler, l.Units, l.Compared, l.Ties, l.Agreed, tt.units, tt.compared, tt.ties, tt.agreed)
		}
		agrNear(t, tt.labeler+" consensus", l.Consensus, 2.0/3, 1e-9)
	}

	// The heat map: labelers sorted, symmetric, undefined diagonal holding
	// each labeler's units.
	m := b.Matrix
	if strings.Join(m.Labelers, ",") != "a,b,c" {
		t.Fatalf("matrix labelers = %v", m.Labelers)
	}
	for i := range m.Labelers {
		agrUndefined(t, "diagonal kappa", m.Kappa[i][i])
		for j := range m.Labelers {
			if m.Shared[i][j] != m.Shared[j][i] || (i != j && m.Kappa[i][j] != m.Kappa[j][i]) {
				t.Errorf("matrix not symmetric at %d,%d", i, j)
			}
		}
	}
	if m.Shared[0][0] != 5 || m.Shared[0][1] != 4 || m.Shared[1][2] != 3 {
		t.Errorf("shared = %v", m.Shared)
	}
}

// One labeler, identical answers and no answers: figures that cannot be
// computed are undefined, with a note saying why.
func TestAgreementDegenerate(t *testing.T) {
	in := agrInterface(t, "  - {type: choice, name: c, options: [x, y]}\n")

	r := feedback.Agreement(in, nil)
	b := agrBlock(t, r, "c")
	if r.Items != 0 || len(r.Labelers) != 0 || b.Units != 0 || len(b.Pairs) != 0 || len(b.Notes) != 1 {
		t.Errorf("empty input: %+v", r)
	}
	for _, f := range []feedback.Figure{b.PercentAgreement, b.FleissKappa, b.KrippendorffAlpha} {
		agrUndefined(t, "empty input", f)
	}

	one := agrTable("c", map[string]string{"solo": `"x" "y" "x"`})
	b = agrBlock(t, feedback.Agreement(in, one), "c")
	if b.Units != 3 || b.PairableUnits != 0 || len(b.Pairs) != 0 || !strings.Contains(strings.Join(b.Notes, " "), "two labelers") {
		t.Errorf("one labeler: %+v", b)
	}
	agrUndefined(t, "one labeler: percent", b.PercentAgreement)
	agrUndefined(t, "one labeler: alpha", b.KrippendorffAlpha)
	agrUndefined(t, "one labeler: consensus", agrLabeler(t, b, "solo").Consensus)

	same := agrTable("c", map[string]string{"a": `"x" "x" "x"`, "b": `"x" "x" "x"`})
	b = agrBlock(t, feedback.Agreement(in, same), "c")
	agrNear(t, "identical: percent", b.PercentAgreement, 1, 0)
	agrUndefined(t, "identical: fleiss", b.FleissKappa)
	agrUndefined(t, "identical: alpha", b.KrippendorffAlpha)
	agrUndefined(t, "identical: cohen", agrPair(t, b, "a", "b").Kappa)
	agrNear(t, "identical: consensus", agrLabeler(t, b, "a").Consensus, 1, 0)
	if !strings.Contains(strings.Join(b.Notes, " "), "one category") {
		t.Errorf("identical: notes = %v", b.Notes)
	}

	// A single shared item is too few for Cohen's kappa.
	b = agrBlock(t, feedback.Agreement(in, agrTable("c", map[string]string{"a": `"x"`, "b": `"y"`})), "c")
	agrUndefined(t, "one shared item: cohen", agrPair(t, b, "a", "b").Kappa)

	// UndefinedFigure figures are null in JSON (NaN would make json.Marshal fail).
	out, err := json.Marshal(feedback.Agreement(in, same))
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if !strings.Contains(string(out), `"fleiss_kappa":null`) || !strings.Contains(string(out), `"percent_agreement":1`) {
		t.Errorf("JSON = %s", out)
	}
	var back feedback.AgreementReport
	if err := json.Unmarshal(out, &back); err != nil || back.Blocks[0].FleissKappa.Defined() {
		t.Errorf("Unmarshal: %v, %+v", err, back.Blocks)
	}
	if got := feedback.UndefinedFigure.String() + " " + feedback.Figure(0.74342).String() + " " + feedback.Figure(0.875).Percent(); got != "n/a 0.743 87.5%" {
		t.Errorf("figures as text = %q", got)
	}
}

// How the single-valued kinds become categories.
func TestAgreementCategories(t *testing.T) {
	in := agrInterface(t, `  - {type: textbox, name: fix}
  - {type: pairwise, name: pref}
  - {type: ranking, name: rank, field: responses}
  - {type: rating, name: stars, scale: 5}
`)
	it := feedback.ItemAnswers{Item: "i", ByLabeler: map[string]map[string]json.RawMessage{
		"a": {"fix": json.RawMessage(`"  The cat.\n"`), "pref": json.RawMessage(`{"choice":"A","reason":"clearer"}`),
			"rank": json.RawMessage(`["2","0","1"]`), "stars": json.RawMessage(`4`)},
		"b": {"fix": json.RawMessage(`"The cat."`), "pref": json.RawMessage(`{"choice":"A"}`),
			"rank": json.RawMessage(`["2","1","0"]`), "stars": json.RawMessage(`4.0`)},
		"c": {"fix": json.RawMessage(`"The  cat."`), "pref": json.RawMessage(`{"choice":"tie"}`),
			"rank": json.RawMessage(`["0","2","1"]`), "stars": json.RawMessage(`5`)},
	}}
	r := feedback.Agreement(in, []feedback.ItemAnswers{it})
	for _, name := range []string{"fix", "pref", "rank", "stars"} {
		b := agrBlock(t, r, name)
		if b.Units != 1 || b.PairableUnits != 1 {
			t.Errorf("%s: units = %d, pairable = %d", name, b.Units, b.PairableUnits)
		}
		// a and b agree (trimmed text, choice without reason, top-ranked
		// candidate, 4 = 4.0); c differs: one pair of three agrees.
		agrNear(t, name+" percent", b.PercentAgreement, 1.0/3, 1e-9)
		if p := agrPair(t, b, "a", "b"); p.Agreed != 1 {
			t.Errorf("%s: a and b do not agree", name)
		}
	}
}

// multichoice: each option is a unit, chosen or not; a labeler who saw
// the block and chose nothing chose no option; a labeler to whom the
// block was hidden did not answer it.
func TestAgreementMultichoice(t *testing.T) {
	in := agrInterface(t, `  - {type: choice, name: verdict, options: [ok, bad]}
  - type: multichoice
    name: issues
    options: [wrong, rude, long]
    visible_when: {block: verdict, equals: bad}
`)
	it := feedback.ItemAnswers{Item: "i", ByLabeler: map[string]map[string]json.RawMessage{
		"a": {"verdict": json.RawMessage(`"bad"`), "issues": json.RawMessage(`["wrong","rude"]`)},
		"b": {"verdict": json.RawMessage(`"bad"`), "issues": json.RawMessage(`["wrong"]`)},
		"c": {"verdict": json.RawMessage(`"bad"`)}, // shown, nothing chosen
		"d": {"verdict": json.RawMessage(`"ok"`)},  // hidden: no answer
	}}
	b := agrBlock(t, feedback.Agreement(in, []feedback.ItemAnswers{it}), "issues")
	if b.Units != 3 || b.PairableUnits != 3 || b.Values != 9 || len(b.Labelers) != 3 {
		t.Fatalf("units, pairable, values, labelers = %d, %d, %d, %d; want 3, 3, 9, 3", b.Units, b.PairableUnits, b.Values, len(b.Labelers))
	}
	// wrong: chosen, chosen, not (1/3); rude: chosen, not, not (1/3); long:
	// not by all three (1).
	agrNear(t, "percent", b.PercentAgreement, 5.0/9, 1e-9)
	if p := agrPair(t, b, "b", "c"); p.Units != 3 || p.Agreed != 2 || p.Items != 1 {
		t.Errorf("b–c = %+v; want 3 units, 2 agreed, 1 item", p)
	}
}

const agrSpansYAML = "  - {type: spans, name: ents, field: text, labels: [PER, ORG]}\n"

// Spans, exact rule: a unit per distinct range; overlap rule: ranges
// matched at IoU ≥ 0.5.
func TestAgreementSpans(t *testing.T) {
	in := agrInterface(t, agrSpansYAML)
	// "Alice works at Acme Corp."
	it := agrItem("ents", map[string]string{
		"a": `[{"start":0,"end":5,"label":"PER","text":"Alice"},{"start":15,"end":24,"label":"ORG","text":"Acme Corp"}]`,
		"b": `[{"start":0,"end":5,"label":"PER","text":"Alice"},{"start":15,"end":19,"label":"ORG","text":"Acme"}]`,
		"c": ``, // marked nothing
	})
	exact := agrBlock(t, feedback.Agreement(in, []feedback.ItemAnswers{it}), "ents")
	// Units (0,5), (15,19), (15,24): a and b agree on the first only; c
	// says none to all three.
	if exact.Units != 3 || exact.Values != 9 {
		t.Errorf("exact: units, values = %d, %d; want 3, 9", exact.Units, exact.Values)
	}
	if p := agrPair(t, exact, "a", "b"); p.Units != 3 || p.Agreed != 1 {
		t.Errorf("exact: a–b = %+v; want 3 units, 1 agreed", p)
	}
	// a and c agree only that b's "Acme" (15–19) is no span.
	if p := agrPair(t, exact, "a", "c"); p.Units != 3 || p.Agreed != 1 {
		t.Errorf("exact: a–c = %+v; want 3 units, 1 agreed", p)
	}
	if !strings.Contains(exact.Rule, "exact") {
		t.Errorf("exact: rule = %q", exact.Rule)
	}

	c := feedback.NewAgreementCounter(in, feedback.AgreementOptions{SpanOverlap: true})
	c.Add(it)
	overlap := agrBlock(t, c.Report(), "ents")
	// Acme Corp (15–24) and Acme (15–19): IoU 4/9 < 0.5, still apart.
	if overlap.Units != 3 {
		t.Errorf("overlap 0.5: units = %d, want 3", overlap.Units)
	}
	c = feedback.NewAgreementCounter(in, feedback.AgreementOptions{SpanOverlap: true, MinIoU: 0.4})
	c.Add(it)
	overlap = agrBlock(t, c.Report(), "ents")
	if p := agrPair(t, overlap, "a", "b"); overlap.Units != 2 || p.Units != 2 || p.Agreed != 2 {
		t.Errorf("overlap 0.4: units = %d, a–b = %+v; want 2 units, both agreed", overlap.Units, p)
	}

	// The same range with another label is a disagreement on one unit.
	it = agrItem("ents", map[string]string{
		"a": `[{"start":15,"end":19,"label":"ORG","text":"Acme"}]`,
		"b": `[{"start":15,"end":19,"label":"PER","text":"Acme"}]`,
	})
	b := agrBlock(t, feedback.Agreement(in, []feedback.ItemAnswers{it}), "ents")
	if p := agrPair(t, b, "a", "b"); b.Units != 1 || p.Agreed != 0 {
		t.Errorf("relabeled: units = %d, a–b = %+v", b.Units, p)
	}

	// Nobody marked anything: no units, nothing to compare.
	b = agrBlock(t, feedback.Agreement(in, []feedback.ItemAnswers{agrItem("ents", map[string]string{"a": "", "b": ""})}), "ents")
	if b.Items != 1 || b.Units != 0 {
		t.Errorf("empty spans: items, units = %d, %d; want 1, 0", b.Items, b.Units)
	}
}

func agrBox(x, y, w, h float64, label string) string {
	return fmt.Sprintf(`{"x":%g,"y":%g,"width":%g,"height":%g,"label":%q}`, x, y, w, h, label)
}

// Boxes: matched greedily by IoU ≥ 0.5, one box per labeler per unit,
// never through a chain of overlaps.
func TestAgreementBoxes(t *testing.T) {
	in := agrInterface(t, "  - {type: boxes, name: objects, field: image, labels: [car, person, truck]}\n")
	it := agrItem("objects", map[string]string{
		"a": "[" + agrBox(0, 0, 0.5, 0.5, "car") + "," + agrBox(0.6, 0.6, 0.2, 0.2, "person") + "]",
		// IoU with a's car: 0.2025/0.2975 = 0.68; the second box is a's
		// person box, called a truck.
		"b": "[" + agrBox(0.05, 0.05, 0.5, 0.5, "car") + "," + agrBox(0.6, 0.6, 0.2, 0.2, "truck") + "]",
		"c": "[" + agrBox(0, 0.85, 0.1, 0.1, "car") + "]",
	})
	b := agrBlock(t, feedback.Agreement(in, []feedback.ItemAnswers{it}), "objects")
	// Units: {car, car, none}, {person, truck, none}, {none, none, car}.
	if b.Units != 3 || b.Values != 9 {
		t.Errorf("units, values = %d, %d; want 3, 9", b.Units, b.Values)
	}
	if p := agrPair(t, b, "a", "b"); p.Agreed != 2 {
		t.Errorf("a–b = %+v; want 2 agreed (the cars, and both saying none to c's box)", p)
	}
	if p := agrPair(t, b, "a", "c"); p.Agreed != 0 {
		t.Errorf("a–c = %+v; want 0 agreed", p)
	}

	// X overlaps Y and Y overlaps Z (IoU 2/3 each), X and Z only 3/7: X
	// and Y form a unit and Z stays alone.
	it = agrItem("objects", map[string]string{
		"x": "[" + agrBox(0, 0, 0.5, 1, "car") + "]",
		"y": "[" + agrBox(0.1, 0, 0.5, 1, "car") + "]",
		"z": "[" + agrBox(0.2, 0, 0.5, 1, "car") + "]",
	})
	b = agrBlock(t, feedback.Agreement(in, []feedback.ItemAnswers{it}), "objects")
	if b.Units != 2 {
		t.Errorf("chain: units = %d, want 2", b.Units)
	}
	if p := agrPair(t, b, "x", "z"); p.Agreed != 0 || p.Units != 2 {
		t.Errorf("chain: x–z = %+v; want 0 of 2 agreed", p)
	}

	// Two boxes of one labeler over one box of another: the closer one
	// matches, the other is a unit of its own.
	it = agrItem("objects", map[string]string{
		"a": "[" + agrBox(0, 0, 0.5, 0.5, "car") + "," + agrBox(0.02, 0.02, 0.5, 0.5, "car") + "]",
		"b": "[" + agrBox(0.01, 0.01, 0.5, 0.5, "car") + "]",
	})
	b = agrBlock(t, feedback.Agreement(in, []feedback.ItemAnswers{it}), "objects")
	if p := agrPair(t, b, "a", "b"); b.Units != 2 || p.Agreed != 1 {
		t.Errorf("one box per labeler: units = %d, a–b = %+v", b.Units, p)
	}
}

// The counter gives the same report as Agreement, item by item.
func TestAgreementCounter(t *testing.T) {
	in := agrInterface(t, "  - {type: rating, name: r, scale: 5}\n")
	items := agrTable("r", map[string]string{
		"A": "1 2 3 3 2 1 4 1 2 . . .",
		"B": "1 2 3 3 2 2 4 1 2 5 . 3",
	})
	c := feedback.NewAgreementCounter(in, feedback.AgreementOptions{})
	for _, it := range items {
		c.Add(it)
	}
	got, _ := json.Marshal(c.Report())
	want, _ := json.Marshal(feedback.Agreement(in, items))
	if string(got) != string(want) {
		t.Errorf("counter:\n%s\nAgreement:\n%s", got, want)
	}
}

// BenchmarkAgreement: 10,000 items, three labelers, a choice and a
// multichoice block.
func BenchmarkAgreement(b *testing.B) {
	cfg, err := blocks.ParseConfig([]byte("title: bench\nblocks:\n  - {type: choice, name: c, options: [x, y, z]}\n  - {type: multichoice, name: m, options: [p, q, r, s]}\n"))
	if err != nil {
		b.Fatal(err)
	}
	in := cfg.Interface()
	cats := []string{`"x"`, `"y"`, `"z"`}
	sets := []string{`["p"]`, `["p","q"]`, `["r"]`, `["q","s"]`}
	items := make([]feedback.ItemAnswers, 10000)
	for i := range items {
		items[i] = feedback.ItemAnswers{Item: fmt.Sprint(i), ByLabeler: map[string]map[string]json.RawMessage{}}
		for l, name := range []string{"ann", "bob", "cat"} {
			items[i].ByLabeler[name] = map[string]json.RawMessage{
				"c": json.RawMessage(cats[(i+l*(i%2))%3]),
				"m": json.RawMessage(sets[(i+l)%4]),
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		feedback.Agreement(in, items)
	}
}
