package blocks_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// Helpers shared by the tests of the labeling kinds (multichoice, textbox,
// rating, ranking, pairwise).

// labConfig wraps block lines (indented by two spaces, from line 3) into a
// config.
func labConfig(blockYAML string) string { return "title: x\nblocks:\n" + blockYAML }

// labValuer parses a config and returns its block named name.
func labValuer(t *testing.T, blockYAML, name string) blocks.Valuer {
	t.Helper()
	v, ok := mustParse(t, labConfig(blockYAML)).Interface().Valuer(name)
	if !ok {
		t.Fatalf("no block %q", name)
	}
	return v
}

type labConfigCase struct {
	name, blocks string
	want         string // one line of the error, FILE:LINE:COL: FIELD: MESSAGE
}

// labConfigErrors checks that each broken config is refused with the line.
func labConfigErrors(t *testing.T, cases []labConfigCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := blocks.ParseConfig([]byte(labConfig(tt.blocks)))
			if err == nil {
				t.Fatalf("config parsed, want error %q", tt.want)
			}
			msg := loupe.ErrorMessage(err)
			for _, line := range strings.Split(msg, "\n") {
				if line == tt.want {
					return
				}
			}
			t.Errorf("errors:\n%s\nwant the line\n%s", msg, tt.want)
		})
	}
}

type labValueCase struct {
	name, value string
	want        string // canonical JSON when the value is good
	err         string // part of the message when it is not
}

// labValues runs ValidateValue over the cases.
func labValues(t *testing.T, v blocks.Valuer, data map[string]any, cases []labValueCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.ValidateValue(json.RawMessage(tt.value), data)
			if tt.err != "" {
				if err == nil {
					t.Fatalf("ValidateValue(%s) = %s, want an error with %q", tt.value, got, tt.err)
				}
				if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), tt.err) {
					t.Fatalf("ValidateValue(%s): %v\nwant EINVALID with %q", tt.value, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ValidateValue(%s): %v", tt.value, err)
			}
			if string(got) != tt.want {
				t.Errorf("ValidateValue(%s) = %s, want %s", tt.value, got, tt.want)
			}
		})
	}
}

type labFormCase struct {
	name string
	form map[string][]string
	want string // JSON, "" for no value
	err  string
}

// labForms runs FormValue over the cases, with the field "b.NAME".
func labForms(t *testing.T, v blocks.Valuer, cases []labFormCase) {
	t.Helper()
	field := "b." + v.Common().Name
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.FormValue(tt.form, field)
			if tt.err != "" {
				if err == nil || loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), tt.err) {
					t.Fatalf("FormValue = %s, %v; want EINVALID with %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FormValue: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("FormValue = %s, want %s", got, tt.want)
			}
		})
	}
}

// labFlatten renders the cells of a value as SUFFIX=VALUE lines.
func labFlatten(v blocks.Valuer, value string) string {
	var out []string
	for _, c := range v.Flatten(json.RawMessage(value)) {
		out = append(out, c.Suffix+"="+c.Value)
	}
	return strings.Join(out, "\n")
}

// labRender renders a config's interface for an item.
func labRender(t *testing.T, src string, data map[string]any, values map[string]json.RawMessage) string {
	t.Helper()
	r, err := blocks.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.Render(&buf, blocks.NewViews(mustParse(t, src).Interface(), blocks.Page{Data: data, Values: values})); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// labNoneOf fails when html holds any of the unescaped strings.
func labNoneOf(t *testing.T, html string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(html, b) {
			t.Errorf("rendered HTML holds %q:\n%s", b, html)
		}
	}
}

// labAllOf fails when html lacks any of the strings.
func labAllOf(t *testing.T, html string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(html, w) {
			t.Errorf("rendered HTML lacks %q:\n%s", w, html)
		}
	}
}

const multiYAML = `  - type: multichoice
    name: issues
    options: [wrong, rude, {value: long, label: Too long, key: l}, off_topic]
    min: 1
    max: 2
`

func TestMultiChoiceConfig(t *testing.T) {
	labConfigErrors(t, []labConfigCase{
		{"one option", "  - type: multichoice\n    name: m\n    options: [a]\n", "config:5:5: blocks[0].options: must list at least 2 options"},
		{"no options", "  - {type: multichoice, name: m}\n", "config:3:5: blocks[0].options: must list at least 2 options"},
		{"negative min", "  - type: multichoice\n    name: m\n    options: [a, b]\n    min: -1\n", "config:6:5: blocks[0].min: min must not be negative, got -1"},
		{"min above options", "  - type: multichoice\n    name: m\n    options: [a, b]\n    min: 3\n", "config:6:5: blocks[0].min: min is 3, but there are only 2 options"},
		{"max above options", "  - type: multichoice\n    name: m\n    options: [a, b]\n    max: 3\n", "config:6:5: blocks[0].max: max is 3, but there are only 2 options"},
		{"negative max", "  - type: multichoice\n    name: m\n    options: [a, b]\n    max: -2\n", "config:6:5: blocks[0].max: max must not be negative, got -2 (0 means no limit)"},
		{"max below min", "  - type: multichoice\n    name: m\n    options: [a, b, c]\n    min: 3\n    max: 2\n", "config:7:5: blocks[0].max: max (2) is smaller than min (3)"},
		{"min not a number", "  - type: multichoice\n    name: m\n    options: [a, b]\n    min: some\n", `config:6:10: blocks[0].min: expected a whole number, got "some"`},
		{"duplicate option", "  - type: multichoice\n    name: m\n    options: [a, a]\n", `config:5:5: blocks[0].options: option "a" is listed twice`},
		{"no name", "  - type: multichoice\n    options: [a, b]\n", "config:3:5: blocks[0].name: a multichoice block needs a name: its value is stored under it"},
	})
	// max 0 is no limit; min may equal max and the number of options.
	mustParse(t, labConfig("  - {type: multichoice, name: m, options: [a, b], min: 2, max: 2}\n"))
	mustParse(t, labConfig("  - {type: multichoice, name: m, options: [a, b], min: 2}\n"))
}

