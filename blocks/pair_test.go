package blocks_test

import (
	"strings"
	"testing"
)

func TestPairConfig(t *testing.T) {
	dispConfigErrors(t, []dispConfigCase{
		{"no left", "  - {type: pair, right: b}\n",
			"config:3:5: blocks[0].left: a pair block needs the name of the item field shown on the left"},
		{"no right", "  - {type: pair, left: a}\n",
			"config:3:5: blocks[0].right: a pair block needs the name of the item field shown on the right"},
		{"same field", "  - {type: pair, left: a, right: a}\n",
			`config:3:27: blocks[0].right: left and right show the same field "a"`},
		{"empty label", "  - {type: pair, left: a, right: b, left_label: \"\"}\n",
			`config:3:37: blocks[0].left_label: must not be empty; leave it out to use "A"`},
		{"same labels", "  - {type: pair, left: a, right: b, left_label: X, right_label: X}\n",
			`config:3:52: blocks[0].right_label: both sides are labelled "X"; give them different labels`},
		{"typo", "  - {type: pair, left: a, right: b, markdwn: true}\n",
			`blocks[0].markdwn: unknown field (did you mean "markdown"?)`},
	})
	in := mustParse(t, "title: x\nblocks:\n  - {type: pair, left: a, right: b}\n").Interface()
	if got := strings.Join(in.Fields(), ","); got != "a,b" {
		t.Errorf("fields = %s, want a,b", got)
	}
}

func TestPairRender(t *testing.T) {
	data := map[string]any{"a": "<img src=x onerror=alert(1)>\n\n*one*", "b": "[x](javascript:alert(1)) **two**"}
	out := dispRender(t, "  - {type: pair, left: a, right: b}\n", data)
	for _, w := range []string{`<h4 class="pair-label">A</h4><div class="pair-body pair-plain" tabindex="0">&lt;img src=x onerror=alert(1)&gt;` + "\n\n*one*</div>",
		`<h4 class="pair-label">B</h4>`} {
		if !strings.Contains(out, w) {
			t.Errorf("plain output lacks %s:\n%s", w, out)
		}
	}
	if m := dangerRE.FindString(unescapedTags(out)); m != "" {
		t.Errorf("plain output holds %q:\n%s", m, out)
	}
	out = dispRender(t, "  - {type: pair, left: a, right: b, left_label: \"<b>Model 1</b>\", right_label: Model 2, markdown: true}\n", data)
	for _, w := range []string{`<h4 class="pair-label">&lt;b&gt;Model 1&lt;/b&gt;</h4>`, `<h4 class="pair-label">Model 2</h4>`, `<em>one</em>`, `<strong>two</strong>`} {
		if !strings.Contains(out, w) {
			t.Errorf("markdown output lacks %s:\n%s", w, out)
		}
	}
	if m := dangerRE.FindString(unescapedTags(out)); m != "" {
		t.Errorf("markdown output holds %q:\n%s", m, out)
	}
}
