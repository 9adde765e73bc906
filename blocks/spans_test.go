package blocks_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

const spansYAML = `title: NER
blocks:
  - type: spans
    name: ents
    field: text
    labels:
      - PER
      - {value: ORG, label: Organisation, key: o, color: "#aa3300"}
      - PLACE
`

// In code points the text is 26 long and "Zürich" is 19–25; in UTF-16
// units (as a browser counts) it is 20–26, because 🙂 takes two units.
const spansText = "Alice met Bob in 🙂 Zürich."

func spansBlock(t *testing.T, src string) *blocks.Spans {
	t.Helper()
	v, ok := mustParse(t, src).Interface().Valuer("ents")
	if !ok {
		t.Fatal("no block ents")
	}
	return v.(*blocks.Spans)
}

// Config problems name the line, the column and the field.
func TestSpansConfigErrors(t *testing.T) {
	tests := []struct {
		name, blocks, want string
	}{
		{"no field", "  - {type: spans, name: ents, labels: [PER]}\n",
			"config:3:5: blocks[0].field: a spans block needs the name of the item field whose text is labeled"},
		{"no labels", "  - {type: spans, name: ents, field: t}\n",
			"config:3:5: blocks[0].labels: must not be empty: list at least one label"},
		{"empty labels", "  - type: spans\n    name: ents\n    field: t\n    labels: []\n",
			"config:6:5: blocks[0].labels: must not be empty: list at least one label"},
		{"label twice", "  - type: spans\n    name: ents\n    field: t\n    labels: [PER, PER]\n",
			`config:6:5: blocks[0].labels: label "PER" is listed twice`},
		{"bad colour", "  - type: spans\n    name: ents\n    field: t\n    labels: [{value: PER, color: red}]\n",
			`config:6:5: blocks[0].labels: label "PER": color "red" must be #rrggbb`},
		{"bad key", "  - type: spans\n    name: ents\n    field: t\n    labels: [{value: PER, key: F1}]\n",
			`config:6:5: blocks[0].labels: label "PER": key "F1" must be one lower-case letter or digit`},
		{"reserved key", "  - type: spans\n    name: ents\n    field: t\n    labels: [{value: PER, key: s}]\n",
			`config:3:5: blocks[0]: key "s" is kept for "skip"; choose another`},
		{"no name", "  - {type: spans, field: t, labels: [PER]}\n",
			"config:3:5: blocks[0].name: a spans block needs a name: its value is stored under it"},
		{"negative min", "  - type: spans\n    name: ents\n    field: t\n    labels: [PER]\n    min: -1\n",
			"config:7:5: blocks[0].min: min must not be negative, got -1"},
		{"max below min", "  - type: spans\n    name: ents\n    field: t\n    labels: [PER]\n    min: 3\n    max: 2\n",
			"config:8:5: blocks[0].max: max (2) is smaller than min (3)"},
		{"min not a number", "  - type: spans\n    name: ents\n    field: t\n    labels: [PER]\n    min: few\n",
			`config:7:10: blocks[0].min: expected a whole number, got "few"`},
		{"overlap not a bool", "  - type: spans\n    name: ents\n    field: t\n    labels: [PER]\n    allow_overlap: sometimes\n",
			`config:7:20: blocks[0].allow_overlap: expected true or false, got "sometimes"`},
		{"typo", "  - type: spans\n    name: ents\n    field: t\n    labels: [PER]\n    allow_overlaps: true\n",
			`config:7:5: blocks[0].allow_overlaps: unknown field (did you mean "allow_overlap"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := blocks.ParseConfig([]byte("title: x\nblocks:\n" + tt.blocks))
			if err == nil {
				t.Fatalf("ParseConfig succeeded, want %s", tt.want)
			}
			if got := loupe.ErrorMessage(err); !strings.Contains(got, tt.want) {
				t.Errorf("errors:\n%s\nwant a line with\n%s", got, tt.want)
			}
		})
	}
}

func TestSpansConfig(t *testing.T) {
	cfg := mustParse(t, spansYAML)
	in := cfg.Interface()
	if got := in.Fields(); len(got) != 1 || got[0] != "text" {
		t.Errorf("fields = %v, want [text]", got)
	}
	var keys []string
	for _, s := range in.Shortcuts() {
		keys = append(keys, s.Key+"="+s.Action)
	}
	want := "1=label span as PER,o=label span as Organisation,2=label span as PLACE"
	if got := strings.Join(keys, ","); got != want {
		t.Errorf("keys = %s\nwant %s", got, want)
	}
	sp := spansBlock(t, spansYAML)
	if sp.LabelColor("ORG") != "#aa3300" || sp.LabelColor("PER") == "" || sp.LabelColor("PER") == sp.LabelColor("PLACE") {
		t.Errorf("colours: PER %s, ORG %s, PLACE %s", sp.LabelColor("PER"), sp.LabelColor("ORG"), sp.LabelColor("PLACE"))
	}
}

// Every bad value the issue names is refused with a message naming the
// span; good values come back canonical: sorted, integers, text filled in.
func TestSpansValidateValue(t *testing.T) {
	plain := spansBlock(t, spansYAML)
	overlap := spansBlock(t, spansYAML+"    allow_overlap: true\n")
	limited := spansBlock(t, spansYAML+"    min: 2\n    max: 3\n")
	data := map[string]any{"text": spansText}
	tests := []struct {
		name  string
		block *blocks.Spans
		data  map[string]any
		value string
		want  string // canonical JSON, or "" when refused
		msg   string
	}{
		{"one span, text filled in", plain, data, `[{"start": 0, "end": 5, "label": "PER"}]`,
			`[{"start":0,"end":5,"label":"PER","text":"Alice"}]`, ""},
		{"sorted by start, then end, then label; 10.0 is whole", overlap, data,
			`[{"start": 10, "end": 13.0, "label": "PER", "text": "Bob"}, {"start": 0, "end": 9, "label": "PLACE"}, {"start": 0, "end": 5, "label": "PER"}, {"start": 0, "end": 5, "label": "ORG"}]`,
			`[{"start":0,"end":5,"label":"ORG","text":"Alice"},{"start":0,"end":5,"label":"PER","text":"Alice"},{"start":0,"end":9,"label":"PLACE","text":"Alice met"},{"start":10,"end":13,"label":"PER","text":"Bob"}]`, ""},
		{"code points after an emoji", plain, data, `[{"start": 19, "end": 25, "label": "PLACE", "text": "Zürich"}]`,
			`[{"start":19,"end":25,"label":"PLACE","text":"Zürich"}]`, ""},
		{"the emoji itself is one character", plain, data, `[{"start": 17, "end": 18, "label": "PER", "text": "🙂"}]`,
			`[{"start":17,"end":18,"label":"PER","text":"🙂"}]`, ""},
		{"span ending at the end of the text", plain, data, `[{"start": 19, "end": 26, "label": "PLACE"}]`,
			`[{"start":19,"end":26,"label":"PLACE","text":"Zürich."}]`, ""},
		{"adjacent spans do not overlap", plain, data, `[{"start": 0, "end": 5, "label": "PER"}, {"start": 5, "end": 9, "label": "ORG"}]`,
			`[{"start":0,"end":5,"label":"PER","text":"Alice"},{"start":5,"end":9,"label":"ORG","text":" met"}]`, ""},
		{"null text is filled in", plain, data, `[{"start": 0, "end": 5, "label": "PER", "text": null}]`,
			`[{"start":0,"end":5,"label":"PER","text":"Alice"}]`, ""},
		{"nested spans where overlap is allowed", overlap, data, `[{"start": 0, "end": 13, "label": "ORG"}, {"start": 0, "end": 5, "label": "PER"}]`,
			`[{"start":0,"end":5,"label":"PER","text":"Alice"},{"start":0,"end":13,"label":"ORG","text":"Alice met Bob"}]`, ""},
		{"within min and max", limited, data, `[{"start": 0, "end": 5, "label": "PER"}, {"start": 10, "end": 13, "label": "PER"}]`,
			`[{"start":0,"end":5,"label":"PER","text":"Alice"},{"start":10,"end":13,"label":"PER","text":"Bob"}]`, ""},

		{"not a list", plain, data, `{"start": 0, "end": 5, "label": "PER"}`, "", `expected a list of spans like [{"start": 0, "end": 5, "label": "PER"}], got {"start"`},
		{"a string", plain, data, `"Alice"`, "", "expected a list of spans"},
		{"not an object", plain, data, `[[0, 5, "PER"]]`, "", `span 1 is not a span: expected {"start": 0, "end": 5, "label": "PER"}, got [0, 5, "PER"]`},
		{"null span", plain, data, `[null]`, "", "span 1 is not a span"},
		{"start not whole", plain, data, `[{"start": 0.5, "end": 5, "label": "PER"}]`, "", "span 1: start must be a whole number of characters, got 0.5"},
		{"end as a string", plain, data, `[{"start": 0, "end": "5", "label": "PER"}]`, "", `span 1: end must be a whole number of characters, got "5"`},
		{"no end", plain, data, `[{"start": 0, "label": "PER"}]`, "", "span 1 has no end"},
		{"null start", plain, data, `[{"start": null, "end": 5, "label": "PER"}]`, "", "span 1 has no start"},
		{"negative start", plain, data, `[{"start": -1, "end": 5, "label": "PER"}]`, "", "span 1 (PER, -1–5) is outside the text, which is 26 characters long"},
		{"end past the text (UTF-16 count)", plain, data, `[{"start": 20, "end": 27, "label": "PLACE"}]`, "", "span 1 (PLACE, 20–27) is outside the text, which is 26 characters long"},
		{"empty span", plain, data, `[{"start": 3, "end": 3, "label": "PER"}]`, "", "span 1 (PER, 3–3) is an empty span"},
		{"end before start", plain, data, `[{"start": 5, "end": 0, "label": "PER"}]`, "", "span 1 (PER, 5–0) is an empty span"},
		{"UTF-16 offsets miss the substring", plain, data, `[{"start": 20, "end": 26, "label": "PLACE", "text": "Zürich"}]`, "",
			`span 1 (PLACE, 20–26) claims the text "Zürich", but the text at those offsets is "ürich."`},
		{"the span is named by its place", plain, data, `[{"start": 0, "end": 5, "label": "PER", "text": "Alice"}, {"start": 10, "end": 13, "label": "PER", "text": "Alice"}]`, "",
			`span 2 (PER, 10–13) claims the text "Alice", but the text at those offsets is "Bob"`},
		{"text not a string", plain, data, `[{"start": 0, "end": 5, "label": "PER", "text": 5}]`, "", "span 1 (PER, 0–5): text must be a string, got 5"},
		{"unknown label", plain, data, `[{"start": 0, "end": 5, "label": "LOC"}]`, "", `span 1 (0–5): "LOC" is not one of the labels ("PER", "ORG", "PLACE")`},
		{"label by its display name", plain, data, `[{"start": 0, "end": 5, "label": "Organisation"}]`, "", `"Organisation" is not one of the labels`},
		{"no label", plain, data, `[{"start": 0, "end": 5}]`, "", `span 1 (0–5) needs a label, one of "PER", "ORG", "PLACE"`},
		{"null label", plain, data, `[{"start": 0, "end": 5, "label": null}]`, "", "span 1 (0–5) needs a label"},
		{"label not a string", plain, data, `[{"start": 0, "end": 5, "label": 1}]`, "", "span 1 (0–5) needs a label"},
		{"unknown field", plain, data, `[{"start": 0, "end": 5, "label": "PER", "score": 0.9}]`, "", `span 1 has an unknown field "score"; a span has start, end, label and text`},
		{"duplicate", plain, data, `[{"start": 0, "end": 5, "label": "PER"}, {"start": 0, "end": 5, "label": "PER", "text": "Alice"}]`, "",
			`span PER "Alice" (0–5) is listed twice`},
		{"duplicate where overlap is allowed", overlap, data, `[{"start": 0, "end": 5, "label": "PER"}, {"start": 0, "end": 5, "label": "PER"}]`, "", "is listed twice"},
		{"overlap", plain, data, `[{"start": 6, "end": 13, "label": "ORG"}, {"start": 0, "end": 9, "label": "PER"}]`, "",
			`span PER "Alice met" (0–9) overlaps span ORG "met Bob" (6–13); this block does not allow overlapping spans`},
		{"nested", plain, data, `[{"start": 0, "end": 13, "label": "ORG"}, {"start": 6, "end": 9, "label": "PER"}]`, "",
			`span ORG "Alice met Bob" (0–13) overlaps span PER "met" (6–9)`},
		{"overlap behind a shorter span", plain, data, `[{"start": 0, "end": 16, "label": "ORG"}, {"start": 6, "end": 9, "label": "PER"}, {"start": 14, "end": 18, "label": "PER"}]`, "",
			`span ORG "Alice met Bob in" (0–16) overlaps span PER "met" (6–9)`},
		{"same stretch, two labels", plain, data, `[{"start": 0, "end": 5, "label": "PER"}, {"start": 0, "end": 5, "label": "ORG"}]`, "",
			`span ORG "Alice" (0–5) overlaps span PER "Alice" (0–5)`},
		{"too few", limited, data, `[{"start": 0, "end": 5, "label": "PER"}]`, "", "mark at least 2 spans, not 1"},
		{"too many", limited, data, `[{"start": 0, "end": 1, "label": "PER"}, {"start": 1, "end": 2, "label": "PER"}, {"start": 2, "end": 3, "label": "PER"}, {"start": 3, "end": 4, "label": "PER"}]`, "",
			"mark at most 3 spans, not 4"},
		{"item lacks the field", plain, map[string]any{"title": "x"}, `[{"start": 0, "end": 1, "label": "PER"}]`, "", `the item has no field "text", so there is no text to label`},
		{"item field not text", plain, map[string]any{"text": 42.0}, `[{"start": 0, "end": 1, "label": "PER"}]`, "", `the item's field "text" is not text`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.block.ValidateValue(json.RawMessage(tt.value), tt.data)
			if tt.want != "" {
				if err != nil {
					t.Fatalf("ValidateValue: %v", err)
				}
				if string(got) != tt.want {
					t.Errorf("value = %s\nwant    %s", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateValue accepted %s as %s, want an error with %q", tt.value, got, tt.msg)
			}
			if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), tt.msg) {
				t.Errorf("err = %v\nwant EINVALID with %q", err, tt.msg)
			}
		})
	}
}

