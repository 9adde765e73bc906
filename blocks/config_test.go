package blocks_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

const sentimentYAML = `title: Product review sentiment
overlap: 1          # annotations wanted per item
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
    required: true
`

func mustParse(t *testing.T, src string) *blocks.Config {
	t.Helper()
	cfg, err := blocks.ParseConfig([]byte(src))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return cfg
}

func TestParseConfig(t *testing.T) {
	cfg := mustParse(t, sentimentYAML)
	if got, want := cfg.Title, "Product review sentiment"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
	if cfg.Overlap != 1 || cfg.LeaseMinutes != blocks.DefaultLease {
		t.Errorf("overlap, lease = %d, %d; want 1, %d", cfg.Overlap, cfg.LeaseMinutes, blocks.DefaultLease)
	}
	in := cfg.Interface()
	if got := in.Fields(); len(got) != 1 || got[0] != "review" {
		t.Errorf("fields = %v, want [review]", got)
	}
	v, ok := in.Valuer("sentiment")
	if !ok || !v.IsRequired() {
		t.Fatalf("sentiment valuer = %v, %v", v, ok)
	}
	ch := v.(*blocks.Choice)
	var keys []string
	for _, o := range ch.Options {
		keys = append(keys, o.Key)
	}
	if got, want := strings.Join(keys, ","), "1,2,3"; got != want {
		t.Errorf("default keys = %s, want %s", got, want)
	}
}

func TestParseConfigJSON(t *testing.T) {
	src := "{\n\t\"title\": \"J\",\n\t\"blocks\": [\n\t\t{\"type\": \"text\", \"field\": \"t\"},\n\t\t{\"type\": \"choice\", \"name\": \"c\", \"options\": [\"a\", {\"value\": \"b\", \"label\": \"Bee\", \"key\": \"x\"}]}\n\t]\n}\n"
	cfg := mustParse(t, src)
	ch := cfg.Interface().Valuers()[0].(*blocks.Choice)
	if ch.Options[1].Text() != "Bee" || ch.Options[1].Key != "x" || ch.Options[0].Key != "1" {
		t.Errorf("options = %+v", ch.Options)
	}
}

// Every config error names its line and its field.
func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // substrings of the error message
	}{
		{"empty", "", []string{"line 1", "config is empty"}},
		{"syntax", "title: x\nblocks: [\n", []string{"line 2", "did not find expected node content"}},
		{"not a mapping", "- a\n- b\n", []string{"line 1", "expected a mapping"}},
		{"no title", "blocks:\n  - type: text\n    field: a\n", []string{"title: a title is required"}},
		{"unknown top field", "title: x\ntitel: y\nblocks:\n  - {type: text, field: a}\n", []string{"line 2: titel: unknown field (did you mean \"title\"?)"}},
		{"overlap type", "title: x\noverlap: many\nblocks:\n  - {type: text, field: a}\n", []string{"line 2: overlap: expected a whole number, got \"many\""}},
		{"overlap range", "title: x\noverlap: 0\nblocks:\n  - {type: text, field: a}\n", []string{"line 2: overlap: overlap must be between 1 and 100"}},
		{"no blocks", "title: x\n", []string{"blocks: a list of blocks is required"}},
		{"blocks not list", "title: x\nblocks: 3\n", []string{"line 2: blocks: expected a list of blocks"}},
		{"unknown type", "title: x\nblocks:\n  - type: txet\n    field: a\n", []string{"line 3: blocks[0].type: unknown block type \"txet\"; known types: choice, group, text"}},
		{"missing type", "title: x\nblocks:\n  - field: a\n", []string{"line 3: blocks[0].type: a block needs a type"}},
		{"unknown block field", "title: x\nblocks:\n  - type: text\n    feild: a\n", []string{"line 4: blocks[0].feild: unknown field (did you mean \"field\"?)"}},
		{"text without field", "title: x\nblocks:\n  - type: text\n", []string{"line 3: blocks[0].field: a text block needs"}},
		{"choice without name", "title: x\nblocks:\n  - type: choice\n    options: [a, b]\n", []string{"line 3: blocks[0].name: a choice block needs a name"}},
		{"one option", "title: x\nblocks:\n  - type: choice\n    name: c\n    options: [a]\n", []string{"line 5: blocks[0].options: a choice block needs at least two options"}},
		{"dup option", "title: x\nblocks:\n  - type: choice\n    name: c\n    options: [a, a]\n", []string{"line 5: blocks[0].options: option \"a\" is listed twice"}},
		{"options not list", "title: x\nblocks:\n  - type: choice\n    name: c\n    options: a\n", []string{"line 5: blocks[0].options: expected a list, got \"a\""}},
		{"bad option field", "title: x\nblocks:\n  - type: choice\n    name: c\n    options:\n      - {value: a, lable: A}\n      - b\n", []string{"blocks[0].options: line 6: unknown option field \"lable\""}},
		{"required not bool", "title: x\nblocks:\n  - type: choice\n    name: c\n    options: [a, b]\n    required: sure\n", []string{"line 6: blocks[0].required: expected true or false"}},
		{"dup name", "title: x\nblocks:\n  - {type: choice, name: c, options: [a, b]}\n  - {type: choice, name: c, options: [a, b]}\n", []string{"line 4: blocks[1].name: name \"c\" is already used by the block at line 3"}},
		{"bad name", "title: x\nblocks:\n  - {type: choice, name: \"a b\", options: [a, b]}\n", []string{"blocks[0].name: name \"a b\" must start"}},
		{"reserved key", "title: x\nblocks:\n  - type: choice\n    name: c\n    options: [{value: a, key: s}, b]\n", []string{"key \"s\" is kept for \"skip\""}},
		{"key clash", "title: x\nblocks:\n  - {type: choice, name: c, options: [a, b]}\n  - {type: choice, name: d, options: [{value: a, key: \"1\"}, b]}\n", []string{"line 4: blocks[1]: key \"1\" is already bound by the block at line 3"}},
		{"dup field", "title: x\ntitle: y\nblocks:\n  - {type: text, field: a}\n", []string{"line 2: title: field is given twice (first at line 1)"}},
		{"nested", "title: x\nblocks:\n  - type: group\n    blocks:\n      - type: text\n", []string{"line 5: blocks[0].blocks[0].field"}},
		{"empty group", "title: x\nblocks:\n  - type: group\n    blocks: []\n", []string{"line 4: blocks[0].blocks: a group needs"}},
		{"two errors", "title: x\noverlap: 0\nblocks:\n  - type: text\n", []string{"line 2: overlap", "line 4: blocks[0].field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := blocks.ParseConfig([]byte(tt.src))
			if err == nil {
				t.Fatal("ParseConfig succeeded, want an error")
			}
			if got := loupe.ErrorCode(err); got != loupe.EINVALID {
				t.Errorf("code = %q, want %q", got, loupe.EINVALID)
			}
			msg := loupe.ErrorMessage(err)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q\ndoes not contain %q", msg, w)
				}
			}
		})
	}
}

