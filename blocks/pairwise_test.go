package blocks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupehq/loupe/blocks"
)

const pairYAML = "  - {type: pairwise, name: pref}\n"

func TestPairwiseConfig(t *testing.T) {
	labConfigErrors(t, []labConfigCase{
		{"bad reason mode", "  - type: pairwise\n    name: p\n    reason: maybe\n", `config:5:5: blocks[0].reason: reason must be none, optional or required, got "maybe"`},
		{"reasons with none", "  - type: pairwise\n    name: p\n    reason: none\n    reasons: [long, wrong]\n", "config:6:5: blocks[0].reasons: reasons are listed, but reason is none: drop the list or make the reason optional or required"},
		{"empty reasons", "  - type: pairwise\n    name: p\n    reasons: []\n", "config:5:5: blocks[0].reasons: must not be empty: list at least one reason"},
		{"duplicate reason", "  - type: pairwise\n    name: p\n    reasons: [long, long]\n", `config:5:5: blocks[0].reasons: reason "long" is listed twice`},
		{"reason with a key", "  - type: pairwise\n    name: p\n    reasons: [{value: long, key: l}]\n", `config:5:5: blocks[0].reasons: reason "long": reasons are picked from a list and take no key or color`},
		{"empty a_label", "  - type: pairwise\n    name: p\n    a_label: \"\"\n", "config:5:5: blocks[0].a_label: a_label must not be empty"},
		{"long b_label", "  - type: pairwise\n    name: p\n    b_label: " + strings.Repeat("x", 101) + "\n", "config:5:5: blocks[0].b_label: b_label is longer than 100 characters"},
		{"same labels", "  - type: pairwise\n    name: p\n    a_label: Model\n    b_label: Model\n", `config:6:5: blocks[0].b_label: a_label and b_label are both "Model": the two sides need different labels`},
		{"allow_tie not bool", "  - type: pairwise\n    name: p\n    allow_tie: often\n", `config:5:16: blocks[0].allow_tie: expected true or false, got "often"`},
		{"unknown field", "  - type: pairwise\n    name: p\n    allow_ties: false\n", `config:5:5: blocks[0].allow_ties: unknown field (did you mean "allow_tie"?); known fields: a_label, allow_both_bad, allow_tie, b_label, help, label, name, reason, reasons, required, type, visible_when`},
	})
	p := labValuer(t, pairYAML, "pref").(*blocks.Pairwise)
	if p.ALabel != "A" || p.BLabel != "B" || !p.AllowTie || !p.AllowBothBad || p.Reason != "optional" {
		t.Errorf("defaults: %+v", p)
	}
}

func TestPairwiseValue(t *testing.T) {
	v := labValuer(t, pairYAML, "pref")
	labValues(t, v, nil, []labValueCase{
		{"A", `{"choice": "A"}`, `{"choice":"A"}`, ""},
		{"B with a reason", `{"choice": "B", "reason": "  more accurate \r\n"}`, `{"choice":"B","reason":"more accurate"}`, ""},
		{"tie", `{"choice": "tie"}`, `{"choice":"tie"}`, ""},
		{"both bad", `{"choice": "both_bad", "reason": ""}`, `{"choice":"both_bad"}`, ""},
		{"unknown choice", `{"choice": "C"}`, "", `"C" is not a choice; choose one of "A", "B", "tie", "both_bad"`},
		{"lower-case a", `{"choice": "a"}`, "", `"a" is not a choice`},
		{"no choice", `{"reason": "x"}`, "", `choose one of "A", "B", "tie", "both_bad"`},
		{"a string", `"A"`, "", `expected {"choice": A|B|tie|both_bad, "reason": "..."}, got "A"`},
		{"unknown field", `{"choice": "A", "why": "x"}`, "", `expected {"choice"`},
		{"choice not a string", `{"choice": 1}`, "", `expected {"choice"`},
		{"reason too long", `{"choice": "A", "reason": "` + strings.Repeat("é", 1001) + `"}`, "", "the reason is too long: 1001 characters, at most 1000 allowed"},
		{"reason at the limit", `{"choice": "A", "reason": "` + strings.Repeat("é", 1000) + `"}`, `{"choice":"A","reason":"` + strings.Repeat("é", 1000) + `"}`, ""},
		{"reason with NUL", `{"choice": "A", "reason": "a\u0000"}`, "", "NUL"},
	})
	v = labValuer(t, "  - {type: pairwise, name: p, allow_tie: false, allow_both_bad: false, reason: required}\n", "p")
	labValues(t, v, nil, []labValueCase{
		{"tie not allowed", `{"choice": "tie", "reason": "x"}`, "", `"tie" is not allowed here; choose one of "A", "B"`},
		{"both bad not allowed", `{"choice": "both_bad", "reason": "x"}`, "", `"both_bad" is not allowed here; choose one of "A", "B"`},
		{"reason required", `{"choice": "A"}`, "", "a reason is required"},
		{"blank reason", `{"choice": "A", "reason": "  "}`, "", "a reason is required"},
		{"with reason", `{"choice": "A", "reason": "shorter"}`, `{"choice":"A","reason":"shorter"}`, ""},
	})
	v = labValuer(t, "  - {type: pairwise, name: p, reason: none}\n", "p")
	labValues(t, v, nil, []labValueCase{
		{"reason given", `{"choice": "A", "reason": "x"}`, "", "this block takes no reason"},
		{"no reason", `{"choice": "B"}`, `{"choice":"B"}`, ""},
	})
	v = labValuer(t, "  - {type: pairwise, name: p, reasons: [more accurate, {value: safer, label: Safer answer}]}\n", "p")
	labValues(t, v, nil, []labValueCase{
		{"listed reason", `{"choice": "A", "reason": "safer"}`, `{"choice":"A","reason":"safer"}`, ""},
		{"unlisted reason", `{"choice": "A", "reason": "funnier"}`, "", `"funnier" is not one of the reasons ("more accurate", "safer")`},
		{"label is not the value", `{"choice": "A", "reason": "Safer answer"}`, "", "is not one of the reasons"},
		{"optional", `{"choice": "tie"}`, `{"choice":"tie"}`, ""},
	})
}

