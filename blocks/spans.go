package blocks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/loupehq/loupe"
)

// MaxSpans is the most spans one value may hold, whatever max says.
const MaxSpans = 10000

// spanPalette colours labels that set no color of their own. Each is a mid
// tone that shows as a tint and an underline on the light and the dark
// theme alike; the text itself stays in the theme's colour, and every span
// also shows its label's name.
var spanPalette = []string{"#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#8c8c8c"}

// Spans is a labeling block: mark stretches of an item's text field
// (NER-style) with one of its labels, with the mouse or the keyboard.
// Value: a list of spans {"start", "end", "label", "text"}, where start and
// end count Unicode code points (as Python and spaCy do), end exclusive,
// and text is exactly the text between them. The canonical form is sorted
// by start, then end, then label.
type Spans struct {
	Base         `yaml:",inline"`
	Field        string  `yaml:"field" json:"field"`
	Labels       Options `yaml:"labels" json:"labels"`
	AllowOverlap bool    `yaml:"allow_overlap,omitempty" json:"allow_overlap,omitempty"`
	Count        `yaml:",inline"`
	Required     bool `yaml:"required,omitempty" json:"required,omitempty"`
}

// Span is one labeled stretch of text, as stored.
type Span struct {
	Start int    `json:"start"`
	End   int    `json:"end"`
	Label string `json:"label"`
	Text  string `json:"text"`
}

// describe names a span in messages: PER "Alice" (0–5).
func (s Span) describe() string {
	return fmt.Sprintf("%s %q (%d–%d)", s.Label, s.Text, s.Start, s.End)
}

// Check implements Block.
func (s *Spans) Check(c *Checker) {
	if s.Field == "" {
		c.Errorf("field", "a spans block needs the name of the item field whose text is labeled")
	}
	s.Labels.check(c, "labels", 1, "label")
	s.Count.check(c, MaxSpans, fmt.Sprintf("a value may hold at most %d spans", MaxSpans))
}

// Fields implements FieldReader.
func (s *Spans) Fields() []string { return []string{s.Field} }

// KeyTargets implements Keyed: one key per label, which labels the
// selected text.
func (s *Spans) KeyTargets() []KeyTarget { return s.Labels.keyTargets("label span as") }

// SetKey implements Keyed.
func (s *Spans) SetKey(id, key string) { s.Labels.setKey(id, key) }

// IsRequired implements Valuer.
func (s *Spans) IsRequired() bool { return s.Required }

// LabelColor returns the colour of a label: its own, or one of the
// palette by its place in the list.
func (s *Spans) LabelColor(value string) string {
	for i, o := range s.Labels {
		if o.Value == value {
			if o.Color != "" {
				return o.Color
			}
			return spanPalette[i%len(spanPalette)]
		}
	}
	return spanPalette[len(spanPalette)-1]
}

// labelText returns the name shown for a label value.
func (s *Spans) labelText(value string) string {
	if o, ok := s.Labels.find(value); ok {
		return o.Text()
	}
	return value
}

// Limits says how many spans are wanted, for the page: "" when any number
// is fine.
func (s *Spans) Limits() string { return s.Count.text("Mark", noun{"span", "spans"}) }

// itemText returns the text the spans are over, in code points.
func (s *Spans) itemText(data map[string]any) ([]rune, error) {
	v, ok := data[s.Field]
	if !ok || v == nil {
		return nil, invalidf("the item has no field %q, so there is no text to label", s.Field)
	}
	text, ok := v.(string)
	if !ok {
		return nil, invalidf("the item's field %q is not text, so spans cannot be labeled in it", s.Field)
	}
	return []rune(text), nil
}

