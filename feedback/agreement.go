package feedback

import (
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/loupehq/loupe/blocks"
)

// Agreement between labelers, per labeling block: percent agreement,
// Cohen's kappa per pair of labelers, Fleiss' kappa, Krippendorff's alpha
// (nominal) and each labeler's agreement with the consensus of the others.
// Every figure is computed over units: each block kind turns the answers to
// one item into one or more units, each holding at most one category per
// labeler (docs/agreement.md lists the rules). Units answered by fewer than
// two labelers say nothing about agreement and drop out of every figure.

// DefaultMinIoU is the least intersection over union at which two boxes
// (or, with AgreementOptions.SpanOverlap, two spans) of different labelers
// are taken for the same thing.
const DefaultMinIoU = 0.5

// Categories a unit may hold besides the labelers' own values. They start
// with a NUL byte, which no option, label or text of a valid value holds.
const (
	agrNone      = "\x00none"   // spans, boxes: the labeler marked nothing there
	agrChosen    = "\x00chosen" // multichoice: the option is chosen
	agrNotChosen = "\x00not"    // multichoice: the option is not chosen
)

// ItemAnswers are every labeler's current values for one item.
type ItemAnswers struct {
	Item string
	// ByLabeler holds, per labeler (an id or a name: the report uses the
	// key as given), the values of their annotation of the item, by block
	// name, in canonical JSON as stored. A labeler listed here took part in
	// the item: a spans, boxes or multichoice block shown to them with no
	// value counts as "nothing marked", not as a missing answer.
	ByLabeler map[string]map[string]json.RawMessage
}

// AgreementOptions tune how values become units. The zero value is the
// default: exact spans, boxes matched at DefaultMinIoU.
type AgreementOptions struct {
	// SpanOverlap matches spans of different labelers whose character
	// ranges overlap with an intersection over union of at least MinIoU,
	// instead of only spans with the very same start and end.
	SpanOverlap bool
	// MinIoU is the least intersection over union for two boxes (or
	// overlapping spans) to be one unit; 0 means DefaultMinIoU.
	MinIoU float64
}

// Figure is an agreement figure: a coefficient (kappa, alpha) or a share
// (0 to 1). NaN means undefined: too few answers to compare, or no
// variation to measure chance against. It is written as null in JSON and
// as "n/a" in text.
type Figure float64

// UndefinedFigure is the value of a figure that cannot be computed (NaN).
var UndefinedFigure = Figure(math.NaN())

// Defined reports whether the figure could be computed.
func (f Figure) Defined() bool { return !math.IsNaN(float64(f)) }

// String writes the figure with three decimals, or "n/a".
func (f Figure) String() string {
	if !f.Defined() {
		return "n/a"
	}
	return strconv.FormatFloat(float64(f), 'f', 3, 64)
}

// Percent writes a share as a percentage with one decimal ("87.5%"), or
// "n/a".
func (f Figure) Percent() string {
	if !f.Defined() {
		return "n/a"
	}
	return strconv.FormatFloat(float64(f)*100, 'f', 1, 64) + "%"
}

// MarshalJSON writes the figure as a number, or null when undefined.
func (f Figure) MarshalJSON() ([]byte, error) {
	if !f.Defined() || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(f), 'g', -1, 64), nil
}

// UnmarshalJSON reads a number, or null as undefined.
func (f *Figure) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = UndefinedFigure
		return nil
	}
	var x float64
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	*f = Figure(x)
	return nil
}

// AgreementReport is the agreement of a project's labelers, per labeling
// block in config order.
type AgreementReport struct {
	Items    int              `json:"items"`    // items given
	Labelers []string         `json:"labelers"` // every labeler with an answer on a labeling block, sorted
	Blocks   []BlockAgreement `json:"blocks"`
}

// Block returns the figures of the block named name.
func (r *AgreementReport) Block(name string) (*BlockAgreement, bool) {
	for i := range r.Blocks {
		if r.Blocks[i].Block == name {
			return &r.Blocks[i], true
		}
	}
	return nil, false
}