func TestPairwiseFormAndFlatten(t *testing.T) {
	v := labValuer(t, pairYAML, "pref")
	labForms(t, v, []labFormCase{
		{"nothing", map[string][]string{}, "", ""},
		{"blank reason only", map[string][]string{"b.pref.reason": {""}}, "", ""},
		{"choice", map[string][]string{"b.pref": {"B"}, "b.pref.reason": {""}}, `{"choice":"B"}`, ""},
		{"choice and reason", map[string][]string{"b.pref": {"both_bad"}, "b.pref.reason": {" both wrong\r\n"}}, `{"choice":"both_bad","reason":"both wrong"}`, ""},
		{"reason without a choice", map[string][]string{"b.pref.reason": {"x"}}, `{"choice":"","reason":"x"}`, ""},
		{"two choices", map[string][]string{"b.pref": {"A", "B"}}, "", "choose one, not 2"},
		{"two reasons", map[string][]string{"b.pref": {"A"}, "b.pref.reason": {"x", "y"}}, "", "give one reason, not 2"},
	})
	// A reason without a choice is refused by the server with a message.
	if _, err := v.ValidateValue(json.RawMessage(`{"choice":"","reason":"x"}`), nil); err == nil || !strings.Contains(err.Error(), "choose one of") {
		t.Errorf("reason without a choice: %v", err)
	}
	if got := labFlatten(v, `{"choice":"A","reason":"clearer"}`); got != "=A\n.reason=clearer" {
		t.Errorf("Flatten = %q", got)
	}
	if got := labFlatten(v, `{"choice":"tie"}`); got != "=tie\n.reason=" {
		t.Errorf("Flatten = %q", got)
	}
}

// Keys a, b, t, x when free; only the allowed choices get one.
func TestPairwiseKeys(t *testing.T) {
	keysOf := func(src string) string {
		var out []string
		for _, s := range mustParse(t, labConfig(src)).Interface().Shortcuts() {
			out = append(out, s.Key+"="+s.Action)
		}
		return strings.Join(out, ",")
	}
	if got, want := keysOf("  - {type: pairwise, name: p, a_label: Left, b_label: Right}\n"), "a=p: prefer Left,b=p: prefer Right,t=p: tie,x=p: both bad"; got != want {
		t.Errorf("keys = %s\nwant %s", got, want)
	}
	if got, want := keysOf("  - {type: pairwise, name: p, label: Which is better, allow_tie: false}\n  - {type: pairwise, name: q, allow_both_bad: false}\n"),
		"a=Which is better: prefer A,b=Which is better: prefer B,x=Which is better: both bad,1=q: prefer A,2=q: prefer B,t=q: tie"; got != want {
		t.Errorf("keys = %s\nwant %s", got, want)
	}
}

// Radios with the values A, B, tie and both_bad; the reason as a text field
// or a select of the listed reasons; everything escaped.
func TestPairwiseRender(t *testing.T) {
	src := labConfig(`  - {type: pairwise, name: p, a_label: "<b>Left</b>", b_label: "<i>Right</i>", required: true, reason: required}
  - {type: pairwise, name: q, allow_tie: false, reasons: ["<script>alert(1)</script>", shorter]}
  - {type: pairwise, name: r, reason: none}
`)
	vals := values(t, `{"p": {"choice": "both_bad", "reason": "\"><img src=x onerror=alert(1)>"}, "q": {"choice": "B", "reason": "shorter"}}`)
	html := labRender(t, src, nil, vals)
	labNoneOf(t, html, "<b>Left", "<i>Right", "<script", "<img", `name="b.r.reason"`, `name="b.q" value="tie"`)
	labAllOf(t, html,
		`<input type="radio" name="b.p" value="A" data-key="a" required><kbd>a</kbd><span>&lt;b&gt;Left&lt;/b&gt; is better</span>`,
		`<input type="radio" name="b.p" value="both_bad" data-key="x" checked required>`,
		`<input type="text" id="blk-p-reason" name="b.p.reason" value="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" maxlength="1000" autocomplete="off" required>`,
		`<input type="radio" name="b.q" value="B" data-key="2" checked>`,
		`<select id="blk-q-reason" name="b.q.reason">`,
		`<option value="">No reason</option><option value="&lt;script&gt;alert(1)&lt;/script&gt;">&lt;script&gt;alert(1)&lt;/script&gt;</option><option value="shorter" selected>shorter</option>`,
		`<input type="radio" name="b.r" value="tie"`)
}

// A condition on a pairwise block compares its choice (once the interface
// asks the block through ConditionValue).
func TestPairwiseConditionValue(t *testing.T) {
	p := labValuer(t, pairYAML, "pref").(*blocks.Pairwise)
	if got := string(p.ConditionValue(json.RawMessage(`{"choice":"both_bad","reason":"x"}`))); got != `"both_bad"` {
		t.Errorf("ConditionValue = %s", got)
	}
	if got := p.ConditionValue(json.RawMessage(`{}`)); got != nil {
		t.Errorf("ConditionValue of no choice = %s", got)
	}
}