// Through the interface: errors name values.ents; required needs a span;
// an empty list is no value.
func TestSpansValidateValues(t *testing.T) {
	in := mustParse(t, spansYAML+"    required: true\n").Interface()
	data := map[string]any{"text": spansText}
	if _, err := in.ValidateValues(values(t, `{"ents": []}`), data); loupe.ErrorField(err) != "values.ents" || loupe.ErrorMessage(err) != "a value is required" {
		t.Errorf("empty list: %v", err)
	}
	_, err := in.ValidateValues(values(t, `{"ents": [{"start": 0, "end": 50, "label": "PER"}]}`), data)
	if loupe.ErrorField(err) != "values.ents" || !strings.Contains(loupe.ErrorMessage(err), "outside the text") {
		t.Errorf("outside: %v", err)
	}
	out, err := in.ValidateValues(values(t, `{"ents": [{"start": 10, "end": 13, "label": "ORG"}]}`), data)
	if err != nil || string(out["ents"]) != `[{"start":10,"end":13,"label":"ORG","text":"Bob"}]` {
		t.Errorf("good value: %s, %v", out["ents"], err)
	}
}

func TestSpansFormValue(t *testing.T) {
	sp := spansBlock(t, spansYAML)
	tests := []struct {
		name string
		form map[string][]string
		want string // "" for no value
		msg  string
	}{
		{"absent", map[string][]string{}, "", ""},
		{"empty, as without spans", map[string][]string{"b.ents": {""}}, "", ""},
		{"a list", map[string][]string{"b.ents": {` [{"start":0,"end":5,"label":"PER","text":"Alice"}] `}}, `[{"start":0,"end":5,"label":"PER","text":"Alice"}]`, ""},
		{"the label radios are not the value", map[string][]string{"ui.ents.label": {"PER"}}, "", ""},
		{"not JSON", map[string][]string{"b.ents": {"[{start: 0"}}, "", "the spans could not be read (not JSON): [{start: 0"},
		{"twice", map[string][]string{"b.ents": {"[]", "[]"}}, "", "expected one list of spans, got 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sp.FormValue(tt.form, "b.ents")
			if tt.msg != "" {
				if err == nil || !strings.Contains(loupe.ErrorMessage(err), tt.msg) {
					t.Errorf("err = %v, want %q", err, tt.msg)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("FormValue = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestSpansFlatten(t *testing.T) {
	sp := spansBlock(t, spansYAML)
	canon, err := sp.ValidateValue(json.RawMessage(`[{"start": 17, "end": 18, "label": "PER"}, {"start": 0, "end": 5, "label": "ORG"}]`), map[string]any{"text": spansText})
	if err != nil {
		t.Fatal(err)
	}
	cells := sp.Flatten(canon)
	want := `[{"start":0,"end":5,"label":"ORG","text":"Alice"},{"start":17,"end":18,"label":"PER","text":"🙂"}]`
	if len(cells) != 1 || cells[0].Suffix != "" || cells[0].Value != want {
		t.Errorf("Flatten = %+v\nwant one cell %s", cells, want)
	}
}

func renderSpans(t *testing.T, src string, data map[string]any, value string) string {
	t.Helper()
	cfg := mustParse(t, src)
	r, err := blocks.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	pg := blocks.Page{Data: data}
	if value != "" {
		pg.Values = map[string]json.RawMessage{"ents": json.RawMessage(value)}
	}
	var buf bytes.Buffer
	if err := r.Render(&buf, blocks.NewViews(cfg.Interface(), pg)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// The server draws the spans (for pages without JavaScript, and so that
// the page does not jump when the script takes over): each span a <mark>
// followed by its label's name; item text and label names are escaped.
func TestSpansRender(t *testing.T) {
	src := strings.Replace(spansYAML, "label: Organisation", `label: "<i>Org</i>"`, 1)
	text := `<img src=x onerror=alert(1)> Acme</script><script>alert(2)</script> 🙂 Bob`
	value := `[{"start":29,"end":33,"label":"ORG","text":"Acme"},{"start":0,"end":28,"label":"PER"}]`
	out := renderSpans(t, src, map[string]any{"text": text}, value)
	for _, bad := range []string{"<img", "<script", "<i>Org"} {
		if strings.Contains(out, bad) {
			t.Errorf("rendered HTML holds %q unescaped:\n%s", bad, out)
		}
	}
	for _, want := range []string{
		`<mark class="spans-mark" data-c="#4e79a7" data-d="1">&lt;img src=x onerror=alert(1)&gt;</mark><span class="spans-tag" data-c="#4e79a7">PER</span>`,
		`<mark class="spans-mark" data-c="#aa3300" data-d="1">Acme</mark><span class="spans-tag" data-c="#aa3300">&lt;i&gt;Org&lt;/i&gt;</span><span>&lt;/script&gt;`,
		`data-own-keys`,
		`<input type="radio" name="ui.ents.label" value="PER" data-name="PER" data-color="#4e79a7" data-key="1">`,
		`data-key="o"><kbd>o</kbd>`,
		`<q>Acme</q> <span class="muted">29–33</span>`,
		`<input type="hidden" name="b.ents" value="[{&#34;start&#34;:29,`,
		`<noscript>`,
		`aria-live="polite"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered HTML lacks %s\n%s", want, out)
		}
	}
	if strings.Contains(out, "data-text=") {
		t.Error("data-text set for a text that HTML carries exactly")
	}
}

// Overlapping spans: the run they share is marked once, deeper, with the
// innermost span's colour, and each span's name follows its own end.
func TestSpansRenderOverlap(t *testing.T) {
	out := renderSpans(t, spansYAML+"    allow_overlap: true\n", map[string]any{"text": spansText},
		`[{"start":0,"end":13,"label":"ORG"},{"start":10,"end":13,"label":"PER"}]`)
	want := `<div class="spans-text"`
	i := strings.Index(out, want)
	if i < 0 {
		t.Fatalf("no text box:\n%s", out)
	}
	box := out[i : strings.Index(out[i:], "</div>")+i]
	box = box[strings.Index(box, ">")+1:]
	wantBox := `<mark class="spans-mark" data-c="#aa3300" data-d="1">Alice met </mark>` +
		`<mark class="spans-mark" data-c="#4e79a7" data-d="2">Bob</mark><span class="spans-tag" data-c="#4e79a7">PER</span><span class="spans-tag" data-c="#aa3300">Organisation</span>` +
		`<span> in 🙂 Zürich.</span>`
	if box != wantBox {
		t.Errorf("box =\n%s\nwant\n%s", box, wantBox)
	}
}

// A text the HTML parser would change (CR LF becomes LF) travels as JSON
// too, so that the script counts the same offsets as the server. A value
// the server refused is drawn as far as it fits the text, never failing
// the page.
func TestSpansRenderRawText(t *testing.T) {
	out := renderSpans(t, spansYAML, map[string]any{"text": "a\r\nb"}, `[{"start": 3, "end": 4, "label": "PER"}, {"start": 2, "end": 99, "label": "PER"}, "junk"]`)
	if !strings.Contains(out, `data-text="&#34;a\r\nb&#34;"`) {
		t.Errorf("no exact text for the script:\n%s", out)
	}
	if strings.Count(out, "<mark") != 1 || !strings.Contains(out, `<mark class="spans-mark" data-c="#4e79a7" data-d="1">b</mark>`) {
		t.Errorf("want exactly the one span that fits marked:\n%s", out)
	}
	out = renderSpans(t, spansYAML, map[string]any{"text": "x"}, `not json`)
	if !strings.Contains(out, `value="not json"`) || strings.Contains(out, "<mark") {
		t.Errorf("a broken value must be kept in the form and not drawn:\n%s", out)
	}
}