// BlockAgreement is the agreement on one labeling block.
type BlockAgreement struct {
	Block string `json:"block"`
	Kind  string `json:"kind"`
	// Rule says, in words, what a unit of this block is.
	Rule string `json:"rule"`

	Items         int `json:"items"`          // items with an answer from at least one labeler
	Units         int `json:"units"`          // units with at least one value
	PairableUnits int `json:"pairable_units"` // units with values from two labelers or more: the ones the figures use
	Values        int `json:"values"`         // values in those units

	// PercentAgreement is the mean, over pairable units, of the share of
	// pairs of labelers that gave the same value.
	PercentAgreement Figure `json:"percent_agreement"`
	// FleissKappa is Fleiss' kappa, generalised to a varying number of
	// labelers per unit.
	FleissKappa Figure `json:"fleiss_kappa"`
	// KrippendorffAlpha is Krippendorff's alpha for nominal data.
	KrippendorffAlpha Figure `json:"krippendorff_alpha"`

	Pairs    []PairAgreement    `json:"pairs"`    // every pair of labelers with a unit in common, sorted
	Labelers []LabelerAgreement `json:"labelers"` // every labeler who answered, sorted
	// Matrix is Cohen's kappa of every pair, for a heat map.
	Matrix KappaMatrix `json:"matrix"`
	// Notes explain undefined figures.
	Notes []string `json:"notes,omitempty"`
}

// KappaMatrix holds Cohen's kappa between every two labelers of a block.
// Kappa[i][j] and Shared[i][j] are about Labelers[i] and Labelers[j]; the
// matrix is symmetric. On the diagonal Kappa is undefined (a labeler is not
// compared with themselves) and Shared is the units the labeler answered.
type KappaMatrix struct {
	Labelers []string   `json:"labelers"`
	Kappa    [][]Figure `json:"kappa"`
	Shared   [][]int    `json:"shared"` // units both answered
}

// PairAgreement is the agreement of two labelers (A before B in sort
// order) over the units they both answered.
type PairAgreement struct {
	A         string `json:"a"`
	B         string `json:"b"`
	Items     int    `json:"items"` // items with a unit both answered
	Units     int    `json:"units"` // units both answered
	Agreed    int    `json:"agreed"`
	Agreement Figure `json:"agreement"` // Agreed / Units
	// Kappa is Cohen's kappa; undefined under two shared units, or when
	// both gave one and the same category to every shared unit.
	Kappa Figure `json:"kappa"`
}

// LabelerAgreement is how often one labeler's answers match the majority
// of the other labelers of the same unit.
type LabelerAgreement struct {
	Labeler string `json:"labeler"`
	Items   int    `json:"items"` // items with a unit they answered
	Units   int    `json:"units"` // units they answered
	// Compared counts their units where the other labelers (one at least)
	// had a majority; Ties the units skipped because the others were split
	// evenly between their top categories.
	Compared int `json:"compared"`
	Ties     int `json:"ties"`
	Agreed   int `json:"agreed"`
	// Consensus is Agreed / Compared.
	Consensus Figure `json:"consensus"`
}

// Agreement computes the agreement of the labelers on every labeling block
// of an interface, with the default options. Blocks of other categories
// (feedback blocks among them) are left out. It never fails: figures that
// cannot be computed are UndefinedFigure.
func Agreement(in *blocks.Interface, items []ItemAnswers) *AgreementReport {
	c := NewAgreementCounter(in, AgreementOptions{})
	for _, it := range items {
		c.Add(it)
	}
	return c.Report()
}

// AgreementCounter computes agreement one item at a time, so that a
// project of any size is read once, in memory that grows with the
// labelers and categories, not with the items.
type AgreementCounter struct {
	in       *blocks.Interface
	blocks   []*agrBlock
	who      map[string]int // labeler → index
	names    []string       // index → labeler
	answered []bool         // by index: answered a labeling block
	items    int
}

