package blocks_test

import (
	"strings"
	"testing"
)

func TestMetadataConfig(t *testing.T) {
	dispConfigErrors(t, []dispConfigCase{
		{"no fields", "  - {type: metadata}\n",
			"config:3:5: blocks[0].fields: must not be empty: list the item fields to show"},
		{"empty fields", "  - {type: metadata, fields: []}\n",
			"config:3:22: blocks[0].fields: must not be empty: list the item fields to show"},
		{"fields not a list", "  - {type: metadata, fields: source}\n",
			`config:3:30: blocks[0].fields: expected a list, got "source"`},
		{"empty name", "  - {type: metadata, fields: [a, \"\"]}\n",
			"config:3:22: blocks[0].fields: field 2 is empty"},
		{"twice", "  - {type: metadata, fields: [a, b, a]}\n",
			`config:3:22: blocks[0].fields: field "a" is listed twice`},
		{"label of an unlisted field", "  - type: metadata\n    fields: [a]\n    labels: {a: A, b: B}\n",
			`config:5:5: blocks[0].labels: "b" is not one of the fields listed in fields`},
		{"labels not a mapping", "  - {type: metadata, fields: [a], labels: [a]}\n",
			"config:3:43: blocks[0].labels: expected a mapping, got a list"},
		{"too many", "  - {type: metadata, fields: [" + strings.Repeat("f,", 100) + "g]}\n",
			"blocks[0].fields: may list at most 100 fields"},
	})
	// Metadata differs from item to item: its fields are not required.
	in := mustParse(t, "title: x\nblocks:\n  - {type: metadata, fields: [a, b]}\n").Interface()
	if got := in.Fields(); len(got) != 0 {
		t.Errorf("fields = %v, want none", got)
	}
}

func TestMetadataRender(t *testing.T) {
	out := dispRender(t, "  - type: metadata\n    fields: [source, score, tags, gone]\n    labels: {source: \"<i>Source</i>\"}\n",
		map[string]any{"source": "<script>alert(1)</script>", "score": 0.5, "tags": []any{"a", "<b>"}})
	for _, w := range []string{
		`<dt>&lt;i&gt;Source&lt;/i&gt;</dt><dd>&lt;script&gt;alert(1)&lt;/script&gt;</dd>`,
		`<dt>score</dt><dd>0.5</dd>`,
		`<dt>tags</dt><dd>[&#34;a&#34;,&#34;\u003cb\u003e&#34;]</dd>`,
		`<dt>gone</dt><dd><span class="muted" aria-hidden="true">—</span><span class="sr-only">not set</span></dd>`,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %s:\n%s", w, out)
		}
	}
	if strings.Contains(out, "<script") || strings.Contains(out, "<b>") {
		t.Errorf("output holds item markup:\n%s", out)
	}
}
