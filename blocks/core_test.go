package blocks_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/fixtures"
)

const condConfig = `title: Conditions
blocks:
  - {type: text, field: review}
  - type: choice
    name: sentiment
    options: [positive, negative]
    required: true
  - type: choice
    name: reason
    options: [price, quality]
    required: true
    visible_when: {block: sentiment, equals: negative}
  - type: group
    label: More
    visible_when: {block: reason, in: [quality]}
    blocks:
      - type: choice
        name: part
        options: [lid, handle]
        required: true
  - type: choice
    name: praise
    options: [yes, no]
    visible_when: {block: sentiment, not: negative}
`

func values(t *testing.T, js string) map[string]json.RawMessage {
	t.Helper()
	var v map[string]json.RawMessage
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// Hidden blocks are neither required nor stored; a value for one is
// refused with the reason; visibility follows chains of conditions.
func TestVisibleWhen(t *testing.T) {
	in := mustParse(t, condConfig).Interface()
	data := map[string]any{"review": "x"}
	tests := []struct {
		name, values, field, msg string
	}{
		{"positive needs nothing else", `{"sentiment": "positive"}`, "", ""},
		{"positive may praise", `{"sentiment": "positive", "praise": "yes"}`, "", ""},
		{"negative needs a reason", `{"sentiment": "negative"}`, "values.reason", "a value is required"},
		{"price reason is enough", `{"sentiment": "negative", "reason": "price"}`, "", ""},
		{"quality opens the group", `{"sentiment": "negative", "reason": "quality"}`, "values.part", "a value is required"},
		{"group filled", `{"sentiment": "negative", "reason": "quality", "part": "lid"}`, "", ""},
		{"reason while hidden", `{"sentiment": "positive", "reason": "price"}`, "values.reason", `this block is hidden (it is shown only when sentiment is "negative") and takes no value`},
		{"inside a hidden group", `{"sentiment": "negative", "reason": "price", "part": "lid"}`, "values.part", `its group "More" is shown only when reason is one of "quality"`},
		{"chain: group hidden when its decider is", `{"sentiment": "positive", "part": "lid"}`, "values.part", "takes no value"},
		{"not hides on the value", `{"sentiment": "negative", "reason": "price", "praise": "no"}`, "values.praise", `shown only when sentiment is not "negative"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := in.ValidateValues(values(t, tt.values), data)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("ValidateValues: %v", err)
				}
				return
			}
			if loupe.ErrorField(err) != tt.field || !strings.Contains(loupe.ErrorMessage(err), tt.msg) {
				t.Fatalf("err = %v\nwant field %s and a message with %q", err, tt.field, tt.msg)
			}
		})
	}
}

// Keys: explicit keys are kept, the rest come from one pool without
// clashes, and the legend lists them in config order.
func TestKeyAssignment(t *testing.T) {
	in := mustParse(t, `title: Keys
blocks:
  - {type: text, field: t}
  - {type: choice, name: a, options: [x, y, {value: z, key: "2"}]}
  - {type: choice, name: b, options: [p, q, r]}
`).Interface()
	var got []string
	for _, s := range in.Shortcuts() {
		got = append(got, s.Key+"="+s.Action)
	}
	want := "1=choose x,3=choose y,2=choose z,4=choose p,5=choose q,6=choose r"
	if strings.Join(got, ",") != want {
		t.Errorf("keys = %s\nwant %s", strings.Join(got, ","), want)
	}
}

// include pulls blocks from other files; the stored source has them inline
// and parses again without the files.
func TestInclude(t *testing.T) {
	files := map[string]string{
		"common.yaml": "blocks:\n  - {type: choice, name: sentiment, options: [positive, negative]}\n  - include: more.yaml\n",
		"more.yaml":   "- {type: choice, name: topic, options: [price, quality]}\n",
	}
	include := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, errors.New("no such file")
	}
	src := "title: With includes\nblocks:\n  - {type: text, field: review}\n  - include: common.yaml\n  - type: group\n    label: G\n    blocks:\n      - include: more.yaml\n"
	_, err := blocks.Parse(blocks.Source{Name: "p.yaml", Data: []byte(src), Include: include})
	if err == nil || !strings.Contains(loupe.ErrorMessage(err), `more.yaml:1:18: blocks[3].blocks[0].name: name "topic" is already used by the block at more.yaml:1`) {
		t.Fatalf("included twice: %v", err)
	}
	src = strings.Replace(src, "      - include: more.yaml\n", "      - {type: text, field: title}\n", 1)
	cfg, err := blocks.Parse(blocks.Source{Name: "p.yaml", Data: []byte(src), Include: include})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range cfg.Interface().Valuers() {
		names = append(names, v.Common().Name)
	}
	if strings.Join(names, ",") != "sentiment,topic" {
		t.Errorf("valuers = %v", names)
	}
	stored := cfg.Source()
	if strings.Contains(string(stored), "include:") {
		t.Errorf("stored source still includes files:\n%s", stored)
	}
	again, err := blocks.ParseConfig(stored)
	if err != nil {
		t.Fatalf("stored source does not parse alone: %v\n%s", err, stored)
	}
	if len(again.Interface().Valuers()) != 2 {
		t.Errorf("re-parsed config lost blocks")
	}
	if _, err := blocks.ParseConfig([]byte(src)); err == nil || !strings.Contains(loupe.ErrorMessage(err), "includes are not available here") {
		t.Errorf("include without a resolver: %v", err)
	}
	// Without includes the source is kept as written, comments and all.
	plain := "# mine\n" + sentimentYAML
	if cfg := mustParse(t, plain); string(cfg.Source()) != plain {
		t.Errorf("source changed:\n%s", cfg.Source())
	}
}

// Layout blocks render their children, tabs as a tab list, and conditional
// blocks carry their condition and start hidden and disabled.
func TestRenderLayout(t *testing.T) {
	cfg := mustParse(t, `title: Layout
blocks:
  - type: row
    blocks:
      - {type: text, field: a}
      - type: column
        blocks:
          - {type: choice, name: c, options: [x, y]}
  - type: tabs
    blocks:
      - {type: group, label: First, blocks: [{type: text, field: a}]}
      - {type: group, label: Second, blocks: [{type: choice, name: d, options: [x, y], visible_when: {block: c, equals: y}}]}
`)
	r, err := blocks.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	html, err := r.HTML(blocks.NewViews(cfg.Interface(), blocks.Page{Data: map[string]any{"a": "hello"}}))
	if err != nil {
		t.Fatal(err)
	}
	out := string(html)
	for _, want := range []string{`class="layout-row"`, `class="layout-column"`, `role="tablist"`, `>First</button>`, `>Second</button>`,
		`id="blk-d" data-type="choice" data-name="d" data-visible-when="{&#34;block&#34;:&#34;c&#34;,&#34;op&#34;:&#34;equals&#34;,&#34;values&#34;:[&#34;\&#34;y\&#34;&#34;]}" hidden disabled`} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered HTML lacks %s\n%s", want, out)
		}
	}
	html, _ = r.HTML(blocks.NewViews(cfg.Interface(), blocks.Page{Data: map[string]any{"a": "hello"}, Values: values(t, `{"c": "y"}`)}))
	if strings.Contains(string(html), "hidden disabled") {
		t.Error("block d is hidden although c is y")
	}
}

// Every template renders its first demo item without a style attribute
// (the page's Content-Security-Policy would refuse it) and without an
// inline script or event handler.
func TestTemplatesRenderWithinCSP(t *testing.T) {
	ts, err := fixtures.Templates()
	if err != nil {
		t.Fatal(err)
	}
	r, err := blocks.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range ts {
		cfg, err := blocks.Parse(blocks.Source{Name: tp.Slug, Data: tp.Config, Include: fixtures.Include})
		if err != nil {
			t.Fatalf("%s: %v", tp.Slug, err)
		}
		var first struct {
			Data map[string]any `json:"data"`
		}
		line, _, _ := strings.Cut(string(tp.Items), "\n")
		if err := json.Unmarshal([]byte(line), &first); err != nil {
			t.Fatalf("%s: %v", tp.Slug, err)
		}
		html, err := r.HTML(blocks.NewViews(cfg.Interface(), blocks.Page{Data: first.Data, Media: func(p string) string { return "/m/" + p }}))
		if err != nil {
			t.Fatalf("%s: %v", tp.Slug, err)
		}
		for _, bad := range []string{"style=", "<script", " onclick=", " onerror=", "javascript:"} {
			if strings.Contains(string(html), bad) {
				t.Errorf("%s renders %q", tp.Slug, bad)
			}
		}
	}
}