// NewAgreementCounter returns a counter for the labeling blocks of in.
func NewAgreementCounter(in *blocks.Interface, opt AgreementOptions) *AgreementCounter {
	if opt.MinIoU <= 0 {
		opt.MinIoU = DefaultMinIoU
	}
	c := &AgreementCounter{in: in, who: map[string]int{}}
	conditional := agrConditional(in)
	for _, v := range in.Valuers() {
		base := v.Common()
		if k, ok := blocks.LookupKind(base.Type); !ok || k.Category != blocks.CategoryLabeling {
			continue
		}
		b := &agrBlock{
			v: v, base: base, opt: opt,
			conditional: conditional[base],
			cats:        map[string]int{},
			pairs:       map[[2]int]*agrPair{},
			o:           map[[2]int]float64{},
		}
		b.rule, b.set = agrRule(v, opt)
		c.blocks = append(c.blocks, b)
	}
	return c
}

// agrTaker is a labeler who took part in a block on an item, with their
// value (nil: an empty set).
type agrTaker struct {
	who int
	raw json.RawMessage
}

// Add counts one item's answers.
func (c *AgreementCounter) Add(it ItemAnswers) {
	c.items++
	// Labelers in name order, so that units (and the order their figures
	// are summed in) do not depend on the order of a map.
	names := agrSortedKeys(it.ByLabeler)
	ids := make([]int, len(names))
	for i, name := range names {
		id, ok := c.who[name]
		if !ok {
			id = len(c.names)
			c.who[name] = id
			c.names = append(c.names, name)
			c.answered = append(c.answered, false)
		}
		ids[i] = id
	}
	// Visibility depends on a labeler's own values; work it out once per
	// labeler, and only for blocks a condition may hide.
	vis := make([]map[*blocks.Base]bool, len(names))
	takers := make([]agrTaker, 0, len(names))
	for _, b := range c.blocks {
		takers = takers[:0]
		for i, name := range names {
			values := it.ByLabeler[name]
			raw, has := values[b.base.Name]
			if has && agrEmpty(raw) {
				has = false
			}
			if !has {
				// A missing single answer is missing data; a set left
				// empty says "nothing here", if the block was shown.
				if !b.set {
					continue
				}
				if b.conditional {
					if vis[i] == nil {
						vis[i] = c.in.Visibility(values)
					}
					if !vis[i][b.base] {
						continue
					}
				}
				raw = nil
			}
			takers = append(takers, agrTaker{ids[i], raw})
			c.answered[ids[i]] = true
		}
		if len(takers) > 0 {
			b.items++
			b.addItem(c.items, b.unitsOf(takers))
		}
	}
}

// Report returns the figures counted so far.
func (c *AgreementCounter) Report() *AgreementReport {
	r := &AgreementReport{Items: c.items, Labelers: []string{}, Blocks: []BlockAgreement{}}
	for id, name := range c.names {
		if c.answered[id] {
			r.Labelers = append(r.Labelers, name)
		}
	}
	sort.Strings(r.Labelers)
	for _, b := range c.blocks {
		r.Blocks = append(r.Blocks, b.report(c.names))
	}
	return r
}

// agrConditional finds the blocks that a visible_when (their own or a
// parent's) may hide.
func agrConditional(in *blocks.Interface) map[*blocks.Base]bool {
	out := map[*blocks.Base]bool{}
	var walk func(bs []blocks.Block, hidden bool)
	walk = func(bs []blocks.Block, hidden bool) {
		for _, b := range bs {
			h := hidden || b.Common().VisibleWhen != nil
			out[b.Common()] = h
			if c, ok := b.(blocks.Container); ok {
				walk(c.Children(), h)
			}
		}
	}
	walk(in.Blocks, false)
	return out
}