// ValidateValue implements Valuer: every span lies inside the item's text,
// is not empty, quotes the exact text at its offsets, has a known label and
// appears once; spans do not overlap unless allow_overlap is set; there
// are as many as min and max allow. The canonical form is sorted, with the
// text filled in where a span left it out.
func (s *Spans) ValidateValue(v json.RawMessage, data map[string]any) (json.RawMessage, error) {
	text, err := s.itemText(data)
	if err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil {
		return nil, invalidf(`expected a list of spans like [{"start": 0, "end": 5, "label": %q}], got %s`, s.firstLabel(), abbreviate(v))
	}
	if len(raw) > MaxSpans {
		return nil, invalidf("%d spans is more than the %d a value may hold", len(raw), MaxSpans)
	}
	spans := make([]Span, 0, len(raw))
	for i, r := range raw {
		sp, err := s.readSpan(i+1, r, text)
		if err != nil {
			return nil, err
		}
		spans = append(spans, sp)
	}
	sortSpans(spans)
	for i := 1; i < len(spans); i++ {
		if spans[i] == spans[i-1] {
			return nil, invalidf("span %s is listed twice", spans[i].describe())
		}
	}
	if !s.AllowOverlap {
		// Sorted by start, a span overlaps an earlier one exactly when it
		// starts before the furthest end seen so far.
		far := 0
		for i := 1; i < len(spans); i++ {
			if spans[i].Start < spans[far].End {
				return nil, invalidf("span %s overlaps span %s; this block does not allow overlapping spans", spans[far].describe(), spans[i].describe())
			}
			if spans[i].End > spans[far].End {
				far = i
			}
		}
	}
	if err := s.Count.checkValue(len(spans), "mark", noun{"span", "spans"}); err != nil {
		return nil, err
	}
	return json.Marshal(spans)
}

// readSpan checks the n-th span of a value against the text.
func (s *Spans) readSpan(n int, r json.RawMessage, text []rune) (Span, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(r, &fields); err != nil || fields == nil {
		return Span{}, invalidf(`span %d is not a span: expected {"start": 0, "end": 5, "label": %q}, got %s`, n, s.firstLabel(), abbreviate(r))
	}
	for _, k := range sortedKeys(fields) {
		switch k {
		case "start", "end", "label", "text":
		default:
			return Span{}, invalidf("span %d has an unknown field %q; a span has start, end, label and text", n, k)
		}
	}
	var sp Span
	var err error
	if sp.Start, err = spanOffset(n, "start", fields["start"]); err != nil {
		return Span{}, err
	}
	if sp.End, err = spanOffset(n, "end", fields["end"]); err != nil {
		return Span{}, err
	}
	if err := json.Unmarshal(fields["label"], &sp.Label); err != nil || spanNull(fields["label"]) {
		return Span{}, invalidf("span %d (%d–%d) needs a label, one of %s", n, sp.Start, sp.End, quoteList(s.Labels.values()))
	}
	if _, ok := s.Labels.find(sp.Label); !ok {
		return Span{}, invalidf("span %d (%d–%d): %q is not one of the labels (%s)", n, sp.Start, sp.End, sp.Label, quoteList(s.Labels.values()))
	}
	switch {
	case sp.Start < 0 || sp.End > len(text):
		return Span{}, invalidf("span %d (%s, %d–%d) is outside the text, which is %d characters long", n, sp.Label, sp.Start, sp.End, len(text))
	case sp.Start >= sp.End:
		return Span{}, invalidf("span %d (%s, %d–%d) is an empty span: end must be after start", n, sp.Label, sp.Start, sp.End)
	}
	at := string(text[sp.Start:sp.End])
	if claimed := fields["text"]; !spanNull(claimed) {
		if err := json.Unmarshal(claimed, &sp.Text); err != nil {
			return Span{}, invalidf("span %d (%s, %d–%d): text must be a string, got %s", n, sp.Label, sp.Start, sp.End, abbreviate(claimed))
		}
		if sp.Text != at {
			return Span{}, invalidf("span %d (%s, %d–%d) claims the text %q, but the text at those offsets is %q", n, sp.Label, sp.Start, sp.End, sp.Text, at)
		}
	}
	sp.Text = at
	return sp, nil
}