func TestParseConfigDepthAndAliases(t *testing.T) {
	var b strings.Builder
	b.WriteString("title: x\nblocks:\n")
	indent := "  "
	for range 20 {
		b.WriteString(indent + "- type: group\n" + indent + "  blocks:\n")
		indent += "    "
	}
	b.WriteString(indent + "- {type: text, field: a}\n")
	if _, err := blocks.ParseConfig([]byte(b.String())); err == nil || !strings.Contains(loupe.ErrorMessage(err), "nested more than") {
		t.Errorf("deep nesting: err = %v", err)
	}
	// A billion-laughs style alias bomb is refused by the parser, not expanded.
	bomb := "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\ntitle: x\nblocks: *g\n"
	if _, err := blocks.ParseConfig([]byte(bomb)); err == nil {
		t.Error("alias bomb parsed without error")
	}
}

func TestValidateValues(t *testing.T) {
	in := mustParse(t, sentimentYAML).Interface()
	data := map[string]any{"review": "fine"}
	tests := []struct {
		name      string
		values    string
		wantField string
		wantMsg   string
		want      string
	}{
		{"ok", `{"sentiment": "positive"}`, "", "", `{"sentiment":"positive"}`},
		{"unknown option", `{"sentiment": "happy"}`, "values.sentiment", `"happy" is not one of the options ("positive", "negative", "neutral")`, ""},
		{"not a string", `{"sentiment": 3}`, "values.sentiment", "expected one option as a string, got 3", ""},
		{"missing required", `{}`, "values.sentiment", "a value is required", ""},
		{"null is missing", `{"sentiment": null}`, "values.sentiment", "a value is required", ""},
		{"unknown block", `{"sentiment": "positive", "mood": "x"}`, "values.mood", `no block is named "mood"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var vals map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tt.values), &vals); err != nil {
				t.Fatal(err)
			}
			out, err := in.ValidateValues(vals, data)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("ValidateValues: %v", err)
				}
				got, _ := json.Marshal(out)
				if string(got) != tt.want {
					t.Errorf("values = %s, want %s", got, tt.want)
				}
				return
			}
			if got := loupe.ErrorField(err); got != tt.wantField {
				t.Errorf("field = %q, want %q (err %v)", got, tt.wantField, err)
			}
			if got := loupe.ErrorMessage(err); !strings.Contains(got, tt.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", got, tt.wantMsg)
			}
		})
	}
}

func TestCheckData(t *testing.T) {
	in := mustParse(t, sentimentYAML).Interface()
	if err := in.CheckData(map[string]any{"review": "x"}); err != nil {
		t.Errorf("CheckData with field: %v", err)
	}
	err := in.CheckData(map[string]any{"text": "x"})
	if got := loupe.ErrorField(err); got != "data.review" {
		t.Errorf("field = %q, want data.review (err %v)", got, err)
	}
}

// Item text is escaped in every block template.
func TestRenderEscapes(t *testing.T) {
	cfg := mustParse(t, "title: x\nblocks:\n  - type: group\n    label: \"<b>g</b>\"\n    blocks:\n      - {type: text, field: t}\n      - {type: choice, name: c, options: [\"<i>a</i>\", b]}\n")
	r, err := blocks.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]any{"t": `<img src=x onerror=alert(1)></script><script>alert(2)</script>`}
	vals := map[string]json.RawMessage{"c": json.RawMessage(`"<i>a</i>"`)}
	var buf bytes.Buffer
	if err := r.Render(&buf, blocks.NewViews(cfg.Interface(), data, vals, nil)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, bad := range []string{"<img", "<script", "<b>g", "<i>a"} {
		if strings.Contains(out, bad) {
			t.Errorf("rendered HTML holds %q unescaped:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "checked") {
		t.Errorf("current value not checked:\n%s", out)
	}
}