// agrRule describes the unit rule of a block, and whether its value is a
// set (a missing value then means an empty set).
func agrRule(v blocks.Valuer, opt AgreementOptions) (string, bool) {
	iou := strconv.FormatFloat(opt.MinIoU, 'g', -1, 64)
	switch v.(type) {
	case *blocks.Choice:
		return "the chosen option", false
	case *blocks.Rating:
		return "the rating, as a category", false
	case *blocks.Textbox:
		return "the text, trimmed, exactly", false
	case *blocks.Pairwise:
		return "the choice (A, B, tie, both bad); reasons are ignored", false
	case *blocks.Ranking:
		return "the top-ranked candidate", false
	case *blocks.MultiChoice:
		return "each option, chosen or not", true
	case *blocks.Spans:
		if opt.SpanOverlap {
			return "spans matched by character overlap (IoU ≥ " + iou + "), with their labels", true
		}
		return "exact character ranges, with their labels", true
	case *blocks.Boxes:
		return "boxes matched by IoU ≥ " + iou + ", with their labels", true
	}
	return "the whole value", false
}

// agrBlock counts one block.
type agrBlock struct {
	v           blocks.Valuer
	base        *blocks.Base
	opt         AgreementOptions
	rule        string
	set         bool
	conditional bool

	cats   map[string]int      // category → index
	labs   []*agrLabeler       // by labeler index; nil: never answered
	pairs  map[[2]int]*agrPair // by labeler indexes, lower first
	o      map[[2]int]float64  // the coincidence matrix, o[c][k]
	totals []int               // values per category in pairable units: Fleiss' p_j, the n_c of the coincidence matrix
	buf    []int               // scratch: the categories of a unit
	count  []agrCount          // scratch: how many values of a unit are in each category

	items, units, pairable, values int
	sumP                           float64 // Σ P_u over pairable units
}

type agrCount struct{ cat, n int }

type agrLabeler struct {
	last                                 int // the item last counted in items
	items, units, compared, ties, agreed int
}

type agrPair struct {
	last                 int
	items, units, agreed int
	a, b                 []int // per category, the values of the lower and of the higher labeler index
}

// agrVote is one labeler's category in a unit.
type agrVote struct {
	who int
	cat string
}

// agrUnit is one unit: a category from each labeler who answered it.
type agrUnit []agrVote

// unitsOf turns the answers of the labelers who took part in an item into
// units.
func (b *agrBlock) unitsOf(takers []agrTaker) []agrUnit {
	switch v := b.v.(type) {
	case *blocks.MultiChoice:
		return agrOptionUnits(v, takers)
	case *blocks.Spans:
		if b.opt.SpanOverlap {
			return agrOverlapSpanUnits(takers, b.opt.MinIoU)
		}
		return agrExactSpanUnits(takers)
	case *blocks.Boxes:
		return agrBoxUnits(takers, b.opt.MinIoU)
	}
	u := make(agrUnit, 0, len(takers))
	for _, t := range takers {
		if c, ok := agrCategory(b.v, t.raw); ok {
			u = append(u, agrVote{t.who, c})
		}
	}
	return []agrUnit{u}
}

// agrCategory reads a single-valued answer as its category; false when it
// does not have the block's shape (a value from another config version).
func agrCategory(v blocks.Valuer, raw json.RawMessage) (string, bool) {
	switch v.(type) {
	case *blocks.Choice:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, s != ""
	case *blocks.Rating:
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return "", false
		}
		f, err := n.Float64()
		if err != nil {
			return "", false
		}
		return strconv.FormatFloat(f, 'g', -1, 64), true
	case *blocks.Textbox:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		s = strings.TrimSpace(s)
		return s, s != ""
	case *blocks.Pairwise:
		var p struct {
			Choice string `json:"choice"`
		}
		if json.Unmarshal(raw, &p) != nil {
			return "", false
		}
		return p.Choice, p.Choice != ""
	case *blocks.Ranking:
		var ids []string
		if json.Unmarshal(raw, &ids) != nil || len(ids) == 0 {
			return "", false
		}
		return ids[0], true
	}
	var x any
	if json.Unmarshal(raw, &x) != nil {
		return "", false
	}
	b, _ := json.Marshal(x)
	return string(b), true
}