// spanOffset reads a span's start or end: a whole number.
func spanOffset(n int, name string, r json.RawMessage) (int, error) {
	if spanNull(r) {
		return 0, invalidf("span %d has no %s", n, name)
	}
	var f float64
	if err := json.Unmarshal(r, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<40 {
		return 0, invalidf("span %d: %s must be a whole number of characters, got %s", n, name, abbreviate(r))
	}
	return int(f), nil
}

// spanNull reports whether a field is missing or JSON null.
func spanNull(r json.RawMessage) bool { return r == nil || string(r) == "null" }

func (s *Spans) firstLabel() string {
	if len(s.Labels) > 0 {
		return s.Labels[0].Value
	}
	return "LABEL"
}

func sortSpans(spans []Span) {
	sort.SliceStable(spans, func(i, j int) bool {
		a, b := spans[i], spans[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.End != b.End {
			return a.End < b.End
		}
		if a.Label != b.Label {
			return a.Label < b.Label
		}
		return a.Text < b.Text
	})
}

// FormValue implements Valuer: the page's script keeps the spans as JSON
// in one hidden field.
func (s *Spans) FormValue(form map[string][]string, field string) (json.RawMessage, error) {
	vals := form[field]
	if len(vals) == 0 {
		return nil, nil
	}
	if len(vals) > 1 {
		return nil, invalidf("expected one list of spans, got %d", len(vals))
	}
	v := strings.TrimSpace(vals[0])
	if v == "" {
		return nil, nil
	}
	if !json.Valid([]byte(v)) {
		return nil, invalidf("the spans could not be read (not JSON): %s", abbreviate(json.RawMessage(v)))
	}
	return json.RawMessage(v), nil
}

// Flatten implements Valuer: the list of spans as JSON in one column.
func (s *Spans) Flatten(v json.RawMessage) []Cell {
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		return []Cell{{Value: string(v)}}
	}
	return []Cell{{Value: buf.String()}}
}

// SpansView is what the spans template draws: the text cut into runs, each
// plain or inside spans, and the list of spans.
type SpansView struct {
	Runs  []SpanRun
	Spans []SpanShown
	// Source is the text as JSON, set only when the page's HTML cannot
	// carry it exactly (carriage returns and NUL characters are changed
	// by HTML parsing), so that the script counts offsets right.
	Source string
}

// SpanRun is a stretch of the text with the same spans over it, followed
// by the names of the spans that end with it.
type SpanRun struct {
	Text   string
	Marked bool
	Color  string // of the innermost span over the run
	Depth  int    // how many spans cover the run
	Tags   []SpanShown
}

// SpanShown is one span as the page shows it.
type SpanShown struct {
	Span
	Name  string // the label's display name
	Color string
}

// View cuts the item's text into runs for the page. The value may be one
// the server refused (shown again with its error), so spans that do not
// fit the text are left out of the drawing rather than failing it.
func (s *Spans) View(data map[string]any, raw json.RawMessage) SpansView {
	text, ok := data[s.Field].(string)
	if !ok {
		text = FieldText(data, s.Field)
	}
	runes := []rune(text)
	var shown []SpanShown
	var list []map[string]any
	json.Unmarshal(raw, &list)
	for _, m := range list {
		start, ok1 := m["start"].(float64)
		end, ok2 := m["end"].(float64)
		label, _ := m["label"].(string)
		if !ok1 || !ok2 || start != math.Trunc(start) || end != math.Trunc(end) || start < 0 || end > float64(len(runes)) || start >= end {
			continue
		}
		sp := Span{Start: int(start), End: int(end), Label: label, Text: string(runes[int(start):int(end)])}
		shown = append(shown, SpanShown{Span: sp, Name: s.labelText(label), Color: s.LabelColor(label)})
	}
	sort.SliceStable(shown, func(i, j int) bool {
		a, b := shown[i], shown[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.End != b.End {
			return a.End < b.End
		}
		return a.Label < b.Label
	})
	out := SpansView{Spans: shown}
	if strings.ContainsAny(text, "\r\x00") {
		b, _ := json.Marshal(text)
		out.Source = string(b)
	}
	cuts := map[int]bool{0: true, len(runes): true}
	for _, sp := range shown {
		cuts[sp.Start], cuts[sp.End] = true, true
	}
	points := make([]int, 0, len(cuts))
	for p := range cuts {
		points = append(points, p)
	}
	sort.Ints(points)
	// Sweep the cuts: every span start and end is a cut, so a span that
	// starts at or before a run and ends after its start covers all of it.
	var active []int // indexes into shown, in order
	next := 0
	for i := 0; i+1 < len(points); i++ {
		a, b := points[i], points[i+1]
		keep := active[:0]
		for _, j := range active {
			if shown[j].End > a {
				keep = append(keep, j)
			}
		}
		active = keep
		for ; next < len(shown) && shown[next].Start <= a; next++ {
			active = append(active, next)
		}
		run := SpanRun{Text: string(runes[a:b]), Depth: len(active)}
		// The innermost span is the one that starts last (and, of those,
		// ends first): its colour is the run's.
		inner := -1
		for _, j := range active {
			if inner < 0 || shown[j].Start > shown[inner].Start {
				inner = j
			}
		}
		if inner >= 0 {
			run.Marked, run.Color = true, shown[inner].Color
		}
		// Names of the spans ending here, innermost (latest start) first.
		for k := len(active) - 1; k >= 0; k-- {
			if j := active[k]; shown[j].End == b {
				run.Tags = append(run.Tags, shown[j])
			}
		}
		out.Runs = append(out.Runs, run)
	}
	return out
}

// LabelStudioObjects implements LabelStudioObjecter: the Text of the
// field the spans are over.
func (s *Spans) LabelStudioObjects() []LSObject { return []LSObject{{Tag: "Text", Field: s.Field}} }

// LabelStudioControl implements LabelStudioMapper: <Labels> with a <Label>
// per label, in the label's colour, over the Text of the block's field.
func (s *Spans) LabelStudioControl() LSControl {
	return LSControl{
		Tag:    LSTag{Name: "Labels", Children: lsOptionTags(s.Labels, "Label", func(_ int, o Option) string { return s.LabelColor(o.Value) })},
		Type:   "labels",
		Target: LSTarget{Tag: "Text", Field: s.Field},
	}
}

// FromLabelStudio implements LabelStudioMapper: one result per region,
// {"start", "end", "text", "labels": [...]}, and one span per label of a
// region. Offsets are read as code points, as Label Studio's editor and
// its Python ML backends count them. When the region quotes a text that
// is not at those code points but is at the same offsets counted in
// UTF-16 units (as older Label Studio versions counted in texts with
// emoji), the offsets are converted. A text matching neither is refused
// by validation, which names the text at the offsets.
func (s *Spans) FromLabelStudio(results []LSResult, data map[string]any) (json.RawMessage, error) {
	text, err := s.itemText(data)
	if err != nil {
		return nil, err
	}
	spans := []map[string]any{}
	for n, r := range results {
		var off [2]int
		for i, key := range []string{"start", "end"} {
			f, ok, err := lsNumber(r.Value, key)
			switch {
			case err != nil:
				return nil, invalidf("region %d: %s", n+1, loupe.ErrorMessage(err))
			case !ok:
				return nil, invalidf("region %d has no value.%s", n+1, key)
			case f != math.Trunc(f) || math.Abs(f) > 1<<40:
				return nil, invalidf("region %d: value.%s must be a whole number of characters, got %v", n+1, key, f)
			}
			off[i] = int(f)
		}
		start, end := off[0], off[1]
		var claimed *string
		if x, ok := r.Value["text"]; ok && x != nil {
			t, ok := x.(string)
			if !ok {
				return nil, invalidf("region %d (%d–%d): value.text must be a string, got %s", n+1, start, end, lsDescribe(x))
			}
			claimed = &t
			if !spanAt(text, start, end, t) {
				rs, ok1 := runeOffset(text, start)
				re, ok2 := runeOffset(text, end)
				if ok1 && ok2 && spanAt(text, rs, re, t) {
					start, end = rs, re
				}
			}
		}
		labels, err := lsStrings(r.Value, "labels", false)
		if err != nil {
			return nil, invalidf("region %d (%d–%d): %s", n+1, start, end, loupe.ErrorMessage(err))
		}
		if len(labels) == 0 {
			return nil, invalidf("region %d (%d–%d) has no label; labels: %s", n+1, start, end, quoteList(s.Labels.values()))
		}
		for _, l := range labels {
			sp := map[string]any{"start": start, "end": end, "label": l}
			if claimed != nil {
				sp["text"] = *claimed
			}
			spans = append(spans, sp)
		}
	}
	return json.Marshal(spans)
}

// spanAt reports whether text[start:end] (in code points) is t.
func spanAt(text []rune, start, end int, t string) bool {
	return start >= 0 && start <= end && end <= len(text) && string(text[start:end]) == t
}

// ToLabelStudio implements LabelStudioMapper: one region per span, with
// offsets in code points.
func (s *Spans) ToLabelStudio(v json.RawMessage, _ map[string]any) ([]LSResult, error) {
	var spans []Span
	if err := json.Unmarshal(v, &spans); err != nil {
		return nil, invalidf("expected a list of spans, got %s", abbreviate(v))
	}
	out := make([]LSResult, len(spans))
	for i, sp := range spans {
		out[i] = LSResult{Value: map[string]any{"start": sp.Start, "end": sp.End, "text": sp.Text, "labels": []string{sp.Label}}}
	}
	return out, nil
}

// LLMSchema implements LLMMapper: a list of {"text", "label"}. An LLM
// quotes the text of a span rather than counting offsets, which it
// cannot do reliably; FromLLM finds the text in the item.
func (s *Spans) LLMSchema() map[string]any {
	sc := map[string]any{
		"type": "array",
		"items": map[string]any{
			"type": "object",
			"properties": map[string]any{
				"text":  map[string]any{"type": "string", "description": fmt.Sprintf("the span's text, copied exactly from field %q", s.Field)},
				"label": map[string]any{"type": "string", "enum": s.Labels.values()},
			},
			"required":             []string{"text", "label"},
			"additionalProperties": false,
		},
		"description": fmt.Sprintf("Spans of field %q, in the order they occur; repeat a text once for each occurrence to label.", s.Field),
	}
	if s.Max > 0 {
		sc["maxItems"] = s.Max
	}
	return sc
}

// FromLLM implements LLMMapper. Spans come as {"text", "label"}, and each
// is placed at the first occurrence of its text, searching from the end of
// the span before it and then from the start of the field, that overlaps
// no span placed before (with allow_overlap, that is not the same span
// with the same label). So a text listed twice labels its first two
// occurrences. A text that does not occur, or whose every occurrence is
// taken, is an EINVALID error naming the span.
func (s *Spans) FromLLM(v json.RawMessage, data map[string]any) (json.RawMessage, error) {
	runes, err := s.itemText(data)
	if err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil || raw == nil {
		return nil, invalidf(`expected a list of spans like [{"text": "Alice", "label": %q}], got %s`, s.firstLabel(), abbreviate(v))
	}
	if len(raw) > MaxSpans {
		return nil, invalidf("%d spans is more than the %d a value may hold", len(raw), MaxSpans)
	}
	text := string(runes)
	// starts[i] is the byte offset of rune i, for turning byte offsets
	// into code points.
	starts := make([]int, 0, len(runes)+1)
	for i := range text {
		starts = append(starts, i)
	}
	starts = append(starts, len(text))
	toRune := func(b int) int { return sort.SearchInts(starts, b) }

	var placed []Span
	taken := func(start, end int, label string) bool {
		for _, p := range placed {
			if s.AllowOverlap {
				if p.Start == start && p.End == end && p.Label == label {
					return true
				}
			} else if start < p.End && p.Start < end {
				return true
			}
		}
		return false
	}
	cursor := 0 // byte offset where the previous span ended
	for n, r := range raw {
		var item struct {
			Text  *string `json:"text"`
			Label *string `json:"label"`
		}
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&item); err != nil || item.Text == nil || item.Label == nil {
			return nil, invalidf(`span %d is not {"text": "...", "label": "..."}: got %s`, n+1, abbreviate(r))
		}
		t, label := *item.Text, *item.Label
		if t == "" {
			return nil, invalidf("span %d (%s) has an empty text", n+1, label)
		}
		find := func(from int) (int, int, bool) {
			for from <= len(text) {
				j := strings.Index(text[from:], t)
				if j < 0 {
					return 0, 0, false
				}
				b := from + j
				start, end := toRune(b), toRune(b+len(t))
				if !taken(start, end, label) {
					return b, b + len(t), true
				}
				_, size := utf8.DecodeRuneInString(text[b:])
				from = b + size
			}
			return 0, 0, false
		}
		b, e, ok := find(cursor)
		if !ok {
			b, e, ok = find(0)
		}
		if !ok {
			if strings.Contains(text, t) {
				return nil, invalidf("span %d (%s %q): every occurrence of the text in field %q is already taken by an earlier span", n+1, label, t, s.Field)
			}
			return nil, invalidf("span %d (%s %q): the text does not occur in field %q", n+1, label, t, s.Field)
		}
		placed = append(placed, Span{Start: toRune(b), End: toRune(e), Label: label, Text: t})
		cursor = e
	}
	if placed == nil {
		placed = []Span{}
	}
	return json.Marshal(placed)
}