func TestMultiChoiceValue(t *testing.T) {
	v := labValuer(t, multiYAML, "issues")
	labValues(t, v, nil, []labValueCase{
		{"one", `["rude"]`, `["rude"]`, ""},
		{"two in options order", `["off_topic", "wrong"]`, `["wrong","off_topic"]`, ""},
		{"spacing", ` [ "long" ] `, `["long"]`, ""},
		{"empty is no value", `[]`, `[]`, ""},
		{"not a list", `"rude"`, "", `expected a list of options, got "rude"`},
		{"an object", `{"rude": true}`, "", "expected a list of options"},
		{"not strings", `[1]`, "", "expected each choice as a string, got 1"},
		{"unknown option", `["rude", "boring"]`, "", `"boring" is not one of the options ("wrong", "rude", "long", "off_topic")`},
		{"label is not the value", `["Too long"]`, "", `"Too long" is not one of the options`},
		{"duplicate", `["rude", "rude"]`, "", `"rude" is chosen twice`},
		{"too many", `["rude", "wrong", "long"]`, "", "too many: choose at most 2 options, not 3"},
	})
	v = labValuer(t, "  - {type: multichoice, name: m, options: [a, b, c], min: 2}\n", "m")
	labValues(t, v, nil, []labValueCase{
		{"too few", `["a"]`, "", "too few: choose at least 2 options, not 1"},
		{"no max", `["c", "b", "a"]`, `["a","b","c"]`, ""},
	})
}

// Through the interface: an empty list is no value, so a required block
// refuses it, and one that is not required stores nothing.
func TestMultiChoiceRequired(t *testing.T) {
	in := mustParse(t, labConfig("  - {type: multichoice, name: m, options: [a, b], required: true}\n  - {type: multichoice, name: n, options: [a, b], min: 2}\n")).Interface()
	if _, err := in.ValidateValues(values(t, `{"m": []}`), nil); loupe.ErrorField(err) != "values.m" || !strings.Contains(loupe.ErrorMessage(err), "a value is required") {
		t.Errorf("required, empty: %v", err)
	}
	out, err := in.ValidateValues(values(t, `{"m": ["b", "a"], "n": []}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(out); string(got) != `{"m":["a","b"]}` {
		t.Errorf("values = %s", got)
	}
}

func TestMultiChoiceFormAndFlatten(t *testing.T) {
	v := labValuer(t, multiYAML, "issues")
	labForms(t, v, []labFormCase{
		{"none", map[string][]string{}, "", ""},
		{"two", map[string][]string{"b.issues": {"rude", "wrong"}}, `["rude","wrong"]`, ""},
		{"blank ignored", map[string][]string{"b.issues": {""}}, "", ""},
		{"other fields ignored", map[string][]string{"b.other": {"rude"}}, "", ""},
	})
	if got := labFlatten(v, `["wrong","off_topic"]`); got != "=wrong;off_topic" {
		t.Errorf("Flatten = %q", got)
	}
	if got := labFlatten(v, `["wrong"]`); got != "=wrong" {
		t.Errorf("Flatten = %q", got)
	}
}

// Keys: one per option, an option's own key kept; checkboxes carry them.
func TestMultiChoiceRender(t *testing.T) {
	src := labConfig(`  - type: multichoice
    name: m
    label: "<b>Issues</b>"
    help: "<i>any</i>"
    options: ["<img src=x onerror=alert(1)>", {value: b, label: "<script>alert(1)</script>", key: z}, c]
    max: 2
`)
	html := labRender(t, src, nil, values(t, `{"m": ["<img src=x onerror=alert(1)>", "c"]}`))
	labNoneOf(t, html, "<img", "<script", "<b>Issues", "<i>any")
	labAllOf(t, html,
		`<input type="checkbox" name="b.m" value="&lt;img src=x onerror=alert(1)&gt;" data-key="1" checked>`,
		`<input type="checkbox" name="b.m" value="b" data-key="z"><kbd>z</kbd>`,
		`<input type="checkbox" name="b.m" value="c" data-key="2" checked>`,
		"Choose at most 2 options.")
	var keys []string
	for _, s := range mustParse(t, src).Interface().Shortcuts() {
		keys = append(keys, s.Key+"="+s.Action)
	}
	if got := strings.Join(keys, ","); got != "1=toggle <img src=x onerror=alert(1)>,z=toggle <script>alert(1)</script>,2=toggle c" {
		t.Errorf("keys = %s", got)
	}
}