// agrOptionUnits makes a unit of each option of a multichoice block (and
// of any chosen value the config no longer lists).
func agrOptionUnits(m *blocks.MultiChoice, takers []agrTaker) []agrUnit {
	var options []string
	listed := map[string]bool{}
	for _, o := range m.Options {
		options = append(options, o.Value)
		listed[o.Value] = true
	}
	type answer struct {
		who    int
		chosen []string
	}
	answers := make([]answer, 0, len(takers))
	var extra []string
	for _, t := range takers {
		var vals []string
		if t.raw != nil && json.Unmarshal(t.raw, &vals) != nil {
			continue // not a list: leave the labeler out
		}
		answers = append(answers, answer{t.who, vals})
		for _, s := range vals {
			if !listed[s] {
				listed[s] = true
				extra = append(extra, s)
			}
		}
	}
	sort.Strings(extra)
	options = append(options, extra...)
	units := make([]agrUnit, 0, len(options))
	for _, opt := range options {
		u := make(agrUnit, len(answers))
		for i, a := range answers {
			u[i] = agrVote{a.who, agrNotChosen}
			if slices.Contains(a.chosen, opt) {
				u[i].cat = agrChosen
			}
		}
		units = append(units, u)
	}
	return units
}

// agrSpanAnswer is one taker's spans.
type agrSpanAnswer struct {
	who   int
	spans []blocks.Span
}

// agrReadSpans reads each taker's spans; takers whose value is not a list
// of spans are left out.
func agrReadSpans(takers []agrTaker) []agrSpanAnswer {
	out := make([]agrSpanAnswer, 0, len(takers))
	for _, t := range takers {
		var spans []blocks.Span
		if t.raw != nil && json.Unmarshal(t.raw, &spans) != nil {
			continue
		}
		out = append(out, agrSpanAnswer{t.who, spans})
	}
	return out
}

// agrExactSpanUnits makes a unit of each distinct character range any
// labeler marked; each labeler's category is the label they gave that
// very range (labels joined, if several), or none.
func agrExactSpanUnits(takers []agrTaker) []agrUnit {
	answers := agrReadSpans(takers)
	marked := map[[2]int][][]string{} // range → labels, by answer
	var ranges [][2]int
	for i, a := range answers {
		for _, s := range a.spans {
			r := [2]int{s.Start, s.End}
			if marked[r] == nil {
				marked[r] = make([][]string, len(answers))
				ranges = append(ranges, r)
			}
			marked[r][i] = append(marked[r][i], s.Label)
		}
	}
	sort.Slice(ranges, func(i, j int) bool {
		if ranges[i][0] != ranges[j][0] {
			return ranges[i][0] < ranges[j][0]
		}
		return ranges[i][1] < ranges[j][1]
	})
	units := make([]agrUnit, 0, len(ranges))
	for _, r := range ranges {
		u := make(agrUnit, len(answers))
		for i, a := range answers {
			u[i] = agrVote{a.who, agrNone}
			if labels := marked[r][i]; len(labels) > 0 {
				sort.Strings(labels)
				u[i].cat = strings.Join(labels, "\x00")
			}
		}
		units = append(units, u)
	}
	return units
}

// agrMark is one span or box of one labeler, for matching.
type agrMark struct {
	who   int
	label string
	// A span is [x0, x1); a box is [x0, x1) × [y0, y1).
	x0, x1, y0, y1 float64
	span           bool
}

