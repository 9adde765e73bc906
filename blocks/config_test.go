package blocks_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
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

var update = flag.Bool("update", false, "rewrite the golden files")

// Every config error names its file, line, column and field. Each
// testdata/errors/NAME.yaml is a broken config; NAME.golden holds the
// message it gets. Files named inc-*.yaml are only included by others.
func TestParseConfigErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden configs: %v", err)
	}
	include := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join("testdata/errors", name)) }
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasPrefix(name, "inc-") {
			continue
		}
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = blocks.Parse(blocks.Source{Name: name, Data: src, Include: include})
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if got := loupe.ErrorCode(err); got != loupe.EINVALID {
				t.Errorf("code = %q, want %q", got, loupe.EINVALID)
			}
			got := loupe.ErrorMessage(err) + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("message differs from %s:\n got %s\nwant %s", golden, got, want)
			}
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if !fileLineRE.MatchString(line) {
					t.Errorf("line %q does not start with FILE:LINE", line)
				}
			}
		})
	}
}

var fileLineRE = regexp.MustCompile(`^[a-z-]+\.yaml:\d+(:\d+)?: `)

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
	if err := r.Render(&buf, blocks.NewViews(cfg.Interface(), blocks.Page{Data: data, Values: vals})); err != nil {
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