// agrIoU is the intersection over union of two marks: of lengths for
// spans, of areas for boxes.
func agrIoU(a, b agrMark) float64 {
	ix := math.Min(a.x1, b.x1) - math.Max(a.x0, b.x0)
	if ix <= 0 {
		return 0
	}
	if a.span {
		return ix / (math.Max(a.x1, b.x1) - math.Min(a.x0, b.x0))
	}
	iy := math.Min(a.y1, b.y1) - math.Max(a.y0, b.y0)
	if iy <= 0 {
		return 0
	}
	inter := ix * iy
	union := (a.x1-a.x0)*(a.y1-a.y0) + (b.x1-b.x0)*(b.y1-b.y0) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

func agrOverlapSpanUnits(takers []agrTaker, minIoU float64) []agrUnit {
	answers := agrReadSpans(takers)
	var marks []agrMark
	who := make([]int, len(answers))
	for i, a := range answers {
		who[i] = a.who
		for _, s := range a.spans {
			marks = append(marks, agrMark{who: a.who, label: s.Label, x0: float64(s.Start), x1: float64(s.End), span: true})
		}
	}
	return agrClusterUnits(marks, who, minIoU)
}

func agrBoxUnits(takers []agrTaker, minIoU float64) []agrUnit {
	var marks []agrMark
	var who []int
	for _, t := range takers {
		var boxes []blocks.Box
		if t.raw != nil && json.Unmarshal(t.raw, &boxes) != nil {
			continue
		}
		who = append(who, t.who)
		for _, b := range boxes {
			marks = append(marks, agrMark{who: t.who, label: b.Label, x0: b.X, x1: b.X + b.Width, y0: b.Y, y1: b.Y + b.Height})
		}
	}
	return agrClusterUnits(marks, who, minIoU)
}

// agrClusterUnits matches the marks of different labelers greedily, the
// pair with the largest IoU first: two clusters merge when they share no
// labeler and every mark of one overlaps every mark of the other by at
// least minIoU (so a chain of overlaps cannot join marks that do not
// overlap). Each cluster is a unit: the label of each labeler's mark in
// it, or none for the labelers (of who) with no mark there.
func agrClusterUnits(marks []agrMark, who []int, minIoU float64) []agrUnit {
	type cand struct {
		i, j int
		iou  float64
	}
	var cands []cand
	for i := range marks {
		for j := i + 1; j < len(marks); j++ {
			if marks[i].who == marks[j].who {
				continue
			}
			if iou := agrIoU(marks[i], marks[j]); iou >= minIoU {
				cands = append(cands, cand{i, j, iou})
			}
		}
	}
	sort.SliceStable(cands, func(a, b int) bool { return cands[a].iou > cands[b].iou })
	cluster := make([]int, len(marks)) // mark → cluster id (its first mark)
	members := make(map[int][]int, len(marks))
	for i := range marks {
		cluster[i] = i
		members[i] = []int{i}
	}
	for _, c := range cands {
		ci, cj := cluster[c.i], cluster[c.j]
		if ci == cj || !agrCanMerge(marks, members[ci], members[cj], minIoU) {
			continue
		}
		if cj < ci {
			ci, cj = cj, ci
		}
		for _, m := range members[cj] {
			cluster[m] = ci
		}
		members[ci] = append(members[ci], members[cj]...)
		delete(members, cj)
	}
	// Units in the order of their first mark, for stable sums.
	var units []agrUnit
	for i := range marks {
		if cluster[i] != i {
			continue
		}
		u := make(agrUnit, len(who))
		for k, w := range who {
			u[k] = agrVote{w, agrNone}
			for _, m := range members[i] {
				if marks[m].who == w {
					u[k].cat = marks[m].label
				}
			}
		}
		units = append(units, u)
	}
	return units
}

func agrCanMerge(marks []agrMark, a, b []int, minIoU float64) bool {
	for _, i := range a {
		for _, j := range b {
			if marks[i].who == marks[j].who || agrIoU(marks[i], marks[j]) < minIoU {
				return false
			}
		}
	}
	return true
}

// addItem counts the units of item number serial.
func (b *agrBlock) addItem(serial int, units []agrUnit) {
	for _, u := range units {
		if len(u) == 0 {
			continue
		}
		b.units++
		for _, v := range u {
			l := b.labeler(v.who)
			l.units++
			if l.last != serial {
				l.last = serial
				l.items++
			}
		}
		m := len(u)
		if m < 2 {
			continue
		}
		b.pairable++
		b.values += m
		cats := b.buf[:0]
		for _, v := range u {
			cats = append(cats, b.cat(v.cat))
		}
		b.buf = cats
		// n_uc: how many of the unit's values are in category c. A unit
		// holds a few values: a slice searched in order beats a map.
		count := b.count[:0]
		for _, c := range cats {
			k := 0
			for k < len(count) && count[k].cat != c {
				k++
			}
			if k == len(count) {
				count = append(count, agrCount{cat: c})
			}
			count[k].n++
		}
		b.count = count
		// Percent agreement and Fleiss' P_u: the share of agreeing pairs.
		agreeing := 0
		for _, x := range count {
			agreeing += x.n * (x.n - 1)
			b.totals[x.cat] += x.n
		}
		b.sumP += float64(agreeing) / float64(m*(m-1))
		// Krippendorff's coincidence matrix: each ordered pair of values of
		// the unit from two labelers, weighted 1/(m−1).
		for _, x := range count {
			for _, y := range count {
				ny := y.n
				if x.cat == y.cat {
					ny--
				}
				if ny > 0 {
					b.o[[2]int{x.cat, y.cat}] += float64(x.n*ny) / float64(m-1)
				}
			}
		}
		for i := range u {
			for j := i + 1; j < m; j++ {
				x, y, cx, cy := u[i].who, u[j].who, cats[i], cats[j]
				if y < x {
					x, y, cx, cy = y, x, cy, cx
				}
				p := b.pairs[[2]int{x, y}]
				if p == nil {
					p = &agrPair{}
					b.pairs[[2]int{x, y}] = p
				}
				p.units++
				agrInc(&p.a, cx)
				agrInc(&p.b, cy)
				if cx == cy {
					p.agreed++
				}
				if p.last != serial {
					p.last = serial
					p.items++
				}
			}
		}
		// Consensus: the majority of the others, without this labeler.
		for i, v := range u {
			l := b.labeler(v.who)
			own := cats[i]
			best, bestN, tie := -1, 0, false
			for _, x := range count {
				n := x.n
				if x.cat == own {
					n--
				}
				switch {
				case n > bestN:
					best, bestN, tie = x.cat, n, false
				case n == bestN && n > 0:
					tie = true
				}
			}
			switch {
			case tie:
				l.ties++
			case best >= 0:
				l.compared++
				if best == own {
					l.agreed++
				}
			}
		}
	}
}

func agrInc(s *[]int, i int) {
	for len(*s) <= i {
		*s = append(*s, 0)
	}
	(*s)[i]++
}

func (b *agrBlock) labeler(who int) *agrLabeler {
	for len(b.labs) <= who {
		b.labs = append(b.labs, nil)
	}
	if b.labs[who] == nil {
		b.labs[who] = &agrLabeler{}
	}
	return b.labs[who]
}

func (b *agrBlock) cat(c string) int {
	i, ok := b.cats[c]
	if !ok {
		i = len(b.cats)
		b.cats[c] = i
		b.totals = append(b.totals, 0)
	}
	return i
}

// report works the figures out from the counts; names are the labelers by
// index.
func (b *agrBlock) report(names []string) BlockAgreement {
	r := BlockAgreement{
		Block: b.base.Name, Kind: b.base.Type, Rule: b.rule,
		Items: b.items, Units: b.units, PairableUnits: b.pairable, Values: b.values,
		PercentAgreement: UndefinedFigure, FleissKappa: UndefinedFigure, KrippendorffAlpha: UndefinedFigure,
		Pairs: []PairAgreement{}, Labelers: []LabelerAgreement{},
	}
	used := 0
	for _, n := range b.totals {
		if n > 0 {
			used++
		}
	}
	switch {
	case b.items == 0:
		r.Notes = append(r.Notes, "no answers yet")
	case b.pairable == 0:
		r.Notes = append(r.Notes, "no unit has answers from two labelers: there is nothing to compare")
	default:
		pbar := b.sumP / float64(b.pairable)
		r.PercentAgreement = Figure(pbar)
		if used < 2 {
			r.Notes = append(r.Notes, "every answer falls in one category: kappa and alpha are undefined (there is no variation to tell agreement from chance)")
			break
		}
		// Fleiss: P_e = Σ p_j², p_j the share of category j among all
		// values of the pairable units.
		var sumSq int64
		for _, t := range b.totals {
			sumSq += int64(t) * int64(t)
		}
		n := float64(b.values)
		pe := float64(sumSq) / (n * n)
		r.FleissKappa = Figure((pbar - pe) / (1 - pe))
		// Krippendorff: α = 1 − (n−1) Σ_{c≠k} o_ck / Σ_{c≠k} n_c n_k, where
		// n_c are the coincidence matrix's marginals (b.totals), so that
		// Σ_{c≠k} n_c n_k = n² − Σ n_c². Cells are summed in a fixed order
		// for figures that do not change from run to run.
		cells := make([][2]int, 0, len(b.o))
		for ck := range b.o {
			if ck[0] != ck[1] {
				cells = append(cells, ck)
			}
		}
		sort.Slice(cells, func(i, j int) bool {
			if cells[i][0] != cells[j][0] {
				return cells[i][0] < cells[j][0]
			}
			return cells[i][1] < cells[j][1]
		})
		disagree := 0.0
		for _, ck := range cells {
			disagree += b.o[ck]
		}
		r.KrippendorffAlpha = Figure(1 - (n-1)*disagree/(n*n-float64(sumSq)))
	}

	var ids []int
	for id, l := range b.labs {
		if l != nil {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return names[ids[i]] < names[ids[j]] })
	m := KappaMatrix{Labelers: make([]string, len(ids)), Kappa: make([][]Figure, len(ids)), Shared: make([][]int, len(ids))}
	pos := make(map[int]int, len(ids))
	for i, id := range ids {
		l := b.labs[id]
		r.Labelers = append(r.Labelers, LabelerAgreement{
			Labeler: names[id], Items: l.items, Units: l.units,
			Compared: l.compared, Ties: l.ties, Agreed: l.agreed,
			Consensus: agrShare(l.agreed, l.compared),
		})
		pos[id] = i
		m.Labelers[i] = names[id]
		m.Kappa[i] = make([]Figure, len(ids))
		m.Shared[i] = make([]int, len(ids))
		for j := range ids {
			m.Kappa[i][j] = UndefinedFigure
		}
		m.Shared[i][i] = l.units
	}
	for key, p := range b.pairs {
		a, c := names[key[0]], names[key[1]]
		if c < a {
			a, c = c, a
		}
		pa := PairAgreement{A: a, B: c, Items: p.items, Units: p.units, Agreed: p.agreed,
			Agreement: agrShare(p.agreed, p.units), Kappa: agrCohen(p)}
		r.Pairs = append(r.Pairs, pa)
		i, j := pos[key[0]], pos[key[1]]
		m.Kappa[i][j], m.Kappa[j][i] = pa.Kappa, pa.Kappa
		m.Shared[i][j], m.Shared[j][i] = p.units, p.units
	}
	sort.Slice(r.Pairs, func(i, j int) bool {
		if r.Pairs[i].A != r.Pairs[j].A {
			return r.Pairs[i].A < r.Pairs[j].A
		}
		return r.Pairs[i].B < r.Pairs[j].B
	})
	r.Matrix = m
	return r
}

// agrCohen is Cohen's kappa of a pair: (p_o − p_e) / (1 − p_e), with p_e
// from each labeler's own shares of the categories.
func agrCohen(p *agrPair) Figure {
	if p.units < 2 {
		return UndefinedFigure
	}
	// p_e = Σ_c (a_c/n)(b_c/n), summed in integers: exact.
	var chance int64
	for c := 0; c < len(p.a) && c < len(p.b); c++ {
		chance += int64(p.a[c]) * int64(p.b[c])
	}
	n := int64(p.units)
	if chance == n*n {
		return UndefinedFigure
	}
	pe := float64(chance) / float64(n*n)
	return Figure((float64(p.agreed)/float64(n) - pe) / (1 - pe))
}

func agrShare(k, n int) Figure {
	if n == 0 {
		return UndefinedFigure
	}
	return Figure(float64(k) / float64(n))
}

// agrEmpty reports whether a stored value counts as no value.
func agrEmpty(raw json.RawMessage) bool {
	switch strings.TrimSpace(string(raw)) {
	case "", "null", `""`, "[]", "{}":
		return true
	}
	return false
}

func agrSortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
